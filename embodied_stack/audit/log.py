"""The hash-chained, append-only audit log writer (JSON lines, fsync'd, rotated by size).

Write-ahead: `append(event)` returns only once the record is on disk (fdatasync), so a
caller may act on it. `append_batch` writes many events with one write and one sync
(group commit). A file is never rewritten: rotation starts the next file, whose first
record's prev_hash is the previous file's last hash.

Crash safety: on open, a torn last line (bytes after the last newline) is reported in
`opened.torn_tail`, left in place, and the chain continues in a new file whose first
record is a `gap` naming the torn bytes (file, offset, length, SHA-256, the bytes).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from embodied_stack.audit.record import (
    GENESIS_HASH,
    AuditRecord,
    file_index,
    hashed_text,
    line_hash,
    log_file_name,
    log_files,
    read_log_file,
    record_problem,
    seal,
)
from embodied_stack.audit.verify import TornTail, VerifyReport, verify
from embodied_stack.errors import StackError
from embodied_stack.schemas import AuditEvent, AuditEventKind

__all__ = ["AuditLog", "AuditLogError", "OpenReport", "TornTail", "VerifyReport", "verify"]
LOG_SOURCE = "audit_log"
DEFAULT_ROTATE_BYTES = 10_000_000


class AuditLogError(StackError):
    """The log cannot be opened or written: nothing may rely on it being recorded."""


class OpenReport(BaseModel):
    """What the writer found when it opened the log."""

    model_config = ConfigDict(extra="forbid")

    file: str
    next_seq: int
    head_hash: str
    torn_tail: TornTail | None = None
    gap_seq: int | None = None  # seq of the gap record written for the torn tail


class _Head(BaseModel):
    seq: int  # next sequence number
    hash: str
    file_index: int


class AuditLog:
    """Single writer of one log directory."""

    def __init__(
        self,
        log_dir: str | Path,
        *,
        robot_id: str,
        rotate_bytes: int = DEFAULT_ROTATE_BYTES,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.robot_id = robot_id
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._head = _Head(seq=0, hash=GENESIS_HASH, file_index=1)
        self._broken: str | None = None
        self.opened = self._open()

    # ---- public ---------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        return self._head.seq

    @property
    def head_hash(self) -> str:
        return self._head.hash

    @property
    def current_file(self) -> Path:
        return self.log_dir / log_file_name(self._head.file_index)

    def append(self, event: AuditEvent, *, durable: bool = True) -> AuditRecord:
        """Chain one event; when durable, it is fsync'd before this returns."""
        return self.append_batch([event], durable=durable)[0]

    def append_batch(
        self, events: Sequence[AuditEvent], *, durable: bool = True
    ) -> list[AuditRecord]:
        """Chain events with one write and (when durable) one fsync."""
        with self._lock:
            self._recover_if_broken()
            records, lines = self._seal_all(events)
            self._write_rotating(lines, durable)
            last = records[-1]
            self._head = _Head(seq=last.seq + 1, hash=last.hash, file_index=self._head.file_index)
            return records

    def sync(self) -> None:
        """Make every record appended with durable=False durable."""
        with self._lock:
            self._recover_if_broken()
            self._write(b"", True)

    def close(self) -> None:
        with self._lock:
            self._close_fd()

    # ---- opening --------------------------------------------------------------------------

    def _open(self) -> OpenReport:
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AuditLogError(f"audit log dir {self.log_dir}: {exc.strerror}") from exc
        files = log_files(self.log_dir)
        last_index = (file_index(files[-1]) or 1) if files else 1
        self._head = _last_head(files)
        torn = _torn_tails(files, since_index=self._head.file_index)
        if not torn:
            self._start_file(last_index)
            return self._report(None, None)
        self._start_file(last_index + 1)
        gap = self._append_gap(torn)
        return self._report(torn[-1], gap.seq)

    def _report(self, torn: TornTail | None, gap_seq: int | None) -> OpenReport:
        return OpenReport(
            file=str(self.current_file),
            next_seq=self._head.seq,
            head_hash=self._head.hash,
            torn_tail=torn,
            gap_seq=gap_seq,
        )

    def _append_gap(self, torn: list[TornTail]) -> AuditRecord:
        event = AuditEvent(
            source=LOG_SOURCE,
            source_seq=0,
            kind=AuditEventKind.GAP,
            actor=LOG_SOURCE,
            robot_id=self.robot_id,
            payload={
                "reason": "torn last line after a crash",
                "torn": [t.model_dump() for t in torn],
            },
        )
        record, line = seal(event, seq=self._head.seq, prev_hash=self._head.hash)
        self._write(line, True)
        self._head = _Head(seq=record.seq + 1, hash=record.hash, file_index=self._head.file_index)
        return record

    # ---- writing --------------------------------------------------------------------------

    def _seal_all(self, events: Sequence[AuditEvent]) -> tuple[list[AuditRecord], list[bytes]]:
        if not events:
            raise ValueError("append_batch needs at least one event")
        seq, prev = self._head.seq, self._head.hash
        records, lines = [], []
        for event in events:
            record, line = seal(event, seq=seq, prev_hash=prev)
            records.append(record)
            lines.append(line)
            seq, prev = seq + 1, record.hash
        return records, lines

    def _write_rotating(self, lines: list[bytes], durable: bool) -> None:
        """Write lines, starting the next file (after syncing this one) when one is full."""
        chunk: list[bytes] = []
        pending = 0
        for line in lines:
            used = self._size + pending
            if used and used + len(line) > self.rotate_bytes:
                self._write(b"".join(chunk), durable)
                chunk, pending = [], 0
                self._start_file(self._head.file_index + 1)
            chunk.append(line)
            pending += len(line)
        self._write(b"".join(chunk), durable)

    def _start_file(self, index: int) -> None:
        self._close_fd()
        path = self.log_dir / log_file_name(index)
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._size = os.fstat(self._fd).st_size
            _fsync_dir(self.log_dir)
        except OSError as exc:
            self._close_fd()
            raise AuditLogError(
                f"audit log {path}: cannot open for append: {exc.strerror}"
            ) from exc
        self._head = _Head(seq=self._head.seq, hash=self._head.hash, file_index=index)

    def _write(self, data: bytes, durable: bool) -> None:
        if self._fd is None:
            raise AuditLogError(f"audit log {self.current_file} is closed")
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                self._size += written
                view = view[written:]
            if durable:
                os.fdatasync(self._fd)
        except OSError as exc:
            self._broken = f"audit log {self.current_file}: write failed: {exc.strerror}"
            raise AuditLogError(self._broken) from exc

    def _recover_if_broken(self) -> None:
        """After a failed write, reopen: a partial line becomes a torn tail and a gap."""
        if self._broken is None:
            return
        self._close_fd()
        try:
            self.opened = self._open()
        except AuditLogError as exc:
            raise AuditLogError(f"{self._broken}; still not writable: {exc}") from exc
        self._broken = None

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _torn_tails(files: list[Path], *, since_index: int) -> list[TornTail]:
    """Torn tails of the head's file and of every later file (a crash while recovering
    from a crash leaves more than one)."""
    found = []
    for path in files:
        if (file_index(path) or 0) >= since_index:
            torn = TornTail.of(path.name, read_log_file(path))
            if torn is not None:
                found.append(torn)
    return found


def _last_head(files: list[Path]) -> _Head:
    """The chain head: the last complete record of the newest file that has one."""
    for path in reversed(files):
        lines = read_log_file(path).split(b"\n")[:-1]
        if lines:
            return _head_of(path, lines[-1])
    return _Head(seq=0, hash=GENESIS_HASH, file_index=1)


def _head_of(path: Path, line: bytes) -> _Head:
    parts = hashed_text(line)
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise AuditLogError(f"{path}: last record is not JSON ({exc}); run audit verify") from exc
    problem = "no hash field" if parts is None else record_problem(record, parts[1])
    if parts is None or problem is not None:
        raise AuditLogError(f"{path}: last record: {problem}; run audit verify")
    if line_hash(parts[0]) != parts[1]:
        raise AuditLogError(f"{path}: last record (seq {record['seq']}) fails its hash; run verify")
    return _Head(seq=record["seq"] + 1, hash=parts[1], file_index=file_index(path) or 1)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
