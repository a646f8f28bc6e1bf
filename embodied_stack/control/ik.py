"""Inverse kinematics: damped least squares, inside the joint limits, near the seed.

The solver starts from the seed (the current configuration), so it finds the
solution of the same branch: no wrist flips mid-task. Steps are clipped to the
joint limits, and the redundant degree of freedom is used to push joints away
from limits they come close to (projected into the null space of the whole task),
all the way to the answer: near it the push is scaled down so that neither its
second-order effect on the pose (a null-space step of d rad moves the TCP by at
most reach * d^2 / 2) nor what the damped projection lets through reaches a
quarter of the remaining error, and convergence is kept. When the error does not
reach the tolerance the result says so (``ok=False`` with a reason); it never
passes off a near miss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from embodied_stack.control.kinematics import Array, Chain, down_rotation, rotation_error

POS_TOL = 1e-5  # m
ROT_TOL = 1e-4  # rad
# Outside this fraction of a joint's range from a limit, the null-space push is off.
LIMIT_BAND = 0.1
# Closer than this to the answer (m), the push is capped (see the module docstring).
NEAR_ANSWER = 1e-3


@dataclass(frozen=True)
class IkResult:
    ok: bool
    q: Array
    pos_err: float  # m
    rot_err: float  # rad
    iterations: int
    reason: str = ""


@dataclass(frozen=True)
class IkOptions:
    max_iterations: int = 60
    restarts: int = 0  # extra attempts from random in-limit seeds after the seed fails
    pos_tol: float = POS_TOL
    rot_tol: float = ROT_TOL
    max_step: float = 0.7  # rad, per joint per iteration
    patience: int = 12  # iterations without a 10 % gain before giving up on a start
    limit_gain: float = 0.3
    seed_rng: int = 0


def _limit_push(q: Array, lower: Array, upper: Array) -> Array:
    """Gradient step away from nearby limits (zero in the middle of the range)."""
    band = LIMIT_BAND * (upper - lower)
    away_low = np.maximum(band - (q - lower), 0.0)
    away_high = np.maximum(band - (upper - q), 0.0)
    push: Array = (away_low - away_high) / band
    return push


def _pose_error(tcp: Array, target: Array, position_only: bool) -> Array:
    pos = target[:3, 3] - tcp[:3, 3]
    if position_only:
        return pos
    return np.concatenate((pos, rotation_error(tcp[:3, :3], target[:3, :3])))


class IkSolver:
    """IK for one chain. ``solve`` for a full pose, ``solve_down`` for a top-down grasp."""

    def __init__(self, chain: Chain, options: IkOptions | None = None) -> None:
        self.chain = chain
        self.options = options or IkOptions()
        self._rng = np.random.default_rng(self.options.seed_rng)

    def solve(
        self,
        target: Array,
        seed: Array,
        *,
        position_only: bool = False,
        restarts: int | None = None,
    ) -> IkResult:
        """Joint configuration putting the TCP at `target` (4x4), starting from `seed`."""
        if not np.all(np.isfinite(target)):
            return self._fail(seed, "target pose is not finite")
        opts = self.options
        seed = np.clip(np.asarray(seed, dtype=float), self.chain.lower, self.chain.upper)
        best = self._descend(target, seed, position_only)
        for _ in range(opts.restarts if restarts is None else restarts):
            if best.ok:
                break
            start = self._rng.uniform(self.chain.lower, self.chain.upper)
            attempt = self._descend(target, start, position_only)
            if attempt.ok or attempt.pos_err < best.pos_err:
                best = attempt
        return best

    def solve_down(
        self, position: Array, yaw: float, seed: Array, *, restarts: int | None = None
    ) -> IkResult:
        """TCP at `position`, pointing straight down, tool x axis at `yaw` about world z."""
        target = np.eye(4)
        target[:3, :3] = down_rotation(yaw)
        target[:3, 3] = position
        return self.solve(target, seed, restarts=restarts)

    def _descend(self, target: Array, q: Array, position_only: bool) -> IkResult:
        chain, opts = self.chain, self.options
        rows = 3 if position_only else 6
        eye = np.eye(rows)
        pos_err = rot_err = math.inf
        best, best_at = math.inf, 0
        for iteration in range(opts.max_iterations):
            jac, tcp = chain.jacobian(q)
            err = _pose_error(tcp, target, position_only)
            pos_err = math.sqrt(float(err[:3] @ err[:3]))
            rot_err = 0.0 if position_only else math.sqrt(float(err[3:] @ err[3:]))
            if pos_err <= opts.pos_tol and rot_err <= opts.rot_tol:
                return IkResult(True, q, pos_err, rot_err, iteration)
            total = pos_err + 0.1 * rot_err
            if total < 0.9 * best:
                best, best_at = total, iteration
            elif iteration - best_at > opts.patience:
                break  # stuck in a local minimum (often pinned at a limit): restart instead
            step = self._step(jac[:rows], err, q, pos_err, eye)
            largest = float(np.max(np.abs(step)))
            if largest > opts.max_step:
                step *= opts.max_step / largest
            q = np.clip(q + step, chain.lower, chain.upper)
        reason = (
            "no solution within tolerance: "
            f"position error {pos_err * 1000:.2f} mm, "
            f"rotation error {math.degrees(rot_err):.2f} deg"
        )
        return IkResult(False, q, pos_err, rot_err, opts.max_iterations, reason)

    def _step(self, jac: Array, err: Array, q: Array, pos_err: float, eye: Array) -> Array:
        """One damped least-squares step; joints pinned at a limit are taken out of it."""
        chain, opts = self.chain, self.options
        # Levenberg-Marquardt damping that shrinks with the error (Sugihara 2011).
        damping = 0.1 * float(err @ err) + 1e-6
        solved = np.linalg.solve(jac @ jac.T + damping * eye, np.column_stack((err, jac)))
        step: Array = jac.T @ solved[:, 0]
        task, projector = jac, solved[:, 1:]  # the whole task, pinned joints included
        pinned = ((q <= chain.lower) & (step < 0)) | ((q >= chain.upper) & (step > 0))
        if pinned.any():
            # Active set: solve again without the joints that cannot move that way.
            jac = jac * ~pinned
            solved = np.linalg.solve(jac @ jac.T + damping * eye, np.column_stack((err, jac)))
            step = jac.T @ solved[:, 0]
        push = _limit_push(q, chain.lower, chain.upper)
        if push.any():
            # project the push into the null space of the whole task (a projection made
            # without the pinned joints would let their push through to the pose):
            # J+ J = J^T (J J^T + d)^-1 J
            nudge = opts.limit_gain * (push - task.T @ (projector @ push))
            if pos_err <= NEAR_ANSWER:
                nudge *= self._near_answer_scale(nudge, task, err, pos_err)
            step += nudge
        return step

    def _near_answer_scale(self, nudge: Array, jac: Array, err: Array, pos_err: float) -> float:
        """How much of the null-space push to keep near the answer: its second-order
        effect on the pose (reach * d^2 / 2 for a step of d rad) stays under a quarter of
        the position error, and what reaches the task to first order (J nudge, with `jac`
        the whole Jacobian: the damped projection leaks, and one made without a joint
        pinned at a limit lets that joint's push through) under a quarter of the error,
        so the error keeps shrinking."""
        largest = float(np.max(np.abs(nudge)))
        if largest == 0.0:
            return 1.0
        cap = math.sqrt(0.5 * pos_err / self.chain.reach_after[0])
        leak = float(np.linalg.norm(jac @ nudge))
        scale = min(1.0, cap / largest)
        if leak > 0.0:
            scale = min(scale, 0.25 * float(np.linalg.norm(err)) / leak)
        return scale

    def _fail(self, seed: Array, reason: str) -> IkResult:
        return IkResult(False, np.asarray(seed, dtype=float), math.inf, math.inf, 0, reason)
