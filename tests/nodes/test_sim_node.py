"""sim_node over DDS: trajectories are followed, e-stop and a stale heartbeat hold
the arm, the runners' sim/control works, and the camera streams."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from rcl_interfaces.msg import Log
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64, Header, String
from trajectory_msgs.msg import JointTrajectory

from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.nodes import qos
from embodied_stack.nodes.heartbeat import HeartbeatBeacon
from embodied_stack.nodes.ros_conversions import (
    depth_from_ros,
    image_from_ros,
    joint_state_from_ros,
    json_from_ros,
    json_to_ros,
    time_from_ros,
    trajectory_to_ros,
)
from embodied_stack.nodes.sim_node import SimNode
from embodied_stack.robot import load_robot
from embodied_stack.schemas import GroundTruth, SimControl, SimControlOp, Trip
from tests.ros_rig import beating, spinning

pytestmark = pytest.mark.ros
# /rosout's own profile (reliable, transient local): a subscriber gets what was logged
ROSOUT = QoSProfile(
    depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
LOG_WARN, LOG_ERROR = 30, 40  # rcl_interfaces/msg/Log levels
PROFILE = load_robot("panda")
HOME = np.array(PROFILE.home)
# Generous: tests share two loaded cores, and a false hold would stall them. The
# behaviour under test (stale = hold) does not depend on the number.
HEARTBEAT_TIMEOUT_S = 2.0


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


@dataclass
class Probe:
    """A test node standing in for the kill switch, motion_node and a runner."""

    node: Node
    pubs: dict[str, Any]
    joints: list[tuple[float, np.ndarray]] = field(default_factory=list)
    truths: list[GroundTruth] = field(default_factory=list)
    clocks: list[float] = field(default_factory=list)
    logs: list[tuple[int, str, str]] = field(default_factory=list)  # /rosout: level, node, text
    beating: threading.Event = field(default_factory=threading.Event)

    def q(self) -> np.ndarray:
        return self.joints[-1][1][:7]

    def sim_time(self) -> float:
        return self.joints[-1][0] if self.joints else 0.0

    def wait_sim(self, seconds: float) -> None:
        start = self.sim_time()
        assert wait_until(lambda: self.sim_time() >= start + seconds)

    def send(self, positions: np.ndarray, duration: float) -> None:
        cmd = JointTrajectoryCommand(
            tuple(PROFILE.joints), (TrajectoryPoint(tuple(positions.tolist()), duration),)
        )
        self.pubs["trajectory"].publish(trajectory_to_ros(cmd))

    def logged(self, text: str, level: int = LOG_WARN) -> bool:
        """sim_node logged a line containing `text` at this level (seen on /rosout)."""
        return any(lv == level and name == "sim_node" and text in m for lv, name, m in self.logs)


def make_probe(context: Context) -> Probe:
    node = Node("sim_probe", context=context)
    probe = Probe(
        node,
        {
            "trajectory": node.create_publisher(
                JointTrajectory, "joint_trajectory_controller/joint_trajectory", qos.COMMAND
            ),
            "gripper": node.create_publisher(Float64, "gripper/command", qos.COMMAND),
            "estop": node.create_publisher(Bool, "safety/estop", qos.LATCHED),
            "heartbeat": node.create_publisher(
                Header, "safety/heartbeat", qos.heartbeat(HEARTBEAT_TIMEOUT_S)
            ),
            "control": node.create_publisher(String, "sim/control", qos.COMMAND),
        },
    )

    def on_joints(msg: JointState) -> None:
        sample = joint_state_from_ros(msg)
        probe.joints.append((sample.stamp, np.array(sample.positions)))

    node.create_subscription(JointState, "joint_states", on_joints, qos.STATE)
    node.create_subscription(
        String,
        "sim/ground_truth",
        lambda m: probe.truths.append(json_from_ros(GroundTruth, m)),
        qos.STATE,
    )
    node.create_subscription(
        Clock, "clock", lambda m: probe.clocks.append(time_from_ros(m.clock)), qos.COMMAND
    )
    node.create_subscription(
        Log, "/rosout", lambda m: probe.logs.append((m.level, m.name, m.msg)), ROSOUT
    )
    return probe


@pytest.fixture
def rig(request: pytest.FixtureRequest) -> Iterator[tuple[SimNode, Probe]]:
    """sim_node and a probe; the render worker only where a test asks for it (it is slow
    to start on a loaded machine and only the camera needs it)."""
    param = getattr(request, "param", False)  # render_process, or extra parameters
    extra = param if isinstance(param, dict) else {"render_process": bool(param)}
    probes: list[Probe] = []

    def make_sim(context: Context) -> SimNode:
        settings = {
            "camera.width": 160,
            "camera.height": 120,
            "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
            "render_process": False,
            "commander_heartbeat": "",  # the probe commands directly
            **extra,
        }
        return SimNode(
            context=context,
            parameter_overrides=[Parameter(k, value=v) for k, v in settings.items()],
        )

    with spinning(make_sim, lambda c: probe_node(c, probes)) as (sim, _), heartbeat(probes[0]):
        assert isinstance(sim, SimNode)
        yield sim, probes[0]


def heartbeat(probe: Probe) -> AbstractContextManager[None]:
    """The probe's heartbeat (it beats while `probe.beating` is set)."""
    return beating(probe.pubs["heartbeat"], probe.beating)


