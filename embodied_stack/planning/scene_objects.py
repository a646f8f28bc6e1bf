"""A suite scene as perception would report it: for benchmarks, tests and dry plans.

The planner never reads the simulator's ground truth at run time; this is the
scene file's own description (resting poses, supports), used where no camera runs.
"""

from __future__ import annotations

from embodied_stack.scene import ObjectKind, Scene
from embodied_stack.schemas import PerceivedObject


def perceived_objects(scene: Scene) -> list[PerceivedObject]:
    """Every scene object as a PerceivedObject at its resting pose."""
    out = []
    for obj in scene.objects:
        position, yaw = scene.resting_pose(obj.id)
        support = "floor" if obj.kind is ObjectKind.HUMAN else (obj.on or "table")
        out.append(
            PerceivedObject(
                id=obj.id,
                kind=obj.kind,
                color=obj.color,
                position=position,
                yaw=yaw,
                size=obj.extent(),
                support=support,
            )
        )
    return out
