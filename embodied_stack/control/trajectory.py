"""Time-parameterised joint trajectories under joint and TCP speed limits.

Two kinds of segment, each from rest to rest (so velocity is continuous across
segments): a joint-space move (a synchronised trapezoid, exactly reproduced by
the Hermite interpolation the follower applies, because its knots include the
phase boundaries) and a straight TCP line (IK at dense samples, joined by a C2
spline). Every segment is checked on the interpolated motion itself, and
stretched in time until no joint velocity, joint acceleration or TCP speed
exceeds its limit at any instant: joint velocities and accelerations exactly
(their extremes on each cubic piece are known in closed form), the TCP speed by
a proven upper bound (samples spaced so that a bound of the TCP's acceleration
leaves no room for a higher speed between them than TCP_SLACK of the limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from embodied_stack.control.hermite import (
    Knots,
    clamped_spline_velocities,
    extremes,
    piece_extremes,
)
from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Array, Chain, joint_limits, rotation_error
from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.robot import RobotProfile

KNOT_DT = 0.05  # s between the points of a joint move (for checkers that look at points)
LINE_DT = 0.04  # s between IK samples of a straight line
TCP_SLACK = 0.01  # the TCP speed bound lies at most this fraction of the limit above the peak
MAX_TCP_SAMPLES_PER_PIECE = 400  # beyond it the bound is only looser (and the segment slower)
MAX_JOINT_JUMP = 0.25  # rad between neighbouring line samples: more means a flip
STRETCH_ROUNDS = 8


class TrajectoryError(ValueError):
    """A segment that cannot be planned; the message says where and why."""


@dataclass(frozen=True)
class MotionLimits:
    """What a trajectory may reach at any instant (already scaled for speed)."""

    max_velocity: Array  # rad/s, per joint
    max_acceleration: Array  # rad/s^2, per joint
    max_tcp_speed: float  # m/s
    max_tcp_acceleration: float = 1.0  # m/s^2, shapes straight lines only
    max_tcp_angular_speed: float = 1.5  # rad/s, tool rotation along lines

    @classmethod
    def from_profile(
        cls, profile: RobotProfile, max_tcp_speed: float, *, joint_speed_scale: float = 1.0
    ) -> MotionLimits:
        """Joint limits from the URDF and the robot profile (the tighter of the two),
        the TCP speed from the red lines' `max_tcp_speed`."""
        if not (math.isfinite(max_tcp_speed) and max_tcp_speed > 0):
            raise ValueError(f"max_tcp_speed must be positive, got {max_tcp_speed}")
        joints = joint_limits(profile)
        return cls(
            max_velocity=joints.max_velocity * joint_speed_scale,
            max_acceleration=joints.max_acceleration.copy(),
            max_tcp_speed=max_tcp_speed,
        )

    def scaled(self, scale: float) -> MotionLimits:
        """`set_speed`: a fraction in (0, 1] of every speed (accelerations follow)."""
        if not 0 < scale <= 1:
            raise ValueError(f"speed scale must be in (0, 1], got {scale}")
        return replace(
            self,
            max_velocity=self.max_velocity * scale,
            max_acceleration=self.max_acceleration * scale,
            max_tcp_speed=self.max_tcp_speed * scale,
            max_tcp_acceleration=self.max_tcp_acceleration * scale,
            max_tcp_angular_speed=self.max_tcp_angular_speed * scale,
        )


@dataclass(frozen=True)
class Trapezoid:
    """Scalar 0 -> 1 profile with peak velocity `vpeak` and acceleration `accel`."""

    accel: float
    vpeak: float

    @classmethod
    def fastest(cls, vmax: float, amax: float) -> Trapezoid:
        vpeak = min(vmax, math.sqrt(amax))  # triangular when the cruise would be empty
        return cls(amax, vpeak)

    @property
    def ramp(self) -> float:
        return self.vpeak / self.accel

    @property
    def duration(self) -> float:
        return self.ramp + 1.0 / self.vpeak

    def breakpoints(self) -> list[float]:
        return [self.ramp, self.duration - self.ramp]

    def at(self, t: Array) -> tuple[Array, Array]:
        """s and ds/dt at times t."""
        ramp, total, a, v = self.ramp, self.duration, self.accel, self.vpeak
        t = np.clip(t, 0.0, total)
        rising = 0.5 * a * t**2
        cruise = 0.5 * a * ramp**2 + v * (t - ramp)
        left = total - t
        falling = 1.0 - 0.5 * a * left**2
        s = np.where(t < ramp, rising, np.where(t <= total - ramp, cruise, falling))
        sd = np.where(t < ramp, a * t, np.where(t <= total - ramp, v, a * left))
        return s, sd

    def knot_times(self, spacing: float) -> Array:
        grid = np.arange(spacing, self.duration, spacing)
        times = np.concatenate(([0.0], grid, self.breakpoints(), [self.duration]))
        times = np.unique(np.round(times, 9))
        return times[np.concatenate(([True], np.diff(times) > 1e-6))]


