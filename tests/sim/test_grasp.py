"""Grasping works physically: commanded fingers hold an object through fast moves."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_stack.config import parse_yaml
from embodied_stack.scene import Scene
from embodied_stack.sim.world import SimWorld
from tests.sim.helpers import grasp, ik, smooth_command

SCENE = """
objects:
  - {id: small,  kind: cube, color: red, size: 0.03, xy: [0.50, -0.15], yaw: 0.3}
  - {id: large,  kind: cube, color: blue, size: 0.05, xy: [0.45, 0.10]}
  - {id: cyl,    kind: cylinder, color: purple, size: [0.022, 0.06], xy: [0.40, -0.05]}
"""

# Min-jerk moves between these TCP points peak at ~0.5 m/s (the TCP speed limit).
WAYPOINTS = [(0.60, 0.30, 0.30), (0.35, -0.30, 0.20), (0.55, 0.0, 0.40)]


def offset_from_tcp(world: SimWorld, object_id: str) -> np.ndarray:
    return np.subtract(world.ground_truth().objects[object_id].position, world.tcp_pose()[0])


@pytest.mark.parametrize("object_id", ["small", "large", "cyl"])
def test_object_lifts_with_the_hand_and_does_not_slip(object_id: str) -> None:
    with SimWorld(scene=Scene.model_validate(parse_yaml(SCENE))) as world:
        start = world.ground_truth().objects[object_id].position
        grasp(world, object_id, lift=0.15)
        held = offset_from_tcp(world, object_id)
        assert np.linalg.norm(held) < 0.02
        assert world.ground_truth().objects[object_id].position[2] > start[2] + 0.12
        fastest, worst_slip = 0.0, 0.0
        for waypoint in WAYPOINTS:
            here = world.tcp_pose()[0]
            duration = 1.875 * float(np.linalg.norm(np.subtract(waypoint, here))) / 0.5
            world.command_trajectory(smooth_command(world, ik(world, waypoint), duration))
            for _ in range(round(duration * world.physics_hz) + 24):
                world.step()
                fastest = max(fastest, world.ground_truth().tcp_speed)
            slip = float(np.linalg.norm(offset_from_tcp(world, object_id) - held))
            worst_slip = max(worst_slip, slip)
        assert fastest > 0.4  # the moves did reach the speed limit
        assert worst_slip < 0.005
        opening = world.ground_truth().gripper_opening
        assert 0.0 < opening < 0.06  # the fingers stopped on the object


def test_an_opened_gripper_lets_go() -> None:
    with SimWorld(scene=Scene.model_validate(parse_yaml(SCENE))) as world:
        grasp(world, "small", lift=0.10)
        world.set_gripper(world.robot.gripper.max_opening)
        world.step(240)
        assert world.ground_truth().objects["small"].position[2] < 0.02
        world.set_gripper(5.0)  # clamped
        assert world.gripper_target == world.robot.gripper.max_opening
