"""Joint limits come from the URDF and the robot profile, whichever is tighter, and
trajectories respect them."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pybullet as pb
import pytest

from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Chain, joint_limits
from embodied_stack.control.trajectory import MotionLimits, TrajectoryPlanner
from embodied_stack.errors import ConfigError
from embodied_stack.robot import RobotProfile, load_robot
from tests.control.test_trajectory import assert_within


@pytest.fixture(scope="module")
def urdf_limits(profile: RobotProfile) -> Iterator[dict[str, tuple[float, float, float]]]:
    """(lower, upper, max velocity) of every joint, as PyBullet reads the URDF."""
    client = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(profile.urdf_path()), useFixedBase=True, physicsClientId=client)
        infos = [
            pb.getJointInfo(body, i, physicsClientId=client)
            for i in range(pb.getNumJoints(body, physicsClientId=client))
        ]
        yield {info[1].decode(): (info[8], info[9], info[11]) for info in infos}
    finally:
        pb.disconnect(physicsClientId=client)


def test_the_panda_profile_agrees_with_its_urdf(
    profile: RobotProfile, urdf_limits: dict[str, tuple[float, float, float]]
) -> None:
    limits = joint_limits(profile)
    expected = np.array([urdf_limits[n] for n in profile.joints])
    assert np.allclose(limits.lower, expected[:, 0])
    assert np.allclose(limits.upper, expected[:, 1])
    assert np.allclose(limits.max_velocity, expected[:, 2])
    # the hand-typed profile says the same (a typo there would narrow the robot silently)
    assert np.allclose(profile.lower, expected[:, 0]) and np.allclose(profile.upper, expected[:, 1])
    assert np.allclose(profile.max_velocity, expected[:, 2])
    assert np.allclose(limits.max_acceleration, profile.max_acceleration)  # the URDF has none


def test_a_profile_can_narrow_the_urdf_limits_but_never_widen_them(
    profile: RobotProfile,
) -> None:
    faster = [v * 2 for v in profile.max_velocity]
    slower = [v / 2 for v in profile.max_velocity]
    wider_lower, wider_upper = list(profile.lower), list(profile.upper)
    wider_lower[0], wider_upper[0] = -math.pi, math.pi  # the URDF stops joint 1 at +-2.9671
    narrower_upper = list(profile.upper)
    narrower_upper[6] = 1.0
    wide = joint_limits(
        profile.model_copy(
            update={"max_velocity": faster, "lower": wider_lower, "upper": wider_upper}
        )
    )
    assert np.allclose(wide.max_velocity, profile.max_velocity)  # the URDF's
    assert (wide.lower[0], wide.upper[0]) == (profile.lower[0], profile.upper[0])
    narrow = joint_limits(
        profile.model_copy(update={"max_velocity": slower, "upper": narrower_upper})
    )
    assert np.allclose(narrow.max_velocity, slower)
    assert narrow.upper[6] == 1.0
    chain = Chain(profile.model_copy(update={"upper": narrower_upper}))
    beyond = np.array(profile.home)
    beyond[6] = 1.2  # inside the URDF's range, outside the profile's
    assert chain.upper[6] == 1.0 and not chain.within_limits(beyond)


def test_a_profile_range_outside_the_urdf_is_refused(profile: RobotProfile) -> None:
    lower, upper = list(profile.lower), list(profile.upper)
    lower[3], upper[3] = 0.5, 1.0  # the Panda's elbow stops at 0
    bad = profile.model_copy(update={"lower": lower, "upper": upper, "home": [0.0] * 7})
    with pytest.raises(ConfigError, match="panda_joint4"):
        joint_limits(bad)


def test_trajectories_keep_to_the_urdf_speeds_when_the_profile_claims_more(
    profile: RobotProfile,
) -> None:
    boasting = profile.model_copy(update={"max_velocity": [v * 3 for v in profile.max_velocity]})
    chain = Chain(boasting)
    planner = TrajectoryPlanner(boasting, chain, IkSolver(chain))
    limits = MotionLimits.from_profile(boasting, 5.0)  # a TCP limit that never binds
    assert np.allclose(limits.max_velocity, joint_limits(profile).max_velocity)
    q0 = np.array(profile.home)
    q1 = q0 + np.array([2.0, 0.5, -1.5, 0.8, 1.5, -0.5, 1.5])
    cmd = planner.joint_move(q0, q1, limits)
    urdf = MotionLimits.from_profile(profile, 5.0)
    assert_within(cmd, q0, urdf, chain, profile)
    qd = np.array([p.velocities for p in cmd.points])
    assert np.abs(qd).max(axis=0).max() > 0.9 * float(urdf.max_velocity.min())  # not crawling


def test_other_robots_take_their_urdf_limits_too() -> None:
    ur = load_robot("ur5e")
    limits = joint_limits(ur)
    assert np.all(limits.max_velocity <= 3.14159 + 1e-12)  # the URDF's, below the profile's
    assert np.allclose(limits.lower, ur.lower, atol=1e-4)
