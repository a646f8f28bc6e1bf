"""Helpers of the motion tests: scenes as perception would report them."""

from __future__ import annotations

import numpy as np

from embodied_stack.control.world import WorldModel
from embodied_stack.robot import RobotProfile
from embodied_stack.scene import Scene
from embodied_stack.schemas import PerceivedObject, Plan, PlannerKind, PlanStep, Provenance


def scene_objects(scene: Scene) -> list[PerceivedObject]:
    """What perception would report for a scene at rest (its resting poses)."""
    objects = []
    for obj in scene.objects:
        position, yaw = scene.resting_pose(obj.id)
        objects.append(
            PerceivedObject(
                id=obj.id,
                kind=obj.kind,
                color=obj.color,
                position=position,
                yaw=yaw,
                size=obj.extent(),
                support=obj.on or "table",
            )
        )
    return objects


def world_for(scene: Scene, profile: RobotProfile) -> WorldModel:
    """The arm at home, gripper open, the scene's objects perceived."""
    return WorldModel(
        joints=np.array(profile.home),
        gripper_opening=profile.gripper.max_opening,
        objects={o.id: o for o in scene_objects(scene)},
    )


def plan_of(*steps: tuple[str, dict[str, float | str]]) -> Plan:
    """An approved plan typed by an operator."""
    return Plan(
        steps=[PlanStep.model_validate({"skill": s, "args": a}) for s, a in steps],
        provenance=Provenance(planner=PlannerKind.OPERATOR, model="test"),
        ai_generated=False,
        status="approved",
    )
