"""The single writer behind audit_node: queued events in, group commits out.

One thread takes what is queued (raw CDR bytes from the network, or events audit_node
makes itself), commits it in batches (one write + one fdatasync each, up to
`batch_max` events), then answers through `WriterOutput`: an ack for every event that
waits for one (durable only after the sync), the new head, and each appended pair.

Per-source numbers reveal lost events, chained as `gap` records. The tracker starts from
what the log already holds (`audit.sources`), and the first record of every start is a
`restart` carrying that as a checkpoint, so a restarted writer neither takes sources that
counted on for losses nor misses the losses of its downtime. The tracker only ever
counts what was chained: a batch that cannot be written leaves it as it was.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.audit.emitter import AuditEmitter, SequenceTracker
from embodied_stack.audit.log import LOG_SOURCE, AuditLog, AuditLogError
from embodied_stack.audit.record import AuditRecord
from embodied_stack.audit.sources import chained_marks, checkpoint_payload
from embodied_stack.errors import SchemaError
from embodied_stack.schemas import AuditAck, AuditEvent, AuditEventKind, AuditHead


class WriterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    log_dir: Path
    robot_id: str
    source: str  # the writer's own source name (its events, its checkpoints)
    rotate_bytes: int = Field(default=10_000_000, ge=4096)
    batch_max: int = Field(default=512, ge=1)


class WriterOutput(Protocol):
    """Where the writer's results go (audit_node publishes them)."""

    def parse(self, raw: bytes) -> AuditEvent:
        """An event from its wire form; SchemaError when it is none."""

    def answer(self, ack: AuditAck) -> None: ...

    def committed(self, head: AuditHead, appended: list[tuple[AuditEvent, AuditRecord]]) -> None:
        """After every durable batch."""

    def report(self, level: str, text: str, *, repeated: bool = False) -> None:
        """A line for the operator's log ("info", "warning", "error"); `repeated` lines
        may come once per batch and can be throttled."""


class _Wake:
    """Queued to make the writer write what is due without a new event."""


_WAKE = _Wake()
_Item = bytes | AuditEvent | _Wake | None
_Batch = list[AuditEvent]


