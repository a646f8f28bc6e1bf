"""Grasp and placement geometry: which wrist yaw, how deep, where in a container."""

from __future__ import annotations

import math

import numpy as np

from embodied_stack.control.world import footprint_radius, grip_width
from embodied_stack.scene import CONTAINERS, GRASPABLE, ObjectKind
from embodied_stack.schemas import PerceivedObject

TRAY_WALL = 0.006  # m, tray wall thickness (as the simulator builds trays)
SPOT_MARGIN = 0.004  # m, kept free between a placed object and a container's wall
# m, kept free between objects in a container: perception (~5 mm at p95 with the
# 320x240 sim camera) and the grip's offset in the fingers both shift a placement.
OBJECT_GAP = 0.015
FINGER_CLEARANCE = 0.025  # m, opening beyond the object when approaching it
GRIP_DEPTH = 0.02  # m, how far below the top the fingers hold
FINGERTIP_LIFT = 0.015  # m, TCP kept this far above the object's bottom
# Close to this much inside the object's width: a firm grip without crushing it (a
# full-force close on a small cube makes it spin out of the fingers in the simulator).
GRIP_SQUEEZE = 0.007  # m


def wrap(angle: float) -> float:
    """Angle in (-pi, pi]."""
    return math.atan2(math.sin(angle), math.cos(angle))


def grasp_yaws(obj: PerceivedObject, current: float) -> list[float]:
    """Tool yaws that close the fingers across the object, nearest to `current` first.

    The fingers close along the tool's y axis, which at yaw `a` points along
    a - pi/2; a cube can be taken across either pair of faces (every 90 deg),
    a knife only across its width (every 180 deg), round things at any yaw."""
    if obj.kind in (ObjectKind.CYLINDER, ObjectKind.BALL):
        base, step = current, math.pi / 2
    elif obj.kind is ObjectKind.KNIFE:
        base, step = obj.yaw, math.pi
    else:
        base, step = obj.yaw, math.pi / 2
    count = round(2 * math.pi / step)
    candidates = {round(wrap(base + k * step), 9) for k in range(count)}
    return sorted(candidates, key=lambda a: abs(wrap(a - current)))


def aligned_yaws(target_yaw: float, current: float) -> list[float]:
    """Tool yaws that line a held cube up with a cube below, nearest first."""
    candidates = {round(wrap(target_yaw + k * math.pi / 2), 9) for k in range(4)}
    return sorted(candidates, key=lambda a: abs(wrap(a - current)))


def grasp_height(obj: PerceivedObject) -> float:
    """TCP height for the grasp: near the top, never with fingertips on the support."""
    if obj.kind is ObjectKind.BALL:
        return obj.position[2]
    z = max(obj.top_z - GRIP_DEPTH, obj.bottom_z + FINGERTIP_LIFT)
    return min(z, obj.top_z - 0.005)


def close_target(obj: PerceivedObject) -> float:
    """Opening commanded to grasp `obj`."""
    return max(0.0, grip_width(obj) - GRIP_SQUEEZE)


def approach_opening(obj: PerceivedObject, max_opening: float) -> float:
    return min(max_opening, grip_width(obj) + FINGER_CLEARANCE)


def graspable_problem(obj: PerceivedObject, max_opening: float) -> str | None:
    if obj.kind not in GRASPABLE:
        return f"{obj.id} is a {obj.kind.value}, which cannot be grasped"
    if grip_width(obj) > max_opening - 0.01:
        return (
            f"{obj.id} is {grip_width(obj) * 100:.1f} cm wide; "
            f"the gripper opens {max_opening * 100:.1f} cm"
        )
    return None


