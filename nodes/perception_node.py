"""perception_node: camera images in, perceived objects out (the stack's eyes).

Colour and depth are paired by stamp, checked, and handed to the core detector
(embodied_stack.perception), which levels the configured camera pose on the table
it fits in each depth frame; the tracker gives stable ids, keeps what the arm
hides as stale and follows the held object with the TCP (forward kinematics of
`joint_states`, which also masks the arm out of the image). Publishes
`perception/objects` (JSON ObjectsMessage), `perception/markers` (MarkerArray)
and `perception/annotated` (rgb8). A bad frame is a logged error and publishes
nothing; so is a bad camera_info, after which frames wait for a good one.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from embodied_stack.camera import world_from_optical
from embodied_stack.errors import SchemaError, StackError
from embodied_stack.nodes import qos
from embodied_stack.nodes.ros_conversions import (
    depth_from_ros,
    image_from_ros,
    image_to_ros,
    intrinsics_from_camera_info,
    joint_state_from_ros,
    json_from_ros,
    json_to_ros,
    objects_to_markers,
    time_from_ros,
)
from embodied_stack.nodes.spin import spin_node
from embodied_stack.perception.annotate import annotate
from embodied_stack.perception.arm_mask import ArmModel
from embodied_stack.perception.detector import Detector
from embodied_stack.perception.inputs import check_intrinsics
from embodied_stack.perception.table_plane import TableEstimate
from embodied_stack.perception.tracker import ObjectTracker, TrackerConfig
from embodied_stack.robot import load_robot
from embodied_stack.schemas import ObjectsMessage, SimControl, SimControlOp

NAME = "perception_node"
PAIR_BUFFER = 4  # frames of one stream kept while waiting for the other
JOINT_HISTORY = 256  # joint states kept to find the one taken with each image
TILT_WARNING_DEG = 1.0  # the table this far off the configured pose: say so


def _describe(text: str, low: float | None = None, high: float | None = None) -> Any:
    if low is None or high is None:
        return ParameterDescriptor(description=text)
    span = FloatingPointRange(from_value=low, to_value=high, step=0.0)
    return ParameterDescriptor(description=text, floating_point_range=[span])


PARAMETERS: list[tuple[str, Any, Any]] = [
    ("robot", "panda", _describe("robot profile, config/robots/<robot>.yaml (global)")),
    ("camera.position", [1.05, 0.0, 1.10], _describe("camera position, world, m (global)")),
    ("camera.target", [0.45, 0.0, 0.0], _describe("point the camera looks at (global)")),
    ("stale_after_s", 0.5, _describe("unseen this long: reported stale", 0.0, 60.0)),
    ("forget_after_s", 60.0, _describe("unseen this long: dropped", 0.1, 3600.0)),
    ("match_distance", 0.10, _describe("m an object may move between frames", 0.005, 1.0)),
    ("use_joint_states", True, _describe("mask the arm out and track the held object")),
    (
        "joint_state_tolerance_s",
        0.03,
        _describe("joint state this close to an image's stamp, else skip it", 0.0, 1.0),
    ),
    ("pair_tolerance_s", 0.005, _describe("colour and depth this close in time: a pair", 0.0, 0.5)),
    ("annotate", True, _describe("publish perception/annotated")),
]


class PerceptionNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NAME, **node_kwargs)
        for name, default, descriptor in PARAMETERS:
            self.declare_parameter(name, default, descriptor)
        p = self.get_parameter
        position = tuple(float(v) for v in p("camera.position").value)
        target = tuple(float(v) for v in p("camera.target").value)
        self.pose = world_from_optical(
            (position[0], position[1], position[2]), (target[0], target[1], target[2])
        )
        self.tracker = ObjectTracker(
            TrackerConfig(
                stale_after_s=float(p("stale_after_s").value),
                forget_after_s=float(p("forget_after_s").value),
                match_distance=float(p("match_distance").value),
            )
        )
        self.arm = ArmModel(load_robot(str(p("robot").value)))
        self._use_joints = bool(p("use_joint_states").value)
        self._annotate = bool(p("annotate").value)
        self._joints: deque[tuple[float, dict[str, float]]] = deque(maxlen=JOINT_HISTORY)
        self._joint_tolerance = float(p("joint_state_tolerance_s").value)
        self._pair_tolerance = float(p("pair_tolerance_s").value)
        self._detector: Detector | None = None
        self._colour: dict[float, Image] = {}
        self._depth: dict[float, Image] = {}
        self._arm_lock = threading.Lock()
        camera_group = MutuallyExclusiveCallbackGroup()
        self._objects_pub = self.create_publisher(String, "perception/objects", qos.STATE)
        self._markers_pub = self.create_publisher(MarkerArray, "perception/markers", qos.STATE)
        self._annotated_pub = self.create_publisher(Image, "perception/annotated", qos.SENSOR)
        for topic, callback in (
            ("camera/color/image_raw", self._on_colour),
            ("camera/depth/image_raw", self._on_depth),
        ):
            self.create_subscription(
                Image, topic, callback, qos.SENSOR, callback_group=camera_group
            )
        self.create_subscription(
            CameraInfo,
            "camera/color/camera_info",
            self._on_info,
            qos.SENSOR,
            callback_group=camera_group,
        )
        if self._use_joints:
            self.create_subscription(JointState, "joint_states", self._on_joints, qos.STATE)
        # A simulator reset teleports the whole world: the tracks of the old one are
        # not occlusions to wait out but ghosts (soak runs reset between tasks).
        self.create_subscription(
            String, "sim/control", self._on_sim_control, qos.COMMAND, callback_group=camera_group
        )
        self._not_before = -math.inf  # frames stamped up to here show a world reset since
        self.frames = 0  # frames published (for tests and diagnostics)
        self.rejected = 0  # frames (or camera_info) refused as bad input
        self.last_error = ""  # why the last one was
        self._warned_distortion = False
        self.skipped = 0  # frames without a joint state to mask the arm with

    # ---- inputs ---------------------------------------------------------------------------

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            intr = check_intrinsics(intrinsics_from_camera_info(msg))
        except (ValueError, StackError) as exc:
            self._detector = None  # frames wait for a camera_info that can be trusted
            self._reject(f"camera_info: {exc}")
            return
        if any(v != 0.0 for v in msg.d) and not self._warned_distortion:
            self._warned_distortion = True
            self.get_logger().warning(
                "camera_info: lens distortion D is ignored; feed rectified images"
            )
        if self._detector is None or self._detector.intr != intr:
            self._detector = Detector(intr, self.pose)

    def _on_joints(self, msg: JointState) -> None:
        try:
            sample = joint_state_from_ros(msg)
        except ValueError as exc:
            self.get_logger().error(f"joint_states ignored: {exc}", throttle_duration_sec=5.0)
            return
        with self._arm_lock:
            positions = dict(zip(sample.names, sample.positions, strict=True))
            self._joints.append((sample.stamp, positions))

    def _joints_at(self, stamp: float) -> dict[str, float] | None:
        """The joint state nearest the image's stamp, if one is close enough to trust."""
        with self._arm_lock:
            if not self._joints:
                return None
            best_stamp, positions = min(self._joints, key=lambda item: abs(item[0] - stamp))
        return positions if abs(best_stamp - stamp) <= self._joint_tolerance else None

    def _on_sim_control(self, msg: String) -> None:
        try:
            control = json_from_ros(SimControl, msg)
        except SchemaError:
            return  # sim_node reports it; nothing here depends on a bad one
        if control.op is not SimControlOp.RESET:
            return
        self.tracker.reset()
        self._colour.clear()
        self._depth.clear()
        with self._arm_lock:
            self._not_before = self._joints[-1][0] if self._joints else -math.inf
        self.get_logger().info("simulator reset: every track forgotten")

    def _on_colour(self, msg: Image) -> None:
        self._colour[time_from_ros(msg.header.stamp)] = msg
        self._pair()

    def _on_depth(self, msg: Image) -> None:
        self._depth[time_from_ros(msg.header.stamp)] = msg
        self._pair()

    def _pair(self) -> None:
        """Process the newest colour/depth pair taken together (stamps within
        pair_tolerance_s: identical from the simulator, close from a real camera);
        drop anything older."""
        pairs = [
            (max(tc, td), tc, td)
            for tc in self._colour
            for td in self._depth
            if abs(tc - td) <= self._pair_tolerance
        ]
        if pairs:
            stamp, tc, td = max(pairs)
            colour, depth = self._colour[tc], self._depth[td]
            self._colour = {t: m for t, m in self._colour.items() if t > tc}
            self._depth = {t: m for t, m in self._depth.items() if t > td}
            self._process(stamp, colour, depth)
        for buffer in (self._colour, self._depth):
            for t in sorted(buffer)[:-PAIR_BUFFER]:
                del buffer[t]

    # ---- one frame ------------------------------------------------------------------------

    def _process(self, stamp: float, colour: Image, depth: Image) -> None:
        if stamp <= self._not_before:
            return  # rendered before the last simulator reset
        if self._detector is None:
            self.get_logger().warning(
                "no valid camera_info yet: frame skipped", throttle_duration_sec=5.0
            )
            return
        try:
            rgb = image_from_ros(colour)
            metres = depth_from_ros(depth)
            exclude = None
            if self._use_joints:
                positions = self._joints_at(stamp)
                if positions is None:  # the arm's pose at this instant is unknown
                    self._skip(f"no joint state within {self._joint_tolerance} s of {stamp:.3f}")
                    return
                self.arm.set_joints(positions)
                self.tracker.set_gripper(self.arm.tcp(), self.arm.grasping())
                exclude = self.arm.contains
            detections = self._detector.detect(rgb, metres, exclude=exclude)
        except (ValueError, StackError) as exc:
            self._reject(str(exc))
            return
        self._report_table(self._detector.table)
        objects = self.tracker.update(detections, stamp, self._detector.seen_empty)
        message = ObjectsMessage(stamp=stamp, objects=objects)
        self._objects_pub.publish(json_to_ros(message))
        self._markers_pub.publish(objects_to_markers(message))
        if self._annotate:
            drawn = annotate(rgb, objects, self._detector.intr, self._detector.pose)
            self._annotated_pub.publish(image_to_ros(drawn, stamp, colour.header.frame_id))
        self.frames += 1

    def _report_table(self, table: TableEstimate | None) -> None:
        if table is not None and not table.fitted:
            self.get_logger().warning(
                "no table plane found in depth: heights from the configured camera pose",
                throttle_duration_sec=10.0,
            )
        elif table is not None and table.tilt_deg > TILT_WARNING_DEG:
            self.get_logger().warning(
                f"the table is {table.tilt_deg:.1f} deg and {table.offset * 1000:.0f} mm off "
                "camera.position/target: levelled on it (fix the camera pose)",
                throttle_duration_sec=60.0,
            )

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.get_logger().warning(f"frame skipped: {reason}", throttle_duration_sec=2.0)

    def _reject(self, reason: str) -> None:
        self.rejected += 1
        self.last_error = reason
        self.get_logger().error(f"bad camera input, nothing published: {reason}")


def main(args: list[str] | None = None) -> None:
    spin_node(PerceptionNode, args)


if __name__ == "__main__":
    main()
