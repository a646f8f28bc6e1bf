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


@functools.cache
def detector() -> Detector:
    intr = Intrinsics.from_config(CAMERA)
    return Detector(intr, world_from_optical(CAMERA.position, CAMERA.target))
