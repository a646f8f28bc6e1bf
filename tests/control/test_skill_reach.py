"""Pick, place into a tray, stack and place_at validate anywhere on the reachable part
of the table, for 3-5 cm cubes at any yaw (expansion only: cheap, no simulator)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_stack.control.context import SkillContext
from embodied_stack.control.skills import validate_plan
from embodied_stack.control.world import WorldModel
from embodied_stack.robot import RobotProfile
from embodied_stack.scene import Scene, SceneObject
from tests.control.helpers import plan_of, scene_objects

# The table the task suites use, inside the red-line workspace: the Panda reaches a
# top-down grasp out to ~0.72 m from its base (tests/control/test_ik.py).
XS = (0.32, 0.42, 0.52, 0.62, 0.70)
YS = (-0.32, -0.16, 0.0, 0.16, 0.32)
POINTS = [(x, y) for x in XS for y in YS if math.hypot(x, y) <= 0.72]
SIZES = (0.03, 0.04, 0.05)
YAWS = (0.0, 0.5, 1.2, -0.8, math.pi / 4)
# Where the tray and the cube to stack on stand: the two farthest from the point.
SPOTS = ((0.62, 0.26), (0.62, -0.26), (0.38, 0.28), (0.38, -0.28))


def scene_at(x: float, y: float, size: float, yaw: float) -> Scene:
    tray_xy, base_xy = sorted(SPOTS, key=lambda s: -math.hypot(s[0] - x, s[1] - y))[:2]
    objects = [
        {"id": "cube", "kind": "cube", "size": size, "xy": (x, y), "yaw": yaw},
        {"id": "tray", "kind": "tray", "size": (0.18, 0.18, 0.03), "xy": tray_xy},
        {"id": "base", "kind": "cube", "size": 0.05, "xy": base_xy, "yaw": 0.3},
    ]
    return Scene(objects=[SceneObject.model_validate(o) for o in objects])


@pytest.mark.parametrize(
    ("x", "y", "size", "yaw"),
    [(x, y, SIZES[i % 3], YAWS[i % 5]) for i, (x, y) in enumerate(POINTS)],
)
def test_skills_validate_across_the_reachable_table(
    x: float, y: float, size: float, yaw: float, ctx: SkillContext, profile: RobotProfile
) -> None:
    scene = scene_at(x, y, size, yaw)
    world = WorldModel(
        joints=np.array(profile.home),
        gripper_opening=profile.gripper.max_opening,
        objects={o.id: o for o in scene_objects(scene)},
    )
    plan = plan_of(
        ("pick", {"object": "cube"}),
        ("place", {"target": "tray"}),
        ("pick", {"object": "cube"}),
        ("place", {"target": "base"}),
        ("pick", {"object": "cube"}),
        ("place_at", {"x": x, "y": y}),  # and back to where it was
        ("go_home", {}),
    )
    expansions, error = validate_plan(plan.steps, world, ctx)
    assert error is None, error
    after = expansions[-1].world
    assert after.held is None
    assert np.allclose(after.objects["cube"].position[:2], (x, y))