def _half_extents(obj: PerceivedObject, frame_yaw: float) -> tuple[float, float]:
    """Half extents along a frame's axes: exact for boxes lined up with it, else a bound."""
    if obj.kind in (ObjectKind.CYLINDER, ObjectKind.BALL):
        return obj.size[0] / 2, obj.size[0] / 2
    turn = wrap(obj.yaw - frame_yaw)
    if abs(wrap(4 * turn)) < 0.05:  # lined up (every 90 deg)
        swapped = abs(abs(turn) - math.pi / 2) < 0.1
        return (obj.size[1] / 2, obj.size[0] / 2) if swapped else (obj.size[0] / 2, obj.size[1] / 2)
    r = footprint_radius(obj)
    return r, r


def container_spot(
    container: PerceivedObject, held: PerceivedObject, others: list[PerceivedObject]
) -> tuple[float, float] | str:
    """Free (x, y) inside a container for `held` (placed lined up with the container),
    or why there is none. Prefers the spot nearest an anchor: the centre of a container
    that holds one such object, else one side along its longer axis, leaving the other
    side a twin's room: two objects placed one after the other then sit apart, not one
    in the middle and the next squeezed against it."""
    wall = TRAY_WALL if container.kind is ObjectKind.TRAY else 0.0
    hx = hy = max(held.size[0], held.size[1]) / 2
    half_x = container.size[0] / 2 - wall - hx - SPOT_MARGIN
    half_y = container.size[1] / 2 - wall - hy - SPOT_MARGIN
    if half_x < 0 or half_y < 0:
        return f"{held.id} does not fit inside {container.id}"
    c, s = math.cos(container.yaw), math.sin(container.yaw)
    cx, cy = container.position[0], container.position[1]
    placed = []
    for o in others:
        dx, dy = o.position[0] - cx, o.position[1] - cy
        placed.append((c * dx + s * dy, -s * dx + c * dy, *_half_extents(o, container.yaw)))
    anchor_uv = (0.0, 0.0)  # room for one: the centre
    if half_x >= half_y and hx + OBJECT_GAP / 2 <= half_x:
        anchor_uv = (-(hx + OBJECT_GAP / 2), 0.0)
    elif half_y > half_x and hy + OBJECT_GAP / 2 <= half_y:
        anchor_uv = (0.0, -(hy + OBJECT_GAP / 2))
    best: tuple[float, float, float] | None = None
    best_uv = (0.0, 0.0)
    for u in np.linspace(-half_x, half_x, 17):
        for v in np.linspace(-half_y, half_y, 17):
            gap = min(
                (
                    max(abs(u - ou) - hx - ohx, abs(v - ov) - hy - ohy)
                    for ou, ov, ohx, ohy in placed
                ),
                default=1.0,
            )
            near = -math.hypot(u - anchor_uv[0], v - anchor_uv[1])
            score = (min(gap - OBJECT_GAP, 0.0), near, gap)
            if best is None or score > best:
                best, best_uv = score, (float(u), float(v))
    assert best is not None
    if best[2] < SPOT_MARGIN:  # crowded: a tighter spot is still a spot, never an overlap
        return f"no free spot for {held.id} inside {container.id}"
    u, v = best_uv
    return cx + c * u - s * v, cy + s * u + c * v


def contents(container: PerceivedObject, objects: list[PerceivedObject]) -> list[PerceivedObject]:
    """Objects resting in or on `container` (by support, or by lying over its footprint)."""
    found = []
    for o in objects:
        if o.id == container.id or o.kind is ObjectKind.HUMAN:
            continue
        over = (
            abs(o.position[0] - container.position[0]) <= container.size[0] / 2
            and abs(o.position[1] - container.position[1]) <= container.size[1] / 2
        )
        if o.support == container.id or (over and o.bottom_z >= container.bottom_z - 0.01):
            found.append(o)
    return found


def support_problem(target: PerceivedObject) -> str | None:
    """Why nothing can be put on or into `target`, if so."""
    if target.kind in CONTAINERS or target.kind in (ObjectKind.CUBE, ObjectKind.CYLINDER):
        return None
    return f"{target.id} is a {target.kind.value}: nothing can be put on it"
