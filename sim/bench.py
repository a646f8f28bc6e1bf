"""`embodied-stack bench sim --json OUT`: physics and camera throughput.

Figures: physics_steps_per_s and rtf_physics (default scene, arm following a
trajectory, no camera), camera_fps_320x240 and camera_fps_640x480 (colour +
depth). Targets on a 2-core machine: rtf_physics >= 20, camera_fps_320x240 >= 15.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from embodied_stack.camera import CameraConfig
from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.scene import load_scene

from .world import SimWorld

TARGETS = {"rtf_physics": 20.0, "camera_fps_320x240": 15.0}


def _swing(world: SimWorld) -> JointTrajectoryCommand:
    """A back-and-forth arm motion, so the solver works as it does in a task."""
    home = np.array(world.robot.home)
    away = home + np.array([0.5, 0.3, 0.0, 0.3, 0.0, -0.2, 0.4])
    points = tuple(
        TrajectoryPoint(tuple((away if i % 2 else home).tolist()), 1.0 * (i + 1)) for i in range(60)
    )
    return JointTrajectoryCommand(tuple(world.robot.joints), points)


def measure_physics(world: SimWorld, seconds: float) -> float:
    """Physics steps per wall second."""
    problems = world.command_trajectory(_swing(world))
    if problems:  # a held arm is a lighter load than a task: the figure would flatter
        raise RuntimeError(f"bench sim: the swing trajectory was rejected: {problems}")
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        world.step(240)
        steps += 240
    return steps / (time.perf_counter() - start)


def measure_camera(world: SimWorld, width: int, height: int, seconds: float) -> float:
    """Colour + depth frames per wall second at one resolution."""
    cam = world.camera.resized(width, height)
    frames, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or frames < 3:
        world.render(cam)
        frames += 1
    return frames / (time.perf_counter() - start)


def run(seconds: float = 3.0, scene_path: str = "scenes/default.yaml") -> dict[str, float]:
    from embodied_stack.config import config_path

    with SimWorld(scene=load_scene(config_path(scene_path)), camera=CameraConfig()) as world:
        steps_per_s = measure_physics(world, seconds)
        return {
            "physics_steps_per_s": round(steps_per_s, 1),
            "rtf_physics": round(steps_per_s / world.physics_hz, 2),
            "camera_fps_320x240": round(measure_camera(world, 320, 240, seconds), 2),
            "camera_fps_640x480": round(measure_camera(world, 640, 480, seconds), 2),
        }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="embodied-stack bench sim", description=__doc__)
    parser.add_argument("--json", dest="json_out", help="write the figures to this file")
    parser.add_argument("--seconds", type=float, default=3.0, help="wall time per figure")
    parser.add_argument("--scene", default="scenes/default.yaml", help="scene file")
    args = parser.parse_args(argv)
    figures = run(args.seconds, args.scene)
    for name, value in figures.items():
        target = TARGETS.get(name)
        note = f"  (target >= {target:g})" if target is not None else ""
        print(f"{name:22s} {value:10.2f}{note}")
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"bench": "sim", **figures}, indent=2) + "\n")
    return 0
