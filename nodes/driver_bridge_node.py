"""driver_bridge_node: the actuator-side guard in front of a real arm's controller.

motion_node publishes `joint_trajectory_controller/joint_trajectory`; this node
forwards each trajectory to the real controller (`controller_topic`, by default the
robot profile's, e.g. ur_robot_driver's `scaled_joint_trajectory_controller/...`)
only while the arm is clear to move and the trajectory passes the red lines.

It holds the arm on its own (DESIGN.md §5), whatever motion_node does, when:
`safety/estop` is true (or no e-stop state was ever received), `/fleet/estop` is
true, the kill-switch heartbeat misses its `heartbeat_timeout_s` DDS deadline
(none yet counts as missing), or the measured state breaks a red line.
Holding = one trajectory to the current `joint_states` position (an empty one,
the controller's own hold, before any state arrived), plus the driver's
std_srvs/Trigger stop service when the profile names one. A refused trajectory
or a measured breach also trips the stop (`safety/trip`) and is audited.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from typing import Any

import rclpy
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from embodied_stack.errors import SchemaError
from embodied_stack.motion_types import JointStateSample, JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.nodes import qos
from embodied_stack.nodes.alive import AliveBeacon
from embodied_stack.nodes.audit_client import AuditClient
from embodied_stack.nodes.heartbeat import HeartbeatWatch, SafetyParticipant
from embodied_stack.nodes.ros_conversions import (
    joint_state_from_ros,
    json_to_ros,
    trajectory_from_ros,
    trajectory_to_ros,
)
from embodied_stack.nodes.spin import executor_for
from embodied_stack.robot import RobotProfile, load_robot
from embodied_stack.safety.geometry import RobotGeometry
from embodied_stack.safety.hold import HoldGuard
from embodied_stack.safety.monitor import RuntimeMonitor
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.safety.trajectory_check import CheckContext, check_trajectory
from embodied_stack.schemas import ObjectsMessage, PerceivedObject, Trip, Violation, from_json

NAME = "driver_bridge_node"
SOURCE = "driver_bridge"  # Violation.source
INPUT_TOPIC = "joint_trajectory_controller/joint_trajectory"


def _describe(text: str, *, low: float | None = None, high: float | None = None) -> Any:
    if low is None or high is None:
        return ParameterDescriptor(description=text)
    span = FloatingPointRange(from_value=low, to_value=high, step=0.0)
    return ParameterDescriptor(description=text, floating_point_range=[span])


class RedLineGuard:
    """The red lines on this side of the controller, with the safety core's own checks:
    `check_trajectory` on what is forwarded, `RuntimeMonitor` on the measured state."""

    def __init__(self, profile: RobotProfile, redlines_file: str) -> None:
        self._profile = profile
        self._lower = dict(zip(profile.joints, profile.lower, strict=True))
        self._upper = dict(zip(profile.joints, profile.upper, strict=True))
        self._redlines = load_redlines(redlines_file)
        self._geometry = RobotGeometry(profile)  # trajectory checks (the monitor has its own)
        self._monitor = RuntimeMonitor(
            redlines=self._redlines, source=SOURCE, robot=profile.name,
            geometry=RobotGeometry(profile),
        )  # fmt: skip
        self._scene = CheckContext(redlines=self._redlines, robot=profile.name, source=SOURCE)

    def update_scene(self, objects: list[PerceivedObject]) -> None:
        """People and the held object, from perception: protective distance, knives."""
        held = next((o.id for o in objects if o.support == "held"), None)
        self._monitor.update_scene(objects, held)
        self._scene = CheckContext.from_objects(
            self._redlines, objects, holding=held, robot=self._profile.name, source=SOURCE
        )

    def check_trajectory(
        self, cmd: JointTrajectoryCommand, start: tuple[float, ...] | None
    ) -> list[Violation]:
        unknown = [j for j in cmd.joint_names if j not in self._lower]
        if unknown:
            return [_violation("joint_names", f"unknown joints {unknown}", len(unknown))]
        problems = cmd.problems(self._lower, self._upper)  # NaN, limits, shape, time order
        if problems:
            return [_violation("malformed_trajectory", "; ".join(problems[:3]), len(problems))]
        ctx = replace(self._scene, start=start)
        return check_trajectory(cmd, ctx, self._geometry)

    def check_state(self, sample: JointStateSample) -> list[Violation]:
        return self._monitor.check(sample)

    def close(self) -> None:
        self._geometry.close()


def _violation(rule: str, where: str, value: float) -> Violation:
    return Violation(rule=rule, where=where, value=value, limit=0.0, source=SOURCE)


class DriverBridgeNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NAME, **node_kwargs)
        self._declare_parameters()
        p = self.get_parameter
        self._profile: RobotProfile = load_robot(str(p("robot").value))
        self._timeout_s = float(p("heartbeat_timeout_s").value)
        self._hold_time_s = float(p("hold_time_s").value)
        self._guard = RedLineGuard(self._profile, str(p("redlines").value))
        self._lock = threading.Lock()
        self._stops = HoldGuard()  # e-stop, heartbeat, measured breaches
        self._fleet_stop = False
        self._positions: dict[str, float] = {}  # latest measured position of every joint
        self._monitor_period = 1.0 / float(p("monitor_hz").value)
        self._last_monitored = -math.inf
        self._holding: str | None = "starting"  # why we hold; None = forwarding
        self._hold_sent = False  # the current hold reached a controller subscriber

        controller = str(p("controller_topic").value) or self._profile.controller.trajectory_topic
        stop_service = str(p("stop_service").value) or self._profile.controller.stop_service
        self._controller_pub = self.create_publisher(JointTrajectory, controller, qos.COMMAND)
        self._trip_pub = self.create_publisher(String, "safety/trip", qos.COMMAND)
        self._stop_client = self.create_client(Trigger, stop_service) if stop_service else None
        self._audit = AuditClient(self, NAME, self._profile.name)
        self.create_subscription(JointTrajectory, INPUT_TOPIC, self._on_trajectory, qos.COMMAND)
        self.create_subscription(JointState, "joint_states", self._on_joint_states, qos.STATE)
        self.create_subscription(String, "perception/objects", self._on_objects, qos.STATE)
        self._safety = SafetyParticipant(self)  # e-stop and heartbeat, never queued
        self._safety.node.create_subscription(
            Bool, "safety/estop", self._on_estop, qos.LATCHED_CHANGES
        )
        fleet = str(p("fleet_topic").value)
        self.create_subscription(Bool, fleet, self._on_fleet, qos.LATCHED)
        self._heartbeat = HeartbeatWatch(
            self._safety, self._timeout_s, on_change=self._on_heartbeat
        )
        # The watchdog runs on the steady clock: a stopped sim clock must not stop it.
        period = 1.0 / float(p("watchdog_hz").value)
        self.create_timer(period, self._watchdog, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f"guarding {self._profile.name}: {INPUT_TOPIC} -> {controller}"
            f" (stop service: {stop_service or 'none'})"
        )

    def _declare_parameters(self) -> None:
        specs: list[tuple[str, Any, ParameterDescriptor]] = [
            ("robot", "panda", _describe("robot profile (global)")),
            ("redlines", "redlines.yaml", _describe("red-line file (global)")),
            ("heartbeat_timeout_s", 0.1, _describe("hold when the heartbeat is older (global)")),
            ("controller_topic", "", _describe("real controller topic; empty = profile's")),
            ("stop_service", "", _describe("driver's Trigger stop service; empty = profile's")),
            ("fleet_topic", "/fleet/estop", _describe("fleet-wide stop (absolute name)")),
            (
                "hold_time_s",
                0.1,
                _describe("time_from_start of the hold point", low=0.0, high=2.0),
            ),
            ("watchdog_hz", 200.0, _describe("hold checks per second", low=10.0, high=2000.0)),
            (
                "monitor_hz",
                100.0,
                _describe("measured-state red-line checks per second", low=1.0, high=1000.0),
            ),
        ]
        for name, default, descriptor in specs:
            self.declare_parameter(name, default, descriptor)

    # ---- inputs -------------------------------------------------------------------------

    def _on_heartbeat(self, stale_reason: str | None) -> None:
        with self._lock:
            self._stops.heartbeat(stale_reason)
        self._watchdog()

    def _on_estop(self, msg: Bool) -> None:
        with self._lock:
            self._stops.estop(bool(msg.data))  # latched then reset: a measured breach clears
        self._watchdog()

    def _on_fleet(self, msg: Bool) -> None:
        with self._lock:
            self._fleet_stop = bool(msg.data)
        self._watchdog()

    def _on_joint_states(self, msg: JointState) -> None:
        try:
            sample = joint_state_from_ros(msg)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring malformed joint_states: {exc}")
            return
        with self._lock:
            self._positions.update(sample.as_dict())  # a gripper may publish its own
            in_breach = self._stops.breached
        now = time.monotonic()
        complete = set(self._profile.joints) <= set(sample.names)
        if complete and not in_breach and now - self._last_monitored >= self._monitor_period:
            self._last_monitored = now
            violations = self._guard.check_state(sample)
            if violations:
                self._report(violations)
        self._watchdog()

    def _on_objects(self, msg: String) -> None:
        try:
            self._guard.update_scene(from_json(ObjectsMessage, msg.data).objects)
        except SchemaError as exc:
            self.get_logger().warning(f"ignoring malformed perception/objects: {exc}")

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        cmd = trajectory_from_ros(msg)
        reason = self._hold_reason()
        if reason is not None:
            self.get_logger().warning(f"not forwarded (holding: {reason})")
            return
        violations = self._guard.check_trajectory(cmd, self._current())
        if violations:
            self.get_logger().error(f"refused trajectory of {len(cmd.points)} points")
            self._report(violations)
            return
        self._controller_pub.publish(msg)

    # ---- hold ---------------------------------------------------------------------------

    def _hold_reason(self) -> str | None:
        with self._lock:
            return self._stops.reason() or ("fleet e-stop" if self._fleet_stop else None)

    def _watchdog(self) -> None:
        reason = self._hold_reason()
        with self._lock:
            previous, self._holding = self._holding, reason
            resend = reason is not None and not self._hold_sent
        if reason is None:
            if previous is not None:
                self.get_logger().info(f"clear to move (was: {previous})")
        elif previous is None:
            self._hold(reason, call_stop=True)  # was moving: hold, and stop the driver
        elif resend:
            self._hold(reason, call_stop=False)  # start-up: the last forwarder may be gone

    def _hold(self, reason: str, call_stop: bool) -> None:
        matched = self._controller_pub.get_subscription_count() > 0
        with self._lock:
            self._hold_sent = matched
        if call_stop or matched:
            self.get_logger().warning(f"HOLD: {reason}")
        self._controller_pub.publish(trajectory_to_ros(self._hold_command()))
        if call_stop and self._stop_client is not None:
            if self._stop_client.service_is_ready():
                future = self._stop_client.call_async(Trigger.Request())
                future.add_done_callback(self._on_stop_answer)
            else:
                self.get_logger().error(
                    f"driver stop service {self._stop_client.srv_name} is not up"
                )

    def _on_stop_answer(self, future: Any) -> None:
        answer = future.result()
        if answer is None or not answer.success:
            detail = answer.message if answer is not None else "no answer"
            self.get_logger().error(f"driver stop service refused: {detail}")
        else:
            self.get_logger().info(f"driver stopped: {answer.message}")

    def _hold_command(self) -> JointTrajectoryCommand:
        """Stay at the measured position; an empty trajectory (controller hold) if unknown."""
        joints = tuple(self._profile.joints)
        current = self._current()
        if current is None:
            return JointTrajectoryCommand(joint_names=joints)
        point = TrajectoryPoint(
            positions=current,
            velocities=tuple(0.0 for _ in joints),
            time_from_start=max(self._hold_time_s, 1e-3),
        )
        return JointTrajectoryCommand(joint_names=joints, points=(point,))

    def _current(self) -> tuple[float, ...] | None:
        """Measured positions in profile order (None until every joint was heard)."""
        with self._lock:
            values = tuple(self._positions.get(j, math.nan) for j in self._profile.joints)
        return values if all(math.isfinite(v) for v in values) else None

    def _report(self, violations: list[Violation]) -> None:
        """Hold, trip the stop (the kill switch latches it) and audit every violation."""
        text = "; ".join(v.describe() for v in violations[:3])
        with self._lock:
            self._stops.red_line(text)
        self.get_logger().error(f"red line: {text}")
        self._trip_pub.publish(json_to_ros(Trip(who=NAME, why=text)))
        for violation in violations:
            self._audit.emit("violation", actor=NAME, payload=violation.model_dump(mode="json"))
        self._watchdog()

    @property
    def holding(self) -> str | None:
        """Why the arm is held (None while trajectories are forwarded)."""
        with self._lock:
            return self._holding

    def destroy_node(self) -> None:
        self._safety.close()
        self._guard.close()
        self._audit.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    executor: Executor | None = None
    node: DriverBridgeNode | None = None
    beacon: AliveBeacon | None = None
    try:
        node = DriverBridgeNode()  # inside the try: Ctrl-C during start-up is a clean exit
        beacon = AliveBeacon(node)  # its death is a stop (nodes/alive.py)
        executor = executor_for(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as error:
        if beacon is not None and rclpy.ok():
            beacon.crashed(error)
        raise
    finally:
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
