"""Incident bundles from audit_node over DDS: a trip and a rejection each leave a bundle
(audit slice, plan, policy version, state as JSON and MCAP) and an `incident` event in a
chain that still verifies; identical trips within the interval make one bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rclpy
from mcap.reader import make_reader
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog, verify
from embodied_stack.audit.record import read_records
from embodied_stack.motion_types import JointStateSample
from embodied_stack.nodes import qos
from embodied_stack.nodes.audit_client import AuditClient
from embodied_stack.nodes.audit_node import AuditNode
from embodied_stack.nodes.ros_conversions import joint_state_to_ros, json_to_ros
from embodied_stack.safety.incidents import (
    IncidentWorker,
    PlanBook,
    RepeatFilter,
    incident_key,
    incident_reason,
    payload_violations,
    read_incident,
)
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.schemas import (
    AuditEvent,
    Plan,
    PlannerKind,
    PlanStatus,
    Provenance,
    SafetyStatus,
    Violation,
)

ROBOT = "sim-panda-01"


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def bundles(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def event(kind: str, payload: dict[str, Any], actor: str = "killswitch_node") -> AuditEvent:
    return AuditEvent(
        source="x", source_seq=0, kind=kind, actor=actor, robot_id=ROBOT, payload=payload
    )


# ---- the core pieces, no DDS --------------------------------------------------------------


def test_identical_incidents_are_one_per_interval_but_new_rules_are_not() -> None:
    breach = Violation(rule="keep_out", where="link7", value=0.1, limit=0.0, source="motion")
    other = breach.model_copy(update={"value": 0.2})  # same rule, another measurement
    first = event("violation", {"plan_id": "p", "violations": [breach.model_dump(mode="json")]})
    again = event("violation", {"plan_id": "p", "violations": [other.model_dump(mode="json")]})
    assert incident_key(first) == incident_key(again)
    speed = breach.model_copy(update={"rule": "tcp_speed"})
    new_rule = event("violation", {"plan_id": "p", "violations": [speed.model_dump()]})
    assert incident_key(new_rule) != incident_key(first)
    repeats = RepeatFilter(min_interval_s=1.0)
    assert repeats.admit("k", 10.0) and not repeats.admit("k", 10.5) and repeats.admit("k", 11.0)
    assert repeats.suppressed == 1


def test_reasons_violations_and_plans_come_from_the_payload() -> None:
    trip = event("trip", {"why": "console button"}, actor="console:alice")
    assert incident_reason(trip) == "trip by console:alice: console button"
    single = Violation(rule="workspace", where="tcp", value=1.0, limit=0.9, source="bridge")
    assert [v.rule for v in payload_violations(single.model_dump(mode="json"))] == ["workspace"]
    assert payload_violations({"violations": [{"not": "a violation"}]}) == []
    book = PlanBook(max_plans=2)
    plans = [
        Plan(provenance=Provenance(planner=PlannerKind.OFFLINE, model="grammar")) for _ in range(3)
    ]
    for plan in plans:
        book.remember(plan)
    assert book.plan_for({}) == plans[2]  # none named: the latest
    assert book.plan_for({"plan_id": plans[1].plan_id}) == plans[1]
    assert book.plan_for({"plan_id": plans[0].plan_id}) is None  # forgotten, not guessed
    late = Plan(provenance=Provenance(planner=PlannerKind.OFFLINE, model="grammar"))
    threading.Timer(0.05, book.remember, (late,)).start()
    assert book.plan_for({"plan_id": late.plan_id}, wait_s=30.0) == late  # arrives after


def test_a_failing_bundle_is_reported_and_the_worker_goes_on() -> None:
    errors: list[str] = []
    written: list[int] = []

    def write(ev: AuditEvent, seq: int) -> None:
        if seq == 1:
            raise OSError("disk full")
        written.append(seq)

    worker = IncidentWorker(write, errors.append, min_interval_s=0.0)
    for seq in range(3):
        assert worker.submit(event("trip", {"why": str(seq)}), seq)
    assert not worker.submit(event("plan", {}), 3)  # not an incident
    worker.close()
    assert written == [0, 2] and len(errors) == 1 and "disk full" in errors[0]


# ---- audit_node over DDS ------------------------------------------------------------------


@dataclass
class Rig:
    audit: AuditNode
    probe: Node
    client: AuditClient


@contextmanager
def running(log_dir: Path, incident_dir: Path) -> Iterator[Rig]:
    context = Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(context=context)
    params = [
        Parameter("log_dir", value=str(log_dir)),
        Parameter("incident_dir", value=str(incident_dir)),
        Parameter("incident_window_s", value=5.0),
    ]
    audit = AuditNode(context=context, parameter_overrides=params)
    probe = Node("killswitch_node", context=context)
    rig = Rig(audit, probe, AuditClient(probe, "killswitch_node", ROBOT))
    for node in (audit, probe):
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield rig
    finally:
        rig.client.close()
        executor.shutdown(timeout_sec=5.0)
        probe.destroy_node()
        audit.destroy_node()
        rclpy.try_shutdown(context=context)
        thread.join(timeout=5.0)


def _publish_state(probe: Node, plan: Plan) -> Callable[[], None]:
    """Joint states at 50 Hz, a latched safety status and a latched plan."""
    joints = probe.create_publisher(JointState, "joint_states", qos.STATE)
    status = probe.create_publisher(String, "safety/status", qos.LATCHED)
    plans = probe.create_publisher(String, "planner/plan", qos.LATCHED)
    status.publish(json_to_ros(SafetyStatus(latched=True, tripped_by="console:alice")))
    plans.publish(json_to_ros(plan))
    tick = [0]

    def beat() -> None:
        tick[0] += 1
        sample = JointStateSample(names=("j1",), positions=(tick[0] * 0.01,), stamp=time.time())
        joints.publish(joint_state_to_ros(sample))

    timer = probe.create_timer(0.02, beat)
    return timer.cancel


def _state_topics(rig: Rig) -> set[str]:
    return {r.get("topic", "") for r in rig.audit.state_history.records()}


@pytest.mark.ros
def test_trip_and_rejection_leave_bundles_and_incident_events(tmp_path: Path) -> None:
    log_dir, incident_dir = tmp_path / "audit", tmp_path / "incidents"
    plan = Plan(
        provenance=Provenance(planner=PlannerKind.LLM, model="m"),
        instruction="hand me the knife",
        status=PlanStatus.PROPOSED,
    )
    with running(log_dir, incident_dir) as rig:
        stop = _publish_state(rig.probe, plan)
        wanted = {"joint_states", "safety/status"}
        assert wait_until(lambda: wanted <= _state_topics(rig) and rig.audit.plans.plan_for({}))
        recorder = rig.audit.recorder
        assert recorder is not None
        ring = recorder.ring  # the recorder discovers topics late: wait for some samples
        assert wait_until(lambda: sum(s.topic == "/joint_states" for s in ring.samples()) >= 5)
        for _ in range(3):  # one button held down: one bundle
            rig.client.emit("trip", "console:alice", {"why": "console button", "latched_by": None})
        rig.client.emit("rejection", "bob", {"plan_id": plan.plan_id, "reason": "too risky"})
        assert wait_until(lambda: len(bundles(incident_dir)) >= 2)
        assert wait_until(
            lambda: sum(r.kind == "incident" for r in read_records(log_dir)) >= 2, timeout=10.0
        )
        stop()
    found = {read_incident(b).kind: b for b in bundles(incident_dir)}
    assert set(found) == {"trip", "denial"} and len(bundles(incident_dir)) == 2
    _check_trip(found["trip"])
    _check_denial(found["denial"], plan)
    report = verify(log_dir)
    assert report.ok, report.summary()
    records = list(read_records(log_dir))
    incidents = [r for r in records if r.kind == "incident"]
    assert {Path(r.payload["path"]) for r in incidents} == set(found.values())
    by_seq = {r.seq: r for r in records}
    assert {by_seq[r.payload["for_seq"]].kind for r in incidents} == {"trip", "rejection"}


def _check_trip(bundle: Path) -> None:
    summary = read_incident(bundle)
    assert summary.policy_version == load_redlines().policy_version
    assert summary.event_kind == "trip" and summary.reason.endswith("console button")
    audit = [json.loads(line) for line in (bundle / "audit.jsonl").read_text().splitlines()]
    assert summary.audit_seq in {r["seq"] for r in audit if r["kind"] == "trip"}
    state = [json.loads(line) for line in (bundle / "state.jsonl").read_text().splitlines()]
    joints = [r for r in state if r["topic"] == "joint_states"]
    assert len(joints) >= 5 and joints[-1]["data"]["names"] == ["j1"]
    status = [r for r in state if r["topic"] == "safety/status"]
    assert status and status[-1]["data"]["tripped_by"] == "console:alice"
    assert summary.attachments == ["state.mcap"]
    with (bundle / "state.mcap").open("rb") as handle:
        topics = [channel.topic for _, channel, _ in make_reader(handle).iter_messages()]
    assert topics.count("/joint_states") >= 5 and "/planner/plan" in topics


def _check_denial(bundle: Path, plan: Plan) -> None:
    summary = read_incident(bundle)
    assert (summary.event_kind, summary.plan_id) == ("rejection", plan.plan_id)
    assert "too risky" in summary.reason
    assert json.loads((bundle / "plan.json").read_text())["instruction"] == plan.instruction
    assert summary.policy_version == load_redlines().policy_version


# ---- `embodied-stack audit ... | head` ----------------------------------------------------


def test_audit_cli_is_quiet_when_the_reader_leaves(tmp_path: Path) -> None:
    """The reader of a pipe closing early is no error: no traceback, the verdict stands."""
    log = AuditLog(tmp_path, robot_id=ROBOT)
    emitter = AuditEmitter(source="s", robot_id=ROBOT)
    log.append_batch([emitter.make("plan", "a", {"i": i}) for i in range(5000)])
    log.close()
    cli = [sys.executable, "-m", "embodied_stack.cli", "audit"]
    for args in (["show", str(tmp_path)], ["verify", str(tmp_path), "--json"]):
        proc = subprocess.Popen([*cli, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()
        proc.stdout.close()  # `| head -1`
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0 and "Traceback" not in err, err
