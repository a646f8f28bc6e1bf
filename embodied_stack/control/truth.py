"""Perceived objects from the simulator's ground truth (benchmarks and tests stand in
for perception with these; the planner never reads ground truth)."""

from __future__ import annotations

import math

from embodied_stack.scene import CONTAINERS, ObjectKind, Scene
from embodied_stack.schemas import GroundTruth, PerceivedObject

REST_TOL = 0.015  # m


def _yaw(orientation: tuple[float, float, float, float]) -> float:
    x, y, z, w = orientation
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def perceived_objects(truth: GroundTruth, scene: Scene) -> list[PerceivedObject]:
    """Every scene object at its ground-truth pose, with what it rests on."""
    objects = []
    for obj in scene.objects:
        state = truth.objects.get(obj.id)
        if state is None:
            continue
        objects.append(
            PerceivedObject(
                id=obj.id,
                kind=obj.kind,
                color=obj.color,
                position=state.position,
                yaw=_yaw(state.orientation),
                size=obj.extent(),
                stamp=truth.sim_time,
            )
        )
    return [_with_support(o, objects) for o in objects]


def _with_support(obj: PerceivedObject, objects: list[PerceivedObject]) -> PerceivedObject:
    if obj.kind is ObjectKind.HUMAN:
        return obj.model_copy(update={"support": "floor"})
    for below in objects:
        if below.id == obj.id or below.kind is ObjectKind.HUMAN:
            continue
        inside_xy = (
            abs(obj.position[0] - below.position[0]) <= below.size[0] / 2
            and abs(obj.position[1] - below.position[1]) <= below.size[1] / 2
        )
        if not inside_xy:
            continue
        container = below.kind in CONTAINERS
        floor = below.bottom_z + (
            min(0.005, below.size[2] / 3) if below.kind is ObjectKind.TRAY else below.size[2]
        )
        surface = floor if container else below.top_z
        if abs(obj.bottom_z - surface) <= REST_TOL:
            return obj.model_copy(
                update={"support": below.id, "inside": below.kind is ObjectKind.TRAY}
            )
    return obj
