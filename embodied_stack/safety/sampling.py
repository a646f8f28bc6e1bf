"""Dense samples of a joint trajectory, interpolated exactly as the follower does.

The simulator's follower (embodied_stack.sim.trajectory, the same code a driver
bridge runs) is replayed here, so the checked path is the path that will be
driven. Samples are spaced so that no joint moves more than `max_joint_step`
and no link frame more than `max_link_step` between two of them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from embodied_stack.motion_types import JointTrajectoryCommand
from embodied_stack.safety.geometry import RobotGeometry
from embodied_stack.sim.trajectory import TrajectoryFollower

Array = npt.NDArray[np.float64]
MAX_JOINT_STEP = 0.02  # rad
MAX_LINK_STEP = 0.005  # m
_MAX_SAMPLES_PER_SEGMENT = 4000


@dataclass(frozen=True)
class Sample:
    t: float  # s from the start of the command
    q: Array  # all arm joints, in profile order
    qd: Array


def follower_for(geometry: RobotGeometry, start: Sequence[float]) -> TrajectoryFollower:
    profile = geometry.profile
    follower = TrajectoryFollower(
        joint_names=list(profile.joints), lower=list(profile.lower), upper=list(profile.upper)
    )
    follower.hold(np.asarray(start, dtype=float), 0.0)
    return follower


def dense_samples(
    cmd: JointTrajectoryCommand,
    geometry: RobotGeometry,
    start: Sequence[float],
    *,
    max_joint_step: float = MAX_JOINT_STEP,
    max_link_step: float = MAX_LINK_STEP,
) -> list[Sample]:
    """Samples from t = 0 to the end, knots included. Raises ValueError on a bad command."""
    follower = follower_for(geometry, start)
    problems = follower.start(cmd, 0.0)
    if problems:
        raise ValueError("; ".join(problems))
    knots = sorted({0.0, *(pt.time_from_start for pt in cmd.points)})
    samples = [_sample(follower, 0.0)]
    for ta, tb in itertools.pairwise(knots):
        samples += _segment(follower, geometry, ta, tb, max_joint_step, max_link_step)
    return samples


def _sample(follower: TrajectoryFollower, t: float) -> Sample:
    q, qd = follower.sample(t)
    return Sample(t=t, q=q, qd=qd)


def _segment(
    follower: TrajectoryFollower,
    geometry: RobotGeometry,
    ta: float,
    tb: float,
    max_joint_step: float,
    max_link_step: float,
) -> list[Sample]:
    """Samples in (ta, tb]: first by joint arc, refined once by link displacement."""
    coarse = [follower.sample(t)[0] for t in np.linspace(ta, tb, 9)]
    arc = sum(float(np.max(np.abs(b - a))) for a, b in itertools.pairwise(coarse))
    count = max(1, math.ceil(arc / max_joint_step))
    samples = _uniform(follower, ta, tb, count)
    step = _max_link_step(geometry, [_sample(follower, ta), *samples])
    if step > max_link_step:
        count = min(_MAX_SAMPLES_PER_SEGMENT, math.ceil(count * step / max_link_step) + 1)
        samples = _uniform(follower, ta, tb, count)
    return samples


def _uniform(follower: TrajectoryFollower, ta: float, tb: float, count: int) -> list[Sample]:
    times = np.linspace(ta, tb, count + 1)[1:]
    # Just before tb: the follower's position at tb is the knot, its velocity the next one's.
    return [
        _sample(follower, float(t) if i < count - 1 else tb - 1e-9) for i, t in enumerate(times)
    ]


def _max_link_step(geometry: RobotGeometry, samples: list[Sample]) -> float:
    origins = []
    for s in samples:
        geometry.set_joints(s.q.tolist())
        origins.append(geometry.link_origins())
    return max(
        (float(np.max(np.linalg.norm(b - a, axis=1))) for a, b in itertools.pairwise(origins)),
        default=0.0,
    )