class TrajectoryPlanner:
    """Plans segments for one robot; all positions are full joint vectors."""

    def __init__(self, profile: RobotProfile, chain: Chain, ik: IkSolver) -> None:
        self.profile = profile
        self.chain = chain
        self.ik = ik

    # ---- joint space ----------------------------------------------------------------

    def joint_move(self, q0: Array, q1: Array, limits: MotionLimits) -> JointTrajectoryCommand:
        """Rest-to-rest move in joint space along the straight joint line."""
        q0, q1 = np.asarray(q0, dtype=float), np.asarray(q1, dtype=float)
        self._check_in_limits(q1, "goal")
        delta = q1 - q0
        span = np.abs(delta)
        if float(span.max()) < 1e-9:
            return self._command(
                Knots(np.array([0.0, 1e-3]), np.array([q0, q1]), np.zeros((2, len(q0))))
            )
        moving = span > 1e-12
        vmax = float(np.min(limits.max_velocity[moving] / span[moving]))
        amax = float(np.min(limits.max_acceleration[moving] / span[moving]))
        for _ in range(STRETCH_ROUNDS):
            profile = Trapezoid.fastest(vmax, amax)
            times = profile.knot_times(KNOT_DT)
            s, sd = profile.at(times)
            knots = Knots(times, q0 + s[:, None] * delta, sd[:, None] * delta)
            factor = self._overshoot(knots, limits)
            if factor <= 1.0:
                return self._command(knots)
            vmax, amax = vmax / factor, amax / factor**2
        raise TrajectoryError("joint move: could not meet the limits after stretching")

    # ---- straight TCP line ----------------------------------------------------------

    def line(
        self, q0: Array, target: Array, limits: MotionLimits
    ) -> tuple[JointTrajectoryCommand, Array]:
        """Straight TCP line (position lerp, rotation about one axis) to `target` (4x4).

        Returns the command and the final configuration."""
        q0 = np.asarray(q0, dtype=float)
        start = self.chain.tcp(q0)
        offset = target[:3, 3] - start[:3, 3]
        turn = rotation_error(start[:3, :3], target[:3, :3])
        length, angle = float(np.linalg.norm(offset)), float(np.linalg.norm(turn))
        if length < 1e-6 and angle < 1e-6:
            return self.joint_move(q0, q0, limits), q0
        vmax = min(
            limits.max_tcp_speed / max(length, 1e-9),
            limits.max_tcp_angular_speed / max(angle, 1e-9),
        )
        amax = limits.max_tcp_acceleration / max(length, angle * 0.2, 1e-9)
        profile = Trapezoid.fastest(vmax, amax)
        count = max(2, math.ceil(profile.duration / LINE_DT))
        s_values = profile.at(np.linspace(0.0, profile.duration, count + 1))[0]
        path = self._line_configurations(q0, start, offset, turn, s_values)
        times = np.linspace(0.0, profile.duration, count + 1)
        for _ in range(STRETCH_ROUNDS):
            knots = Knots(times, path, clamped_spline_velocities(times, path))
            factor = self._overshoot(knots, limits)
            if factor <= 1.0:
                return self._command(knots), path[-1]
            times = times * factor
        raise TrajectoryError("straight line: could not meet the limits after stretching")

    def _line_configurations(
        self, q0: Array, start: Array, offset: Array, turn: Array, s_values: Array
    ) -> Array:
        path = [q0]
        angle = float(np.linalg.norm(turn))
        axis = turn / angle if angle > 1e-12 else np.zeros(3)
        for s in s_values[1:]:
            pose = np.eye(4)
            pose[:3, 3] = start[:3, 3] + s * offset
            pose[:3, :3] = _axis_angle(axis, s * angle) @ start[:3, :3]
            result = self.ik.solve(pose, path[-1], restarts=0)
            if not result.ok:
                where = np.round(pose[:3, 3], 3).tolist()
                raise TrajectoryError(
                    f"straight line leaves the reachable space at {where}: {result.reason}"
                )
            jump = float(np.max(np.abs(result.q - path[-1])))
            if jump > MAX_JOINT_JUMP:
                raise TrajectoryError(
                    f"straight line needs a joint jump of {jump:.2f} rad near "
                    f"{np.round(pose[:3, 3], 3).tolist()} (a singularity or a flip)"
                )
            path.append(result.q)
        return np.array(path)

    # ---- checks -----------------------------------------------------------------------

    def _overshoot(self, knots: Knots, limits: MotionLimits) -> float:
        """Time stretch needed to bring every limit within bounds (<= 1: none)."""
        vel, acc = extremes(knots)
        factor = max(
            float(np.max(vel / limits.max_velocity)),
            math.sqrt(float(np.max(acc / limits.max_acceleration))),
            self.max_tcp_speed(knots, TCP_SLACK * limits.max_tcp_speed) / limits.max_tcp_speed,
        )
        return factor * 1.01 if factor > 1.0 else factor

    def max_tcp_speed(self, knots: Knots, slack: float = 0.002) -> float:
        """An upper bound of the TCP speed at every instant of the interpolated motion,
        at most `slack` (m/s) above its true peak.

        On each piece the TCP's acceleration is at most A (`Chain.tcp_acceleration_bound`
        of the piece's exact joint speed and acceleration extremes), so the speed there
        is within A * d of the speed at a sample d away. Each piece of length h gets n
        evenly spaced samples, ends included, with A * h / (2 n) <= slack; the bound is
        the largest sampled speed plus A * h / (2 n) (n is capped at
        MAX_TCP_SAMPLES_PER_PIECE: a piece that needs more only gets a looser bound)."""
        max_qd, max_qdd = piece_extremes(knots)
        accel = self.chain.tcp_acceleration_bound(max_qd, max_qdd)
        h = np.diff(knots.t)
        count = np.clip(np.ceil(accel * h / (2.0 * slack)), 1, MAX_TCP_SAMPLES_PER_PIECE)
        count = count.astype(int)
        piece = np.repeat(np.arange(len(h)), count + 1)
        first = np.concatenate(([0], np.cumsum(count + 1)[:-1]))
        step = np.arange(len(piece)) - np.repeat(first, count + 1)  # 0..n within a piece
        times = knots.t[piece] + h[piece] * step / count[piece]
        pos, vel, _acc = knots.sample(times)
        speed = np.linalg.norm(self.chain.tcp_velocities(pos, vel), axis=1)
        peak = np.maximum.reduceat(speed, first)
        return float(np.max(peak + accel * h / (2.0 * count)))

    def _check_in_limits(self, q: Array, what: str) -> None:
        if not self.chain.within_limits(q, tol=1e-9):
            raise TrajectoryError(f"{what} configuration is outside the joint limits")

    def _command(self, knots: Knots) -> JointTrajectoryCommand:
        """Points after the start state (the follower starts from its own setpoint)."""
        points = tuple(
            TrajectoryPoint(
                positions=tuple(float(x) for x in q),
                velocities=tuple(float(x) for x in v),
                time_from_start=float(t),
            )
            for t, q, v in zip(knots.t[1:], knots.q[1:], knots.v[1:], strict=True)
        )
        return JointTrajectoryCommand(joint_names=tuple(self.profile.joints), points=points)


def knots_of(cmd: JointTrajectoryCommand, q0: Array) -> Knots:
    """The Hermite knots a follower at rest at `q0` builds from `cmd`."""
    t = [0.0] + [p.time_from_start for p in cmd.points]
    q = [np.asarray(q0, dtype=float)] + [np.array(p.positions) for p in cmd.points]
    v = [np.zeros(len(q0))] + [np.array(p.velocities) for p in cmd.points]
    return Knots(np.array(t), np.array(q), np.array(v))


def _axis_angle(axis: Array, angle: float) -> Array:
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    rot: Array = np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)
    return rot
