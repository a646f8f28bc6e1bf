"""The one place where ROS messages meet the core's plain types.

Free `*_to_ros` / `*_from_ros` functions, each tested by a round trip
(tests/nodes/test_ros_conversions.py). Errors are ValueError naming the field.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from builtin_interfaces.msg import Duration as DurationMsg
from builtin_interfaces.msg import Time as TimeMsg
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
from visualization_msgs.msg import Marker, MarkerArray

from embodied_stack.camera import Intrinsics
from embodied_stack.motion_types import JointStateSample, JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.scene import PALETTE, ObjectKind
from embodied_stack.schemas import (
    Message,
    MsgT,
    ObjectsMessage,
    PerceivedObject,
    from_json,
    to_json,
)

_NS = 1_000_000_000


def time_to_ros(seconds: float) -> TimeMsg:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"time must be finite and non-negative, got {seconds}")
    ns = round(seconds * _NS)
    return TimeMsg(sec=ns // _NS, nanosec=ns % _NS)


def time_from_ros(msg: TimeMsg) -> float:
    return float(msg.sec) + float(msg.nanosec) / _NS


def duration_to_ros(seconds: float) -> DurationMsg:
    t = time_to_ros(seconds)
    return DurationMsg(sec=t.sec, nanosec=t.nanosec)


def duration_from_ros(msg: DurationMsg) -> float:
    return float(msg.sec) + float(msg.nanosec) / _NS


# ---- joints -------------------------------------------------------------------------------


def trajectory_to_ros(cmd: JointTrajectoryCommand, stamp: float = 0.0) -> JointTrajectory:
    """stamp 0 means "start now", as joint_trajectory_controller reads it."""
    msg = JointTrajectory()
    msg.header.stamp = time_to_ros(stamp)
    msg.joint_names = list(cmd.joint_names)
    for pt in cmd.points:
        out = JointTrajectoryPoint()
        out.positions = [float(v) for v in pt.positions]
        out.velocities = [float(v) for v in pt.velocities]
        out.accelerations = [float(v) for v in pt.accelerations]
        out.time_from_start = duration_to_ros(pt.time_from_start)
        msg.points.append(out)
    return msg


def trajectory_from_ros(msg: JointTrajectory) -> JointTrajectoryCommand:
    """No validation here beyond shape: callers check `problems()` before following it."""
    points = tuple(
        TrajectoryPoint(
            positions=tuple(float(v) for v in pt.positions),
            velocities=tuple(float(v) for v in pt.velocities),
            accelerations=tuple(float(v) for v in pt.accelerations),
            time_from_start=duration_from_ros(pt.time_from_start),
        )
        for pt in msg.points
    )
    return JointTrajectoryCommand(joint_names=tuple(msg.joint_names), points=points)


def joint_state_to_ros(sample: JointStateSample) -> JointState:
    msg = JointState()
    msg.header.stamp = time_to_ros(sample.stamp)
    msg.name = list(sample.names)
    msg.position = [float(v) for v in sample.positions]
    msg.velocity = [float(v) for v in sample.velocities]
    msg.effort = [float(v) for v in sample.efforts]
    return msg


def joint_state_from_ros(msg: JointState) -> JointStateSample:
    if len(msg.position) != len(msg.name):
        raise ValueError(f"joint_states: {len(msg.name)} names but {len(msg.position)} positions")
    velocities = tuple(float(v) for v in msg.velocity)
    if velocities and len(velocities) != len(msg.name):
        raise ValueError(f"joint_states: {len(msg.name)} names but {len(velocities)} velocities")
    return JointStateSample(
        names=tuple(msg.name),
        positions=tuple(float(v) for v in msg.position),
        velocities=velocities,
        stamp=time_from_ros(msg.header.stamp),
        efforts=tuple(float(v) for v in msg.effort),
    )


# ---- images -------------------------------------------------------------------------------

UInt8Image = npt.NDArray[np.uint8]
FloatImage = npt.NDArray[np.float32]


def image_to_ros(rgb: UInt8Image, stamp: float, frame_id: str) -> Image:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"colour image must be HxWx3 uint8, got {rgb.shape} {rgb.dtype}")
    msg = Image()
    msg.header.stamp = time_to_ros(stamp)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(rgb).tobytes()
    return msg


def image_from_ros(msg: Image) -> UInt8Image:
    """rgb8 or bgr8 to an HxWx3 RGB array."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"colour image: unsupported encoding {msg.encoding!r} (rgb8, bgr8)")
    _check_size(msg, 3)
    rows = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.step)
    img = rows[:, : msg.width * 3].reshape(msg.height, msg.width, 3)
    out: UInt8Image = img[:, :, ::-1].copy() if msg.encoding == "bgr8" else img.copy()
    return out