def probe_node(context: Context, probes: list[Probe]) -> Node:
    probes.append(make_probe(context))
    return probes[-1].node


def arm_ready(sim: SimNode, probe: Probe) -> None:
    """E-stop released and heartbeats flowing: the node stops holding."""
    probe.pubs["estop"].publish(Bool(data=False))
    probe.beating.set()
    assert wait_until(lambda: sim.holding is None and len(probe.joints) > 0)


def test_joint_states_follow_a_trajectory(rig: tuple[SimNode, Probe]) -> None:
    sim, probe = rig
    arm_ready(sim, probe)
    target = np.add(HOME, [0.4, 0.2, 0.0, 0.3, 0.0, -0.2, 0.5])
    probe.send(target, 1.0)
    assert wait_until(lambda: np.abs(probe.q() - target).max() < 0.01), probe.q() - target
    stamps = [t for t, _q in probe.joints]
    assert stamps == sorted(stamps) and stamps[-1] > 1.0
    assert probe.clocks and probe.clocks == sorted(probe.clocks)
    assert wait_until(
        lambda: (
            bool(probe.truths) and np.allclose(probe.truths[-1].joint_positions, target, atol=0.01)
        )
    )


@pytest.mark.parametrize("rig", [{"joint_state_hz": 240.0}], indirect=True, ids=["every_step"])
def test_estop_holds_within_one_physics_step_and_release_does_not_restart(
    rig: tuple[SimNode, Probe],
) -> None:
    """The e-stop's callback freezes the setpoint itself, at the measured position (no
    control-loop tick to wait for). Judged in sim time on a joint state per physics
    step: from one step after the hold's record on, joint 1, which was turning at
    0.6 rad/s, stays within one step's travel of where it was held; a hold applied k
    steps late would carry it k x 2.5 mrad past that."""
    sim, probe = rig
    arm_ready(sim, probe)
    speed = 0.6  # rad/s of joint 1, constant (linear interpolation) until the e-stop
    target = np.add(HOME, [1.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    probe.send(target, 1.2 / speed)
    assert wait_until(lambda: probe.q()[0] - HOME[0] > 0.3)
    pressed_at = sim.now
    probe.pubs["estop"].publish(Bool(data=True))
    assert wait_until(lambda: sim.holding == "e-stop pressed")
    held_at = sim.holds[-1]
    held = sim.world.follower.sample(sim.world.sim_time + 100.0)[0]  # the setpoint from now on
    period = 1.0 / sim.world.physics_hz
    probe.wait_sim(0.5)
    after = [q[0] for t, q in list(probe.joints) if t >= held_at.sim_time + period]
    assert len(after) > 60, len(after)  # a sample per step
    worst = max(abs(q - held[0]) for q in after)
    assert worst < speed * period + 0.001, worst  # measured here: 0.00 mrad
    # Reported, not asserted (DDS delivery is wall time; the sim runs at ~1x here).
    print(f"e-stop sent at {pressed_at:.4f} s sim, held at {held_at.sim_time:.4f} s")
    assert np.abs(probe.q() - held).max() < 0.005
    assert probe.q()[0] < target[0] - 0.5
    probe.pubs["estop"].publish(Bool(data=False))
    assert wait_until(lambda: sim.holding is None)
    probe.wait_sim(1.0)
    assert np.abs(probe.q() - held).max() < 0.005  # released, yet no motion without a new command
    assert held_at.reason == "e-stop pressed" and held_at.sim_time > 0


def test_stale_heartbeat_holds_and_rejects_commands(rig: tuple[SimNode, Probe]) -> None:
    sim, probe = rig
    arm_ready(sim, probe)
    target = np.add(HOME, [1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    probe.send(target, 60.0)
    assert wait_until(lambda: probe.q()[0] - HOME[0] > 0.05)
    probe.beating.clear()
    assert wait_until(lambda: (sim.holding or "").startswith("heartbeat missed"))
    probe.wait_sim(0.5)
    held = probe.q()
    probe.send(HOME, 0.5)
    assert wait_until(lambda: any("holding" in r for r in sim.rejections))
    probe.wait_sim(1.0)
    assert np.abs(probe.q() - held).max() < 0.005
    assert any(h.reason.startswith("heartbeat missed") for h in sim.holds)


def test_holds_before_the_first_heartbeat(rig: tuple[SimNode, Probe]) -> None:
    sim, probe = rig
    probe.pubs["estop"].publish(Bool(data=False))
    assert wait_until(lambda: sim.holding == "no heartbeat received yet" and len(probe.joints) > 0)
    probe.send(HOME + 0.3, 0.5)
    assert wait_until(lambda: len(sim.rejections) > 0)
    probe.wait_sim(1.0)
    assert np.abs(probe.q() - HOME).max() < 0.005


def test_sim_control_moves_objects_and_resets_with_a_monotonic_clock(
    rig: tuple[SimNode, Probe],
) -> None:
    _sim, probe = rig
    assert wait_until(lambda: len(probe.truths) > 0)
    move = SimControl(op=SimControlOp.MOVE, object_id="red_cube", xy=(0.40, -0.30))
    probe.pubs["control"].publish(json_to_ros(move))

    def cube_at(xy: tuple[float, float]) -> bool:
        pos = probe.truths[-1].objects["red_cube"].position
        return abs(pos[0] - xy[0]) < 1e-3 and abs(pos[1] - xy[1]) < 1e-3

    assert wait_until(lambda: cube_at((0.40, -0.30)))
    before = probe.truths[-1].sim_time
    probe.pubs["control"].publish(json_to_ros(SimControl(op=SimControlOp.RESET)))
    assert wait_until(lambda: cube_at((0.50, -0.15)))
    assert probe.truths[-1].sim_time >= before
    assert probe.clocks == sorted(probe.clocks)


@pytest.mark.parametrize("rig", [True, False], indirect=True, ids=["worker", "in_process"])
def test_camera_streams_colour_depth_and_info(rig: tuple[SimNode, Probe]) -> None:
    _sim, probe = rig
    got: dict[str, Any] = {}
    node = probe.node
    node.create_subscription(
        Image, "camera/color/image_raw", lambda m: got.setdefault("rgb", m), qos.SENSOR
    )
    node.create_subscription(
        Image, "camera/depth/image_raw", lambda m: got.setdefault("depth", m), qos.SENSOR
    )
    node.create_subscription(
        CameraInfo, "camera/color/camera_info", lambda m: got.setdefault("info", m), qos.SENSOR
    )
    assert wait_until(lambda: len(got) == 3)
    rgb, depth = image_from_ros(got["rgb"]), depth_from_ros(got["depth"])
    assert rgb.shape == (120, 160, 3) and got["rgb"].encoding == "rgb8"
    assert depth.shape == (120, 160) and got["depth"].encoding == "32FC1"
    assert np.isfinite(depth).all() and 0.5 < float(np.median(depth)) < 4.0
    assert got["info"].width == 160


def test_actuator_side_red_line_holds_and_trips_the_stop(rig: tuple[SimNode, Probe]) -> None:
    """A command that swings the hand out of the workspace box is stopped by sim_node
    itself (the actuator side), which asks the kill switch to latch."""
    sim, probe = rig
    trips: list[Trip] = []
    probe.node.create_subscription(
        String, "safety/trip", lambda m: trips.append(json_from_ros(Trip, m)), qos.COMMAND
    )
    arm_ready(sim, probe)
    away = np.add(HOME, [1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # TCP to x ~ 0.02 m < 0.20 m
    probe.send(away, 2.0)
    assert wait_until(lambda: (sim.holding or "").startswith("red line"))
    assert wait_until(lambda: bool(trips))
    assert trips[0].who == "sim_node" and "red line" in trips[0].why
    held = probe.q()
    probe.wait_sim(0.5)
    assert np.abs(probe.q() - held).max() < 0.01
    assert np.abs(probe.q() - away).max() > 0.3  # stopped well before the target
    probe.pubs["estop"].publish(Bool(data=True))  # the kill switch latches ...
    time.sleep(0.5)  # let the latched state arrive before the reset overwrites it
    assert (sim.holding or "").startswith("red line")
    probe.pubs["estop"].publish(Bool(data=False))  # ... and is reset
    assert wait_until(lambda: sim.holding is None)


def test_a_dead_commander_makes_the_actuator_side_hold() -> None:
    """motion_node killed mid-trajectory: its beat stops and sim_node holds on its own
    instead of finishing the last trajectory it was given."""
    probes: list[Probe] = []
    beacons: list[HeartbeatBeacon] = []

    def make_sim(context: Context) -> SimNode:
        return SimNode(
            context=context,
            parameter_overrides=[
                Parameter("heartbeat_timeout_s", value=HEARTBEAT_TIMEOUT_S),
                Parameter("motion_heartbeat_timeout_s", value=HEARTBEAT_TIMEOUT_S),
                Parameter("render_process", value=False),
            ],
        )

    def make_commander(context: Context) -> Node:
        commander = Node("motion_node", context=context)
        beacons.append(HeartbeatBeacon(commander, "motion/heartbeat", 50.0, HEARTBEAT_TIMEOUT_S))
        return commander

    with spinning(make_sim, lambda c: probe_node(c, probes), make_commander) as (sim, _, _c):
        assert isinstance(sim, SimNode)
        probe, beacon = probes[0], beacons[0]
        with heartbeat(probe):
            arm_ready(sim, probe)
            target = np.add(HOME, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
            probe.send(target, 60.0)
            assert wait_until(lambda: probe.q()[0] - HOME[0] > 0.02)
            beacon.close()  # the commander dies
            assert wait_until(lambda: (sim.holding or "").startswith("motion_node heartbeat"))
            held = probe.q()
            probe.wait_sim(1.0)
            assert np.abs(probe.q() - held).max() < 0.005


def test_gripper_command_sets_the_finger_opening_and_a_nan_is_refused(
    rig: tuple[SimNode, Probe],
) -> None:
    sim, probe = rig
    arm_ready(sim, probe)
    max_opening = PROFILE.gripper.max_opening

    def opening() -> float:
        return probe.truths[-1].gripper_opening if probe.truths else -1.0

    assert wait_until(lambda: abs(opening() - max_opening) < 0.003)  # open at start
    probe.pubs["gripper"].publish(Float64(data=0.0))
    assert wait_until(lambda: opening() < 0.003), opening()  # nothing between the fingers
    probe.pubs["gripper"].publish(Float64(data=0.05))
    assert wait_until(lambda: abs(opening() - 0.05) < 0.003), opening()
    probe.pubs["gripper"].publish(Float64(data=float("nan")))
    assert wait_until(lambda: probe.logged("gripper opening must be finite, got nan"))
    assert any("must be finite" in r for r in sim.rejections)
    probe.wait_sim(0.5)
    assert abs(opening() - 0.05) < 0.003  # the last good command still stands


def _bad_point(kind: str) -> TrajectoryPoint:
    q = HOME.copy()
    if kind == "nan":
        q[1] = float("nan")
        return TrajectoryPoint(tuple(q.tolist()), 1.0)
    if kind == "position":
        q[3] = PROFILE.upper[3] + 0.3  # joint 4 beyond its upper limit
        return TrajectoryPoint(tuple(q.tolist()), 2.0)
    q[0] += 0.5  # joint 1: 0.5 rad in 0.1 s is 5 rad/s, over its 2.175 rad/s
    return TrajectoryPoint(tuple(q.tolist()), 0.1)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("nan", "point 0: non-finite value"),
        ("position", f"point 0: panda_joint4 = {PROFILE.upper[3] + 0.3:.4f} outside"),
        ("velocity", "start -> point 0: panda_joint1 at 4.9"),
    ],
)
def test_a_bad_trajectory_over_dds_is_rejected_logged_and_the_arm_holds(
    rig: tuple[SimNode, Probe], kind: str, reason: str
) -> None:
    """Mid-motion, a trajectory the arm must not follow: rejected whole, the reason on
    /rosout and in `rejections`, and the arm holds where it was (neither the bad nor
    the old trajectory goes on)."""
    sim, probe = rig
    arm_ready(sim, probe)
    probe.send(np.add(HOME, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]), 4.0)  # 0.25 rad/s, joint 7
    assert wait_until(lambda: probe.q()[6] - HOME[6] > 0.1)
    cmd = JointTrajectoryCommand(tuple(PROFILE.joints), (_bad_point(kind),))
    probe.pubs["trajectory"].publish(trajectory_to_ros(cmd))
    assert wait_until(lambda: probe.logged(f"command rejected, arm holds: {reason}")), [
        m for _lv, _n, m in probe.logs if "rejected" in m
    ]
    assert any(reason in r for r in sim.rejections)
    probe.wait_sim(0.2)
    held = probe.q()
    probe.wait_sim(1.0)
    assert np.abs(probe.q() - held).max() < 0.002
    assert probe.q()[6] - HOME[6] < 0.6  # the old trajectory did not go on to +1.0
    assert np.isfinite(probe.q()).all()


def test_a_heartbeat_offering_a_longer_deadline_is_named_as_an_error(
    rig: tuple[SimNode, Probe],
) -> None:
    """DDS pairs a heartbeat publisher with sim_node's watch only when the deadline it
    offers is at most heartbeat_timeout_s: a kill switch configured with a longer one is
    never heard (the arm holds for good). sim_node says so, naming the parameter."""
    sim, probe = rig
    slow = probe.node.create_publisher(
        Header, "safety/heartbeat", qos.heartbeat(HEARTBEAT_TIMEOUT_S * 2)
    )
    slow.publish(Header())
    expected = f"heartbeat_timeout_s = {HEARTBEAT_TIMEOUT_S:g} s is below what /sim_probe offers"
    assert wait_until(lambda: probe.logged(expected, LOG_ERROR)), probe.logs[-5:]
    assert probe.logged("(a 4 s deadline): DDS does not pair them", LOG_ERROR)
    assert sim.holding is not None  # no beat of it counts


def test_parameters_are_read_only(rig: tuple[SimNode, Probe]) -> None:
    """Each is read at start: a change at run time would be silently ignored."""
    sim, _probe = rig
    for name in ("heartbeat_timeout_s", "max_rtf", "scene", "commander_heartbeat"):
        result = sim.set_parameters([Parameter(name, value=sim.get_parameter(name).value)])[0]
        assert not result.successful and "read-only" in result.reason, (name, result)
