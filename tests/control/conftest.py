"""Shared fixtures of the motion tests: the robot, its kinematics and skill context."""

from __future__ import annotations

import pytest

from embodied_stack.control.context import SkillContext
from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Chain
from embodied_stack.robot import RobotProfile, load_robot
from embodied_stack.safety.redlines import RedLines, load_redlines


@pytest.fixture(scope="session")
def profile() -> RobotProfile:
    return load_robot("panda")


@pytest.fixture(scope="session")
def chain(profile: RobotProfile) -> Chain:
    return Chain(profile)


@pytest.fixture(scope="session")
def ik(chain: Chain) -> IkSolver:
    return IkSolver(chain)


@pytest.fixture(scope="session")
def redlines() -> RedLines:
    return load_redlines()


@pytest.fixture(scope="session")
def ctx(profile: RobotProfile, redlines: RedLines) -> SkillContext:
    return SkillContext.from_redlines(profile, redlines)
