"""Drive the real simulator directly (no motion stack): IK targets and timed moves."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb

from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.sim.world import SimWorld


def ik(
    world: SimWorld, position: tuple[float, float, float] | np.ndarray, yaw: float = 0.0
) -> list[float]:
    """Arm joint positions putting the TCP at position, pointing down (PyBullet IK)."""
    down = pb.getQuaternionFromEuler([math.pi, 0.0, yaw])
    robot, arm = world.robot, world.arm
    n_extra = len(arm.finger_joints)
    q = pb.calculateInverseKinematics(
        arm.body,
        arm.tcp_link,
        [float(v) for v in position],
        down,
        lowerLimits=[*robot.lower, *[0.0] * n_extra],
        upperLimits=[*robot.upper, *[0.04] * n_extra],
        jointRanges=[u - lo for lo, u in zip(robot.lower, robot.upper, strict=True)]
        + [0.04] * n_extra,
        restPoses=[*robot.home, *[0.04] * n_extra],
        maxNumIterations=200,
        residualThreshold=1e-5,
        physicsClientId=world.client,
    )
    return [float(v) for v in q[: len(robot.joints)]]


def smooth_command(
    world: SimWorld, target: list[float], duration: float, samples: int = 10
) -> JointTrajectoryCommand:
    """A minimum-jerk move from the measured position, with velocities (Hermite)."""
    start = np.array(world.joint_state().positions[: len(target)])
    goal = np.array(target)
    points = []
    for i in range(1, samples + 1):
        s = i / samples
        blend = 10 * s**3 - 15 * s**4 + 6 * s**5
        rate = (30 * s**2 - 60 * s**3 + 30 * s**4) / duration
        points.append(
            TrajectoryPoint(
                positions=tuple(start + blend * (goal - start)),
                time_from_start=s * duration,
                velocities=tuple(rate * (goal - start)),
            )
        )
    return JointTrajectoryCommand(joint_names=tuple(world.robot.joints), points=tuple(points))


def move_tcp(
    world: SimWorld,
    position: tuple[float, float, float] | np.ndarray,
    duration: float,
    yaw: float = 0.0,
) -> None:
    """Move the TCP to position (pointing down) in duration s, then settle 0.1 s."""
    target = ik(world, position, yaw)
    problems = world.command_trajectory(smooth_command(world, target, duration))
    assert not problems, problems
    world.step(round((duration + 0.1) * world.physics_hz))


def duration_for(
    world: SimWorld, position: tuple[float, float, float] | np.ndarray, speed: float
) -> float:
    """Duration of a minimum-jerk move from the TCP to position peaking at speed m/s."""
    distance = float(np.linalg.norm(np.subtract(position, world.tcp_pose()[0])))
    return max(0.3, 1.875 * distance / speed)


def grasp(world: SimWorld, object_id: str, lift: float = 0.15, speed: float = 0.45) -> None:
    """Pick an object from above by commanding the arm and the fingers directly."""
    state = world.ground_truth().objects[object_id]
    centre = np.array(state.position)
    yaw = pb.getEulerFromQuaternion(state.orientation)[2]
    yaw = math.remainder(yaw, math.pi / 2)  # a cube's faces repeat every quarter turn
    above = centre + np.array([0.0, 0.0, 0.12])
    move_tcp(world, above, duration_for(world, above, speed), yaw)
    move_tcp(world, centre, duration_for(world, centre, speed), yaw)
    world.set_gripper(0.0)
    world.step(120)
    lifted = centre + np.array([0.0, 0.0, lift])
    move_tcp(world, lifted, duration_for(world, lifted, speed), yaw)
