"""Incident bundles: one directory per trip, denial or red-line violation.

    <root>/<UTC time>-<kind>-<id>/
        incident.json     what happened: kind, reason, robot, policy version, counts
        plan.json         the plan involved (if any)
        violations.json   the red lines crossed, with rule, place, value, limit
        state.jsonl       the last seconds of state passed in (joint states, ...)
        audit.jsonl       the audit slice passed in
        <attachments>     extra files written by the caller (e.g. state.mcap)

A bundle is written to a temporary directory and renamed into place, so a
reader never sees half a bundle.

audit_node decides when (INCIDENT_KINDS, RepeatFilter), finds the plan (PlanBook) and
the violations (payload_violations), and writes bundles off its log thread
(IncidentWorker).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embodied_stack.motion_types import JointStateSample
from embodied_stack.schemas import AuditEvent, AuditEventKind, Plan, Violation


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
    event_kind: str | None = None  # the audit event kind that caused it ("rejection", ...)
    audit_seq: int | None = None  # that event's seq in the audit log
    attachments: list[str] = Field(default_factory=list)  # extra files, e.g. "state.mcap"


StateItem = JointStateSample | dict[str, Any]
_Entry = tuple[float, str | None, StateItem]  # (stamp, topic or None for joint states, item)


class StateHistory:
    """The last `seconds` of joint states (by their stamps), for a bundle.

    `add(topic, stamp, item)` keeps any topic's state too (stamped by the caller with
    one clock, e.g. the receive time); those records read {"topic", "stamp", "data"}.
    Thread-safe: subscriptions add while a bundle writer reads."""

    def __init__(self, seconds: float = 5.0) -> None:
        self.seconds = seconds
        self._samples: collections.deque[_Entry] = collections.deque()
        self._lock = threading.Lock()

    def append(self, sample: JointStateSample) -> None:
        self._add(sample.stamp, None, sample)

    def add(self, topic: str, stamp: float, item: StateItem) -> None:
        self._add(stamp, topic, item)

    def _add(self, stamp: float, topic: str | None, item: StateItem) -> None:
        with self._lock:
            self._samples.append((stamp, topic, item))
            while self._samples and self._samples[0][0] < stamp - self.seconds:
                self._samples.popleft()

    def records(self, since: float | None = None) -> list[dict[str, Any]]:
        with self._lock:
            kept = [s for s in self._samples if since is None or s[0] >= since]
        return [_state_record(stamp, topic, item) for stamp, topic, item in kept]


def _state_record(stamp: float, topic: str | None, item: StateItem) -> dict[str, Any]:
    data = asdict(item) if is_dataclass(item) and not isinstance(item, type) else item
    assert isinstance(data, dict)
    return data if topic is None else {"topic": topic, "stamp": stamp, "data": data}


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
    plan_id: str | None = None,
    event_kind: str | None = None,
    audit_seq: int | None = None,
    attachments: Mapping[str, Callable[[Path], object]] | None = None,
) -> Path:
    """Write one bundle; returns its directory.

    `plan_id` names the plan when the plan itself is unknown; each attachment is called
    with its path inside the bundle and is listed if it wrote the file."""
    state_rows, audit_rows = list(state), list(audit)
    summary = IncidentSummary(
        incident_id=uuid.uuid4().hex[:12],
        kind=kind,
        reason=reason,
        robot_id=robot_id,
        policy_version=policy_version,
        plan_id=plan.plan_id if plan else plan_id,
        violations=len(violations),
        state_records=len(state_rows),
        audit_records=len(audit_rows),
        event_kind=event_kind,
        audit_seq=audit_seq,
    )
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(summary.stamp))
    final = root / f"{stamp}-{_slug(kind)}-{summary.incident_id}"
    staging = root / f".{final.name}.tmp"
    staging.mkdir()
    for name, write_file in (attachments or {}).items():
        write_file(staging / name)
        if (staging / name).exists():
            summary.attachments.append(name)
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


# ---- when to write a bundle, and what goes in it ---------------------------------------

# Audit event kinds that are incidents, and the bundle kind each one makes.
INCIDENT_KINDS: dict[AuditEventKind, str] = {
    AuditEventKind.TRIP: "trip",
    AuditEventKind.REJECTION: "denial",
    AuditEventKind.REFUSAL: "denial",
    AuditEventKind.VIOLATION: "violation",
}


def payload_violations(payload: Mapping[str, Any]) -> list[Violation]:
    """Violations in an event payload: a list under `violations`, or the payload itself."""
    raw = payload.get("violations", [payload] if "rule" in payload else [])
    found = []
    for item in raw if isinstance(raw, list) else []:
        try:
            found.append(Violation.model_validate(item))
        except ValidationError:
            continue  # another shape: the audit slice still has it
    return found


def plan_violations(plan: Plan | None) -> list[Violation]:
    """What the plan's own checks found (why a denied plan was denied)."""
    if plan is None:
        return []
    return [*(plan.dry_run.violations if plan.dry_run else []), *plan.findings]


