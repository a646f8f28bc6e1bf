"""Round trips through every conversion, and the errors for bad messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from embodied_stack.camera import CameraConfig, Intrinsics
from embodied_stack.errors import SchemaError
from embodied_stack.motion_types import JointStateSample, JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.nodes import ros_conversions as rc
from embodied_stack.schemas import Trip

finite = st.floats(min_value=-10, max_value=10, allow_nan=False)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_time_round_trip(seconds: float) -> None:
    assert rc.time_from_ros(rc.time_to_ros(seconds)) == pytest.approx(seconds, abs=1e-9)


def test_time_rejects_nan() -> None:
    with pytest.raises(ValueError, match="finite"):
        rc.time_to_ros(float("nan"))


@given(st.lists(st.tuples(finite, finite), min_size=0, max_size=5))
def test_trajectory_round_trip(values: list[tuple[float, float]]) -> None:
    points = tuple(
        TrajectoryPoint(positions=(a, b), velocities=(b, a), time_from_start=0.5 * (i + 1))
        for i, (a, b) in enumerate(values)
    )
    cmd = JointTrajectoryCommand(joint_names=("j1", "j2"), points=points)
    back = rc.trajectory_from_ros(rc.trajectory_to_ros(cmd))
    assert back.joint_names == cmd.joint_names
    assert len(back.points) == len(points)
    for p, q in zip(points, back.points, strict=True):
        assert q.positions == pytest.approx(p.positions)
        assert q.velocities == pytest.approx(p.velocities)
        assert q.time_from_start == pytest.approx(p.time_from_start, abs=1e-9)


def test_joint_state_round_trip_and_mismatch() -> None:
    sample = JointStateSample(
        names=("a", "b"), positions=(0.1, -0.2), velocities=(1.0, 2.0), stamp=3.5
    )
    back = rc.joint_state_from_ros(rc.joint_state_to_ros(sample))
    assert back.as_dict() == pytest.approx({"a": 0.1, "b": -0.2})
    assert back.stamp == pytest.approx(3.5)
    msg = rc.joint_state_to_ros(sample)
    msg.position = [0.0]
    with pytest.raises(ValueError, match="2 names but 1 positions"):
        rc.joint_state_from_ros(msg)


def test_images_round_trip() -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    assert np.array_equal(rc.image_from_ros(rc.image_to_ros(rgb, 1.0, "cam")), rgb)
    depth = np.random.default_rng(2).random((6, 8)).astype(np.float32)
    assert np.array_equal(rc.depth_from_ros(rc.depth_to_ros(depth, 1.0, "cam")), depth)


def test_bgr_and_16bit_depth() -> None:
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    msg = rc.image_to_ros(rgb, 0.0, "cam")
    msg.encoding = "bgr8"
    assert rc.image_from_ros(msg)[0, 0].tolist() == [0, 0, 200]
    msg.encoding = "16UC1"
    msg.width, msg.height, msg.step = 2, 1, 4
    msg.data = np.array([1500, 0], dtype="<u2").tobytes()
    out = rc.depth_from_ros(msg)
    assert out[0, 0] == pytest.approx(1.5) and np.isnan(out[0, 1])


def test_bad_images_name_the_problem() -> None:
    msg = rc.image_to_ros(np.zeros((4, 4, 3), dtype=np.uint8), 0.0, "cam")
    msg.encoding = "yuv422"
    with pytest.raises(ValueError, match="unsupported encoding 'yuv422'"):
        rc.image_from_ros(msg)
    msg.encoding = "rgb8"
    msg.data = msg.data[:-3]
    with pytest.raises(ValueError, match="bytes, expected"):
        rc.image_from_ros(msg)


def test_camera_info_round_trip() -> None:
    intr = Intrinsics.from_config(CameraConfig(width=320, height=240))
    assert rc.intrinsics_from_camera_info(rc.camera_info_to_ros(intr, 0.0, "cam")) == intr


def test_json_round_trip_and_schema_error() -> None:
    trip = Trip(who="console:alice", why="test")
    assert rc.json_from_ros(Trip, rc.json_to_ros(trip)) == trip
    bad = rc.json_to_ros(trip)
    bad.data = '{"who": "", "why": 3}'
    with pytest.raises(SchemaError, match="who"):
        rc.json_from_ros(Trip, bad)


def test_objects_to_markers_shape_pose_and_label_per_object() -> None:
    from visualization_msgs.msg import Marker

    from embodied_stack.schemas import ObjectsMessage, PerceivedObject

    cube = PerceivedObject(
        id="red_cube_1", kind="cube", color="red", position=(0.5, -0.1, 0.02),
        yaw=0.6, size=(0.04, 0.04, 0.04),
    )
    ball = PerceivedObject(
        id="blue_ball_1", kind="ball", color="blue", position=(0.4, 0.1, 0.03),
        size=(0.06, 0.06, 0.06), stale=True,
    )
    msg = ObjectsMessage(stamp=2.5, objects=[cube, ball])
    markers = rc.objects_to_markers(msg).markers
    assert markers[0].action == Marker.DELETEALL
    shapes = [m for m in markers if m.ns == "objects"]
    labels = [m for m in markers if m.ns == "labels"]
    assert [m.type for m in shapes] == [Marker.CUBE, Marker.SPHERE]
    assert shapes[0].pose.position.x == pytest.approx(0.5)
    assert shapes[0].pose.orientation.z == pytest.approx(np.sin(0.3))
    assert (shapes[0].scale.x, shapes[0].header.frame_id) == (pytest.approx(0.04), "world")
    assert rc.time_from_ros(shapes[0].header.stamp) == pytest.approx(2.5)
    assert shapes[1].color.a < shapes[0].color.a  # stale objects fade
    assert [m.text for m in labels] == ["red_cube_1", "blue_ball_1 (stale)"]
