"""The e-stop latch on disk, so a restarted kill switch keeps a stop nobody reset.

ISO 13850: a stop stays in force until a deliberate reset, and the death of the
kill-switch process is not a reset. Every record is replaced atomically (temporary
file, fsync, rename, fsync of the directory): a crash leaves the old record or
the new one, never half of one. Each record also says whether the kill switch
that wrote it is still running: it writes `running` at boot and on every change,
and `running: false` only when it shuts down cleanly. So:

- a release is on disk before it is announced (a restart never forgets a reset
  it did not see, nor invents one it did not do);
- a stop is announced first and written right after: a press waits for no disk.
  A kill switch killed in between leaves a `running` record, and an unclean exit
  latches by itself (below), so the stop is not lost;
- the death of the kill switch is itself a stop that needs a reset.

At boot:

- a record saying "latched" keeps the latch until a reset, whoever tripped it;
- a record still marked `running` (the last kill switch was killed or crashed)
  latches until a reset;
- a record that cannot be read or parsed, or one another node wrote, counts as
  latched (nothing proves the stop was reset);
- no record counts as latched too, unless the caller says a missing file is a
  fresh session (`release_at_first_start`: the task harness, which has just made
  the directory, so nothing can have been lost);
- a record saying "released" from a clean shutdown lets the boot latch clear
  itself once every input reports released, unless `require_reset_at_start`
  asks for a reset at every boot.
"""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from embodied_stack.safety.estop import STARTUP, EstopLatch

DEFAULT_STATE_FILE = "var/safety/estop_latch.json"


class LatchRecord(BaseModel):
    """One write of the state file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    node: str  # fully qualified name of the kill switch that wrote it
    latched: bool  # True = a reset is needed
    tripped_by: str | None = None
    reason: str | None = None
    running: bool = False  # the writer has not shut down cleanly (yet)
    stamp: float


class OnDisk(enum.Enum):
    MISSING = "missing"
    UNREADABLE = "unreadable"
    LATCHED = "latched"
    RELEASED = "released"


@dataclass(frozen=True)
class StoredLatch:
    """What the state file said at boot; `detail` says why when it was not usable."""

    state: OnDisk
    detail: str = ""
    record: LatchRecord | None = None


def state_path(state_file: str, namespace: str) -> Path:
    """A file per robot: a namespace adds a directory (`var/safety/robot1/...`), so two
    kill switches sharing a working directory and a params file never share a latch."""
    path = Path(state_file)
    parts = [p for p in namespace.split("/") if p]
    return path.parent.joinpath(*parts, path.name) if parts else path


def read_latch(path: Path, node: str) -> StoredLatch:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StoredLatch(OnDisk.MISSING, f"no latch state at {path}")
    except (OSError, UnicodeDecodeError) as exc:
        return StoredLatch(OnDisk.UNREADABLE, f"latch state {path} unreadable: {exc}")
    try:
        record = LatchRecord.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]["msg"] if exc.errors() else str(exc)
        return StoredLatch(OnDisk.UNREADABLE, f"latch state {path} corrupt: {first}")
    if record.node != node:
        detail = f"latch state {path} was written by {record.node}, not {node}"
        return StoredLatch(OnDisk.UNREADABLE, detail, record)
    return StoredLatch(OnDisk.LATCHED if record.latched else OnDisk.RELEASED, "", record)


def write_latch(path: Path, record: LatchRecord) -> None:
    """Replace the file atomically and durably. Raises OSError (the caller decides what
    a failed write means for the latch)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = record.model_dump_json().encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync(path.parent)  # the rename itself survives a power cut


def _fsync(target: Path) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if target.is_dir() else 0)
    fd = os.open(target, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def boot_cause(
    stored: StoredLatch, *, require_reset_at_start: bool, release_at_first_start: bool
) -> tuple[str, str] | None:
    """(who, why) when the boot latch must wait for a reset; None when it may clear
    itself once every input reports released."""
    record = stored.record
    if stored.state is OnDisk.LATCHED and record is not None:
        was = record.reason or "no reason recorded"
        return record.tripped_by or STARTUP, f"still latched from before a restart ({was})"
    if stored.state is OnDisk.RELEASED and record is not None and record.running:
        why = "the last kill switch ended without shutting down (killed or crashed)"
        return STARTUP, f"{why}: reset required"
    if stored.state is OnDisk.UNREADABLE:
        return STARTUP, f"{stored.detail}: latched until a reset"
    if stored.state is OnDisk.MISSING and not release_at_first_start:
        return STARTUP, f"{stored.detail} (first start, or the record was lost): reset required"
    if require_reset_at_start:
        return STARTUP, "require_reset_at_start: stopped at every boot until a reset"
    return None


class LatchStore:
    """The state file of one kill switch."""

    def __init__(self, *, path: Path, node: str) -> None:
        self.path = path
        self.node = node
        self._stored: bool | None = None  # needs_reset as last written (None: not yet)

    def load(self) -> StoredLatch:
        return read_latch(self.path, self.node)

    def save(
        self, *, latched: bool, tripped_by: str | None, reason: str | None, running: bool = False
    ) -> str | None:
        """Write the record; an error message when it could not be written."""
        record = LatchRecord(
            node=self.node,
            latched=latched,
            tripped_by=tripped_by,
            reason=reason,
            running=running,
            stamp=time.time(),
        )
        try:
            write_latch(self.path, record)
        except OSError as exc:
            return f"latch state {self.path} not written: {exc}"
        return None

    def sync(self, latch: EstopLatch, who: str) -> str | None:
        """Write the latch's needs_reset when it changed since the last write (and at the
        first call: the record then says this kill switch runs); the error, or None. A
        release that cannot be made durable does not happen: the latch is set again by
        `who` (a restart would not know the stop was reset)."""
        needs_reset = latch.needs_reset
        if needs_reset == self._stored:
            return None
        status = latch.status()
        error = self.save(
            latched=needs_reset, tripped_by=status.tripped_by, reason=status.reason, running=True
        )
        # A failed write leaves the file's content unknown: the next call writes again.
        self._stored = needs_reset if error is None else None
        if error is not None and not needs_reset:
            latch.trip(who, error)
            self.sync(latch, who)  # and try to write that (a stop is kept anyway)
        return error

    def close(self, latch: EstopLatch) -> str | None:
        """A clean shutdown: the record no longer says running; the error, or None."""
        status = latch.status()
        return self.save(
            latched=latch.needs_reset,
            tripped_by=status.tripped_by,
            reason=status.reason,
        )
