"""The black box over DDS: every topic to MCAP in the ROS 2 encoding, read back by
mcap_ros2, and the ring buffer's snapshot for incident bundles."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import rclpy
from mcap_ros2.reader import read_ros2_messages
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from embodied_stack.nodes import qos
from embodied_stack.nodes.launcher import InProcessStack
from embodied_stack.nodes.recorder import RecorderNode, start_recording

pytestmark = pytest.mark.ros


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _trajectory() -> JointTrajectory:
    point = JointTrajectoryPoint(positions=[0.1, -0.2, 0.3])
    point.time_from_start.sec = 2
    return JointTrajectory(joint_names=["j1", "j2", "j3"], points=[point])


def test_topics_round_trip_through_mcap(tmp_path: Path) -> None:
    context = Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(context=context)
    talker = Node("talker", namespace="/robot1", context=context)
    estop = talker.create_publisher(Bool, "safety/estop", qos.LATCHED)
    estop.publish(Bool(data=True))  # before the recorder exists: latched, still recorded
    plan = talker.create_publisher(String, "planner/plan", qos.COMMAND)
    image = talker.create_publisher(Image, "camera/color/image_raw", qos.SENSOR)
    traj = talker.create_publisher(
        JointTrajectory, "joint_trajectory_controller/joint_trajectory", qos.COMMAND
    )
    recorder_node = RecorderNode(tmp_path / "run.mcap", context=context, namespace="/robot1")
    recorder = recorder_node.recorder
    for node in (talker, recorder_node):
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        wanted = {"/robot1/safety/estop", "/robot1/planner/plan", "/robot1/camera/color/image_raw"}
        assert wait_until(lambda: wanted <= set(recorder.topics))
        assert wait_until(
            lambda: plan.get_subscription_count() > 0 and traj.get_subscription_count() > 0
        )
        for i in range(5):
            plan.publish(String(data=f'{{"plan_id": "p{i}"}}'))
        img = Image(height=2, width=3, encoding="rgb8", step=9, data=bytes(range(18)))
        img.header.frame_id = "camera_optical"
        image.publish(img)
        traj.publish(_trajectory())
        assert wait_until(lambda: recorder.messages >= 8)
        snapshot = tmp_path / "incident.mcap"
        assert recorder.snapshot(snapshot, seconds=60.0) >= 8
    finally:
        executor.shutdown(timeout_sec=5.0)
        recorder_node.destroy_node()
        talker.destroy_node()
        rclpy.try_shutdown(context=context)
        thread.join(timeout=5.0)

    for path in (tmp_path / "run.mcap", snapshot):
        decoded: dict[str, list[object]] = {}
        for item in read_ros2_messages(str(path)):
            decoded.setdefault(item.channel.topic, []).append(item.ros_msg)
            assert item.schema.encoding == "ros2msg" and item.channel.message_encoding == "cdr"
        assert [m.data for m in decoded["/robot1/planner/plan"]] == [  # type: ignore[attr-defined]
            f'{{"plan_id": "p{i}"}}' for i in range(5)
        ]
        assert decoded["/robot1/safety/estop"][0].data is True  # type: ignore[attr-defined]
        got = decoded["/robot1/camera/color/image_raw"][0]
        assert (got.width, got.encoding, bytes(got.data)) == (3, "rgb8", bytes(range(18)))  # type: ignore[attr-defined]
        assert got.header.frame_id == "camera_optical"  # type: ignore[attr-defined]
        (t,) = decoded["/robot1/joint_trajectory_controller/joint_trajectory"]
        assert list(t.points[0].positions) == [0.1, -0.2, 0.3]  # type: ignore[attr-defined]
        assert t.points[0].time_from_start.sec == 2  # type: ignore[attr-defined]


def test_start_recording_joins_a_running_stack(tmp_path: Path) -> None:
    """What `embodied-stack run --record FILE.mcap` calls, on the real one-process stack."""
    path = tmp_path / "stack.mcap"
    with InProcessStack([], namespace="/robot2") as stack:
        talker = Node("talker", namespace="/robot2", context=stack.context)
        head = talker.create_publisher(String, "audit/head", qos.LATCHED)
        head.publish(String(data='{"length": 1}'))
        stack.attach(talker)
        recording = start_recording(stack, path)
        assert wait_until(lambda: recording.recorder.messages >= 1)
        recording.close()
        stack.detach(talker)
        talker.destroy_node()
    topics = {item.channel.topic: item.ros_msg.data for item in read_ros2_messages(str(path))}
    assert topics["/robot2/audit/head"] == '{"length": 1}'
