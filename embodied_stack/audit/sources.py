"""What the log already holds of each source: where a restarted audit_node carries on.

Each start of audit_node chains a `restart` record whose payload carries a checkpoint,
`{"sources": {name: {"seq": n, "stamp": t}}}`: the last event chained from every source
so far. `chained_marks` reads the log from its newest record back to the newest such
checkpoint, so a start reads only what was chained since the previous start (the whole
log once, for a log written before checkpoints existed).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from embodied_stack.audit.emitter import SourceMark
from embodied_stack.audit.record import log_files, read_log_file
from embodied_stack.schemas import AuditEventKind

CHECKPOINT_KEY = "sources"


class _Checkpoint(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sources: dict[str, SourceMark]


def checkpoint_payload(marks: Mapping[str, SourceMark]) -> dict[str, Any]:
    """The checkpoint part of audit_node's `restart` payload."""
    return {CHECKPOINT_KEY: {name: mark.model_dump() for name, mark in sorted(marks.items())}}


def chained_marks(
    log_dir: Path, *, checkpointer: str, ignored: Collection[str] = ()
) -> dict[str, SourceMark]:
    """Every source's last chained event, but `checkpointer` (whose `restart` records
    are the checkpoints; its own numbers restart with it) and `ignored` sources."""
    found: dict[str, SourceMark] = {}
    for record in _newest_first(log_dir):
        source = record.get("source")
        if source == checkpointer:
            checkpoint = _checkpoint(record)
            if checkpoint is not None:
                return {**checkpoint, **found}
            continue
        seq = record.get("source_seq")
        if not isinstance(source, str) or source in ignored or source in found:
            continue
        if isinstance(seq, int) and seq >= 0:
            stamp = record.get("time")
            found[source] = SourceMark(seq=seq, stamp=stamp if _is_number(stamp) else None)
    return found


def _checkpoint(record: dict[str, Any]) -> dict[str, SourceMark] | None:
    if record.get("kind") != AuditEventKind.RESTART.value:
        return None
    try:
        return _Checkpoint.model_validate(record.get("payload")).sources
    except ValidationError:
        return None  # a restart record from before checkpoints: read on


def _newest_first(log_dir: Path) -> Iterator[dict[str, Any]]:
    """Complete records from the newest back (a torn last line is skipped: the log
    reports it when it opens)."""
    for file in reversed(log_files(log_dir)):
        for line in reversed(read_log_file(file).split(b"\n")[:-1]):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # `audit verify` reports it; it names no source
            if isinstance(record, dict):
                yield record


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
