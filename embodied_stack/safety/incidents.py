"""Incident bundles: one directory per trip, denial or red-line violation.

    <root>/<UTC time>-<kind>-<id>/
        incident.json     what happened: kind, reason, robot, policy version, counts
        plan.json         the plan involved (if any)
        violations.json   the red lines crossed, with rule, place, value, limit
        state.jsonl       the last seconds of state passed in (joint states, ...)
        audit.jsonl       the audit slice passed in

A bundle is written to a temporary directory and renamed into place, so a
reader never sees half a bundle.
"""

from __future__ import annotations

import collections
import json
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.motion_types import JointStateSample
from embodied_stack.schemas import Plan, Violation


class IncidentSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str
    kind: str  # "trip", "denial", "violation", ...
    reason: str
    robot_id: str
    policy_version: str
    plan_id: str | None = None
    violations: int = 0
    state_records: int = 0
    audit_records: int = 0
    stamp: float = Field(default_factory=time.time)


class StateHistory:
    """The last `seconds` of joint states (by their stamps), for a bundle."""

    def __init__(self, seconds: float = 5.0) -> None:
        self.seconds = seconds
        self._samples: collections.deque[JointStateSample] = collections.deque()

    def append(self, sample: JointStateSample) -> None:
        self._samples.append(sample)
        while self._samples and self._samples[0].stamp < sample.stamp - self.seconds:
            self._samples.popleft()

    def records(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in list(self._samples)]


def write_incident(
    root: str | Path,
    *,
    kind: str,
    reason: str,
    robot_id: str,
    policy_version: str,
    plan: Plan | None = None,
    violations: Sequence[Violation] = (),
    state: Iterable[dict[str, Any]] = (),
    audit: Iterable[dict[str, Any]] = (),
) -> Path:
    """Write one bundle; returns its directory."""
    state_rows, audit_rows = list(state), list(audit)
    summary = IncidentSummary(
        incident_id=uuid.uuid4().hex[:12],
        kind=kind,
        reason=reason,
        robot_id=robot_id,
        policy_version=policy_version,
        plan_id=plan.plan_id if plan else None,
        violations=len(violations),
        state_records=len(state_rows),
        audit_records=len(audit_rows),
    )
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(summary.stamp))
    final = root / f"{stamp}-{_slug(kind)}-{summary.incident_id}"
    staging = root / f".{final.name}.tmp"
    staging.mkdir()
    _write(staging / "incident.json", summary.model_dump_json(indent=2))
    if plan is not None:
        _write(staging / "plan.json", plan.model_dump_json(indent=2))
    _write(staging / "violations.json", json.dumps([v.model_dump() for v in violations], indent=2))
    _write(staging / "state.jsonl", "".join(json.dumps(r) + "\n" for r in state_rows))
    _write(staging / "audit.jsonl", "".join(json.dumps(r) + "\n" for r in audit_rows))
    os.replace(staging, final)
    return final


def read_incident(path: str | Path) -> IncidentSummary:
    return IncidentSummary.model_validate_json(Path(path, "incident.json").read_text())


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)[:32] or "incident"


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
