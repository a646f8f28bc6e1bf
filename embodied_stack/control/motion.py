"""MotionBuilder: chains segments from a world's joints, one planned move at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from embodied_stack.control.kinematics import Array, down_rotation, tool_yaw
from embodied_stack.control.segments import GripperSegment, Segment, TrajectorySegment
from embodied_stack.control.trajectory import TrajectoryError

if TYPE_CHECKING:
    from embodied_stack.control.context import SkillContext
    from embodied_stack.control.world import WorldModel


class SkillError(ValueError):
    """A step that cannot be carried out; the message says why."""


class MotionBuilder:
    """Appends segments; `q` and `opening` follow the planned end of the last one."""

    def __init__(self, ctx: SkillContext, world: WorldModel) -> None:
        self.ctx = ctx
        self.q: Array = np.array(world.joints, dtype=float)
        self.opening = world.gripper_opening
        self.limits = ctx.limits_for(world)
        self.segments: list[Segment] = []

    def tcp(self) -> Array:
        return self.ctx.chain.tcp(self.q)

    def tcp_position(self) -> tuple[float, float, float]:
        x, y, z = self.tcp()[:3, 3]
        return float(x), float(y), float(z)

    def tool_yaw(self) -> float:
        return tool_yaw(self.tcp()[:3, :3])

    def line(
        self, x: float, y: float, z: float, yaw: float, label: str, slow: bool = False
    ) -> None:
        """Straight TCP line to (x, y, z), pointing down at `yaw`."""
        self.ctx.config.require_in_workspace(x, y, z)
        target = np.eye(4)
        target[:3, :3] = down_rotation(yaw)
        target[:3, 3] = (x, y, z)
        limits = self.limits.scaled(self.ctx.config.slow_scale) if slow else self.limits
        try:
            command, end = self.ctx.planner.line(self.q, target, limits)
        except TrajectoryError as exc:
            raise SkillError(f"{label}: {exc}") from exc
        self.segments.append(TrajectorySegment(label, command, self.q, end))
        self.q = end

    def joint_to(self, goal: Array, label: str) -> None:
        try:
            command = self.ctx.planner.joint_move(self.q, goal, self.limits)
        except TrajectoryError as exc:
            raise SkillError(f"{label}: {exc}") from exc
        self.segments.append(TrajectorySegment(label, command, self.q, np.array(goal, dtype=float)))
        self.q = np.array(goal, dtype=float)

    def transit(self, x: float, y: float, carry_z: float, yaw: float) -> None:
        """To (x, y) at `carry_z`: first straight up when lower, never down through things."""
        x0, y0, z0 = self.tcp_position()
        if z0 < carry_z - 0.005:
            self.line(x0, y0, carry_z, self.tool_yaw(), "lift to carry height")
        self.line(x, y, carry_z, yaw, "carry across")

    def gripper(self, opening: float, label: str) -> None:
        self.segments.append(GripperSegment(label, opening))
        self.opening = opening
