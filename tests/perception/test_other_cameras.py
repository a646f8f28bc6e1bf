"""The camera pose and intrinsics are configuration: other mounts see the same scene."""

from __future__ import annotations

import pytest

from embodied_stack.camera import CameraConfig, Intrinsics, world_from_optical
from embodied_stack.perception.arm_mask import ArmModel
from embodied_stack.perception.detector import Detector
from embodied_stack.perception.evaluate import false_positives, match_scene
from embodied_stack.robot import load_robot
from embodied_stack.sim.world import SimWorld
from tests.perception.helpers import POSITION_TARGET, suite_scene

CAMERAS = {
    "from_the_side": CameraConfig(position=(0.45, -0.9, 0.9), target=(0.5, 0.0, 0.0)),
    "straight_down_wide": CameraConfig(
        position=(0.5, 0.0, 1.2), target=(0.5, 0.0, 0.0), width=848, height=480, fov_y_deg=42.0
    ),
    "corner_small": CameraConfig(
        position=(1.2, 0.5, 0.8), target=(0.45, 0.0, 0.0), width=424, height=240
    ),
}
SCENES = [("tasks", "two_cubes_tray"), ("tasks", "colors_and_plates"), ("tasks", "stacking")]


@pytest.mark.parametrize("mount", sorted(CAMERAS))
def test_other_camera_mounts_see_the_same_objects(mount: str) -> None:
    cam = CAMERAS[mount]
    detector = Detector(Intrinsics.from_config(cam), world_from_optical(cam.position, cam.target))
    arm = ArmModel(load_robot("panda"))  # at home, as the simulator starts
    for suite, name in SCENES:
        scene = suite_scene(suite, name)
        with SimWorld(scene=scene, camera=cam) as world:
            rgb, depth = world.render()
            truth = world.ground_truth()
        detections = detector.detect(rgb, depth, exclude=arm.contains)
        matches = match_scene(scene, truth, detections)
        assert all(m.detection is not None for m in matches), (name, matches)
        assert max(m.pos_err for m in matches) < POSITION_TARGET, name
        assert not false_positives(matches, detections), name