def incident_reason(event: AuditEvent) -> str:
    """One line on what happened, from the event's payload."""
    payload = event.payload
    for key in ("reason", "why", "error"):
        if payload.get(key):
            return f"{event.kind.value} by {event.actor}: {payload[key]}"
    violations = payload_violations(payload)
    if violations:
        return "; ".join(v.describe() for v in violations[:3])
    return f"{event.kind.value} by {event.actor}"


def incident_key(event: AuditEvent) -> Hashable:
    """Identical incidents share a key: same kind, source, actor, plan and cause
    (violations by their rules, since their measured values differ every time)."""
    rules = tuple(sorted({v.rule for v in payload_violations(event.payload)}))
    cause = rules or incident_reason(event)
    plan_id = str(event.payload.get("plan_id", ""))
    return (event.kind.value, event.source, event.actor, plan_id, cause)


class RepeatFilter:
    """At most one admission per key every `min_interval_s` (a repeated trip makes one
    bundle, not a hundred)."""

    MAX_KEYS = 1024

    def __init__(self, min_interval_s: float = 1.0) -> None:
        self.min_interval_s = min_interval_s
        self._admitted: dict[Hashable, float] = {}
        self.suppressed = 0

    def admit(self, key: Hashable, now: float) -> bool:
        last = self._admitted.get(key)
        if last is not None and now - last < self.min_interval_s:
            self.suppressed += 1
            return False
        if len(self._admitted) >= self.MAX_KEYS:
            horizon = now - self.min_interval_s
            self._admitted = {k: t for k, t in self._admitted.items() if t >= horizon}
        self._admitted[key] = now
        return True


class PlanBook:
    """The latest version of the last `max_plans` plans seen, by id."""

    def __init__(self, max_plans: int = 64) -> None:
        self.max_plans = max_plans
        self._plans: collections.OrderedDict[str, Plan] = collections.OrderedDict()
        self._changed = threading.Condition()

    def remember(self, plan: Plan) -> None:
        with self._changed:
            self._plans.pop(plan.plan_id, None)
            self._plans[plan.plan_id] = plan
            while len(self._plans) > self.max_plans:
                self._plans.popitem(last=False)
            self._changed.notify_all()

    def plan_for(self, payload: Mapping[str, Any], *, wait_s: float = 0.0) -> Plan | None:
        """The plan a payload names (or carries); with no plan named, the latest plan.

        A named plan not seen yet is waited for up to `wait_s` (the planner publishes it
        and audits it at the same moment, on two topics)."""
        if isinstance(payload.get("plan"), dict):
            try:
                return Plan.model_validate(payload["plan"])
            except ValidationError:
                pass
        with self._changed:
            if not payload.get("plan_id"):
                return next(reversed(self._plans.values()), None)
            plan_id = str(payload["plan_id"])
            self._changed.wait_for(lambda: plan_id in self._plans, timeout=wait_s)
            return self._plans.get(plan_id)


class IncidentWorker:
    """Runs `write(event, seq)` on its own thread, so the audit log never waits for a
    bundle. `submit` never blocks: repeats (RepeatFilter) and overflow are dropped, and
    every failure goes to `on_error`, never to the caller."""

    def __init__(
        self,
        write: Callable[[AuditEvent, int], None],
        on_error: Callable[[str], None],
        *,
        min_interval_s: float = 1.0,
        max_pending: int = 64,
    ) -> None:
        self._write = write
        self._on_error = on_error
        self.repeats = RepeatFilter(min_interval_s)
        self._queue: queue.Queue[tuple[AuditEvent, int] | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="incident_writer", daemon=True)
        self._thread.start()

    def submit(self, event: AuditEvent, seq: int) -> bool:
        """Queue a bundle for an appended event; False when it makes none."""
        if event.kind not in INCIDENT_KINDS:
            return False
        if not self.repeats.admit(incident_key(event), time.monotonic()):
            return False
        try:
            self._queue.put_nowait((event, seq))
        except queue.Full:
            self._on_error(f"incident queue full: no bundle for audit seq {seq}")
            return False
        return True

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._write(*job)
            except Exception as exc:  # a thread boundary: report, keep serving
                self._on_error(f"incident bundle for audit seq {job[1]} failed: {exc!r}")

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=timeout_s)
