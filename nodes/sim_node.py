"""sim_node: the PyBullet simulator playing arm, gripper and RGB-D camera.

Physics steps in its own thread, as fast as the machine allows or locked to
real time (`realtime`), and publishes `clock` (sim time; it never runs
backwards, not even across a scene reset), `joint_states`, the camera topics
at `camera.rate_hz` of sim time and `sim/ground_truth` (for judges only).
Trajectories and gripper commands come in as the arm's controller takes them
(a trajectory starts when it arrives; a header stamp in the future is not waited
for). `sim/control` (JSON SimControl) lets runners reset the scene or move objects.

It holds the arm on its own (DESIGN.md §5) while `safety/estop` is true (or no
e-stop state has arrived yet), when the kill-switch heartbeat misses its DDS
deadline of `heartbeat_timeout_s` (judged by DDS's own threads, nodes/heartbeat.py;
none yet counts as stale), and when the commander's heartbeat
(`commander_heartbeat`, motion_node's `motion/heartbeat`) misses
`motion_heartbeat_timeout_s`. DDS pairs a heartbeat's publisher with the watch only
if the deadline it offers is at most the timeout: a sender that offers a longer one
is never heard (the arm holds for good), and the node says so as an error naming
the parameter. A hold keeps the measured position; lifting it never restarts
motion: a new trajectory must come. Each change of the hold goes out on `sim/hold`
(JSON HoldStatus, monotonic-stamped). A trajectory or gripper command that cannot be
followed (malformed, not finite, outside the joint limits, faster than the velocity
limits) is rejected with the reason in the log and the arm holds.

Every parameter is read once, at start: they are read-only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import rclpy
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.clock import Clock as RosClock
from rclpy.clock import ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64, String
from trajectory_msgs.msg import JointTrajectory

from embodied_stack.camera import CameraConfig, Intrinsics
from embodied_stack.config import config_path
from embodied_stack.errors import SchemaError
from embodied_stack.motion_types import JointStateSample
from embodied_stack.nodes import qos
from embodied_stack.nodes.heartbeat import (
    MOTION_HEARTBEAT,
    TOPIC,
    HeartbeatWatch,
    SafetyParticipant,
)
from embodied_stack.nodes.ros_conversions import (
    camera_info_to_ros,
    depth_to_ros,
    image_to_ros,
    joint_state_to_ros,
    json_from_ros,
    json_to_ros,
    time_to_ros,
    trajectory_from_ros,
)
from embodied_stack.nodes.spin import spin_node
from embodied_stack.realtime import PHYSICS_PRIORITY, realtime_priority
from embodied_stack.robot import load_robot
from embodied_stack.safety.hold import HoldGuard
from embodied_stack.safety.monitor import RuntimeMonitor
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.scene import Scene, load_scene
from embodied_stack.schemas import HoldStatus, ObjectsMessage, SimControl, SimControlOp, Trip
from embodied_stack.sim.render_worker import RenderWorker, Snapshot, snapshot
from embodied_stack.sim.schedule import Pacer, RateSchedule
from embodied_stack.sim.world import SimWorld

NAME = "sim_node"
CAMERA_FRAME = "camera_color_optical_frame"
PHYSICS_MIN_SLEEP_S = 2e-4  # per step, at real-time priority: other threads get the core


def _describe(text: str, low: float | None = None, high: float | None = None) -> Any:
    """Read-only: each parameter is read at start, a later change would be ignored."""
    if low is None or high is None:
        return ParameterDescriptor(description=text, read_only=True)
    span = FloatingPointRange(from_value=low, to_value=high, step=0.0)
    return ParameterDescriptor(description=text, floating_point_range=[span], read_only=True)


# The tiny renderer takes ~35 ms for 320x240 and ~100 ms for 640x480 on one core
# here: 12 frames a second of the smaller image leave the rest of the stack its CPU
# and the console its 10 fps.
SIM_CAMERA = CameraConfig(width=320, height=240, rate_hz=12.0)

PARAMETERS: list[tuple[str, Any, Any]] = [
    ("robot", "panda", _describe("robot profile, config/robots/<robot>.yaml (global)")),
    (
        "heartbeat_timeout_s",
        0.1,
        _describe("hold when the heartbeat is older (global)", 0.005, 10.0),
    ),
    ("camera.width", SIM_CAMERA.width, _describe("image width, px (global)")),
    ("camera.height", SIM_CAMERA.height, _describe("image height, px (global)")),
    ("camera.fov_y_deg", 58.0, _describe("vertical field of view (global)", 5.0, 150.0)),
    ("camera.position", [1.05, 0.0, 1.10], _describe("camera position, world, m (global)")),
    ("camera.target", [0.45, 0.0, 0.0], _describe("point the camera looks at (global)")),
    (
        "camera.rate_hz",
        SIM_CAMERA.rate_hz,
        _describe("frames per second of sim time (global)", 0.1, 120.0),
    ),
    ("scene", "scenes/default.yaml", _describe("scene file (relative to config/)")),
    ("gui", False, _describe("open the PyBullet GUI")),
    ("realtime", False, _describe("lock sim time to wall time (max_rtf = 1)")),
    (
        "max_rtf",
        1.0,
        _describe("most sim seconds per wall second when not realtime; 0 = unbounded", 0.0, 1000.0),
    ),
    ("physics_hz", 240.0, _describe("physics steps per second of sim time", 60.0, 2000.0)),
    ("joint_state_hz", 50.0, _describe("joint_states per second of sim time", 1.0, 1000.0)),
    ("ground_truth_hz", 30.0, _describe("sim/ground_truth per second of sim time", 0.1, 240.0)),
    ("clock_hz", 50.0, _describe("clock messages per second of sim time", 1.0, 1000.0)),
    ("redlines", "redlines.yaml", _describe("red lines, config/redlines.yaml (global)")),
    ("check_red_lines", True, _describe("check the measured state against the red lines")),
    (
        "commander_heartbeat",
        MOTION_HEARTBEAT,
        _describe("hold when the commanding node's heartbeat dies; empty = not watched"),
    ),
    (
        "motion_heartbeat_timeout_s",
        0.25,
        _describe("deadline of the commander's heartbeat (global)", 0.02, 10.0),
    ),
    (
        "render_process",
        True,
        _describe("render in a worker process (the tiny renderer holds the GIL per frame)"),
    ),
]


@dataclass(frozen=True)
class HoldRecord:
    sim_time: float  # s, on the published clock
    reason: str


class SimNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NAME, **node_kwargs)
        for name, default, descriptor in PARAMETERS:
            self.declare_parameter(name, default, descriptor)
        p = self.get_parameter
        self.camera = CameraConfig(
            width=int(p("camera.width").value),
            height=int(p("camera.height").value),
            fov_y_deg=float(p("camera.fov_y_deg").value),
            position=tuple(float(v) for v in p("camera.position").value),
            target=tuple(float(v) for v in p("camera.target").value),
            rate_hz=float(p("camera.rate_hz").value),
        )
        self.world = SimWorld(
            scene=load_scene(config_path(str(p("scene").value))),
            robot=load_robot(str(p("robot").value)),
            camera=self.camera,
            gui=bool(p("gui").value),
            physics_hz=float(p("physics_hz").value),
            # A render worker draws the frames: this copy needs no visual meshes.
            visuals=not bool(p("render_process").value),
        )
        self._renderer: RenderWorker | None = None  # used by the physics thread only
        self._mirror_outdated = False  # the renderer's scene needs rebuilding
        if bool(p("render_process").value):
            self._renderer = RenderWorker(scene=self.world.scene, robot=self.world.robot)
        self._monitor: RuntimeMonitor | None = None
        if bool(p("check_red_lines").value):
            redlines = load_redlines(str(p("redlines").value)).with_scene(self.world.scene)
            self._monitor = RuntimeMonitor(
                redlines=redlines, source=NAME, robot=str(p("robot").value)
            )
        self._timeout_s = float(p("heartbeat_timeout_s").value)
        max_rtf = 1.0 if bool(p("realtime").value) else float(p("max_rtf").value)
        # Real-time physics only paced and without renders (it would take a whole core).
        self._physics_rt = max_rtf > 0 and self._renderer is not None
        self._pace = Pacer(max_rtf, min_sleep_s=PHYSICS_MIN_SLEEP_S if self._physics_rt else 0.0)
        self._schedule = RateSchedule(
            {
                "clock": float(p("clock_hz").value),
                "joints": float(p("joint_state_hz").value),
                "truth": float(p("ground_truth_hz").value),
                "camera": self.camera.rate_hz,
            }
        )
        self._lock = threading.RLock()
        self._epoch = 0.0  # published time of the current world's t = 0
        self._guard = HoldGuard()
        self.holding: str | None = None  # why the arm holds; None = following commands
        self.holds: deque[HoldRecord] = deque(maxlen=1000)  # each hold and its reason
        self.hold_count = 0  # holds entered since start (the deque forgets)
        self.rejections: deque[str] = deque(maxlen=1000)

        # before any input: a callback may hold (and report it) as soon as it exists
        self._hold_pub = self.create_publisher(String, "sim/hold", qos.LATCHED)
        self._clock_pub = self.create_publisher(Clock, "clock", qos.COMMAND)
        self._joints_pub = self.create_publisher(JointState, "joint_states", qos.STATE)
        self._rgb_pub = self.create_publisher(Image, "camera/color/image_raw", qos.SENSOR)
        self._depth_pub = self.create_publisher(Image, "camera/depth/image_raw", qos.SENSOR)
        self._info_pub = self.create_publisher(CameraInfo, "camera/color/camera_info", qos.SENSOR)
        self._truth_pub = self.create_publisher(String, "sim/ground_truth", qos.STATE)
        self.create_subscription(
            JointTrajectory,
            "joint_trajectory_controller/joint_trajectory",
            self._on_trajectory,
            qos.COMMAND,
        )
        self.create_subscription(Float64, "gripper/command", self._on_gripper, qos.COMMAND)
        self._safety = SafetyParticipant(self)  # e-stop and heartbeats, never queued
        self._safety.node.create_subscription(
            Bool, "safety/estop", self._on_estop, qos.LATCHED_CHANGES
        )
        self._heartbeat = HeartbeatWatch(
            self._safety, self._timeout_s, on_change=self._on_heartbeat
        )
        self._commander: HeartbeatWatch | None = None  # owned here, not only by its subscription
        watched = [(TOPIC, "heartbeat_timeout_s", self._timeout_s)]
        if commander := str(p("commander_heartbeat").value):
            timeout = float(p("motion_heartbeat_timeout_s").value)
            self._commander = HeartbeatWatch(
                self._safety, timeout, on_change=self._on_commander, topic=commander
            )
            watched.append((commander, "motion_heartbeat_timeout_s", timeout))
        self._unpaired: set[tuple[str, str]] = set()  # (topic, publisher) already reported
        steady = RosClock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(1.0, lambda: self._check_deadlines(watched), clock=steady)
        self.create_subscription(String, "sim/control", self._on_control, qos.COMMAND)
        self.create_subscription(String, "perception/objects", self._on_objects, qos.STATE)
        self._trip_pub = self.create_publisher(String, "safety/trip", qos.COMMAND)

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim_physics", daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"simulating {len(self.world.scene.objects)} objects at {self.world.physics_hz:g} Hz"
            f" ({self._pace.describe()})"
        )

    @property
    def now(self) -> float:
        """Published sim time, s."""
        return self._epoch + self.world.sim_time

    # ---- inputs -----------------------------------------------------------------------

    def _on_heartbeat(self, stale_reason: str | None) -> None:
        self._guard.heartbeat(stale_reason)
        self._check_hold()

    def _on_commander(self, stale_reason: str | None) -> None:
        self._guard.commander(stale_reason)
        self._check_hold()

    def _check_deadlines(self, watched: list[tuple[str, str, float]]) -> None:
        """A heartbeat publisher offering a longer deadline than our timeout (or none) is
        never paired by DDS: its beats never arrive. Say which, once per publisher."""
        for topic, param, timeout in watched:
            for info in self.get_publishers_info_by_topic(self.resolve_topic_name(topic)):
                offered = info.qos_profile.deadline.nanoseconds * 1e-9
                sender = f"{info.node_namespace.rstrip('/')}/{info.node_name}"
                if offered <= timeout + 1e-9 or (topic, sender) in self._unpaired:
                    continue
                self._unpaired.add((topic, sender))
                what = "no deadline" if offered > 1e9 else f"a {offered:g} s deadline"
                self.get_logger().error(
                    f"{param} = {timeout:g} s is below what {sender} offers on {topic}"
                    f" ({what}): DDS does not pair them, no beat arrives and the arm holds."
                    f" Give every node the same {param} (config/stack.yaml, /**)."
                )

    def _on_estop(self, msg: Bool) -> None:
        self._guard.estop(bool(msg.data))
        self._check_hold()

    def _on_objects(self, msg: String) -> None:
        """People (and what the gripper holds) as perception sees them, for the red lines."""
        if self._monitor is None:
            return
        try:
            objects = json_from_ros(ObjectsMessage, msg).objects
        except SchemaError as exc:
            self.get_logger().warning(f"ignoring perception/objects: {exc}")
            return
        held = next((o.id for o in objects if o.support == "held"), None)
        self._monitor.update_scene(objects, holding=held)

    def _check_red_lines(self, sample: JointStateSample) -> None:
        """Actuator-side red lines on the measured state: a breach holds and trips the stop."""
        if self._monitor is None or self.holding is not None:
            return
        violations = self._monitor.check(sample)
        if not violations:
            return
        why = "; ".join(v.describe() for v in violations[:3])
        self._guard.red_line(why)
        self._trip_pub.publish(json_to_ros(Trip(who=NAME, why=f"red line: {why}")))
        self._check_hold()

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        cmd = trajectory_from_ros(msg)
        with self._lock:
            if self._check_hold() is not None:
                if cmd.is_hold:
                    return  # asks for what is already happening
                self._reject(f"holding ({self.holding})")
                return
            problems = self.world.command_trajectory(cmd)
        if problems:
            self._reject("; ".join(problems))

    def _on_gripper(self, msg: Float64) -> None:
        with self._lock:
            if self._check_hold() is not None:
                self._reject(f"gripper command while holding ({self.holding})")
                return
            try:
                self.world.set_gripper(float(msg.data))
            except ValueError as exc:
                self._reject(str(exc))

    def _on_control(self, msg: String) -> None:
        try:
            control = json_from_ros(SimControl, msg)
        except SchemaError as exc:
            self.get_logger().warning(f"ignoring sim/control: {exc}")
            return
        with self._lock:
            if control.op is SimControlOp.RESET:
                self._epoch = self.now
                self.world.reset(control.scene)
                self._mirror_outdated = True
            elif control.object_id in self.world.objects and control.xy is not None:
                self.world.teleport(control.object_id, control.xy)
            else:
                self.get_logger().warning(f"sim/control: unknown object {control.object_id!r}")

    def _reject(self, reason: str) -> None:
        self.rejections.append(reason)
        self.get_logger().warning(f"command rejected, arm holds: {reason}")

    # ---- hold -------------------------------------------------------------------------

    def _check_hold(self) -> str | None:
        """Enter a hold when a reason appears (records it); clear it when none remains."""
        reason = self._guard.reason()
        with self._lock:
            if reason is not None and self.holding is None:
                self.world.hold()
                commanded = time.monotonic()
                self.hold_count += 1
                self.holds.append(HoldRecord(self.now, reason))
                self._publish_hold_status(reason, commanded)
                self.get_logger().warning(f"holding: {reason}")
            elif reason is None and self.holding is not None:
                self._publish_hold_status(None, time.monotonic())
                self.get_logger().info(f"hold lifted ({self.holding}); waiting for a new command")
            self.holding = reason
        return reason

    def _publish_hold_status(self, reason: str | None, commanded: float) -> None:
        """`sim/hold` on each change, stamped by the monotonic clock (benchmarks time it)."""
        status = HoldStatus(
            holding=reason is not None,
            reason=reason,
            hold_count=self.hold_count,
            monotonic_s=commanded,
            sim_time=self.now,
        )
        self._hold_pub.publish(json_to_ros(status))

    # ---- physics thread ---------------------------------------------------------------

    def _run(self) -> None:
        if self._physics_rt and (refused := realtime_priority(PHYSICS_PRIORITY)) is not None:
            self.get_logger().info(f"physics at normal priority ({refused})")
        try:
            self._loop()
        except Exception:
            if rclpy.ok(context=self.context) and not self._stop.is_set():
                raise
            # Shutting down: a publish raced the context's end. Nothing to report.

    def _loop(self) -> None:
        while not self._stop.is_set() and rclpy.ok(context=self.context):
            self._check_hold()
            job: tuple[float, Snapshot, Scene | None] | None = None
            with self._lock:
                self.world.step()
                now = self.now
                for name in self._schedule.ready(now):
                    if name == "camera":
                        job = self._camera_tick(now)
                    else:
                        self._publish(name, now)
            if job is not None:  # outside the lock: waiting for the worker blocks no command
                self._render_in_worker(*job)
            if self._renderer is not None and self._renderer.ready():
                self._publish_frame(*self._renderer.collect())
            self._pace(now)

    def _camera_tick(self, now: float) -> tuple[float, Snapshot, Scene | None] | None:
        """Render here, or return the job for the worker (a new scene if it changed)."""
        if not self._camera_wanted():
            return None
        if self._renderer is None:
            self._publish_frame(now, self.world.render())
            return None
        new_scene = self.world.scene if self._mirror_outdated else None
        self._mirror_outdated = False
        return now, snapshot(self.world), new_scene

    def _render_in_worker(self, now: float, snap: Snapshot, new_scene: Scene | None) -> None:
        assert self._renderer is not None
        if new_scene is not None:
            self._renderer.reset(new_scene)  # a frame of the old scene is dropped
        elif self._renderer.in_flight is not None:  # the camera rate is in sim time: wait
            self._publish_frame(*self._renderer.collect())
        self._renderer.submit(snap, tag=now)

    def _publish(self, stream: str, now: float) -> None:
        stamp = time_to_ros(now)
        if stream == "clock":
            self._clock_pub.publish(Clock(clock=stamp))
        elif stream == "joints":
            sample = replace(self.world.joint_state(), stamp=now)
            self._joints_pub.publish(joint_state_to_ros(sample))
            self._check_red_lines(sample)
        elif stream == "truth":
            truth = self.world.ground_truth().model_copy(update={"sim_time": now})
            self._truth_pub.publish(json_to_ros(truth))

    def _publish_frame(self, stamp: float, frame: tuple[Any, Any]) -> None:
        rgb, depth = frame
        self._rgb_pub.publish(image_to_ros(rgb, stamp, CAMERA_FRAME))
        self._depth_pub.publish(depth_to_ros(depth, stamp, CAMERA_FRAME))
        intr = Intrinsics.from_config(self.camera)
        self._info_pub.publish(camera_info_to_ros(intr, stamp, CAMERA_FRAME))

    def _camera_wanted(self) -> bool:
        """Rendering is the costly part: skip it while nobody listens."""
        pubs = (self._rgb_pub, self._depth_pub, self._info_pub)
        return any(pub.get_subscription_count() > 0 for pub in pubs)

    def destroy_node(self) -> None:
        self._stop.set()
        self._safety.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        self.world.close()
        if self._renderer is not None:
            self._renderer.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    spin_node(SimNode, args)


if __name__ == "__main__":
    main()
