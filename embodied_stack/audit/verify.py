"""Verifying an audit log: the first bad record (modified, deleted, inserted, reordered,
truncated) with its sequence number, and the crash gaps the chain legitimately carries."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.audit.record import (
    GENESIS_HASH,
    hashed_text,
    line_hash,
    record_problem,
    resolve_files,
)


class TornTail(BaseModel):
    """Bytes after the last newline of a file: a record whose write never completed."""

    model_config = ConfigDict(extra="forbid")

    file: str
    offset: int
    length: int
    sha256: str
    bytes_b64: str = ""

    @classmethod
    def of(cls, file: str, data: bytes) -> TornTail | None:
        """The torn tail of a file's bytes, if it has one."""
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if not tail:
            return None
        return cls(
            file=file,
            offset=cut,
            length=len(tail),
            sha256=hashlib.sha256(tail).hexdigest(),
            bytes_b64=base64.b64encode(tail).decode("ascii"),
        )

    def named_by(self, gap_payload: Any) -> bool:
        """True when a gap record's payload names exactly these bytes (in its `torn` list)."""
        torn = gap_payload.get("torn") if isinstance(gap_payload, dict) else None
        keys = ("file", "offset", "length", "sha256")
        return isinstance(torn, list) and any(
            isinstance(t, dict) and all(t.get(k) == getattr(self, k) for k in keys) for t in torn
        )


class GapNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int
    file: str
    reason: str


class VerifyReport(BaseModel):
    """`ok` only when every record chains and no file ends in an unexplained torn line."""

    model_config = ConfigDict(extra="forbid")

    path: str
    files: list[str] = Field(default_factory=list)
    records: int = 0  # records verified good, in order
    ok: bool = True
    head_seq: int | None = None
    head_hash: str = GENESIS_HASH
    first_bad_seq: int | None = None  # the sequence number where the chain breaks
    bad_file: str | None = None
    bad_line: int | None = None  # 1-based line in bad_file
    problem: str | None = None
    torn_tail: TornTail | None = None
    gaps: list[GapNote] = Field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            notes = f", {len(self.gaps)} gap(s)" if self.gaps else ""
            return f"OK: {self.records} records, head seq {self.head_seq} {self.head_hash}{notes}"
        where = f"{self.bad_file}:{self.bad_line}" if self.bad_file else self.path
        return f"BAD at seq {self.first_bad_seq} ({where}): {self.problem}"


class _Chain:
    """Walks records in order, stopping at the first that does not chain."""

    def __init__(self, report: VerifyReport, *, anchored: bool) -> None:
        self.report = report
        self.expected: int | None = 0 if anchored else None
        self.prev: str | None = GENESIS_HASH if anchored else None
        self.pending_torn: list[TornTail] = []
        self.hashes: set[str] = set()

    def fail(self, file: str, line: int | None, problem: str) -> None:
        r = self.report
        r.ok, r.first_bad_seq, r.bad_file, r.bad_line, r.problem = (
            False,
            self.expected,
            file,
            line,
            problem,
        )

    def check(self, file: str, lineno: int, line: bytes) -> bool:
        problem = self._problem(file, line)
        if problem is not None:
            self.fail(file, lineno, problem)
            return False
        return True

    def _problem(self, file: str, line: bytes) -> str | None:
        parts = hashed_text(line)
        try:
            rec = json.loads(line)
        except ValueError:
            return "not valid JSON (modified or torn)"
        if parts is None:
            return "not an audit record (no hash field of 64 hex digits)"
        shape = record_problem(rec, parts[1])
        if shape is not None:
            return shape
        seq, expected = rec["seq"], self.expected
        if expected is not None and seq != expected:
            if seq > expected:
                return f"seq jumps from {expected} to {seq}: record(s) deleted or reordered"
            return f"found seq {seq} where {expected} belongs: record inserted or reordered"
        if self.prev is not None and rec["prev_hash"] != self.prev:
            return "prev_hash does not match the record before: inserted, reordered or modified"
        if line_hash(parts[0]) != parts[1]:
            return "hash does not match the record's content: modified"
        return self._gap_problem(file, rec)

    def _gap_problem(self, file: str, rec: dict[str, Any]) -> str | None:
        torn, self.pending_torn = self.pending_torn, []
        for tail in torn:
            if rec["kind"] != "gap" or not tail.named_by(rec["payload"]):
                return f"{tail.file} ends in {tail.length} torn bytes that no gap record names"
        self.accept(file, rec)
        return None

    def accept(self, file: str, rec: dict[str, Any]) -> None:
        r = self.report
        r.records += 1
        r.head_seq, r.head_hash = rec["seq"], rec["hash"]
        self.hashes.add(rec["hash"])
        self.expected, self.prev = rec["seq"] + 1, rec["hash"]
        if rec["kind"] == "gap":
            reason = str(rec["payload"].get("reason", "gap"))  # payload: an object (checked)
            r.gaps.append(GapNote(seq=rec["seq"], file=file, reason=reason))


def verify(path: str | Path, *, expect_head: str | None = None) -> VerifyReport:
    """Check a log directory (or one file, whose first prev_hash is taken on trust).

    Whole records cut from the end leave a valid chain; `expect_head` (a hash published
    on `audit/head`, e.g. kept in a recording) catches that: the log must contain it."""
    path = Path(path)
    files = resolve_files(path)
    report = VerifyReport(path=str(path), files=[f.name for f in files])
    if not path.exists():
        report.ok, report.problem = False, f"{path} does not exist"
        return report
    chain = _Chain(report, anchored=path.is_dir())
    for file in files:
        if not _verify_file(chain, file):
            return report
    if chain.pending_torn:
        torn = chain.pending_torn[-1]
        report.torn_tail = torn
        chain.fail(torn.file, None, f"torn last line: {torn.length} bytes at offset {torn.offset}")
    elif expect_head is not None and expect_head not in chain.hashes:
        problem = f"expected head {expect_head[:16]}... is not in the log: records cut from the end"
        chain.fail(report.files[-1] if report.files else str(path), None, problem)
    return report


def _verify_file(chain: _Chain, file: Path) -> bool:
    data = file.read_bytes()
    lines = data.split(b"\n")
    for lineno, line in enumerate(lines[:-1], start=1):
        if not chain.check(file.name, lineno, line):
            return False
    torn = TornTail.of(file.name, data)
    if torn is not None:
        chain.pending_torn.append(torn)
    return True
