"""What skills need besides the world: the robot, its solvers, limits and red lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Chain
from embodied_stack.control.motion import SkillError
from embodied_stack.control.trajectory import MotionLimits, TrajectoryPlanner
from embodied_stack.control.world import WorldModel
from embodied_stack.robot import RobotProfile
from embodied_stack.safety.redlines import RedLines
from embodied_stack.scene import KeepOutBox, ObjectKind
from embodied_stack.schemas import PerceivedObject

# Plan below the red lines, so that tracking noise on the measured state stays under them.
PLANNING_MARGIN = 0.9


@dataclass(frozen=True)
class SkillConfig:
    """Geometry of the skills and the red lines they must respect."""

    workspace: KeepOutBox
    max_release_height: float = 0.10
    forbidden_skills: tuple[str, ...] = ()
    forbidden_objects: tuple[str, ...] = ()
    release_gap: float = 0.01  # m: the held object's bottom above its support at release
    clearance: float = 0.05  # m: fingertips or held object above obstacle tops in transit
    min_carry_z: float = 0.15  # m, TCP
    approach_height: float = 0.05  # m: the last part of a descent goes slowly
    finger_reach: float = 0.012  # m: fingertips below the TCP
    slow_scale: float = 0.3  # speed fraction for the slow approach
    max_wait_s: float = 60.0
    workspace_margin: float = 0.01  # m: TCP targets stay this far inside the box

    @classmethod
    def from_redlines(cls, red: RedLines) -> SkillConfig:
        return cls(
            workspace=red.workspace,
            max_release_height=red.max_release_height,
            forbidden_skills=tuple(red.forbidden_skills),
            forbidden_objects=tuple(k.value for k in red.forbidden_objects),
        )

    def carry_z(self, obstacles: Sequence[PerceivedObject], below_tcp: float) -> float:
        """TCP height that clears every obstacle by `clearance` (something `below_tcp` m
        under the TCP: fingertips, or the held object's bottom)."""
        top = max((o.top_z for o in obstacles), default=0.0)
        z = max(self.min_carry_z, top + self.clearance + below_tcp)
        ceiling = self.workspace.max[2] - self.workspace_margin
        if z > ceiling:
            raise SkillError(
                f"carrying needs the TCP at {z:.2f} m, above the workspace ({ceiling:.2f} m)"
            )
        return z

    def require_reachable_xy(self, x: float, y: float, what: str) -> None:
        lo, hi, m = self.workspace.min, self.workspace.max, self.workspace_margin
        if not (lo[0] + m <= x <= hi[0] - m and lo[1] + m <= y <= hi[1] - m):
            raise SkillError(
                f"{what} at ({x:.3f}, {y:.3f}) is outside the workspace "
                f"x {lo[0]:.2f}..{hi[0]:.2f}, y {lo[1]:.2f}..{hi[1]:.2f}"
            )

    def require_in_workspace(self, x: float, y: float, z: float) -> None:
        lo, hi, m = self.workspace.min, self.workspace.max, self.workspace_margin
        inside = all(a + m <= v <= b - m for v, a, b in zip((x, y, z), lo, hi, strict=True))
        if not inside:
            raise SkillError(
                f"TCP target ({x:.3f}, {y:.3f}, {z:.3f}) is outside the workspace "
                f"{tuple(lo)}..{tuple(hi)}"
            )


class SkillContext:
    """The robot's kinematics, IK, trajectory planner, limits and skill configuration."""

    def __init__(
        self,
        profile: RobotProfile,
        *,
        limits: MotionLimits,
        config: SkillConfig,
        reduced_tcp_speed: float | None = None,
    ) -> None:
        self.profile = profile
        self.chain = Chain(profile)
        self.ik = IkSolver(self.chain)
        self.planner = TrajectoryPlanner(profile, self.chain, self.ik)
        self.limits = limits
        self.config = config
        self.reduced_tcp_speed = reduced_tcp_speed
        self.home = np.array(profile.home)

    @classmethod
    def from_redlines(cls, profile: RobotProfile, red: RedLines) -> SkillContext:
        """Limits a margin below the red lines (the TCP speed from `max_tcp_speed`)."""
        limits = MotionLimits.from_profile(
            profile,
            red.max_tcp_speed * PLANNING_MARGIN,
            joint_speed_scale=red.joint_speed_scale * PLANNING_MARGIN,
        )
        return cls(
            profile,
            limits=limits,
            config=SkillConfig.from_redlines(red),
            reduced_tcp_speed=red.reduced_tcp_speed * PLANNING_MARGIN,
        )

    def limits_for(self, world: WorldModel) -> MotionLimits:
        """The limits at the world's speed scale, slower still when a person is near."""
        limits = self.limits.scaled(world.speed_scale)
        people = any(o.kind is ObjectKind.HUMAN for o in world.objects.values())
        if people and self.reduced_tcp_speed is not None:
            slower = min(limits.max_tcp_speed, self.reduced_tcp_speed)
            limits = (
                limits.scaled(slower / limits.max_tcp_speed)
                if slower < limits.max_tcp_speed
                else limits
            )
        return limits
