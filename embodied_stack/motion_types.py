"""Plain, ROS-free mirrors of the joint messages the stack exchanges.

`nodes/ros_conversions.py` turns these into trajectory_msgs/JointTrajectory and
sensor_msgs/JointState and back; the core and the simulator only see these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrajectoryPoint:
    positions: tuple[float, ...]
    time_from_start: float  # s
    velocities: tuple[float, ...] = ()  # empty = not given
    accelerations: tuple[float, ...] = ()


@dataclass(frozen=True)
class JointTrajectoryCommand:
    """A joint trajectory, as joint_trajectory_controller takes it.

    A new command replaces the active one; a command with no points holds position.
    """

    joint_names: tuple[str, ...]
    points: tuple[TrajectoryPoint, ...] = ()

    @property
    def is_hold(self) -> bool:
        return not self.points

    @property
    def duration(self) -> float:
        return self.points[-1].time_from_start if self.points else 0.0

    def problems(
        self, lower: dict[str, float] | None = None, upper: dict[str, float] | None = None
    ) -> list[str]:
        """Why this command must not be followed (empty when it is well formed)."""
        issues: list[str] = []
        n = len(self.joint_names)
        if len(set(self.joint_names)) != n:
            issues.append("duplicate joint names")
        last_t = -math.inf
        for i, pt in enumerate(self.points):
            if len(pt.positions) != n:
                issues.append(f"point {i}: {len(pt.positions)} positions for {n} joints")
                continue
            for name, values in (
                ("velocities", pt.velocities),
                ("accelerations", pt.accelerations),
            ):
                if values and len(values) != n:
                    issues.append(f"point {i}: {len(values)} {name} for {n} joints")
            numbers = (*pt.positions, *pt.velocities, *pt.accelerations, pt.time_from_start)
            if not all(math.isfinite(v) for v in numbers):
                issues.append(f"point {i}: non-finite value")
                continue
            if pt.time_from_start <= last_t:
                issues.append(f"point {i}: time_from_start {pt.time_from_start} not increasing")
            last_t = pt.time_from_start
            for joint, q in zip(self.joint_names, pt.positions, strict=True):
                lo = (lower or {}).get(joint, -math.inf)
                hi = (upper or {}).get(joint, math.inf)
                if not lo - 1e-6 <= q <= hi + 1e-6:
                    issues.append(f"point {i}: {joint} = {q:.4f} outside [{lo:.4f}, {hi:.4f}]")
        return issues


@dataclass(frozen=True)
class JointStateSample:
    names: tuple[str, ...]
    positions: tuple[float, ...]
    velocities: tuple[float, ...] = ()
    stamp: float = 0.0  # s (sim time when the simulator runs)
    efforts: tuple[float, ...] = field(default=())

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.names, self.positions, strict=True))
