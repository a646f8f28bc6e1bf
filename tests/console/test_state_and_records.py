"""The console core without ROS: live state from plain messages, audit and incident views
read from a real audit log and real incident bundles."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from embodied_stack.audit.log import AuditLog
from embodied_stack.console.backend import AuditQuery, ConsoleUpdate, UpdateKind
from embodied_stack.console.records import chain_status, list_incidents, query_audit
from embodied_stack.console.state import LiveState, violations_in
from embodied_stack.motion_types import JointStateSample
from embodied_stack.robot import load_robot
from embodied_stack.safety.incidents import write_incident
from embodied_stack.schemas import (
    AuditEvent,
    AuditEventKind,
    Plan,
    PlannerKind,
    Provenance,
    Violation,
)


class Collector:
    def __init__(self) -> None:
        self.updates: list[ConsoleUpdate] = []
        self.frames: list[bytes] = []

    def on_update(self, update: ConsoleUpdate) -> None:
        self.updates.append(update)

    def on_frame(self, jpeg: bytes) -> None:
        self.frames.append(jpeg)


def _state() -> tuple[LiveState, Collector]:
    state = LiveState("r1", load_robot("panda"))
    collector = Collector()
    state.subscribe(collector)
    return state, collector


def test_joint_states_give_a_unit_quaternion_tcp_and_the_gripper_opening() -> None:
    state, collector = _state()
    profile = load_robot("panda")
    names = (*profile.joints, *profile.gripper.joints)
    positions = (*profile.home, *([0.02] * len(profile.gripper.joints)))
    state.on_joints(JointStateSample(names=names, positions=positions))
    tcp = state.snapshot().tcp
    assert tcp is not None
    assert math.isclose(sum(q * q for q in tcp.orientation), 1.0, rel_tol=1e-9)
    assert tcp.gripper_opening is not None and math.isclose(tcp.gripper_opening, 0.04)
    assert abs(tcp.orientation[0]) > 0.9  # pointing down: a half turn about x
    assert {u.kind for u in collector.updates} == {UpdateKind.JOINTS, UpdateKind.TCP}


def test_frames_are_jpeg_only_for_watchers() -> None:
    state = LiveState("r1", load_robot("panda"))
    rgb = np.zeros((48, 64, 3), dtype=np.uint8)
    rgb[:, :, 0] = 255  # red
    state.on_frame(rgb)  # nobody watching: kept raw, encoded on demand
    jpeg = state.latest_frame()
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded[0, 0, 2] > 200 and decoded[0, 0, 0] < 50  # BGR: still red
    collector = Collector()
    state.subscribe(collector)
    state.on_frame(rgb)
    assert len(collector.frames) == 1


def test_plans_keep_their_latest_status_in_order() -> None:
    state, _ = _state()
    provenance = Provenance(planner=PlannerKind.OFFLINE, model="offline-grammar-1")
    first, second = Plan(provenance=provenance), Plan(provenance=provenance)
    state.on_plan(first)
    state.on_plan(second)
    state.on_plan(first.model_copy(update={"approved_by": "otto"}))
    plans = state.snapshot().plans
    assert [p.plan_id for p in plans] == [second.plan_id, first.plan_id]
    assert plans[-1].approved_by == "otto"


def _violation(value: float) -> Violation:
    return Violation(rule="workspace", where="tcp", value=value, limit=0.8, source="motion_node")


def test_violations_come_from_audit_events_of_either_shape() -> None:
    one = AuditEvent(
        source="driver_bridge_node",
        source_seq=0,
        kind=AuditEventKind.VIOLATION,
        actor="x",
        robot_id="r1",
        payload=_violation(0.9).model_dump(mode="json"),
    )
    many = AuditEvent(
        source="motion_node",
        source_seq=1,
        kind=AuditEventKind.MOTION_END,
        actor="x",
        robot_id="r1",
        payload={"violations": [_violation(1.0).model_dump(mode="json")]},
    )
    other = AuditEvent(
        source="x",
        source_seq=2,
        kind=AuditEventKind.VIOLATION,
        actor="x",
        robot_id="r1",
        payload={"note": "free text"},
    )
    assert [v.value for v in violations_in(one)] == [0.9]
    assert [v.value for v in violations_in(many)] == [1.0]
    assert violations_in(other) == []
    state, collector = _state()
    state.on_audit_event(one)
    assert [v.value for v in state.snapshot().violations] == [0.9]
    assert [u.kind for u in collector.updates] == [UpdateKind.AUDIT, UpdateKind.VIOLATION]


def _log(tmp_path: Path) -> Path:
    log_dir = tmp_path / "audit"
    log = AuditLog(log_dir, robot_id="r1")
    for i, (kind, actor) in enumerate(
        [("login", "otto"), ("instruction", "otto"), ("approval", "otto"), ("trip", "vera")]
    ):
        event = AuditEvent(
            source="console_node",
            source_seq=i,
            kind=AuditEventKind(kind),
            actor=actor,
            robot_id="r1",
            payload={"n": i},
        )
        log.append(event)
    log.close()
    return log_dir


def test_audit_query_filters_newest_last(tmp_path: Path) -> None:
    log_dir = _log(tmp_path)
    everything = query_audit(log_dir, AuditQuery())
    assert [r["kind"] for r in everything][-4:] == ["login", "instruction", "approval", "trip"]
    assert [r["actor"] for r in query_audit(log_dir, AuditQuery(actor="vera"))] == ["vera"]
    by_kind = query_audit(log_dir, AuditQuery(kind=AuditEventKind.APPROVAL))
    assert [r["payload"]["n"] for r in by_kind] == [2]
    assert len(query_audit(log_dir, AuditQuery(limit=2))) == 2
    assert query_audit(tmp_path / "nowhere", AuditQuery()) == []


def test_chain_status_reports_where_the_log_was_tampered_with(tmp_path: Path) -> None:
    log_dir = _log(tmp_path)
    good = chain_status(log_dir)
    assert good.ok and good.length >= 4
    file = next(log_dir.iterdir())
    file.write_text(file.read_text().replace('"actor":"vera"', '"actor":"eve"'))
    bad = chain_status(log_dir)
    assert not bad.ok and bad.broken_at is not None
    assert "BAD" in bad.message


def test_incidents_newest_first(tmp_path: Path) -> None:
    root = tmp_path / "incidents"
    for reason in ("first", "second"):
        write_incident(root, kind="trip", reason=reason, robot_id="r1", policy_version="1")
    (root / "not-a-bundle").mkdir()
    found = list_incidents(root)
    assert {i.reason for i in found} == {"first", "second"}
    assert found[0].stamp >= found[1].stamp
    assert list_incidents(tmp_path / "none") == []