def depth_to_ros(depth: FloatImage, stamp: float, frame_id: str) -> Image:
    if depth.ndim != 2:
        raise ValueError(f"depth image must be HxW, got {depth.shape}")
    msg = Image()
    msg.header.stamp = time_to_ros(stamp)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(depth.shape[0]), int(depth.shape[1])
    msg.encoding = "32FC1"
    msg.step = msg.width * 4
    msg.data = np.ascontiguousarray(depth, dtype="<f4").tobytes()
    return msg


def depth_from_ros(msg: Image) -> FloatImage:
    """32FC1 (m) or 16UC1 (mm, as RealSense sends it) to float32 metres; 0 -> NaN."""
    if msg.encoding == "32FC1":
        _check_size(msg, 4)
        rows = np.frombuffer(bytes(msg.data), dtype="<f4").reshape(msg.height, msg.step // 4)
        out: FloatImage = rows[:, : msg.width].astype(np.float32)
        return out
    if msg.encoding in ("16UC1", "mono16"):
        _check_size(msg, 2)
        rows16 = np.frombuffer(bytes(msg.data), dtype="<u2").reshape(msg.height, msg.step // 2)
        metres = rows16[:, : msg.width].astype(np.float32) / 1000.0
        metres[metres == 0] = np.nan
        return metres
    raise ValueError(f"depth image: unsupported encoding {msg.encoding!r} (32FC1, 16UC1)")


def _check_size(msg: Image, bytes_per_pixel: int) -> None:
    if msg.width == 0 or msg.height == 0:
        raise ValueError("image is empty")
    if msg.step < msg.width * bytes_per_pixel or len(msg.data) != msg.step * msg.height:
        raise ValueError(
            f"image data is {len(msg.data)} bytes, expected step {msg.step} x {msg.height} rows"
        )


def camera_info_to_ros(intr: Intrinsics, stamp: float, frame_id: str) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp = time_to_ros(stamp)
    msg.header.frame_id = frame_id
    msg.width, msg.height = intr.width, intr.height
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def intrinsics_from_camera_info(msg: CameraInfo) -> Intrinsics:
    k = list(msg.k)
    if msg.width == 0 or msg.height == 0 or k[0] <= 0 or k[4] <= 0:
        raise ValueError("camera_info: zero size or focal length")
    return Intrinsics(width=msg.width, height=msg.height, fx=k[0], fy=k[4], cx=k[2], cy=k[5])


# ---- JSON in std_msgs/String --------------------------------------------------------------


def json_to_ros(message: Message) -> String:
    return String(data=to_json(message))


def json_from_ros(model: type[MsgT], msg: String) -> MsgT:
    """Raises SchemaError naming the bad field."""
    return from_json(model, msg.data)


# ---- perception markers (RViz / Foxglove) --------------------------------------------------

_MARKER_SHAPES = {ObjectKind.BALL: Marker.SPHERE, ObjectKind.CYLINDER: Marker.CYLINDER}
_PERSON_RGB = (1.0, 0.25, 0.8)


def _object_marker(obj: PerceivedObject, index: int, msg: ObjectsMessage) -> Marker:
    marker = Marker()
    marker.header.stamp = time_to_ros(msg.stamp)
    marker.header.frame_id = msg.frame_id
    marker.ns, marker.id = "objects", index
    marker.type = _MARKER_SHAPES.get(obj.kind, Marker.CUBE)
    marker.action = Marker.ADD
    marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = obj.position
    marker.pose.orientation.z = math.sin(obj.yaw / 2)
    marker.pose.orientation.w = math.cos(obj.yaw / 2)
    marker.scale.x, marker.scale.y, marker.scale.z = obj.size
    r, g, b = _PERSON_RGB if obj.color is None else tuple(c / 255.0 for c in PALETTE[obj.color])
    marker.color.r, marker.color.g, marker.color.b = float(r), float(g), float(b)
    marker.color.a = 0.35 if obj.stale else 0.9
    return marker


def _label_marker(obj: PerceivedObject, index: int, msg: ObjectsMessage) -> Marker:
    marker = Marker()
    marker.header = _object_marker(obj, index, msg).header
    marker.ns, marker.id = "labels", index
    marker.type, marker.action = Marker.TEXT_VIEW_FACING, Marker.ADD
    x, y, _z = obj.position
    marker.pose.position.x, marker.pose.position.y = x, y
    marker.pose.position.z = obj.top_z + 0.03
    marker.pose.orientation.w = 1.0
    marker.scale.z = 0.025
    marker.color.r = marker.color.g = marker.color.b = marker.color.a = 1.0
    marker.text = obj.id + (" (stale)" if obj.stale else "")
    return marker


def objects_to_markers(msg: ObjectsMessage) -> MarkerArray:
    """A box/cylinder/sphere and a text label per object; clears the previous set first."""
    clear = Marker()
    clear.header.frame_id = msg.frame_id
    clear.action = Marker.DELETEALL
    markers = [clear]
    for i, obj in enumerate(msg.objects):
        markers += [_object_marker(obj, i, msg), _label_marker(obj, i, msg)]
    return MarkerArray(markers=markers)
