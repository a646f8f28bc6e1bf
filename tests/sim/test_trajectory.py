"""Trajectory following in the real simulator, as joint_trajectory_controller does it."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.scene import Scene
from embodied_stack.sim.trajectory import TrajectoryFollower
from embodied_stack.sim.world import SimWorld
from tests.sim.helpers import ik, smooth_command


@pytest.fixture(scope="module")
def world() -> Iterator[SimWorld]:
    with SimWorld(scene=Scene()) as w:
        yield w


@pytest.fixture
def fresh(world: SimWorld) -> SimWorld:
    world.reset()
    return world


def arm_q(world: SimWorld) -> np.ndarray:
    return np.array(world.joint_state().positions[: len(world.robot.joints)])


def run_until(world: SimWorld, t: float) -> None:
    world.step(max(0, round((t - world.sim_time) * world.physics_hz)))


def test_points_are_reached_on_time(fresh: SimWorld) -> None:
    world = fresh
    home = np.array(world.robot.home)
    a = np.add(home, [0.3, 0.2, 0, 0.2, 0, 0, 0])
    b = np.add(home, [-0.2, 0.3, 0.1, 0.3, 0.2, 0.1, -0.3])
    cmd = JointTrajectoryCommand(
        joint_names=tuple(world.robot.joints),
        points=(TrajectoryPoint(tuple(a), 1.0), TrajectoryPoint(tuple(b), 2.0)),
    )
    assert world.command_trajectory(cmd) == []
    run_until(world, 1.0)
    assert np.abs(arm_q(world) - a).max() < 0.01
    run_until(world, 2.0)
    assert np.abs(arm_q(world) - b).max() < 0.01
    run_until(world, 3.0)  # after the last point it holds the last point
    assert np.abs(arm_q(world) - b).max() < 0.002


def test_hermite_points_are_tracked_closely_all_the_way(fresh: SimWorld) -> None:
    world = fresh
    cmd = smooth_command(world, ik(world, (0.55, -0.25, 0.15)), 1.5)
    assert world.command_trajectory(cmd) == []
    worst = 0.0
    for _ in range(round(1.5 * world.physics_hz)):
        world.step()
        setpoint, _qd = world.follower.sample(world.sim_time)
        worst = max(worst, float(np.abs(arm_q(world) - setpoint).max()))
    assert worst < 0.01
    assert np.linalg.norm(world.tcp_pose()[0] - [0.55, -0.25, 0.15]) < 0.005


def test_joint_names_may_come_in_any_order(fresh: SimWorld) -> None:
    world = fresh
    names = tuple(reversed(world.robot.joints))
    target = np.array(world.robot.home) + 0.2 * np.array([1, -1, 1, 1, -1, 1, 1])
    point = TrajectoryPoint(tuple(reversed(target.tolist())), 1.0)
    assert world.command_trajectory(JointTrajectoryCommand(names, (point,))) == []
    run_until(world, 1.5)
    assert np.abs(arm_q(world) - target).max() < 0.005


def test_a_new_command_replaces_the_active_one(fresh: SimWorld) -> None:
    world = fresh
    names = tuple(world.robot.joints)
    far = np.array(world.robot.home) + 0.6
    far[3] = -1.0
    world.command_trajectory(JointTrajectoryCommand(names, (TrajectoryPoint(tuple(far), 2.0),)))
    run_until(world, 0.5)
    other = np.add(world.robot.home, [0.1, 0, 0, 0, 0, 0, 0])
    world.command_trajectory(JointTrajectoryCommand(names, (TrajectoryPoint(tuple(other), 1.0),)))
    run_until(world, 2.5)
    assert np.abs(arm_q(world) - other).max() < 0.005


def test_an_empty_command_holds_position(fresh: SimWorld) -> None:
    world = fresh
    names = tuple(world.robot.joints)
    far = np.add(world.robot.home, [0.8, 0.3, 0, 0.3, 0, 0, 0])
    world.command_trajectory(JointTrajectoryCommand(names, (TrajectoryPoint(tuple(far), 2.0),)))
    run_until(world, 1.0)
    assert world.command_trajectory(JointTrajectoryCommand(names)) == []
    world.step(24)  # decelerating from full speed takes a few steps
    stopped = arm_q(world)
    run_until(world, 3.0)
    assert np.abs(arm_q(world) - stopped).max() < 0.005
    assert np.abs(arm_q(world) - far).max() > 0.1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"positions": (math.nan,)}, "non-finite"),
        ({"positions": (math.inf,)}, "non-finite"),
        ({"positions": (3.5,)}, "outside"),
        ({"time_from_start": -1.0}, "not increasing"),
        ({"names": ("panda_joint1", "elbow")}, "unknown joint 'elbow'"),
    ],
)
def test_bad_commands_are_rejected_with_the_reason_and_the_arm_holds(
    fresh: SimWorld, change: dict[str, object], reason: str
) -> None:
    world = fresh
    names = tuple(world.robot.joints)
    moving = np.add(world.robot.home, [0.8, 0, 0, 0, 0, 0, 0])
    world.command_trajectory(JointTrajectoryCommand(names, (TrajectoryPoint(tuple(moving), 2.0),)))
    run_until(world, 0.5)
    positions = list(world.robot.home)
    bad = change.get("positions")
    if isinstance(bad, tuple):
        positions[0] = bad[0]
    points = [TrajectoryPoint(tuple(world.robot.home), 0.5), TrajectoryPoint(tuple(positions), 1.0)]
    if "time_from_start" in change:
        points[1] = TrajectoryPoint(tuple(positions), 0.2)
    bad_names = change.get("names")
    if isinstance(bad_names, tuple):
        names = bad_names
        points = [TrajectoryPoint((0.1, 0.2), 1.0)]
    problems = world.command_trajectory(JointTrajectoryCommand(names, tuple(points)))
    assert any(reason in p for p in problems), problems
    assert world.last_rejection == problems
    world.step(24)
    held = arm_q(world)
    run_until(world, 2.5)
    assert np.abs(arm_q(world) - held).max() < 0.005  # neither the bad nor the old command


def test_follower_interpolates_linearly_without_velocities() -> None:
    follower = TrajectoryFollower(joint_names=["a"], lower=[-1.0], upper=[1.0])
    points = (TrajectoryPoint((0.5,), 1.0), TrajectoryPoint((1.0,), 2.0))
    cmd = JointTrajectoryCommand(("a",), points)
    assert follower.start(cmd, now=10.0) == []
    assert follower.sample(10.5)[0][0] == pytest.approx(0.25)
    assert follower.sample(11.5)[0][0] == pytest.approx(0.75)
    assert follower.sample(11.5)[1][0] == pytest.approx(0.5)
    assert follower.sample(20.0)[0][0] == pytest.approx(1.0)
    assert follower.sample(20.0)[1][0] == 0.0


def test_follower_uses_hermite_with_velocities() -> None:
    follower = TrajectoryFollower(joint_names=["a"], lower=[-1.0], upper=[1.0])
    point = TrajectoryPoint((1.0,), 1.0, velocities=(0.0,))
    assert follower.start(JointTrajectoryCommand(("a",), (point,)), now=0.0) == []
    q, qd = follower.sample(0.5)
    assert q[0] == pytest.approx(0.5) and qd[0] == pytest.approx(1.5)  # smoothstep
    assert follower.sample(0.0001)[1][0] == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize(
    ("points", "reason"),
    [
        # a single point 0.5 rad away in 0.05 s: 10 rad/s from the current setpoint
        ([(0.5, 0.05, ())], "start -> point 0: panda_joint1 at 9.9"),
        # a fast segment between two slow points
        ([(0.1, 1.0, ()), (0.9, 1.1, ())], "point 0 -> point 1: panda_joint1 at 7.9"),
        # a stated velocity above the joint's 2.175 rad/s
        ([(0.1, 1.0, (3.0,))], "point 0: panda_joint1 at 3.000 rad/s above its velocity"),
        # a first point at t = 0 away from the setpoint: a jump
        ([(0.3, 0.0, ())], "start -> point 0: panda_joint1 at inf rad/s"),
        ([(0.1, -0.5, ())], "point 0: time_from_start -0.5 is negative"),
    ],
)
def test_points_above_the_joint_velocity_limits_are_rejected_and_the_arm_holds(
    fresh: SimWorld, points: list[tuple[float, float, tuple[float, ...]]], reason: str
) -> None:
    world = fresh
    names = tuple(world.robot.joints)
    home = np.array(world.robot.home)

    def point(offset: float, t: float, v1: tuple[float, ...]) -> TrajectoryPoint:
        first = np.eye(len(names))[0]  # joint 1 only
        velocities = tuple((v1[0] * first).tolist()) if v1 else ()
        return TrajectoryPoint(tuple((home + offset * first).tolist()), t, velocities)

    cmd = JointTrajectoryCommand(names, tuple(point(*p) for p in points))
    problems = world.command_trajectory(cmd)
    assert any(reason in p for p in problems), problems
    world.step(24)
    held = arm_q(world)
    run_until(world, 1.5)
    assert np.abs(arm_q(world) - home).max() < 0.005 and np.abs(arm_q(world) - held).max() < 0.005


def test_a_move_at_the_velocity_limit_is_followed(fresh: SimWorld) -> None:
    """Exactly at the limit (linear segments, 2.175 rad/s on joint 1) is allowed."""
    world = fresh
    names = tuple(world.robot.joints)
    limit = world.robot.max_velocity[0]
    target = np.add(world.robot.home, [limit * 0.4, 0, 0, 0, 0, 0, 0])
    cmd = JointTrajectoryCommand(names, (TrajectoryPoint(tuple(target), 0.4),))
    assert world.command_trajectory(cmd) == []


def test_follower_checks_velocity_limits_only_when_given() -> None:
    fast = JointTrajectoryCommand(("a",), (TrajectoryPoint((0.9,), 0.1),))
    unchecked = TrajectoryFollower(joint_names=["a"], lower=[-1.0], upper=[1.0])
    assert unchecked.start(fast, now=0.0) == []
    checked = TrajectoryFollower(joint_names=["a"], lower=[-1.0], upper=[1.0], max_velocity=[1.0])
    assert checked.start(fast, now=0.0) == [
        "start -> point 0: a at 8.950 rad/s above its velocity limit 1.000 rad/s"
    ]
    with pytest.raises(ValueError, match="2 velocity limits for 1 joints"):
        TrajectoryFollower(joint_names=["a"], lower=[-1.0], upper=[1.0], max_velocity=[1.0, 2.0])
