"""Joint trajectory following the way ros2_control's joint_trajectory_controller does.

A new command replaces the active one and starts from the current setpoint; its
points are interpolated in time (cubic Hermite where both ends carry velocities,
linear otherwise); after the last point the last point is held; an empty command
holds position. Pure numpy: the simulator asks for a setpoint at each step.

A command is refused whole, with the reason, when a point is malformed, not finite,
outside the joint limits or faster than a joint's velocity limit: a stated velocity
above it, or a segment (from the current setpoint to the first point, then point to
point) whose mean speed is above it, which no interpolation could follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from embodied_stack.motion_types import JointTrajectoryCommand

Array = npt.NDArray[np.float64]

# Slack on the velocity limits: relative (rounding in the sender's time scaling) and,
# for a segment's mean speed, an absolute distance (the sender plans from the measured
# position, the follower starts from its setpoint a tracking error away).
VELOCITY_REL_TOL = 0.01
SEGMENT_SLACK_RAD = 0.005


@dataclass(frozen=True)
class Knot:
    t: float  # absolute (sim) time, s
    q: Array
    qd: Array | None  # None: velocity not given, interpolate linearly


class TrajectoryFollower:
    """Setpoints for a fixed, ordered set of joints."""

    def __init__(
        self,
        *,
        joint_names: list[str],
        lower: list[float],
        upper: list[float],
        max_velocity: list[float] | None = None,
    ) -> None:
        """`max_velocity` (rad/s per joint; None: not checked) bounds every point."""
        self.joint_names = list(joint_names)
        self._lower = dict(zip(joint_names, lower, strict=True))
        self._upper = dict(zip(joint_names, upper, strict=True))
        self._max_velocity = None if max_velocity is None else np.array(max_velocity, float)
        if self._max_velocity is not None and len(self._max_velocity) != len(self.joint_names):
            raise ValueError(
                f"{len(self._max_velocity)} velocity limits for {len(self.joint_names)} joints"
            )
        zero = np.zeros(len(joint_names))
        self._knots: list[Knot] = [Knot(0.0, zero, zero)]

    @property
    def end_time(self) -> float:
        return self._knots[-1].t

    def hold(self, q: Array, now: float) -> None:
        """Hold q from now on (drops the active trajectory)."""
        self._knots = [Knot(now, np.array(q, dtype=float), np.zeros(len(self.joint_names)))]

    def problems(self, cmd: JointTrajectoryCommand, now: float | None = None) -> list[str]:
        """Why cmd must not be followed; with `now`, also the speed of its first segment
        from the setpoint at that time."""
        unknown = [n for n in cmd.joint_names if n not in self._lower]
        issues = [f"unknown joint {n!r}" for n in unknown]
        if cmd.points and not cmd.joint_names:
            issues.append("points given without joint names")
        if cmd.points and cmd.points[0].time_from_start < 0:
            issues.append(f"point 0: time_from_start {cmd.points[0].time_from_start} is negative")
        issues += cmd.problems(self._lower, self._upper)
        if issues or self._max_velocity is None:
            return issues
        start = None if now is None else self.sample(now)[0]
        return self._velocity_problems(cmd, self._max_velocity, start)

    def _velocity_problems(
        self, cmd: JointTrajectoryCommand, limits: Array, start: Array | None
    ) -> list[str]:
        """Stated velocities and segment mean speeds above the joints' limits."""
        index = [self.joint_names.index(n) for n in cmd.joint_names]
        limit = limits[index]
        names = list(cmd.joint_names)
        issues: list[str] = []
        prev_t, prev_q = (0.0, None if start is None else start[index])
        for i, pt in enumerate(cmd.points):
            q = np.array(pt.positions)
            if pt.velocities:
                issues += _over(f"point {i}", names, np.abs(pt.velocities), limit)
            if prev_q is not None:
                travel = np.maximum(np.abs(q - prev_q) - SEGMENT_SLACK_RAD, 0.0)
                dt = pt.time_from_start - prev_t  # > 0 after point 0 (checked above)
                speed = travel / dt if dt > 0 else np.where(travel > 0, np.inf, 0.0)
                where = "start" if i == 0 else f"point {i - 1}"
                issues += _over(f"{where} -> point {i}", names, speed, limit)
            prev_t, prev_q = pt.time_from_start, q
        return issues

    def start(self, cmd: JointTrajectoryCommand, now: float) -> list[str]:
        """Replace the active trajectory with cmd, starting from the current setpoint.

        Returns the problems; when there are any nothing changes (the caller holds)."""
        issues = self.problems(cmd, now)
        if issues:
            return issues
        q0, qd0 = self.sample(now)
        if cmd.is_hold:
            self.hold(q0, now)
            return []
        index = [self.joint_names.index(n) for n in cmd.joint_names]
        with_velocities = all(pt.velocities for pt in cmd.points)
        knots = [Knot(now, q0, qd0 if with_velocities else None)]
        for pt in cmd.points:
            q = q0.copy()
            q[index] = pt.positions
            qd: Array | None = None
            if pt.velocities:
                qd = np.zeros(len(q0))
                qd[index] = pt.velocities
            knots.append(Knot(now + pt.time_from_start, q, qd))
        if math.isclose(knots[1].t, now):
            knots = knots[1:]  # a point at t = 0 replaces the start state
        self._knots = knots
        return []

    def sample(self, t: float) -> tuple[Array, Array]:
        """Setpoint position and velocity at time t."""
        knots = self._knots
        if t >= knots[-1].t or len(knots) == 1:
            return knots[-1].q.copy(), np.zeros(len(self.joint_names))
        if t <= knots[0].t:
            return knots[0].q.copy(), _velocity(knots[0])
        i = max(k for k in range(len(knots) - 1) if knots[k].t <= t)
        return _interpolate(knots[i], knots[i + 1], t)


def _over(where: str, names: list[str], speeds: Array, limits: Array) -> list[str]:
    """One problem per joint whose speed is above its limit."""
    return [
        f"{where}: {name} at {speed:.3f} rad/s above its velocity limit {lim:.3f} rad/s"
        for name, speed, lim in zip(names, speeds, limits, strict=True)
        if speed > lim * (1 + VELOCITY_REL_TOL)
    ]


def _velocity(knot: Knot) -> Array:
    return knot.qd.copy() if knot.qd is not None else np.zeros(len(knot.q))


def _interpolate(a: Knot, b: Knot, t: float) -> tuple[Array, Array]:
    dt = b.t - a.t
    s = (t - a.t) / dt
    if a.qd is None or b.qd is None:
        return a.q + s * (b.q - a.q), (b.q - a.q) / dt
    # Cubic Hermite basis and its derivative (d/dt = d/ds / dt).
    h00, h10, h01, h11 = (
        2 * s**3 - 3 * s**2 + 1,
        s**3 - 2 * s**2 + s,
        -2 * s**3 + 3 * s**2,
        s**3 - s**2,
    )
    d00, d10, d01, d11 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
    q = h00 * a.q + h10 * dt * a.qd + h01 * b.q + h11 * dt * b.qd
    qd = (d00 * a.q + d01 * b.q) / dt + d10 * a.qd + d11 * b.qd
    return q, qd
