"""perception_node over DDS: the real sim_node's camera in, objects with the right
schema out (ids kept when an object moves), markers and an annotated image; bad
frames are refused with nothing published."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from rcl_interfaces.msg import Log
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from embodied_stack.camera import CameraConfig, Intrinsics
from embodied_stack.nodes import qos
from embodied_stack.nodes.perception_node import PerceptionNode
from embodied_stack.nodes.ros_conversions import (
    camera_info_to_ros,
    depth_to_ros,
    image_from_ros,
    image_to_ros,
    json_from_ros,
    json_to_ros,
)
from embodied_stack.schemas import ObjectsMessage, SimControl, SimControlOp
from tests.ros_rig import spinning

pytestmark = pytest.mark.ros


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@dataclass
class Watcher:
    node: Node
    objects: list[ObjectsMessage] = field(default_factory=list)
    markers: list[MarkerArray] = field(default_factory=list)
    annotated: list[Image] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # perception_node's ERROR log lines

    def latest(self) -> dict[str, tuple[float, float, float]]:
        return {o.id: o.position for o in self.objects[-1].objects} if self.objects else {}


def make_watcher(context: Context) -> Watcher:
    node = Node("perception_probe", context=context)
    w = Watcher(node)
    node.create_subscription(
        String,
        "perception/objects",
        lambda m: w.objects.append(json_from_ros(ObjectsMessage, m)),
        qos.STATE,
    )
    node.create_subscription(MarkerArray, "perception/markers", w.markers.append, qos.STATE)
    node.create_subscription(Image, "perception/annotated", w.annotated.append, qos.SENSOR)

    def on_log(entry: Log) -> None:
        if entry.name.endswith("perception_node") and entry.level >= Log.ERROR:
            w.errors.append(entry.msg)

    node.create_subscription(Log, "/rosout", on_log, 100)
    return w


def near(a: tuple[float, ...], b: tuple[float, ...], tol: float = 0.012) -> bool:
    return math.dist(a[:2], b[:2]) < tol


def test_sim_camera_to_objects_markers_and_annotated_image() -> None:
    from embodied_stack.nodes.sim_node import SimNode

    watcher: list[Watcher] = []

    def probe(context: Context) -> Node:
        watcher.append(make_watcher(context))
        return watcher[0].node

    sim, perception = (lambda c: SimNode(context=c)), (lambda c: PerceptionNode(context=c))
    with spinning(sim, perception, probe) as nodes:
        w, control = watcher[0], nodes[2].create_publisher(String, "sim/control", qos.COMMAND)
        # config/scenes/default.yaml: red cube (0.50, -0.15), blue cube (0.45, 0.10), tray
        assert wait_until(lambda: len(w.latest()) == 3), w.latest()
        seen = w.latest()
        assert set(seen) == {"red_cube_1", "blue_cube_1", "green_tray_1"}
        assert near(seen["red_cube_1"], (0.50, -0.15)) and near(seen["blue_cube_1"], (0.45, 0.10))
        message = w.objects[-1]
        assert message.version == 1 and message.frame_id == "world" and message.stamp > 0
        cube = next(o for o in message.objects if o.id == "red_cube_1")
        assert cube.kind.value == "cube" and cube.support == "table" and not cube.stale
        assert cube.size == pytest.approx((0.04, 0.04, 0.04), abs=0.004)
        assert wait_until(lambda: bool(w.markers) and bool(w.annotated))
        assert {m.text for m in w.markers[-1].markers if m.ns == "labels"} == set(seen)
        drawn = image_from_ros(w.annotated[-1])
        assert drawn.shape == (240, 320, 3)  # sim_node SIM_CAMERA

        # A person (here: the runner) moves the red cube: it keeps its id.
        move = SimControl(op=SimControlOp.MOVE, object_id="red_cube", xy=(0.40, -0.25))
        control.publish(json_to_ros(move))
        assert wait_until(lambda: near(w.latest().get("red_cube_1", (0, 0)), (0.40, -0.25)))
        assert set(w.latest()) == set(seen)

        # A simulator reset puts the red cube back: a new world, the ids start over, and
        # no ghost of the old one stays, not even from a frame rendered before the reset.
        control.publish(json_to_ros(SimControl(op=SimControlOp.RESET)))
        assert wait_until(lambda: near(w.latest().get("red_cube_1", (0, 0)), (0.50, -0.15)))
        after = len(w.objects)
        time.sleep(1.0)  # longer than the tracker keeps an unseen object (stale_after_s)
        assert set(w.latest()) == set(seen)
        for message in w.objects[after - 1 :]:
            red = [o.position for o in message.objects if o.color and o.color.value == "red"]
            assert len(red) == 1 and near(red[0], (0.50, -0.15)), message


def rendered_frame() -> tuple[np.ndarray, np.ndarray, CameraConfig]:
    from tests.perception.helpers import CAMERA, render_public

    r = render_public("tasks", "two_cubes_tray")
    return r.rgb, r.depth, CAMERA


def depth_8uc1(depth: np.ndarray, stamp: float) -> Image:
    msg = depth_to_ros(depth, stamp, "cam")
    msg.encoding, msg.step = "8UC1", msg.width
    msg.data = np.clip(depth * 100, 0, 255).astype(np.uint8).tobytes()
    return msg


def test_bad_frames_are_logged_and_publish_nothing() -> None:
    rgb, depth, cam = rendered_frame()
    intr = Intrinsics.from_config(cam)
    watcher: list[Watcher] = []

    def probe(context: Context) -> Node:
        watcher.append(make_watcher(context))
        return watcher[0].node

    no_arm = [Parameter("use_joint_states", value=False)]  # images only, no robot here
    with spinning(lambda c: PerceptionNode(context=c, parameter_overrides=no_arm), probe) as nodes:
        perception, w = nodes[0], watcher[0]
        assert isinstance(perception, PerceptionNode)
        pubs = {
            "rgb": w.node.create_publisher(Image, "camera/color/image_raw", qos.SENSOR),
            "depth": w.node.create_publisher(Image, "camera/depth/image_raw", qos.SENSOR),
            "info": w.node.create_publisher(CameraInfo, "camera/color/camera_info", qos.SENSOR),
        }

        def send_images(colour: Image, metres: Image, stamp: float) -> None:
            for msg in (colour, metres):
                msg.header.stamp = image_to_ros(rgb[:1, :1], stamp, "cam").header.stamp
            pubs["rgb"].publish(colour)
            pubs["depth"].publish(metres)

        def send(
            colour: Image, metres: Image, stamp: float, info: CameraInfo | None = None
        ) -> None:
            pubs["info"].publish(info or camera_info_to_ros(intr, stamp, "cam"))
            time.sleep(0.05)
            send_images(colour, metres, stamp)

        def good(stamp: float) -> None:
            send(image_to_ros(rgb, stamp, "cam"), depth_to_ros(depth, stamp, "cam"), stamp)

        def refused(frame: Callable[[], None], why: str) -> bool:
            """Sent (again, until it arrives) and refused with an error naming why."""
            return wait_until(lambda: (frame(), why in perception.last_error)[1], timeout=20.0)

        assert wait_until(lambda: (good(1.0), len(w.objects) > 0)[1], timeout=30.0)
        assert {o.id for o in w.objects[-1].objects} == {
            "red_cube_1",
            "blue_cube_1",
            "green_tray_1",
        }

        mono = image_to_ros(rgb, 2.0, "cam")
        mono.encoding = "mono8"
        bad_frames = {  # why each is refused: the error names it
            "mono8": (mono, depth_to_ros(depth, 2.0, "cam")),
            "8UC1": (image_to_ros(rgb, 3.0, "cam"), depth_8uc1(depth, 3.0)),
            "differ in size": (
                image_to_ros(rgb[:240], 4.0, "cam"),
                depth_to_ros(depth, 4.0, "cam"),
            ),
            "all-NaN": (
                image_to_ros(rgb, 5.0, "cam"),
                depth_to_ros(np.full_like(depth, np.nan), 5.0, "c"),
            ),
            "valid pixels": (
                image_to_ros(rgb, 6.0, "cam"),
                depth_to_ros(np.zeros_like(depth), 6.0, "c"),
            ),
        }
        for i, (why, (colour, metres)) in enumerate(bad_frames.items()):
            stamp = 2.0 + i
            assert refused(lambda c=colour, m=metres, s=stamp: send(c, m, s), why), (
                why,
                perception.last_error,
            )

        # A bad camera_info is refused, and frames after it wait for a good one (the
        # camera_info is sent first and seen refused: topics are not ordered).
        nan_focal = camera_info_to_ros(intr, 10.0, "cam")
        nan_focal.k[0] = float("nan")
        zero_size = camera_info_to_ros(intr, 11.0, "cam")
        zero_size.width = 0
        bad_infos = {"not finite": (10.0, nan_focal), "zero size": (11.0, zero_size)}
        for why, (stamp, info) in bad_infos.items():
            assert refused(lambda n=info: pubs["info"].publish(n), why), perception.last_error
            for _ in range(3):
                send_images(
                    image_to_ros(rgb, stamp, "cam"), depth_to_ros(depth, stamp, "cam"), stamp
                )
                time.sleep(0.1)
        # A valid camera_info of another image size: the frames do not match it.
        small = camera_info_to_ros(intr.model_copy(update={"width": 320, "height": 240}), 12.0, "c")
        frame = (image_to_ros(rgb, 12.0, "cam"), depth_to_ros(depth, 12.0, "cam"))
        assert refused(lambda: send(*frame, 12.0, small), "does not match"), perception.last_error
        time.sleep(0.3)
        # Nothing was published for any bad frame (their stamps are 2.0 and later)...
        assert all(message.stamp < 2.0 for message in w.objects)
        # ...each was a logged error, naming what was wrong...
        expected = [*bad_frames, *bad_infos, "does not match"]
        assert wait_until(lambda: all(any(why in e for e in w.errors) for why in expected)), (
            w.errors
        )
        # ...and a good camera_info again brings the objects back.
        assert wait_until(lambda: (good(20.0), bool(w.objects) and w.objects[-1].stamp >= 20.0)[1])
