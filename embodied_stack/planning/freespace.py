"""A free spot on the table to set an object down ("take the red cube off the green one")."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from embodied_stack.planning.refusal import Refusal
from embodied_stack.scene import ObjectKind
from embodied_stack.schemas import PerceivedObject

# Comfortable reach of the arm on the table, well inside the default workspace red line.
SPOT_X = (0.32, 0.68)
SPOT_Y = (-0.32, 0.32)
GRID_M = 0.02
AWAY_M = 0.15  # "move X away from Y": this much farther from Y
CLEARANCE_M = 0.05  # gap kept between the object's footprint and any other footprint


def _radius(obj: PerceivedObject) -> float:
    return math.hypot(obj.size[0], obj.size[1]) / 2


def free_spot(
    objects: Sequence[PerceivedObject],
    obj: PerceivedObject,
    *,
    exclude: Collection[str] = (),
    near: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """The clear table spot nearest to `near` (default: where `obj` is), away from every
    other object and person, for setting `obj` down."""
    others = [o for o in objects if o.id not in exclude and o.id != obj.id and o.support != "held"]
    anchor = near if near is not None else (obj.position[0], obj.position[1])
    need = _radius(obj) + CLEARANCE_M
    best: tuple[float, float, float] | None = None
    nx = round((SPOT_X[1] - SPOT_X[0]) / GRID_M)
    ny = round((SPOT_Y[1] - SPOT_Y[0]) / GRID_M)
    for i in range(nx + 1):
        x = SPOT_X[0] + i * GRID_M
        for j in range(ny + 1):
            y = SPOT_Y[0] + j * GRID_M
            if all(_clear(x, y, o, need) for o in others):
                d = math.hypot(x - anchor[0], y - anchor[1])
                if best is None or d < best[0]:
                    best = (d, x, y)
    if best is None:
        raise Refusal("no_free_space", f"no clear spot on the table to set {obj.id} down")
    return best[1], best[2]


def beside(target: PerceivedObject, obj: PerceivedObject, side: str) -> tuple[float, float]:
    """Where `obj` goes to be left/right of, or next to, `target` (robot's view: +y left)."""
    gap = _radius(target) + _radius(obj) + CLEARANCE_M / 2
    if side == "away_from":  # straight away from it, a hand's width farther
        dx, dy = obj.position[0] - target.position[0], obj.position[1] - target.position[1]
        norm = math.hypot(dx, dy) or 1.0
        return obj.position[0] + AWAY_M * dx / norm, obj.position[1] + AWAY_M * dy / norm
    dy = {"left_of": gap, "right_of": -gap}.get(side, 0.0)
    dx = 0.0 if dy else -gap  # "next to": on the robot's side of it
    return target.position[0] + dx, target.position[1] + dy


def _clear(x: float, y: float, other: PerceivedObject, need: float) -> bool:
    margin = 0.35 if other.kind is ObjectKind.HUMAN else 0.0
    gap = math.hypot(x - other.position[0], y - other.position[1])
    return gap >= need + _radius(other) + margin
