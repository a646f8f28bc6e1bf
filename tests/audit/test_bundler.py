"""audit_node's incident bundles without ROS: what goes in, and what is audited after."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from embodied_stack.audit.bundler import BundleConfig, IncidentBundler, Snapshot
from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog
from embodied_stack.safety.incidents import PlanBook, StateHistory, read_incident
from embodied_stack.schemas import AuditEventKind, Plan, PlannerKind, Provenance


def _bundler(
    tmp_path: Path, snapshot: Snapshot | None
) -> tuple[IncidentBundler, list[tuple[AuditEventKind, dict[str, Any]]], list[str]]:
    audited: list[tuple[AuditEventKind, dict[str, Any]]] = []
    errors: list[str] = []
    config = BundleConfig(
        incident_dir=tmp_path / "incidents",
        log_dir=tmp_path / "audit",
        window_s=5.0,
        robot_id="robot-t",
        policy_version="redlines-v1",
        plan_wait_s=0.0,
    )
    history = StateHistory(10.0)
    history.add("safety/status", time.time(), {"latched": True})
    bundler = IncidentBundler(
        config,
        plans=PlanBook(),
        history=history,
        snapshot=snapshot,
        audit=lambda kind, payload: audited.append((kind, payload)),
        report=lambda level, text: errors.append(text) if level == "error" else None,
    )
    return bundler, audited, errors


def test_a_rejection_bundle_names_its_plan_and_is_audited(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit", robot_id="robot-t")
    event = AuditEmitter(source="console_node", robot_id="robot-t").make(
        "rejection", "bob", {"reason": "too risky"}
    )
    record = log.append(event)
    log.close()
    bundler, audited, _ = _bundler(tmp_path, lambda path, seconds: path.write_bytes(b"mcap"))
    plan = Plan(provenance=Provenance(planner=PlannerKind.LLM, model="m"), instruction="knife")
    bundler.plans.remember(plan)
    event.payload["plan_id"] = plan.plan_id
    bundler.write(event, record.seq)
    ((kind, payload),) = audited
    summary = read_incident(payload["path"])
    assert kind == AuditEventKind.INCIDENT and payload["for_seq"] == record.seq
    assert (summary.kind, summary.plan_id, summary.policy_version) == (
        "denial",
        plan.plan_id,
        "redlines-v1",
    )
    assert summary.audit_records == 1 and summary.state_records == 1
    assert summary.attachments == ["state.mcap"] and "too risky" in summary.reason


def test_a_broken_snapshot_leaves_the_bundle_without_it(tmp_path: Path) -> None:
    def broken(path: Path, seconds: float) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("ring gone")

    bundler, audited, errors = _bundler(tmp_path, broken)
    event = AuditEmitter(source="killswitch_node", robot_id="robot-t").make(
        "trip", "alice", {"why": "button"}
    )
    bundler.write(event, 0)
    summary = read_incident(audited[0][1]["path"])
    assert summary.attachments == [] and summary.kind == "trip"
    assert any("ring gone" in text for text in errors)
    assert not (Path(audited[0][1]["path"]) / "state.mcap").exists()
