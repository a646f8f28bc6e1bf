"""The incident bundle of one durable audit event, as audit_node writes it.

Runs on the incident worker thread (`safety.incidents.IncidentWorker`): gathers the
audit slice, the plan involved, the red-line policy version, the violations and the last
seconds of state (JSON, plus an MCAP from the black-box ring when there is one), writes
the bundle, then audits it as an `incident` event naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.audit.record import audit_slice
from embodied_stack.safety.incidents import (
    INCIDENT_KINDS,
    PlanBook,
    StateHistory,
    incident_reason,
    payload_violations,
    plan_violations,
    write_incident,
)
from embodied_stack.schemas import AuditEvent, AuditEventKind, Plan, Violation

PLAN_WAIT_S = 1.0  # a plan named by an event may arrive on planner/plan just after it
Snapshot = Callable[[Path, float], object]  # writes the last seconds of state as MCAP


class BundleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_dir: Path
    log_dir: Path
    window_s: float = Field(default=10.0, gt=0.0)  # seconds of log and state
    robot_id: str
    policy_version: str  # of the red lines, when the event does not name its own
    plan_wait_s: float = Field(default=PLAN_WAIT_S, ge=0.0)


class IncidentBundler:
    """`write(event, seq)` for IncidentWorker; what it finds goes to `audit` and `report`."""

    def __init__(
        self,
        config: BundleConfig,
        *,
        plans: PlanBook,
        history: StateHistory,
        snapshot: Snapshot | None,
        audit: Callable[[AuditEventKind, dict[str, Any]], None],
        report: Callable[[str, str], None],
    ) -> None:
        self.config = config
        self.plans = plans
        self.history = history
        self._snapshot = snapshot
        self._audit = audit
        self._report = report

    def write(self, event: AuditEvent, seq: int) -> None:
        """Write the bundle, then audit it."""
        config = self.config
        now = time.time()
        since = min(event.stamp, now) - config.window_s
        plan = self.plans.plan_for(event.payload, wait_s=config.plan_wait_s)
        path = write_incident(
            config.incident_dir,
            kind=INCIDENT_KINDS[event.kind],
            reason=incident_reason(event),
            robot_id=event.robot_id or config.robot_id,
            policy_version=str(event.payload.get("policy_version") or config.policy_version),
            plan=plan,
            plan_id=_plan_id(event.payload),
            violations=_violations(event, plan),
            state=self.history.records(since=since),
            audit=audit_slice(config.log_dir, since=since),
            event_kind=event.kind.value,
            audit_seq=seq,
            attachments=self._attachments(now - since),
        )
        self._report("info", f"incident bundle {path} for {event.kind.value} (seq {seq})")
        payload = {
            "path": str(path),
            "for_seq": seq,
            "for_kind": event.kind.value,
            "plan_id": plan.plan_id if plan else _plan_id(event.payload),
        }
        self._audit(AuditEventKind.INCIDENT, payload)

    def _attachments(self, seconds: float) -> dict[str, Callable[[Path], None]] | None:
        snapshot = self._snapshot
        if snapshot is None:
            return None

        def write(path: Path) -> None:
            try:
                snapshot(path, seconds)
            except Exception as exc:  # whatever breaks the MCAP, the bundle goes out without it
                self._report("error", f"incident MCAP {path} not written: {exc!r}")
                path.unlink(missing_ok=True)

        return {"state.mcap": write}


def _violations(event: AuditEvent, plan: Plan | None) -> list[Violation]:
    found = payload_violations(event.payload)
    if not found and INCIDENT_KINDS[event.kind] == "denial":
        return plan_violations(plan)  # why the plan was denied
    return found


def _plan_id(payload: dict[str, Any]) -> str | None:
    return str(payload["plan_id"]) if payload.get("plan_id") else None
