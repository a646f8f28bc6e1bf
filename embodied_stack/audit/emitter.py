"""Audit events on the sender side (numbered per source) and drop detection on the receiver.

Each component numbers its events 0, 1, 2, ... (`source_seq`). The receiver keeps the
last number seen per source: a jump reveals dropped events, a return to 0 (or a lower
number stamped later) a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.schemas import (
    AuditEvent,
    AuditEventKind,
    ModelProvenance,
    Provenance,
)


def model_provenance(model: ModelProvenance | Provenance | None) -> ModelProvenance | None:
    """The audit form of a plan's provenance (name, endpoint, prompt hash)."""
    if model is None or isinstance(model, ModelProvenance):
        return model
    return ModelProvenance(
        name=model.model, endpoint=model.endpoint, prompt_sha256=model.prompt_sha256
    )


class AuditEmitter:
    """Builds AuditEvents for one source with a strictly increasing source_seq (thread-safe)."""

    def __init__(self, *, source: str, robot_id: str) -> None:
        self.source = source
        self.robot_id = robot_id
        self._next_seq = 0
        self._lock = threading.Lock()

    def make(
        self,
        kind: AuditEventKind | str,
        actor: str,
        payload: dict[str, Any] | None = None,
        *,
        model: ModelProvenance | Provenance | None = None,
        ai_generated: bool = False,
    ) -> AuditEvent:
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
        return AuditEvent(
            source=self.source,
            source_seq=seq,
            kind=AuditEventKind(kind),
            actor=actor,
            robot_id=self.robot_id,
            model=model_provenance(model),
            ai_generated=ai_generated,
            payload=dict(payload or {}),
        )


class SeqObservation(BaseModel):
    """What one received source_seq tells about the stream of its source."""

    model_config = ConfigDict(extra="forbid")

    source: str
    seq: int
    missing: int = 0  # events skipped between the last one seen and this one
    first_missing: int | None = None
    restarted: bool = False  # the source started counting again
    duplicate: bool = False  # already seen (or older than the last one)

    @property
    def ok(self) -> bool:
        return self.missing == 0 and not self.restarted and not self.duplicate


class SourceMark(BaseModel):
    """The last event chained from one source: its number and its own stamp."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=0)
    stamp: float | None = None


class SequenceTracker:
    """Per-source drop detection on the receiver side.

    `known` carries on from what the log already holds (see `audit.sources`), so a
    restarted audit_node expects each source's next number instead of taking a source
    that simply counted on for one that lost everything before.
    """

    def __init__(self, known: Mapping[str, SourceMark] | None = None) -> None:
        self._last: dict[str, SourceMark] = dict(known or {})
        self.dropped = 0

    def observe(self, source: str, seq: int, stamp: float | None = None) -> SeqObservation:
        last = self._last.get(source)
        obs = _judge(source, seq, stamp, last)
        if not obs.duplicate:
            self._last[source] = SourceMark(seq=seq, stamp=stamp)
        self.dropped += obs.missing
        return obs

    def last_seen(self, source: str) -> int | None:
        mark = self._last.get(source)
        return None if mark is None else mark.seq

    def copy(self) -> SequenceTracker:
        """A tracker to go back to (marks are immutable: a shallow copy is enough)."""
        twin = SequenceTracker(self._last)
        twin.dropped = self.dropped
        return twin

    def marks(self) -> dict[str, SourceMark]:
        """Every source's last mark (for a checkpoint)."""
        return dict(self._last)


def _judge(source: str, seq: int, stamp: float | None, last: SourceMark | None) -> SeqObservation:
    if last is None or seq > last.seq:
        # First heard (nothing of it chained yet: 0..seq-1 never arrived) or a jump.
        first = 0 if last is None else last.seq + 1
        gap = seq - first
        return SeqObservation(
            source=source, seq=seq, missing=gap, first_missing=first if gap else None
        )
    newer = stamp is not None and last.stamp is not None and stamp > last.stamp
    if newer or (seq == 0 and last.seq > 0):
        # Counting again from 0: a restarted source. Stamped later than its last event
        # yet numbered no higher, it restarted too, and its events 0..seq-1 never came.
        return SeqObservation(
            source=source, seq=seq, restarted=True, missing=seq, first_missing=0 if seq else None
        )
    return SeqObservation(source=source, seq=seq, duplicate=True)