class AuditWriter:
    """Owns the log directory; `put` from any thread, `stop` + `finish` to end."""

    def __init__(self, config: WriterConfig, out: WriterOutput) -> None:
        self.config = config
        self._out = out
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._own = AuditEmitter(source=config.source, robot_id=config.robot_id)
        self._reserved = frozenset({config.source, LOG_SOURCE})
        self.tracker = SequenceTracker()
        self._log: AuditLog | None = None
        self._restart_due = False
        self._open_log()
        self._queue.put(_WAKE)  # the restart record goes out at once
        self._thread = threading.Thread(target=self._run, name="audit_writer", daemon=True)
        self._thread.start()

    # ---- from any thread ------------------------------------------------------------------

    def put(self, item: bytes | AuditEvent) -> None:
        self._queue.put(item)

    def put_own(self, kind: AuditEventKind, payload: dict[str, Any]) -> None:
        """Queue an event of the writer's own source (incidents, for example)."""
        self._queue.put(self._own.make(kind, self.config.source, payload))

    def head(self) -> AuditHead | None:
        log = self._log
        if log is None:
            return None
        return AuditHead(
            length=log.next_seq,
            head_hash=log.head_hash,
            file=str(log.current_file),
            dropped=self.tracker.dropped,
        )

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Write what is queued and stop the thread; False if it is stuck (in a sync)."""
        self._queue.put(None)
        self._thread.join(timeout=timeout_s)
        return not self._thread.is_alive()

    def finish(self) -> None:
        """After `stop`: write what was queued since (on this thread) and close the log.
        A writer stuck in a sync keeps the queue and the log."""
        if self._thread.is_alive():
            return
        self._queue.put(None)
        self._run()
        if self._log is not None:
            self._log.close()

    # ---- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch: _Batch = []
            item = self._queue.get()
            while item is not None:
                self._parse_into(batch, item)
                if len(batch) >= self.config.batch_max:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch or self._restart_due:
                self._commit(batch)
            if item is None:
                return

    def _parse_into(self, batch: _Batch, item: bytes | AuditEvent | _Wake) -> None:
        if isinstance(item, _Wake):
            return
        if isinstance(item, AuditEvent):
            batch.append(item)
            return
        try:
            event = self._out.parse(item)
        except SchemaError as exc:
            self._out.report("error", f"malformed audit event refused: {exc}")
            return
        if event.source in self._reserved:
            # Only this writer speaks for these sources (its restart records are trusted
            # as checkpoints): an event from the network claiming one is refused.
            self._refuse(event, f"audit source {event.source!r} is reserved")
            return
        batch.append(event)

    def _commit(self, batch: _Batch) -> None:
        """Append a batch with one fsync, then answer every event of it."""
        before = self.tracker.copy()
        try:
            log = self._open_log_or_raise()
            events = self._with_own_records(batch)
            records = log.append_batch(events)
        except (AuditLogError, ValueError) as exc:  # ValueError: an event that cannot be sealed
            self.tracker = before  # nothing of the batch was chained
            text = f"AUDIT LOG NOT WRITABLE, {len(batch)} event(s) unacked: {exc}"
            self._out.report("error", text, repeated=True)
            for event in batch:
                self._refuse(event, str(exc))
            return
        self._restart_due = False
        for event, record in zip(events, records, strict=True):
            if event.want_ack:
                self._answer(event, durable=True, seq=record.seq, hash=record.hash)
        head = self.head()
        if head is not None:
            self._out.committed(head, list(zip(events, records, strict=True)))

    def _with_own_records(self, batch: _Batch) -> _Batch:
        """The batch, after the restart record if due, with a gap record before each
        event that reveals a loss."""
        out: _Batch = []
        if self._restart_due:
            payload = {"pid": os.getpid(), "log_dir": str(self.config.log_dir)}
            payload.update(checkpoint_payload(self.tracker.marks()))
            out.append(self._own.make(AuditEventKind.RESTART, self.config.source, payload))
        for event in batch:
            if event.source not in self._reserved:
                self._gap_record(event, out.append)
            out.append(event)
        return out

    def _gap_record(self, event: AuditEvent, emit: Callable[[AuditEvent], None]) -> None:
        obs = self.tracker.observe(event.source, event.source_seq, event.stamp)
        if not obs.missing:
            return
        text = f"{obs.missing} audit event(s) from {obs.source} lost before seq {obs.seq}"
        if obs.restarted:
            text += " (the source restarted)"
        self._out.report("error", text)
        payload = {"reason": text, "from_source": obs.source, "missing": obs.missing}
        emit(self._own.make(AuditEventKind.GAP, self.config.source, payload))

    def _refuse(self, event: AuditEvent, error: str) -> None:
        if event.want_ack:
            self._answer(event, durable=False, error=error)

    def _answer(self, event: AuditEvent, **result: Any) -> None:
        self._out.answer(AuditAck(source=event.source, source_seq=event.source_seq, **result))

    # ---- the log --------------------------------------------------------------------------

    def _open_log_or_raise(self) -> AuditLog:
        if self._log is None:
            self._open_log()
        if self._log is None:
            raise AuditLogError(f"audit log {self.config.log_dir} cannot be opened")
        return self._log

    def _open_log(self) -> bool:
        """Open the log and carry on from what it holds; the next batch starts with a
        restart record."""
        config = self.config
        try:
            known = chained_marks(
                config.log_dir, checkpointer=config.source, ignored=self._reserved
            )
            log = AuditLog(
                config.log_dir, robot_id=config.robot_id, rotate_bytes=config.rotate_bytes
            )
        except (AuditLogError, OSError, ValueError) as exc:  # ValueError: unsealable event
            self._out.report("error", f"AUDIT LOG NOT WRITABLE, no event will be acked: {exc}")
            return False
        self._log, self._restart_due = log, True
        self.tracker = SequenceTracker(known)
        torn = log.opened.torn_tail
        if torn is not None:
            self._out.report(
                "warning",
                f"audit log ended in a torn record ({torn.length} bytes in {torn.file} at "
                f"offset {torn.offset}); chained on after gap record {log.opened.gap_seq}",
            )
        text = f"audit log {log.current_file}, next seq {log.next_seq}, {len(known)} source(s)"
        self._out.report("info", text)
        return True
