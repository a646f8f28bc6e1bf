"""motion_node over DDS with the real sim_node: approved plans only, each once; pick and
place judged by the task predicates; e-stop and a stale heartbeat hold at once and the
plan is never resumed; audit events bracket the motion."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, Header, String
from trajectory_msgs.msg import JointTrajectory

from embodied_stack.config import config_path
from embodied_stack.control.truth import perceived_objects
from embodied_stack.nodes import qos
from embodied_stack.nodes.motion_node import INPUT_WAIT_S, MotionNode
from embodied_stack.nodes.ros_conversions import json_from_ros, json_to_ros
from embodied_stack.nodes.sim_node import SimNode
from embodied_stack.robot import load_robot
from embodied_stack.scene import load_scene
from embodied_stack.schemas import (
    AuditEvent,
    GroundTruth,
    JogAxis,
    JogCommand,
    MotionState,
    MotionStatus,
    ObjectsMessage,
    Plan,
    PlannerKind,
    PlanStatus,
    PlanStep,
    Provenance,
)
from embodied_stack.sim.predicates import evaluate
from tests.ros_rig import beating, spinning

pytestmark = pytest.mark.ros
PROFILE = load_robot("panda")
SCENE = load_scene(config_path("scenes/default.yaml"))
HEARTBEAT_TIMEOUT_S = 2.0  # generous: tests share two loaded cores; stale = hold regardless


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@dataclass
class Probe:
    """Kill switch, planner and perception stand-in (ground truth as perceived objects)."""

    node: Node
    pubs: dict[str, Any]
    statuses: list[MotionStatus] = field(default_factory=list)
    truths: list[GroundTruth] = field(default_factory=list)
    trajectories: list[tuple[float, int]] = field(default_factory=list)  # (wall time, points)
    audit: list[tuple[float, AuditEvent]] = field(default_factory=list)
    beating: threading.Event = field(default_factory=threading.Event)
    hidden: set[str] = field(default_factory=set)  # ids perception does not report

    def send_plan(self, plan: Plan) -> None:
        self.pubs["plan"].publish(json_to_ros(plan))

    def status_of(self, plan_id: str) -> MotionStatus | None:
        mine = [s for s in self.statuses if s.plan_id == plan_id]
        return mine[-1] if mine else None

    def ended(self, plan_id: str) -> bool:
        status = self.status_of(plan_id)
        return status is not None and status.state in {
            MotionState.DONE,
            MotionState.FAILED,
            MotionState.ABORTED,
        }

    def tcp(self) -> np.ndarray:
        return np.array(self.truths[-1].tcp.position)


def make_probe(context: Context) -> Probe:
    node = Node("motion_probe", context=context)
    probe = Probe(
        node,
        {
            "plan": node.create_publisher(String, "planner/plan", qos.LATCHED),
            "objects": node.create_publisher(String, "perception/objects", qos.STATE),
            "estop": node.create_publisher(Bool, "safety/estop", qos.LATCHED),
            "heartbeat": node.create_publisher(
                Header, "safety/heartbeat", qos.heartbeat(HEARTBEAT_TIMEOUT_S)
            ),
        },
    )

    def on_truth(msg: String) -> None:
        truth = json_from_ros(GroundTruth, msg)
        probe.truths.append(truth)
        seen = [o for o in perceived_objects(truth, SCENE) if o.id not in probe.hidden]
        objects = ObjectsMessage(stamp=truth.sim_time, objects=seen)
        probe.pubs["objects"].publish(json_to_ros(objects))

    node.create_subscription(String, "sim/ground_truth", on_truth, qos.STATE)
    node.create_subscription(
        String,
        "motion/status",
        lambda m: probe.statuses.append(json_from_ros(MotionStatus, m)),
        qos.LATCHED,
    )
    node.create_subscription(
        JointTrajectory,
        PROFILE.controller.trajectory_topic,
        lambda m: probe.trajectories.append((time.monotonic(), len(m.points))),
        qos.COMMAND,
    )
    node.create_subscription(
        String,
        "audit/events",
        lambda m: probe.audit.append((time.monotonic(), json_from_ros(AuditEvent, m))),
        qos.AUDIT,
    )
    return probe


@pytest.fixture
def rig() -> Iterator[tuple[MotionNode, Probe]]:
    timeout = Parameter("heartbeat_timeout_s", value=HEARTBEAT_TIMEOUT_S)
    commander = Parameter("motion_heartbeat_timeout_s", value=HEARTBEAT_TIMEOUT_S)
    probes: list[Probe] = []

    def make_sim(context: Context) -> SimNode:
        return SimNode(
            context=context,
            parameter_overrides=[
                timeout,
                commander,
                Parameter("render_process", value=False),
                Parameter("camera.rate_hz", value=0.5),
                Parameter("camera.width", value=64),
                Parameter("camera.height", value=48),
            ],
        )

    def make_motion(context: Context) -> MotionNode:
        return MotionNode(
            context=context,
            parameter_overrides=[timeout, commander, Parameter("audit_durable", value=False)],
        )

    def make_probe_node(context: Context) -> Node:
        probes.append(make_probe(context))
        return probes[-1].node

    with spinning(make_sim, make_motion, make_probe_node) as (_sim, motion, _p):
        assert isinstance(motion, MotionNode)
        probe = probes[0]
        with beating(probe.pubs["heartbeat"], probe.beating):
            yield motion, probe


def ready(probe: Probe, motion: MotionNode) -> None:
    probe.pubs["estop"].publish(Bool(data=False))
    probe.beating.set()
    assert wait_until(lambda: len(probe.truths) > 2)
    # the heartbeat (its watch discovers us as a participant of its own) and e-stop state
    assert wait_until(lambda: motion.guard.reason() is None), motion.guard.reason()


def plan_of(
    *steps: tuple[str, dict[str, float | str]], status: PlanStatus = PlanStatus.APPROVED
) -> Plan:
    return Plan(
        steps=[PlanStep.model_validate({"skill": s, "args": a}) for s, a in steps],
        provenance=Provenance(planner=PlannerKind.OPERATOR, model="test"),
        ai_generated=False,
        status=status,
        approved_by="alice",
        approved_at=time.time(),
    )


def judge(probe: Probe, pred: dict[str, Any]) -> bool:
    result = evaluate(
        pred, now=probe.truths[-1], initial=probe.truths[0], scene=SCENE, robot=PROFILE
    )
    assert result.passed, f"{pred}: {result.detail}"  # say why
    return result.passed


def test_pick_and_place_into_the_tray_with_audit_events(rig: tuple[MotionNode, Probe]) -> None:
    motion, probe = rig
    ready(probe, motion)
    plan = plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "tray"}))
    probe.send_plan(plan)
    assert wait_until(lambda: probe.ended(plan.plan_id), timeout=120.0)
    status = probe.status_of(plan.plan_id)
    assert status is not None and status.state is MotionState.DONE, status
    time.sleep(1.0)  # the cube settles
    assert judge(probe, {"in": ["red_cube", "tray"]})
    assert judge(probe, {"unmoved": ["blue_cube"]})
    kinds = [(t, e.kind.value) for t, e in probe.audit if e.payload.get("plan_id") == plan.plan_id]
    assert [k for _t, k in kinds] == ["motion_start", "motion_end"]
    assert kinds[0][0] <= probe.trajectories[0][0]  # motion_start before the first command
    start = next(e for _t, e in probe.audit if e.kind.value == "motion_start")
    assert start.actor == "alice"


def run_to_done(probe: Probe, plan: Plan) -> None:
    probe.send_plan(plan)
    assert wait_until(lambda: probe.ended(plan.plan_id), timeout=120.0)
    status = probe.status_of(plan.plan_id)
    assert status is not None and status.state is MotionState.DONE, status
    time.sleep(1.0)  # the objects settle


def test_stacking_one_cube_on_another(rig: tuple[MotionNode, Probe]) -> None:
    """Onto a cube that is turned (blue_cube: yaw 0.6), lined up with it."""
    motion, probe = rig
    ready(probe, motion)
    run_to_done(
        probe, plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "blue_cube"}))
    )
    assert judge(probe, {"on": ["red_cube", "blue_cube"]})
    assert judge(probe, {"unmoved": ["tray"]})


def test_place_at_a_point_on_the_table(rig: tuple[MotionNode, Probe]) -> None:
    motion, probe = rig
    ready(probe, motion)
    plan = plan_of(("pick", {"object": "blue_cube"}), ("place_at", {"x": 0.40, "y": -0.28}))
    run_to_done(probe, plan)
    assert judge(probe, {"at": ["blue_cube", [0.40, -0.28], 0.02]})
    assert judge(probe, {"unmoved": ["red_cube"]})
    assert judge(probe, {"unmoved": ["tray"]})


def test_only_approved_plans_run_and_each_only_once(rig: tuple[MotionNode, Probe]) -> None:
    motion, probe = rig
    ready(probe, motion)
    proposed = plan_of(("move_to", {"x": 0.45, "y": 0.0, "z": 0.3}), status=PlanStatus.PROPOSED)
    probe.send_plan(proposed)
    time.sleep(1.0)
    assert probe.status_of(proposed.plan_id) is None and probe.trajectories == []
    approved = proposed.model_copy(update={"status": PlanStatus.APPROVED})
    probe.send_plan(approved)
    assert wait_until(lambda: probe.ended(approved.plan_id))
    sent = len(probe.trajectories)
    probe.send_plan(approved)  # the same id again: ignored
    time.sleep(1.0)
    assert len(probe.trajectories) == sent
    assert (
        motion.plan_executor is not None and motion.plan_executor.plan.plan_id == approved.plan_id
    )


def test_an_approval_older_than_the_node_never_runs(rig: tuple[MotionNode, Probe]) -> None:
    """The latched plan topic hands a restarted motion_node the last approved plan:
    it must not run it (a restart never resumes motion)."""
    motion, probe = rig
    ready(probe, motion)
    stale = plan_of(("move_to", {"x": 0.45, "y": 0.0, "z": 0.3}))
    stale = stale.model_copy(update={"approved_at": motion._started_at - 5.0})
    probe.send_plan(stale)
    assert wait_until(lambda: probe.ended(stale.plan_id))
    status = probe.status_of(stale.plan_id)
    assert status is not None and "approved before this motion_node started" in (status.error or "")
    time.sleep(0.5)
    assert probe.trajectories == []


def test_bad_plan_is_rejected_before_anything_moves(rig: tuple[MotionNode, Probe]) -> None:
    motion, probe = rig
    ready(probe, motion)
    plan = plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "unicorn"}))
    probe.send_plan(plan)
    assert wait_until(lambda: probe.ended(plan.plan_id))
    status = probe.status_of(plan.plan_id)
    assert status is not None and status.state is MotionState.FAILED
    assert status.error is not None and "step 2 (place): unknown object 'unicorn'" in status.error
    assert probe.trajectories == []
    bad = plan_of(("go_home", {}))
    text = json_to_ros(bad).data.replace('"go_home"', '"dance"')
    probe.pubs["plan"].publish(String(data=text))
    assert wait_until(lambda: probe.ended(bad.plan_id))
    status = probe.status_of(bad.plan_id)  # the sender can tell which plan was refused
    assert status is not None and status.state is MotionState.FAILED
    assert "malformed plan" in (status.error or "") and status.step_count == 1
    assert probe.trajectories == []


def test_estop_holds_at_once_and_the_plan_never_resumes(rig: tuple[MotionNode, Probe]) -> None:
    motion, probe = rig
    ready(probe, motion)
    plan = plan_of(("set_speed", {"scale": 0.3}), ("move_to", {"x": 0.45, "y": -0.25, "z": 0.2}))
    probe.send_plan(plan)
    assert wait_until(lambda: np.linalg.norm(probe.tcp() - probe.truths[0].tcp.position) > 0.03)
    holds = motion.holds_sent
    probe.pubs["estop"].publish(Bool(data=True))
    assert wait_until(lambda: probe.ended(plan.plan_id))
    status = probe.status_of(plan.plan_id)
    assert status is not None and status.state is MotionState.ABORTED
    assert status.error == "stopped: e-stop pressed"
    assert motion.holds_sent == holds + 1 and probe.trajectories[-1][1] == 0  # a hold went out
    time.sleep(0.5)
    stopped_at = probe.tcp()
    probe.pubs["estop"].publish(Bool(data=False))  # released: still nothing may move
    time.sleep(2.0)
    assert np.linalg.norm(probe.tcp() - stopped_at) < 0.02
    again = plan_of(("go_home", {}))  # only a new approved plan moves the arm
    probe.send_plan(again)
    assert wait_until(lambda: probe.ended(again.plan_id))
    assert probe.status_of(again.plan_id).state is MotionState.DONE  # type: ignore[union-attr]


def press_and_release(
    probe: Probe, motion: MotionNode, while_pressed: Callable[[], None] = lambda: None
) -> None:
    """An e-stop press the node sees, then its release with every object in view."""
    probe.pubs["estop"].publish(Bool(data=True))
    assert wait_until(lambda: motion.guard.reason() == "e-stop pressed")
    while_pressed()
    probe.pubs["estop"].publish(Bool(data=False))
    probe.hidden.clear()


def test_a_plan_waiting_for_its_objects_never_starts_after_a_stop(
    rig: tuple[MotionNode, Probe],
) -> None:
    """A plan waits (up to the input wait) for its objects to be perceived. An e-stop
    during that wait ends it, and a plan arriving during an e-stop is refused at once:
    neither starts when the stop is released and the objects show up within the wait."""
    motion, probe = rig
    probe.hidden.add("red_cube")
    ready(probe, motion)
    waiting = plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "tray"}))
    probe.send_plan(waiting)
    assert wait_until(lambda: motion._pending is not None)
    assert probe.status_of(waiting.plan_id) is None  # waiting, not refused
    press_and_release(probe, motion)
    assert wait_until(lambda: probe.ended(waiting.plan_id))
    status = probe.status_of(waiting.plan_id)
    assert status is not None and status.state is MotionState.ABORTED
    assert status.error == "stopped: e-stop pressed"

    assert wait_until(lambda: motion.guard.reason() is None), motion.guard.reason()
    probe.hidden.add("red_cube")
    assert wait_until(lambda: all(o.id != "red_cube" for o in motion._objects))
    during = plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "tray"}))

    def send_during() -> None:
        probe.send_plan(during)
        assert wait_until(lambda: during.plan_id in motion._seen_plans)

    press_and_release(probe, motion, send_during)
    assert wait_until(lambda: probe.ended(during.plan_id))
    status = probe.status_of(during.plan_id)
    assert status is not None and status.error == "not started: e-stop pressed"

    time.sleep(INPUT_WAIT_S + 1.0)  # past any input wait: still nothing moved
    assert all(points == 0 for _t, points in probe.trajectories)  # holds only
    assert probe.status_of(waiting.plan_id).state is MotionState.ABORTED  # type: ignore[union-attr]
    assert probe.status_of(during.plan_id).state is MotionState.FAILED  # type: ignore[union-attr]


def test_stale_heartbeat_aborts_and_no_plan_starts_without_one(
    rig: tuple[MotionNode, Probe],
) -> None:
    motion, probe = rig
    probe.pubs["estop"].publish(Bool(data=False))
    assert wait_until(lambda: len(probe.truths) > 2)
    assert wait_until(lambda: "heartbeat" in str(motion.guard.reason())), motion.guard.reason()
    early = plan_of(("go_home", {}))
    probe.send_plan(early)  # no heartbeat yet
    assert wait_until(lambda: probe.ended(early.plan_id))
    status = probe.status_of(early.plan_id)
    assert status is not None and status.error == "not started: no heartbeat received yet"
    probe.beating.set()
    assert wait_until(lambda: motion.guard.reason() is None), motion.guard.reason()
    plan = plan_of(("set_speed", {"scale": 0.3}), ("move_to", {"x": 0.45, "y": 0.25, "z": 0.2}))
    probe.send_plan(plan)
    assert wait_until(lambda: np.linalg.norm(probe.tcp() - probe.truths[0].tcp.position) > 0.03)
    probe.beating.clear()
    assert wait_until(lambda: probe.ended(plan.plan_id))
    status = probe.status_of(plan.plan_id)
    assert status is not None and status.state is MotionState.ABORTED
    assert status.error is not None and "heartbeat missed" in status.error
    probe.beating.set()  # heartbeats back: the aborted plan stays aborted
    time.sleep(1.0)
    assert probe.status_of(plan.plan_id).state is MotionState.ABORTED  # type: ignore[union-attr]


@pytest.mark.xfail(
    strict=False,
    reason="KNOWN FLAKE of the one-process rig, not of jogging: at times the test thread's"
    " 50 ms jog refreshes go out 0.3-1.4 s apart (the JogCommand stamps show it; the thread is"
    " waiting for the interpreter lock, shared with the simulator and motion_node's"
    " multi-threaded executor), so motion_node's 0.3 s deadman stops the jog, as it must",
)
def test_jog_moves_while_refreshed_and_never_during_an_estop(rig: tuple[MotionNode, Probe]) -> None:
    motion, probe = rig
    jog_pub = probe.node.create_publisher(String, "teleop/jog", qos.COMMAND)

    def hold_jog(seconds: float, direction: int) -> None:
        for seq in range(round(seconds / 0.05)):
            command = JogCommand(operator="alice", axis=JogAxis.Z, direction=direction, seq=seq)  # type: ignore[arg-type]
            jog_pub.publish(json_to_ros(command))
            time.sleep(0.05)

    ready(probe, motion)
    start = probe.tcp()
    hold_jog(1.5, -1)
    assert wait_until(lambda: start[2] - probe.tcp()[2] > 0.01), probe.trajectories
    time.sleep(1.0)  # released by silence: the deadman stops it
    stopped = probe.tcp()
    time.sleep(1.0)
    assert np.linalg.norm(probe.tcp() - stopped) < 0.005
    probe.pubs["estop"].publish(Bool(data=True))
    time.sleep(0.3)
    sent = len(probe.trajectories)
    hold_jog(1.0, -1)
    assert len(probe.trajectories) == sent  # nothing goes out while stopped
    assert np.linalg.norm(probe.tcp() - stopped) < 0.005


def test_jog_pressed_released_and_reversed_at_any_pace_never_rushes(
    rig: tuple[MotionNode, Probe],
) -> None:
    """Taps, quick restarts and reversals over DDS: the arm never moves faster than the
    jog speed, so the simulator's red lines (its safety net) never trip."""
    motion, probe = rig
    jog_pub = probe.node.create_publisher(String, "teleop/jog", qos.COMMAND)
    pattern = [(1, 0.6), (0, 0.05), (1, 0.15), (0, 0.05), (-1, 0.5), (1, 0.3), (0, 0.1)]
    pattern += [(1, 0.1), (-1, 0.1), (1, 0.8), (0, 0.05), (1, 0.2), (0, 0.5)]
    ready(probe, motion)
    first = len(probe.truths)
    seq = 0
    for direction, seconds in pattern:
        for _ in range(round(seconds / 0.05)):
            seq += 1
            command = JogCommand(operator="alice", axis=JogAxis.Z, direction=direction, seq=seq)  # type: ignore[arg-type]
            jog_pub.publish(json_to_ros(command))
            time.sleep(0.05)
    time.sleep(0.5)
    peak = max(t.tcp_speed for t in probe.truths[first:])
    assert peak < motion.jog.settings.speed * 1.5, f"TCP at {peak:.3f} m/s while jogging"
    assert motion.guard.reason() is None, motion.guard.reason()
    assert len(probe.trajectories) > 2  # it did jog
