"""Object geometry on ground-truth poses: lowest and highest points, footprints."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from embodied_stack.scene import ObjectKind, SceneObject
from embodied_stack.schemas import BodyState


def rotation(orientation: tuple[float, float, float, float]) -> np.ndarray:
    """3x3 rotation matrix of a quaternion x, y, z, w."""
    x, y, z, w = orientation
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def half_height_z(obj: SceneObject, state: BodyState) -> float:
    """Half of the object's vertical extent in its current orientation."""
    ex, ey, ez = obj.extent()
    if obj.kind is ObjectKind.BALL:
        return ex / 2
    axis_z = rotation(state.orientation)[2]  # z row: how each body axis projects on world z
    if obj.kind is ObjectKind.CYLINDER:
        a = abs(float(axis_z[2]))
        return ez / 2 * a + ex / 2 * math.sqrt(max(0.0, 1 - a * a))
    return float(np.abs(axis_z) @ np.array([ex, ey, ez]) / 2)


def bottom_z(obj: SceneObject, state: BodyState) -> float:
    return state.position[2] - half_height_z(obj, state)


def top_z(obj: SceneObject, state: BodyState) -> float:
    return state.position[2] + half_height_z(obj, state)


@dataclass(frozen=True)
class Footprint:
    """An object's outline seen from above: a (yawed) rectangle or a circle."""

    centre: tuple[float, float]
    yaw: float
    half: tuple[float, float]  # half sizes along the object's x, y
    round: bool = False  # a circle of radius half[0]

    def contains(self, x: float, y: float) -> tuple[bool, float]:
        """Whether (x, y) lies inside, and the margin to the edge (negative outside), m."""
        dx, dy = x - self.centre[0], y - self.centre[1]
        if self.round:
            margin = self.half[0] - math.hypot(dx, dy)
        else:
            c, s = math.cos(self.yaw), math.sin(self.yaw)
            lx, ly = c * dx + s * dy, -s * dx + c * dy
            margin = min(self.half[0] - abs(lx), self.half[1] - abs(ly))
        return margin >= 0.0, margin


def footprint(obj: SceneObject, state: BodyState, inset: float = 0.0) -> Footprint:
    ex, ey, _ez = obj.extent()
    x_axis = rotation(state.orientation)[:, 0]
    yaw = math.atan2(float(x_axis[1]), float(x_axis[0]))
    centre = (state.position[0], state.position[1])
    round_ = obj.kind in (ObjectKind.BALL, ObjectKind.CYLINDER)
    return Footprint(centre, yaw, (ex / 2 - inset, ey / 2 - inset), round_)
