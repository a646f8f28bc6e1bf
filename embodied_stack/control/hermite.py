"""Cubic Hermite pieces: the interpolation joint_trajectory_controller (and our
simulator's follower) applies between trajectory points that carry velocities.

Planning checks limits on exactly this interpolation, so a trajectory that
passes here cannot exceed a limit between its points either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embodied_stack.control.kinematics import Array


@dataclass(frozen=True)
class Knots:
    """Times (n), positions (n x dof) and velocities (n x dof), start state included."""

    t: Array
    q: Array
    v: Array

    def sample(self, times: Array) -> tuple[Array, Array, Array]:
        """Position, velocity and acceleration of the Hermite interpolation at `times`."""
        t = np.clip(times, self.t[0], self.t[-1])
        i = np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, len(self.t) - 2)
        h = (self.t[i + 1] - self.t[i])[:, None]
        s = ((t - self.t[i])[:, None]) / h
        q0, q1, v0, v1 = self.q[i], self.q[i + 1], self.v[i] * h, self.v[i + 1] * h
        s2, s3 = s * s, s * s * s
        pos = (
            (2 * s3 - 3 * s2 + 1) * q0
            + (s3 - 2 * s2 + s) * v0
            + (-2 * s3 + 3 * s2) * q1
            + (s3 - s2) * v1
        )
        vel = ((6 * s2 - 6 * s) * (q0 - q1) + (3 * s2 - 4 * s + 1) * v0 + (3 * s2 - 2 * s) * v1) / h
        acc = ((12 * s - 6) * (q0 - q1) + (6 * s - 4) * v0 + (6 * s - 2) * v1) / (h * h)
        return pos, vel, acc

    def dense_times(self, per_piece: int) -> Array:
        """`per_piece` evenly spaced times inside every piece, ends included."""
        frac = np.linspace(0.0, 1.0, per_piece + 1)[:-1]
        inner = (self.t[:-1, None] + np.diff(self.t)[:, None] * frac).ravel()
        return np.append(inner, self.t[-1])


def extremes(knots: Knots) -> tuple[Array, Array]:
    """Exact largest |velocity| and |acceleration| of every joint over all pieces."""
    vel, acc = piece_extremes(knots)
    return vel.max(axis=0), acc.max(axis=0)


def piece_extremes(knots: Knots) -> tuple[Array, Array]:
    """Exact largest |velocity| and |acceleration| of every joint on each piece
    (pieces x dof)."""
    h = np.diff(knots.t)[:, None]
    dq = knots.q[:-1] - knots.q[1:]
    v0, v1 = knots.v[:-1] * h, knots.v[1:] * h
    # acceleration is linear in s: its extremes are at the piece ends
    acc0 = (-6 * dq - 4 * v0 - 2 * v1) / (h * h)
    acc1 = (6 * dq + 2 * v0 + 4 * v1) / (h * h)
    max_acc = np.maximum(np.abs(acc0), np.abs(acc1))
    # velocity is quadratic in s: ends, and the vertex where acceleration is zero
    denom = acc1 - acc0
    safe = np.where(np.abs(denom) > 1e-12, denom, 1.0)
    s_star = np.clip(np.where(np.abs(denom) > 1e-12, -acc0 / safe, 0.0), 0.0, 1.0)
    vel_star = (
        (6 * s_star**2 - 6 * s_star) * dq
        + (3 * s_star**2 - 4 * s_star + 1) * v0
        + (3 * s_star**2 - 2 * s_star) * v1
    ) / h
    ends = np.maximum(np.abs(knots.v[:-1]), np.abs(knots.v[1:]))
    max_vel = np.maximum(ends, np.abs(vel_star))
    return max_vel, max_acc


def clamped_spline_velocities(t: Array, q: Array) -> Array:
    """Knot velocities of the C2 cubic spline through (t, q) that starts and ends at rest."""
    n = len(t)
    v = np.zeros_like(q)
    if n <= 2:
        return v
    h = np.diff(t)
    slope = np.diff(q, axis=0) / h[:, None]
    m = n - 2
    a = np.zeros((m, m))
    rhs = 3 * (h[1:, None] * slope[:-1] + h[:-1, None] * slope[1:])
    for k in range(m):
        a[k, k] = 2 * (h[k] + h[k + 1])
        if k > 0:
            a[k, k - 1] = h[k + 1]
        if k < m - 1:
            a[k, k + 1] = h[k]
    v[1:-1] = np.linalg.solve(a, rhs)
    return v
