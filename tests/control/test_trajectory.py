"""Trajectories never exceed a limit at any instant, judged on the interpolation the
follower applies (the simulator's TrajectoryFollower: cubic Hermite), sampled densely;
and the planner's TCP speed bound is an upper bound at every instant, and a tight one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from embodied_stack.control.hermite import Knots, piece_extremes
from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Chain, down_rotation
from embodied_stack.control.trajectory import (
    MAX_TCP_SAMPLES_PER_PIECE,
    MotionLimits,
    TrajectoryError,
    TrajectoryPlanner,
    knots_of,
)
from embodied_stack.motion_types import JointTrajectoryCommand
from embodied_stack.robot import RobotProfile, load_robot
from embodied_stack.sim.trajectory import TrajectoryFollower

PANDA = load_robot("panda")
CONFIGS = st.tuples(
    *(st.floats(lo + 0.01, hi - 0.01) for lo, hi in zip(PANDA.lower, PANDA.upper, strict=True))
).map(np.array)
SCALES = st.sampled_from([1.0, 0.5, 0.2])
SAMPLES = 3001  # per trajectory: a few ms apart, far denser than the points
REL = 1e-6  # numerical slack, relative


def follow(
    cmd: JointTrajectoryCommand, q0: np.ndarray, profile: RobotProfile
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, velocities and accelerations a follower at rest at q0 produces."""
    follower = TrajectoryFollower(
        joint_names=profile.joints, lower=profile.lower, upper=profile.upper
    )
    follower.hold(q0, 0.0)
    assert follower.start(cmd, 0.0) == []
    times = np.linspace(0.0, cmd.duration + 0.05, SAMPLES)
    samples = [follower.sample(t) for t in times]
    q = np.array([s[0] for s in samples])
    qd = np.array([s[1] for s in samples])
    qdd = np.diff(qd, axis=0) / np.diff(times)[:, None]
    return q, qd, qdd


def assert_within(
    cmd: JointTrajectoryCommand,
    q0: np.ndarray,
    limits: MotionLimits,
    chain: Chain,
    profile: RobotProfile,
) -> None:
    q, qd, qdd = follow(cmd, q0, profile)
    assert np.all(q >= chain.lower - 1e-9) and np.all(q <= chain.upper + 1e-9)
    assert np.all(np.abs(qd) <= limits.max_velocity * (1 + REL)), "joint velocity"
    # finite differences of a piecewise-quadratic velocity: exact up to rounding
    assert np.all(np.abs(qdd) <= limits.max_acceleration * (1 + 1e-3) + 1e-6), "joint acceleration"
    speed = np.linalg.norm(chain.tcp_velocities(q, qd), axis=1)  # J(q) qd at every sample
    assert speed.max() <= limits.max_tcp_speed * (1 + REL), "TCP speed"
    assert np.allclose(qd[0], 0.0) and np.allclose(qd[-1], 0.0)  # rest to rest
    assert np.allclose(q[-1], cmd.points[-1].positions)


@pytest.fixture(scope="module")
def planner(profile: RobotProfile, chain: Chain, ik: IkSolver) -> TrajectoryPlanner:
    return TrajectoryPlanner(profile, chain, ik)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q0=CONFIGS, q1=CONFIGS, scale=SCALES)
def test_joint_moves_stay_within_every_limit(
    q0: np.ndarray,
    q1: np.ndarray,
    scale: float,
    planner: TrajectoryPlanner,
    chain: Chain,
    profile: RobotProfile,
) -> None:
    limits = MotionLimits.from_profile(profile, 0.5).scaled(scale)
    cmd = planner.joint_move(q0, q1, limits)
    assert cmd.problems() == []
    assert_within(cmd, q0, limits, chain, profile)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.tuples(st.floats(0.3, 0.7), st.floats(-0.3, 0.3), st.floats(0.05, 0.4)),
    end=st.tuples(st.floats(0.3, 0.7), st.floats(-0.3, 0.3), st.floats(0.05, 0.4)),
    yaws=st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0)),
    scale=SCALES,
)
def test_straight_lines_stay_within_every_limit_and_on_the_line(
    start: tuple[float, float, float],
    end: tuple[float, float, float],
    yaws: tuple[float, float],
    scale: float,
    planner: TrajectoryPlanner,
    ik: IkSolver,
    chain: Chain,
    profile: RobotProfile,
) -> None:
    first = ik.solve_down(np.array(start), yaws[0], np.array(profile.home), restarts=2)
    assume(first.ok)
    target = np.eye(4)
    target[:3, :3] = down_rotation(yaws[1])
    target[:3, 3] = end
    limits = MotionLimits.from_profile(profile, 0.5).scaled(scale)
    try:
        cmd, q_end = planner.line(first.q, target, limits)
    except TrajectoryError as exc:
        assert "straight line" in str(exc)  # a refusal names the problem
        return
    assert_within(cmd, first.q, limits, chain, profile)
    q, _qd, _qdd = follow(cmd, first.q, profile)
    a, b = np.array(start), np.array(end)
    direction = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    worst = 0.0
    for x in q[::10]:
        w = chain.tcp(x)[:3, 3] - a
        worst = max(worst, float(np.linalg.norm(w - (w @ direction) * direction)))
    assert worst < 1e-3  # within a millimetre of the straight line
    assert np.allclose(chain.tcp(q_end)[:3, 3], end, atol=1e-4)


