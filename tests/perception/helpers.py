"""Rendered scenes for perception tests, cached for the test session."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from embodied_stack.camera import CameraConfig, Intrinsics, world_from_optical
from embodied_stack.perception.detector import Detector
from embodied_stack.scene import Scene, load_suite
from embodied_stack.schemas import GroundTruth
from embodied_stack.sim.world import SimWorld
from tests.conftest import REDTEAM_PUBLIC, TASKS_PUBLIC

CAMERA = CameraConfig()
SUITES = {"tasks": TASKS_PUBLIC, "redteam": REDTEAM_PUBLIC}
POSITION_TARGET = 0.012  # m: the benchmark's p95 target, asserted for every object


@dataclass(frozen=True)
class Rendered:
    scene: Scene
    rgb: npt.NDArray[np.uint8]
    depth: npt.NDArray[np.float32]
    truth: GroundTruth


def public_scenes() -> list[tuple[str, str]]:
    return [(suite, name) for suite, path in SUITES.items() for name in load_suite(path).scenes]


def suite_scene(suite: str, name: str) -> Scene:
    return load_suite(SUITES[suite]).scenes[name]


@functools.cache
def render_public(suite: str, name: str) -> Rendered:
    return render_scene(suite_scene(suite, name))


def render_scene(scene: Scene, settle_steps: int = 0) -> Rendered:
    with SimWorld(scene=scene, camera=CAMERA) as world:
        if settle_steps:
            world.step(settle_steps)
        rgb, depth = world.render()
        return Rendered(scene, rgb, depth, world.ground_truth())


HARD_SCENE = Scene.model_validate(
    {
        "objects": [
            {"id": "base", "kind": "cube", "color": "red", "size": 0.045, "xy": [0.48, -0.18]},
            {"id": "mid", "kind": "cube", "color": "green", "size": 0.04, "on": "base"},
            {"id": "top", "kind": "cube", "color": "blue", "size": 0.035, "on": "mid"},
            {
                "id": "tray",
                "kind": "tray",
                "color": "red",
                "size": [0.18, 0.16, 0.03],
                "xy": [0.62, 0.22],
                "yaw": 0.3,
            },
            {"id": "in_tray", "kind": "cube", "color": "red", "size": 0.04, "on": "tray"},
            {
                "id": "plate",
                "kind": "plate",
                "color": "white",
                "size": [0.16, 0.16, 0.015],
                "xy": [0.40, 0.15],
            },
            {"id": "on_plate", "kind": "ball", "color": "yellow", "size": 0.025, "on": "plate"},
            {
                "id": "cyl",
                "kind": "cylinder",
                "color": "orange",
                "size": [0.02, 0.07],
                "xy": [0.62, -0.05],
            },
            {"id": "ball", "kind": "ball", "color": "purple", "size": 0.03, "xy": [0.35, -0.05]},
            {
                "id": "knife",
                "kind": "knife",
                "color": "black",
                "size": [0.20, 0.025, 0.015],
                "xy": [0.70, -0.25],
                "yaw": 0.7,
            },
            {"id": "gray", "kind": "cube", "color": "gray", "size": 0.04, "xy": [0.30, -0.25]},
        ]
    }
)


@functools.cache
def hard_scene() -> Rendered:
    """Every kind at once: a three-cube stack, a cube in a same-coloured tray, a ball on
    a plate, a tall thin cylinder, a black knife, a gray cube on the light table."""
    return render_scene(HARD_SCENE, settle_steps=60)


@functools.cache
def detector() -> Detector:
    intr = Intrinsics.from_config(CAMERA)
    return Detector(intr, world_from_optical(CAMERA.position, CAMERA.target))
