"""driver_bridge_node over DDS, with a test node playing the kill switch, motion_node
and the real arm's driver (its trajectory controller, joint_states and stop service)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rclpy
from builtin_interfaces.msg import Duration
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from embodied_stack.nodes import qos
from embodied_stack.nodes.driver_bridge_node import DriverBridgeNode
from embodied_stack.robot import load_robot
from embodied_stack.scene import ObjectKind
from embodied_stack.schemas import ObjectsMessage, PerceivedObject, Trip, from_json, to_json
from tests.ros_rig import spinning

pytestmark = pytest.mark.ros

PROFILE = load_robot("ur5e")
CONTROLLER = PROFILE.controller.trajectory_topic
STOP_SERVICE = PROFILE.controller.stop_service or ""
TIMEOUT_S = 0.5  # generous: a loaded test machine must not trip the heartbeat
MEASURED = [0.1, -1.6, 1.5, -1.5, -1.57, 0.2]


class FakeWorld(Node):
    """Kill switch + motion_node + the arm's driver, as the bridge sees them."""

    def __init__(self, context: Context) -> None:
        super().__init__("fake_world", context=context)
        self.lock = threading.Lock()
        self.received: list[JointTrajectory] = []
        self.trips: list[Trip] = []
        self.stop_calls = 0
        self.beating = False
        self.measured = list(MEASURED)
        self.objects_pub = self.create_publisher(String, "perception/objects", qos.STATE)
        self.estop_pub = self.create_publisher(Bool, "safety/estop", qos.LATCHED)
        self.beat_pub = self.create_publisher(Header, "safety/heartbeat", qos.heartbeat(TIMEOUT_S))
        self.motion_pub = self.create_publisher(
            JointTrajectory, "joint_trajectory_controller/joint_trajectory", qos.COMMAND
        )
        self.state_pub = self.create_publisher(JointState, "joint_states", qos.STATE)
        self.create_subscription(JointTrajectory, CONTROLLER, self._on_controller, qos.COMMAND)
        self.create_subscription(String, "safety/trip", self._on_trip, qos.COMMAND)
        self.create_service(Trigger, STOP_SERVICE, self._on_stop)
        self.create_timer(0.01, self._tick)

    def _tick(self) -> None:
        if self.beating:
            self.beat_pub.publish(Header(frame_id="fake_killswitch"))
        msg = JointState(name=list(PROFILE.joints), position=list(self.measured))
        msg.velocity = [0.0] * len(self.measured)
        self.state_pub.publish(msg)

    def _on_controller(self, msg: JointTrajectory) -> None:
        with self.lock:
            self.received.append(msg)

    def _on_trip(self, msg: String) -> None:
        with self.lock:
            self.trips.append(from_json(Trip, msg.data))

    def _on_stop(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        with self.lock:
            self.stop_calls += 1
        res.success, res.message = True, "Stopped"
        return res

    def clear_to_move(self) -> None:
        self.estop_pub.publish(Bool(data=False))
        self.beating = True

    def take(self) -> list[JointTrajectory]:
        with self.lock:
            out, self.received = self.received, []
        return out


def trajectory(positions: list[float], t: float = 1.0) -> JointTrajectory:
    msg = JointTrajectory(joint_names=list(PROFILE.joints))
    point = JointTrajectoryPoint(positions=positions)
    point.time_from_start = Duration(sec=int(t), nanosec=int((t % 1) * 1e9))
    msg.points.append(point)
    return msg


def wait_for(condition: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout_s} s")


@pytest.fixture
def rig() -> Iterator[tuple[DriverBridgeNode, FakeWorld]]:
    def make_bridge(context: Context) -> DriverBridgeNode:
        return DriverBridgeNode(
            context=context,
            parameter_overrides=[
                Parameter("robot", value="ur5e"),
                Parameter("heartbeat_timeout_s", value=TIMEOUT_S),
            ],
        )

    with spinning(make_bridge, FakeWorld) as (bridge, world):
        assert isinstance(bridge, DriverBridgeNode) and isinstance(world, FakeWorld)
        yield bridge, world


def forwarded(world: FakeWorld, msg: JointTrajectory) -> bool:
    """Publish from "motion_node" until the controller gets it (discovery takes a moment)."""
    world.motion_pub.publish(msg)
    time.sleep(0.05)
    return any(
        list(m.points[0].positions) == list(msg.points[0].positions)
        for m in world.take()
        if m.points
    )


def test_holds_until_the_kill_switch_is_heard_then_forwards(rig: Any) -> None:
    bridge, world = rig
    # no e-stop state, no heartbeat: a hold goes out once the controller is matched
    # (empty = the controller's own hold, when no joint_states arrived yet)
    hold = wait_for(world.take)[0]
    assert list(hold.joint_names) == list(PROFILE.joints)
    if hold.points:
        assert list(hold.points[0].positions) == pytest.approx(MEASURED)
        assert list(hold.points[0].velocities) == [0.0] * 6
    assert bridge.holding is not None
    target = trajectory([0.0, -1.5, 1.4, -1.4, -1.5, 0.0])
    world.motion_pub.publish(target)
    time.sleep(0.3)
    assert not [m for m in world.take() if m.points and m.points[0].positions[0] == 0.0]

    world.clear_to_move()
    wait_for(lambda: bridge.holding is None)
    assert wait_for(lambda: forwarded(world, target))
    assert world.stop_calls == 0  # nothing was moving at start-up


def test_stale_heartbeat_holds_at_the_measured_position_and_stops_the_driver(rig: Any) -> None:
    bridge, world = rig
    world.clear_to_move()
    wait_for(lambda: bridge.holding is None)
    world.beating = False  # the kill-switch process dies
    reason = wait_for(lambda: bridge.holding)
    assert "heartbeat" in reason
    hold = wait_for(lambda: [m for m in world.take() if m.points])[-1]
    assert list(hold.joint_names) == list(PROFILE.joints)
    assert list(hold.points[0].positions) == pytest.approx(MEASURED)
    wait_for(lambda: world.stop_calls == 1)
    # motion_node keeps sending: nothing reaches the controller while holding
    world.motion_pub.publish(trajectory([0.0, -1.5, 1.4, -1.4, -1.5, 0.0]))
    time.sleep(0.3)
    assert not [m for m in world.take() if m.points and m.points[0].positions[0] == 0.0]


def test_estop_holds_and_stops_the_driver(rig: Any) -> None:
    bridge, world = rig
    world.clear_to_move()
    wait_for(lambda: bridge.holding is None)
    world.estop_pub.publish(Bool(data=True))
    assert wait_for(lambda: bridge.holding) == "e-stop pressed"
    wait_for(lambda: world.stop_calls == 1)
    world.estop_pub.publish(Bool(data=False))  # reset: clear again, no motion by itself
    wait_for(lambda: bridge.holding is None)
    time.sleep(0.2)
    assert not [m for m in world.take() if m.points and m.points[0].positions[0] == 0.0]


@pytest.mark.parametrize(
    ("positions", "words"),
    [
        ([0.0, -1.5, 3.5, -1.4, -1.5, 0.0], "elbow_joint"),  # elbow limit is +-pi
        ([0.0, math.nan, 1.4, -1.4, -1.5, 0.0], "non-finite"),
    ],
)
def test_refuses_out_of_limit_and_nan_trajectories_and_trips(
    rig: Any, positions: list[float], words: str
) -> None:
    bridge, world = rig
    world.clear_to_move()
    wait_for(lambda: bridge.holding is None)
    world.take()
    bad = trajectory(positions)
    trip = wait_for(lambda: (world.motion_pub.publish(bad), time.sleep(0.05), world.trips)[2])[0]
    assert trip.who == "driver_bridge_node"
    assert words in trip.why
    assert not [m for m in world.take() if m.points and m.points[0].positions[0] == 0.0]
    assert "red line" in (wait_for(lambda: bridge.holding) or "")


def _clear(bridge: DriverBridgeNode, world: FakeWorld) -> None:
    world.clear_to_move()
    wait_for(lambda: bridge.holding is None)
    world.take()


def _refused_with(world: FakeWorld, msg: JointTrajectory) -> Trip:
    trips = wait_for(lambda: (world.motion_pub.publish(msg), time.sleep(0.05), world.trips)[2])
    assert not [m for m in world.take() if len(m.points) > 1 or (m.points and
                m.points[0].positions != pytest.approx(MEASURED))]  # fmt: skip
    return trips[0]


def test_refuses_a_trajectory_through_the_table(rig: Any) -> None:
    """The safety core's swept check: the TCP would go below the table top."""
    bridge, world = rig
    _clear(bridge, world)
    below = trajectory([0.1, -1.0, 1.9, -2.4, -1.57, 0.2], t=6.0)  # TCP at z = -0.04 m
    trip = _refused_with(world, below)
    assert "workspace" in trip.why or "below_table" in trip.why
    assert "red line" in (wait_for(lambda: bridge.holding) or "")


def test_refuses_a_trajectory_too_close_to_a_person(rig: Any) -> None:
    bridge, world = rig
    _clear(bridge, world)
    person = PerceivedObject(
        id="person_1", kind=ObjectKind.HUMAN, position=(0.55, 0.45, 0.1), size=(0.4, 0.25, 1.7)
    )
    objects = ObjectsMessage(stamp=0.0, objects=[person])
    world.objects_pub.publish(String(data=to_json(objects)))
    time.sleep(0.3)  # the scene reaches the bridge before the trajectory
    toward = trajectory([0.6, -1.6, 1.5, -1.5, -1.57, 0.2], t=8.0)  # swings the TCP to +y
    trip = _refused_with(world, toward)
    assert "protective_distance" in trip.why


def test_measured_state_breach_trips_and_holds(rig: Any) -> None:
    """The monitor on joint_states: the arm is found outside the workspace box."""
    bridge, world = rig
    _clear(bridge, world)
    world.measured = [1.2, -1.6, 1.5, -1.5, -1.57, 0.2]  # TCP at x = 0.05 m: outside
    trip = wait_for(lambda: world.trips)[0]
    assert trip.who == "driver_bridge_node" and "workspace" in trip.why
    assert "red line" in (wait_for(lambda: bridge.holding) or "")
    hold = wait_for(lambda: [m for m in world.take() if m.points])[-1]
    assert list(hold.points[0].positions) == pytest.approx(world.measured)


def test_fleet_estop_holds_every_bridge(rig: Any) -> None:
    bridge, world = rig
    _clear(bridge, world)
    fleet = world.create_publisher(Bool, "/fleet/estop", qos.LATCHED)
    fleet.publish(Bool(data=True))
    assert wait_for(lambda: bridge.holding) == "fleet e-stop"
    wait_for(lambda: world.stop_calls == 1)


def test_with_the_real_kill_switch_node_a_dead_kill_switch_holds_the_arm(
    tmp_path: Path,
) -> None:
    """killswitch_node (no hardware inputs) clears its start latch and beats; when it is
    gone, the bridge holds on its own."""
    from embodied_stack.nodes.killswitch_node import KillswitchNode

    context = Context()
    rclpy.init(context=context)
    overrides = [Parameter("robot", value="ur5e"), Parameter("heartbeat_timeout_s", value=0.5)]
    bridge = DriverBridgeNode(context=context, parameter_overrides=overrides)
    latch = [  # a latch file of its own; a fresh directory starts released
        Parameter("state_file", value=str(tmp_path / "estop_latch.json")),
        Parameter("release_at_first_start", value=True),
    ]
    killswitch = KillswitchNode(
        context=context, parameter_overrides=[Parameter("heartbeat_timeout_s", value=0.5), *latch]
    )
    world = FakeWorld(context)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    for node in (bridge, killswitch, world):
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        wait_for(lambda: bridge.holding is None)
        assert wait_for(
            lambda: forwarded(world, trajectory([0.0, -1.5, 1.4, -1.4, -1.5, 0.0], 3.0))
        )
        executor.remove_node(killswitch)
        killswitch.destroy_node()  # the kill-switch process is gone
        assert "heartbeat" in wait_for(lambda: bridge.holding)
        wait_for(lambda: world.stop_calls == 1)
    finally:
        executor.shutdown(timeout_sec=2.0)
        thread.join(timeout=5.0)
        bridge.destroy_node()
        world.destroy_node()
        rclpy.try_shutdown(context=context)