def test_slower_speed_scale_takes_longer(planner: TrajectoryPlanner, profile: RobotProfile) -> None:
    q0 = np.array(profile.home)
    q1 = q0 + np.array([0.8, 0.2, -0.3, 0.3, 0.2, -0.2, 0.5])
    limits = MotionLimits.from_profile(profile, 0.5)
    fast = planner.joint_move(q0, q1, limits)
    slow = planner.joint_move(q0, q1, limits.scaled(0.25))
    assert slow.duration > 2.0 * fast.duration


def test_tcp_speed_limit_is_taken_from_what_is_passed_in(
    planner: TrajectoryPlanner, chain: Chain, profile: RobotProfile
) -> None:
    q0 = np.array(profile.home)
    q1 = q0 + np.array([1.0, 0.3, 0.0, 0.4, 0.0, -0.3, 0.0])
    for speed in (0.5, 0.1):
        limits = MotionLimits.from_profile(profile, speed)
        cmd = planner.joint_move(q0, q1, limits)
        assert_within(cmd, q0, limits, chain, profile)


def test_goal_outside_the_limits_is_refused(
    planner: TrajectoryPlanner, profile: RobotProfile
) -> None:
    q1 = np.array(profile.home)
    q1[3] = 0.5  # the Panda's elbow stops at 0
    with pytest.raises(TrajectoryError, match="outside the joint limits"):
        planner.joint_move(np.array(profile.home), q1, MotionLimits.from_profile(profile, 0.5))


def test_bad_speed_scale_is_refused(profile: RobotProfile) -> None:
    limits = MotionLimits.from_profile(profile, 0.5)
    for bad in (0.0, -0.5, 1.5, math.nan):
        with pytest.raises(ValueError, match="scale"):
            limits.scaled(bad)


def random_knots(draw: st.DrawFn) -> Knots:
    """Any cubic Hermite motion: random times, positions and velocities (not planned)."""
    count = draw(st.integers(2, 6))
    gaps = draw(st.lists(st.floats(0.01, 0.5), min_size=count - 1, max_size=count - 1))
    t = np.concatenate(([0.0], np.cumsum(gaps)))
    q = np.array([draw(CONFIGS) for _ in range(count)])
    v = np.array(
        [draw(st.lists(st.floats(-2.0, 2.0), min_size=7, max_size=7)) for _ in range(count)]
    )
    return Knots(t, q, v)


KNOTS = st.composite(random_knots)()


def dense_tcp_speeds(knots: Knots, chain: Chain, per_piece: int = 400) -> np.ndarray:
    pos, vel, _acc = knots.sample(knots.dense_times(per_piece))
    return np.asarray(np.linalg.norm(chain.tcp_velocities(pos, vel), axis=1))


@settings(max_examples=60, deadline=None)
@given(knots=KNOTS, slack=st.sampled_from([0.002, 0.01, 0.05]))
def test_the_tcp_speed_bound_holds_at_every_instant_and_is_tight(
    knots: Knots, slack: float, planner: TrajectoryPlanner, chain: Chain
) -> None:
    """On any Hermite motion, however fast and erratic: the bound is never below the
    speed at 400 samples per piece, and at most `slack` above the peak (while no piece
    needs more samples than the cap)."""
    bound = planner.max_tcp_speed(knots, slack)
    dense = dense_tcp_speeds(knots, chain)
    assert bound >= dense.max() * (1 - 1e-9)
    accel = chain.tcp_acceleration_bound(*piece_extremes(knots))
    if np.all(accel * np.diff(knots.t) / (2 * slack) <= MAX_TCP_SAMPLES_PER_PIECE):
        assert bound <= dense.max() + slack + 1e-9


@settings(max_examples=40, deadline=None)
@given(knots=KNOTS)
def test_the_tcp_acceleration_bound_holds(knots: Knots, chain: Chain) -> None:
    """The kinematic bound behind it: the TCP's acceleration (differences of J(q) qd at
    2,000 samples per piece) never exceeds what the joints' extremes allow."""
    accel = chain.tcp_acceleration_bound(*piece_extremes(knots))
    for k in range(len(knots.t) - 1):
        t = np.linspace(knots.t[k], knots.t[k + 1], 2001)[1:-1]
        pos, vel, _acc = knots.sample(t)
        v = chain.tcp_velocities(pos, vel)
        measured = np.linalg.norm(np.diff(v, axis=0), axis=1) / np.diff(t)
        assert measured.max() <= accel[k] * (1 + 1e-6) + 1e-9


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q0=CONFIGS, q1=CONFIGS, speed=st.sampled_from([0.05, 0.2, 0.5]))
def test_joint_moves_bound_by_the_tcp_limit_meet_it_at_every_instant(
    q0: np.ndarray,
    q1: np.ndarray,
    speed: float,
    planner: TrajectoryPlanner,
    chain: Chain,
    profile: RobotProfile,
) -> None:
    """Where the TCP limit binds, the densest look finds the TCP at or below it."""
    limits = MotionLimits.from_profile(profile, speed)
    cmd = planner.joint_move(q0, q1, limits)
    peak = dense_tcp_speeds(knots_of(cmd, q0), chain, per_piece=200).max()
    assert peak <= speed * (1 + REL)
