"""Bad frames are refused with an error naming the problem, never half-used."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_stack.camera import CameraConfig, Intrinsics, world_from_optical
from embodied_stack.perception.detector import Detector
from embodied_stack.perception.inputs import PerceptionInputError
from tests.perception.helpers import detector, render_public

H, W = 480, 640


def frame() -> tuple[np.ndarray, np.ndarray]:
    r = render_public("tasks", "two_cubes_tray")
    return r.rgb.copy(), r.depth.copy()


@pytest.mark.parametrize(
    ("rgb", "depth", "message"),
    [
        (np.zeros((H, W, 3), np.float32), np.ones((H, W), np.float32), "uint8"),
        (np.zeros((H, W), np.uint8), np.ones((H, W), np.float32), "uint8"),
        (np.zeros((H, W, 4), np.uint8), np.ones((H, W), np.float32), "uint8"),
        (np.zeros((H, W, 3), np.uint8), np.ones((H, W), np.uint16), "32FC1"),
        (np.zeros((H, W, 3), np.uint8), np.ones((H, W - 1), np.float32), "differ"),
        (np.zeros((240, 320, 3), np.uint8), np.ones((240, 320), np.float32), "camera info"),
        (np.zeros((H, W, 3), np.uint8), np.full((H, W), np.nan, np.float32), "all-NaN"),
        (np.zeros((H, W, 3), np.uint8), np.zeros((H, W), np.float32), "valid pixels"),
        ([[0]], np.ones((H, W), np.float32), "numpy"),
    ],
)
def test_bad_frames_raise_a_clear_error(rgb: object, depth: object, message: str) -> None:
    with pytest.raises(PerceptionInputError, match=message):
        detector().detect(rgb, depth)


def test_empty_image_is_refused() -> None:
    cam = CameraConfig(width=16, height=16)
    small = Detector(Intrinsics.from_config(cam), world_from_optical(cam.position, cam.target))
    with pytest.raises(PerceptionInputError):
        small.detect(np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.float32))


def test_float64_depth_is_accepted() -> None:
    rgb, depth = frame()
    assert len(detector().detect(rgb, depth.astype(np.float64))) == 3


def test_any_image_size_with_matching_intrinsics() -> None:
    """Half resolution from the same camera: the same objects, coarser but in place."""
    from embodied_stack.sim.world import SimWorld
    from tests.perception.helpers import CAMERA

    small_cam = CAMERA.resized(320, 240)
    r = render_public("tasks", "two_cubes_tray")
    with SimWorld(scene=r.scene, camera=small_cam) as world:
        rgb, depth = world.render()
    small = Detector(
        Intrinsics.from_config(small_cam), world_from_optical(small_cam.position, small_cam.target)
    )
    found = sorted(d.label() for d in small.detect(rgb, depth))
    assert found == ["blue cube", "green tray", "red cube"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fx": float("nan")}, "not finite"),
        ({"fy": 0.0}, "focal"),
        ({"cx": 700.0}, "principal point"),
        ({"cy": -1.0}, "principal point"),
    ],
)
def test_bad_camera_info_is_refused(change: dict[str, float], message: str) -> None:
    from embodied_stack.perception.inputs import check_intrinsics
    from tests.perception.helpers import CAMERA

    good = Intrinsics.from_config(CAMERA)
    assert check_intrinsics(good) is good
    with pytest.raises(PerceptionInputError, match=message):
        check_intrinsics(good.model_copy(update=change))
