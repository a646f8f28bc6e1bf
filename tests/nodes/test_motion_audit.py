"""motion_node and the real audit_node: no motion without a durable record (a plan or a
jog is refused when the log cannot be written), a jog is on the record before it moves,
and what a model produced stays labelled to the end of its motion."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import String

from embodied_stack.audit.record import log_file_name
from embodied_stack.nodes import qos
from embodied_stack.nodes.audit_node import AuditNode
from embodied_stack.nodes.motion_node import MotionNode
from embodied_stack.nodes.ros_conversions import json_to_ros
from embodied_stack.nodes.sim_node import SimNode
from embodied_stack.schemas import AuditEventKind, JogAxis, JogCommand, MotionState, PlannerKind
from tests.nodes.test_motion_node import (
    HEARTBEAT_TIMEOUT_S,
    Probe,
    make_probe,
    plan_of,
    ready,
    wait_until,
)
from tests.ros_rig import beating, spinning

pytestmark = pytest.mark.ros

Rig = tuple[MotionNode, Probe]


def rig_with_log(log_dir: Path) -> Iterator[Rig]:
    timeout = Parameter("heartbeat_timeout_s", value=HEARTBEAT_TIMEOUT_S)
    commander = Parameter("motion_heartbeat_timeout_s", value=HEARTBEAT_TIMEOUT_S)
    probes: list[Probe] = []

    def make_sim(context: Context) -> SimNode:
        small = [("render_process", False), ("camera.width", 64), ("camera.height", 48)]
        params = [Parameter(k, value=v) for k, v in small]
        return SimNode(context=context, parameter_overrides=[timeout, commander, *params])

    def make_motion(context: Context) -> MotionNode:
        durable = Parameter("audit_durable", value=True)
        return MotionNode(context=context, parameter_overrides=[timeout, commander, durable])

    def make_audit(context: Context) -> AuditNode:
        params = [Parameter("log_dir", value=str(log_dir))]
        return AuditNode(context=context, parameter_overrides=params)

    def make_probe_node(context: Context) -> Node:
        probes.append(make_probe(context))
        return probes[-1].node

    with spinning(make_sim, make_audit, make_motion, make_probe_node) as nodes:
        motion = nodes[2]
        assert isinstance(motion, MotionNode)
        with beating(probes[0].pubs["heartbeat"], probes[0].beating):
            yield motion, probes[0]


@pytest.fixture
def full_log(tmp_path: Path) -> Iterator[Rig]:
    tmp_path.joinpath(log_file_name(1)).symlink_to("/dev/full")  # every append fails
    yield from rig_with_log(tmp_path)


@pytest.fixture
def good_log(tmp_path: Path) -> Iterator[Rig]:
    yield from rig_with_log(tmp_path)


def moves(probe: Probe) -> list[float]:
    """Wall times of the trajectories sent that move (a hold has no points)."""
    return [t for t, points in probe.trajectories if points > 0]


def jog(probe: Probe, direction: int, seconds: float) -> None:
    pub = probe.node.create_publisher(String, "teleop/jog", qos.COMMAND)
    assert wait_until(lambda: pub.get_subscription_count() > 0, 10.0)
    end, seq = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        command = JogCommand(operator="ada", axis=JogAxis.Z, direction=direction, seq=seq)  # type: ignore[arg-type]
        pub.publish(json_to_ros(command))
        seq += 1
        time.sleep(0.05)
    pub.publish(json_to_ros(JogCommand(operator="ada", axis=JogAxis.Z, direction=0, seq=seq)))


def test_a_plan_is_refused_when_the_log_cannot_be_written(full_log: Rig) -> None:
    motion, probe = full_log
    ready(probe, motion)
    plan = plan_of(("move_to", {"x": 0.45, "y": 0.0, "z": 0.25}))
    probe.send_plan(plan)
    assert wait_until(lambda: probe.ended(plan.plan_id), 30.0)
    status = probe.status_of(plan.plan_id)
    assert status is not None and status.state is MotionState.FAILED
    assert "audit log not durable" in str(status.error)  # a refusal or no ack in time
    assert moves(probe) == []


def test_a_jog_is_refused_when_the_log_cannot_be_written(full_log: Rig) -> None:
    motion, probe = full_log
    ready(probe, motion)
    jog(probe, -1, 1.0)
    time.sleep(0.5)
    assert moves(probe) == []


def test_a_jog_is_on_the_record_before_it_moves(good_log: Rig) -> None:
    motion, probe = good_log
    ready(probe, motion)
    jog(probe, -1, 1.0)
    assert wait_until(lambda: bool(moves(probe)), 10.0), (
        probe.trajectories,
        [(e.kind, e.actor) for _, e in probe.audit],
    )
    jogs = [(t, e) for t, e in probe.audit if e.kind is AuditEventKind.JOG and e.actor == "ada"]
    assert jogs, [e.kind for _, e in probe.audit]
    assert jogs[0][1].payload["axis"] == "z" and jogs[0][1].payload["direction"] == -1
    assert len(jogs) == 1  # once per start, not per deadman refresh
    assert jogs[0][0] <= moves(probe)[0]


def test_motion_end_keeps_the_plan_label(good_log: Rig) -> None:
    motion, probe = good_log
    ready(probe, motion)
    plan = plan_of(("move_to", {"x": 0.45, "y": 0.0, "z": 0.3})).model_copy(
        update={"ai_generated": True}
    )
    plan = plan.model_copy(
        update={"provenance": plan.provenance.model_copy(update={"planner": PlannerKind.LLM})}
    )
    probe.send_plan(plan)
    assert wait_until(lambda: probe.ended(plan.plan_id), 60.0)
    assert wait_until(lambda: any(e.kind is AuditEventKind.MOTION_END for _, e in probe.audit))
    ends = [e for _, e in probe.audit if e.kind is AuditEventKind.MOTION_END]
    assert ends[-1].ai_generated and ends[-1].model is not None
    assert ends[-1].model.name == "test"
