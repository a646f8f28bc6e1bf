"""Audit events on the sender side (numbered per source) and drop detection on the receiver.

Each component numbers its events 0, 1, 2, ... (`source_seq`). The receiver keeps the
last number seen per source: a jump reveals dropped events, a return to 0 a restart.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict

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
    restarted: bool = False  # the source started again from 0
    duplicate: bool = False  # already seen (or older than the last one)

    @property
    def ok(self) -> bool:
        return self.missing == 0 and not self.restarted and not self.duplicate


class SequenceTracker:
    """Per-source drop detection on the receiver side."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self.dropped = 0

    def observe(self, source: str, seq: int) -> SeqObservation:
        last = self._last.get(source)
        if last is None:
            # First event heard from this source: events before it were missed.
            self._last[source] = seq
            obs = SeqObservation(source=source, seq=seq, missing=seq)
            obs.first_missing = 0 if seq else None
        elif seq == 0 and last > 0:
            self._last[source] = 0
            obs = SeqObservation(source=source, seq=seq, restarted=True)
        elif seq <= last:
            obs = SeqObservation(source=source, seq=seq, duplicate=True)
        else:
            self._last[source] = seq
            gap = seq - last - 1
            obs = SeqObservation(
                source=source, seq=seq, missing=gap, first_missing=last + 1 if gap else None
            )
        self.dropped += obs.missing
        return obs

    def last_seen(self, source: str) -> int | None:
        return self._last.get(source)
