"""motion_node: executes approved plans and jogs; holds at once on e-stop or a stale heartbeat.

Wiring only: plans from `planner/plan` (approved, each id at most once), joint
states and perceived objects go into the core's PlanExecutor (`teleop/jog` into its
JogController); the commands they return go out on the controller's and gripper's
topics. The red lines come from the safety core: RedLineGate judges every
trajectory before it is sent, RuntimeMonitor the measured state while the arm moves.
Progress goes out on `motion/status`, motion_start/motion_end/violation on the audit
log. A stop (e-stop, or a heartbeat missing or past its DDS deadline, both watched
on a private node and thread) sends a hold at once and aborts the plan for good:
only a new approved plan moves the arm again.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64, String
from trajectory_msgs.msg import JointTrajectory

from embodied_stack.audit.registry import registry_robot_id
from embodied_stack.control import reports
from embodied_stack.control.context import SkillContext
from embodied_stack.control.executor import Command, PlanExecutor, SendGripper, SendTrajectory
from embodied_stack.control.jog import JogController, JogSettings
from embodied_stack.control.world import world_from_state
from embodied_stack.errors import SchemaError
from embodied_stack.motion_types import JointStateSample, JointTrajectoryCommand
from embodied_stack.nodes import qos
from embodied_stack.nodes.audit_client import AuditClient
from embodied_stack.nodes.heartbeat import (
    BEACON_HZ,
    MOTION_HEARTBEAT,
    HeartbeatBeacon,
    HeartbeatWatch,
    SafetyParticipant,
)
from embodied_stack.nodes.ros_conversions import (
    joint_state_from_ros,
    json_from_ros,
    json_to_ros,
    trajectory_to_ros,
)
from embodied_stack.nodes.spin import spin_node
from embodied_stack.robot import load_robot
from embodied_stack.safety.gate import RedLineGate
from embodied_stack.safety.hold import HoldGuard
from embodied_stack.safety.monitor import RuntimeMonitor
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.schemas import (
    AuditEventKind,
    JogAxis,
    JogCommand,
    MotionState,
    MotionStatus,
    ObjectsMessage,
    PerceivedObject,
    Plan,
    PlanStatus,
)

NAME = "motion_node"
# A plan waits this long for a joint state, its objects to be perceived and the first
# e-stop state and heartbeat (the safety inputs' own participant is discovered apart).
INPUT_WAIT_S = 3.0


def _describe(text: str, low: float | None = None, high: float | None = None) -> Any:
    if low is None or high is None:
        return ParameterDescriptor(description=text)
    span = FloatingPointRange(from_value=low, to_value=high, step=0.0)
    return ParameterDescriptor(description=text, floating_point_range=[span])


PARAMETERS: list[tuple[str, Any, Any]] = [
    ("robot", "panda", _describe("robot profile, config/robots/<robot>.yaml (global)")),
    ("redlines", "redlines.yaml", _describe("red lines file, config/<redlines> (global)")),
    ("registry", "registry.yaml", _describe("registry file: the robot id (global)")),
    (
        "heartbeat_timeout_s",
        0.1,
        _describe("hold when the heartbeat is older (global)", 0.005, 10.0),
    ),
    (
        "motion_heartbeat_timeout_s",
        0.25,
        _describe("deadline of our own heartbeat for the actuator side (global)", 0.02, 10.0),
    ),
    ("max_speed_scale", 1.0, _describe("fraction of the red-line speeds used at most", 0.01, 1.0)),
    ("audit_durable", True, _describe("start a plan only once motion_start is on disk")),
    ("monitor_hz", 30.0, _describe("measured-state red-line checks per second", 1.0, 1000.0)),
    ("jog_speed", 0.05, _describe("TCP speed of jogging, m/s", 0.005, 0.25)),
    ("jog_deadman_s", 0.3, _describe("a jog not refreshed this long stops", 0.05, 2.0)),
    ("status_period_s", 0.5, _describe("motion/status republished this often", 0.05, 10.0)),
]


class MotionNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NAME, **node_kwargs)
        for name, default, descriptor in PARAMETERS:
            self.declare_parameter(name, default, descriptor)
        p = self.get_parameter
        self.profile = load_robot(str(p("robot").value))
        redlines = load_redlines(str(p("redlines").value))
        self.ctx = SkillContext.from_redlines(self.profile, redlines)
        self.ctx.limits = self.ctx.limits.scaled(float(p("max_speed_scale").value))
        # The red lines, from the safety core: every trajectory before it is sent (the
        # executor calls the gate) and the measured state while the arm moves.
        self.gate = RedLineGate(redlines, robot=self.profile.name, source=NAME)
        self.monitor = RuntimeMonitor(redlines=redlines, source=NAME, robot=self.profile.name)
        self._monitor_period = 1.0 / float(p("monitor_hz").value)
        self._last_monitored = -1.0
        self._started_at = time.time()  # approvals older than this are never executed
        self.guard = HoldGuard()
        self._heartbeat_timeout_s = float(p("heartbeat_timeout_s").value)
        self._durable = bool(p("audit_durable").value)
        self._lock = threading.RLock()  # executor, world inputs
        self._send_lock = threading.Lock()  # a hold is never overtaken by an older command
        self._stop_reason: str | None = "starting"
        self.plan_executor: PlanExecutor | None = None
        self._seen_plans: set[str] = set()
        self._pending: tuple[Plan, float] | None = None  # waiting for its inputs
        self._joints: JointStateSample | None = None
        self._objects: list[PerceivedObject] = []
        self._last_status: MotionStatus | None = None
        self.holds_sent = 0

        work = MutuallyExclusiveCallbackGroup()
        # Jog messages and the deadman on their own: a flood of joint states (a fast
        # simulator) must not delay them past the deadman and chop the jog into stops.
        jogging = MutuallyExclusiveCallbackGroup()
        controller = self.profile.controller
        self._traj_pub = self.create_publisher(
            JointTrajectory, controller.trajectory_topic, qos.COMMAND
        )
        self._gripper_pub = self.create_publisher(
            Float64, self.profile.gripper.command_topic, qos.COMMAND
        )
        self._status_pub = self.create_publisher(String, "motion/status", qos.LATCHED)
        self._audit = AuditClient(
            self, NAME, registry_robot_id(str(p("registry").value)), durable=self._durable
        )
        self._jog_audited: tuple[str, JogAxis, int] | None = None  # the jog on record
        # Safety inputs on private nodes with threads of their own: a busy executor
        # (plans, gates, other nodes in one process) never delays a stop.
        self.create_subscription(
            String, "planner/plan", self._on_plan, qos.LATCHED, callback_group=work
        )
        self.create_subscription(
            JointState,
            controller.joint_states_topic,
            self._on_joints,
            qos.STATE,
            callback_group=work,
        )
        self.create_subscription(
            String, "perception/objects", self._on_objects, qos.STATE, callback_group=work
        )
        self.create_timer(float(p("status_period_s").value), self._republish, callback_group=work)
        jog = JogSettings(
            speed=float(p("jog_speed").value), deadman_s=float(p("jog_deadman_s").value)
        )
        self.jog = JogController(self.ctx, jog, gate=self.gate)
        self.create_subscription(
            String, "teleop/jog", self._on_jog, qos.COMMAND, callback_group=jogging
        )
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(jog.deadman_s / 3, self._jog_tick, callback_group=jogging, clock=steady)
        self._safety = SafetyParticipant(self)  # e-stop and heartbeat, never queued
        self._safety.node.create_subscription(
            Bool, "safety/estop", self._on_estop, qos.LATCHED_CHANGES
        )
        self._heartbeat = HeartbeatWatch(
            self._safety, self._heartbeat_timeout_s, on_change=self._on_heartbeat
        )
        # Our own liveliness for the actuator side: a trajectory must not outlive us.
        # From the safety participant: the main one's locks are shared with busy traffic.
        self._beacon = HeartbeatBeacon(
            self._safety.node,
            MOTION_HEARTBEAT,
            BEACON_HZ,
            float(p("motion_heartbeat_timeout_s").value),
        )

    # ---- safety -----------------------------------------------------------------------

    def _on_estop(self, msg: Bool) -> None:
        self.guard.estop(bool(msg.data))
        self._watchdog()

    def _on_heartbeat(self, stale_reason: str | None) -> None:
        self.guard.heartbeat(stale_reason)
        self._watchdog()

    def _watchdog(self) -> None:
        reason = self.guard.reason()
        with self._send_lock:
            was, self._stop_reason = self._stop_reason, reason
            if reason is None or was is not None:
                return
            self._publish_hold()  # at once, before anything else
        self._abort(f"stopped: {reason}")

    def _abort(self, reason: str) -> None:
        self.get_logger().warning(reason)
        with self._lock:
            self.jog.stop()  # the hold went out already
            if self._pending is not None:  # a plan waiting for its inputs never starts now
                plan, self._pending = self._pending[0], None
                self._refuse(plan, reason, MotionState.ABORTED)
            if self.plan_executor is not None and not self.plan_executor.finished:
                self.plan_executor.abort(reason)
                self._after_tick()

    def _monitor(self, sample: JointStateSample) -> None:
        """The measured state against the red lines; a breach (or one imminent) stops."""
        now = time.monotonic()
        if now - self._last_monitored < self._monitor_period:
            return
        self._last_monitored = now
        violations = self.monitor.check(sample)
        if not violations:
            return
        with self._send_lock:
            self._publish_hold()
        reason = "red line: " + "; ".join(v.describe() for v in violations[:3])
        executor = self.plan_executor
        if executor is not None and not executor.finished:
            executor.violations = violations
            self._abort(reason)  # audited with the plan's end
        elif self.jog.active:
            self.jog.stop()
            self.get_logger().warning(f"jog stopped: {reason}")
            self._audit.emit(
                AuditEventKind.VIOLATION, NAME, reports.violations_payload(None, violations)
            )

    def _publish_hold(self) -> None:
        self._traj_pub.publish(
            trajectory_to_ros(JointTrajectoryCommand(tuple(self.profile.joints)))
        )
        self.holds_sent += 1

    # ---- plans ------------------------------------------------------------------------

    def _on_plan(self, msg: String) -> None:
        try:
            plan = json_from_ros(Plan, msg)
        except SchemaError as exc:
            self._publish_status(reports.malformed(msg.data, str(exc), self._now()))
            return
        if plan.status is not PlanStatus.APPROVED or plan.plan_id in self._seen_plans:
            return
        self._seen_plans.add(plan.plan_id)
        if plan.approved_at is None or plan.approved_at < self._started_at:
            # The latched topic hands a (re)started node the last approval: an approval
            # this node did not witness is never executed (a restart never resumes motion).
            self._refuse(plan, "not started: approved before this motion_node started")
            return
        with self._lock:
            self._send(self.jog.stop())
            if self.plan_executor is not None and not self.plan_executor.finished:
                self._send([*self.plan_executor.abort(f"superseded by plan {plan.plan_id}")])
                self._after_tick()
            # Just started, or perception not caught up: wait a little for the inputs.
            self._pending = (plan, time.monotonic() + INPUT_WAIT_S)
            self._try_pending()

    def _try_pending(self) -> None:
        """Start the waiting plan once the arm's state and its objects are in (or time is up)."""
        if self._pending is None:
            return
        plan, deadline = self._pending
        perceived = {o.id for o in self._objects}
        starting_up = self.guard.first_inputs_pending  # still holds if they never come
        stopped = not starting_up and self.guard.reason() is not None  # refused at once
        waiting = (
            self._joints is None or starting_up or not reports.referenced_objects(plan) <= perceived
        )
        if stopped or not waiting or time.monotonic() > deadline:
            self._start(plan)

    def _start(self, plan: Plan) -> None:
        """Validate and begin `plan` (under the lock, with a joint state at hand)."""
        with self._lock:
            self._pending = None
            refusal = self._start_refusal()
            if refusal is not None:
                self._refuse(plan, refusal)
                return
            assert self._joints is not None
            world = world_from_state(self._joints, self._objects, self.profile)
            executor = PlanExecutor(plan, world, self.ctx, gate=self.gate)
            if executor.finished:  # rejected before moving
                self.plan_executor = executor
                self._after_tick()
                return
            if not self._audit_start(plan):
                self._refuse(plan, f"audit log not durable: {self._audit.last_error}")
                return
            self.plan_executor = executor
            self._publish_status(executor.status(self._now()))

    def _start_refusal(self) -> str | None:
        reason = self.guard.reason()
        if reason is not None:
            return f"not started: {reason}"
        if self._joints is None:
            return "not started: no joint state received yet"
        return None

    def _refuse(self, plan: Plan, reason: str, state: MotionState = MotionState.FAILED) -> None:
        self.plan_executor = None
        self._publish_status(reports.refused(plan, reason, self._now(), state))

    def _audit_start(self, plan: Plan) -> bool:
        emit = self._audit.emit_durable if self._durable else self._audit.emit
        sent = emit(
            AuditEventKind.MOTION_START,
            plan.approved_by or NAME,
            reports.motion_start_payload(plan),
            model=plan.provenance,
            ai_generated=plan.ai_generated,
        )
        return sent is not False

    # ---- jog --------------------------------------------------------------------------

    def _on_jog(self, msg: String) -> None:
        try:
            jog = json_from_ros(JogCommand, msg)
        except SchemaError as exc:
            self.get_logger().warning(f"ignoring teleop/jog: {exc}")
            return
        if not self._audit_jog(jog):
            with self._lock:
                self._send(self.jog.stop())
            self.get_logger().warning(
                f"jog refused: audit log not durable: {self._audit.last_error}"
            )
            return
        with self._lock:
            busy = self.plan_executor is not None and not self.plan_executor.finished
            refusal = "a plan is executing" if busy else self._start_refusal()
            if refusal is not None or self._joints is None:
                self._send(self.jog.stop())
                if jog.direction != 0:
                    self.get_logger().warning(f"jog refused: {refusal}")
                return
            world = world_from_state(self._joints, self._objects, self.profile)
            self._send(self.jog.on_jog(jog, time.monotonic(), world, self._joints))

    def _audit_jog(self, jog: JogCommand) -> bool:
        """A jog is on the record before it moves anything: each start and each change of
        operator, axis or direction (not every deadman refresh). False: not durable."""
        key = (jog.operator, jog.axis, jog.direction)
        if jog.direction == 0 or key == self._jog_audited:
            if jog.direction == 0:
                self._jog_audited = None
            return True
        emit = self._audit.emit_durable if self._durable else self._audit.emit
        payload = {"axis": jog.axis.value, "direction": jog.direction, "seq": jog.seq}
        if emit(AuditEventKind.JOG, jog.operator, payload) is False:
            self._jog_audited = None
            return False
        self._jog_audited = key
        return True

    def _jog_tick(self) -> None:
        with self._lock:
            if not self.jog.active or self._joints is None:
                return
            world = world_from_state(self._joints, self._objects, self.profile)
            self._send(self.jog.on_tick(time.monotonic(), world, self._joints))

    # ---- execution --------------------------------------------------------------------

    def _on_objects(self, msg: String) -> None:
        try:
            objects = json_from_ros(ObjectsMessage, msg).objects
        except SchemaError as exc:
            self.get_logger().warning(f"ignoring perception/objects: {exc}")
            return
        with self._lock:
            self._objects = objects
            self._try_pending()
            executor = self.plan_executor
            held = executor.world.held if executor is not None else None
        self.monitor.update_scene(objects, held)

    def _on_joints(self, msg: JointState) -> None:
        try:
            sample = joint_state_from_ros(msg)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring joint_states: {exc}")
            return
        with self._lock:
            self._joints = sample
            self._try_pending()
            executor = self.plan_executor
            if executor is not None and not executor.finished:
                now = sample.stamp if sample.stamp > 0 else self._now()
                self._send(executor.tick(now, sample, self._objects))
                self._after_tick()
            if (executor is not None and not executor.finished) or self.jog.active:
                self._monitor(sample)

    def _send(self, commands: list[Command]) -> None:
        with self._send_lock:
            for command in commands:
                if isinstance(command, SendTrajectory):
                    if self._stop_reason is not None and not command.command.is_hold:
                        continue  # stopped meanwhile: nothing but holds goes out
                    self._traj_pub.publish(trajectory_to_ros(command.command))
                elif isinstance(command, SendGripper) and self._stop_reason is None:
                    self._gripper_pub.publish(Float64(data=float(command.opening)))

    def _after_tick(self) -> None:
        """Publish a changed status; when the plan ended, say so in the audit log."""
        executor = self.plan_executor
        assert executor is not None
        status = executor.status(self._now())
        if not reports.changed(status, self._last_status):
            return
        self._publish_status(status)
        plan = executor.plan  # what a model produced stays labelled to the end
        label = {"model": plan.provenance, "ai_generated": plan.ai_generated}
        if executor.violations:
            payload = reports.violations_payload(status.plan_id, executor.violations)
            self._audit.emit(AuditEventKind.VIOLATION, NAME, payload, **label)
        if executor.finished:
            payload = reports.motion_end_payload(status)
            self._audit.emit(AuditEventKind.MOTION_END, NAME, payload, **label)

    def _republish(self) -> None:
        with self._lock:
            self._try_pending()
            if self._last_status is not None:
                self._publish_status(self._last_status.model_copy(update={"stamp": self._now()}))

    def _publish_status(self, status: MotionStatus) -> None:
        self._last_status = status
        self._status_pub.publish(json_to_ros(status))

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def destroy_node(self) -> None:
        self._beacon.close()
        self._safety.close()
        self._audit.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    spin_node(MotionNode, args)


if __name__ == "__main__":
    main()
