"""The robot in PyBullet: loading, joint and link lookup, motor commands, state.

Arm joints are position-controlled with velocity feed-forward and strong motors
(small tracking error); finger joints are force-limited, so a closing gripper
stops on contact and squeezes with the profile's `max_force`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pybullet as pb

from embodied_stack.robot import RobotProfile

Array = npt.NDArray[np.float64]

ARM_FORCE_SCALE = 3.0  # times the URDF effort limit: stiff tracking
ARM_POSITION_GAIN = 1.0
ARM_VELOCITY_GAIN = 1.0
FINGER_SPEED = 0.1  # m/s per finger
FINGER_FRICTION = 2.0
# Bullet multiplies the two bodies' coefficients: with an object's 0.01 this resists
# an object pivoting between the finger pads (about the contact normal).
FINGER_SPINNING_FRICTION = 0.5


class Arm:
    """One robot body on one client, driven by joint names from its profile."""

    def __init__(self, client: int, profile: RobotProfile, *, visuals: bool = True) -> None:
        self.client = client
        self.profile = profile
        flags = pb.URDF_USE_INERTIA_FROM_FILE
        if not visuals:  # a world nobody renders: the visual meshes are ~50 MB per load
            flags |= pb.URDF_IGNORE_VISUAL_SHAPES
        self.body: int = pb.loadURDF(
            str(profile.urdf_path()),
            basePosition=[0, 0, 0],
            useFixedBase=True,
            flags=flags,
            physicsClientId=client,
        )
        infos = [
            pb.getJointInfo(self.body, j, physicsClientId=client)
            for j in range(pb.getNumJoints(self.body, physicsClientId=client))
        ]
        joint_index = {info[1].decode(): info[0] for info in infos}
        self.link_names: dict[int, str] = {-1: profile.base_link}
        self.link_names.update({info[0]: info[12].decode() for info in infos})
        self.arm_joints = [joint_index[n] for n in profile.joints]
        self.finger_joints = [joint_index[n] for n in profile.gripper.joints]
        self.tcp_link = self._link_index(profile.tcp_link)
        self.finger_links = set(self.finger_joints)  # a joint's child link shares its index
        self._arm_forces = [ARM_FORCE_SCALE * float(infos[j][10]) for j in self.arm_joints]
        self.velocity_limits = [float(infos[j][11]) for j in self.arm_joints]
        self._couple_fingers()
        for link in self.finger_links:
            pb.changeDynamics(
                self.body,
                link,
                lateralFriction=FINGER_FRICTION,
                spinningFriction=FINGER_SPINNING_FRICTION,
                frictionAnchor=True,
                physicsClientId=client,
            )

    def _couple_fingers(self) -> None:
        """Mirror the two fingers, as the real gripper's mechanism does: without it
        the squeezing pair drifts sideways and the object slides out of the hand."""
        if len(self.finger_joints) != 2:
            return
        first, second = self.finger_joints
        gear = pb.createConstraint(
            self.body,
            first,
            self.body,
            second,
            jointType=pb.JOINT_GEAR,
            jointAxis=[1, 0, 0],
            parentFramePosition=[0, 0, 0],
            childFramePosition=[0, 0, 0],
            physicsClientId=self.client,
        )
        pb.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=200, physicsClientId=self.client)

    def _link_index(self, name: str) -> int:
        for index, link in self.link_names.items():
            if link == name:
                return index
        raise KeyError(f"robot {self.profile.name}: no link named {name!r}")

    @property
    def joint_names(self) -> list[str]:
        return [*self.profile.joints, *self.profile.gripper.joints]

    def reset_home(self) -> None:
        """Arm at home, gripper open, all at rest (teleports: for scene resets only)."""
        for j, q in zip(self.arm_joints, self.profile.home, strict=True):
            pb.resetJointState(self.body, j, q, 0.0, physicsClientId=self.client)
        for j in self.finger_joints:
            pb.resetJointState(
                self.body, j, self.profile.gripper.max_opening / 2, 0.0, physicsClientId=self.client
            )
        self.drive(np.array(self.profile.home), np.zeros(len(self.arm_joints)))
        self.drive_fingers(self.profile.gripper.max_opening)

    def drive(self, q: Array, qd: Array) -> None:
        pb.setJointMotorControlArray(
            self.body,
            self.arm_joints,
            pb.POSITION_CONTROL,
            targetPositions=q.tolist(),
            targetVelocities=qd.tolist(),
            forces=self._arm_forces,
            positionGains=[ARM_POSITION_GAIN] * len(self.arm_joints),
            velocityGains=[ARM_VELOCITY_GAIN] * len(self.arm_joints),
            physicsClientId=self.client,
        )

    def drive_fingers(self, opening: float) -> None:
        for j in self.finger_joints:
            pb.setJointMotorControl2(
                self.body,
                j,
                pb.POSITION_CONTROL,
                targetPosition=opening / 2,
                force=self.profile.gripper.max_force,
                maxVelocity=FINGER_SPEED,
                physicsClientId=self.client,
            )

    def joint_arrays(self, joints: list[int]) -> tuple[Array, Array, Array]:
        """Positions, velocities and applied efforts of the given joints."""
        states = pb.getJointStates(self.body, joints, physicsClientId=self.client)
        q = np.array([s[0] for s in states])
        qd = np.array([s[1] for s in states])
        effort = np.array([s[3] for s in states])
        return q, qd, effort

    def gripper_opening(self) -> float:
        q, _qd, _e = self.joint_arrays(self.finger_joints)
        return float(np.sum(q))

    def link_pose(self, link: int) -> tuple[Array, Array, Array]:
        """World position, quaternion xyzw and linear velocity of a link's frame."""
        pos, orn, linear, _angular = self.link_state(link)
        return pos, orn, linear

    def link_state(self, link: int) -> tuple[Array, Array, Array, Array]:
        """World position, quaternion xyzw, linear and angular velocity of a link's frame
        (the fixed base: at rest)."""
        if link == -1:
            # PyBullet reports the base's centre of mass; undo its inertial offset.
            com_pos, com_orn = pb.getBasePositionAndOrientation(
                self.body, physicsClientId=self.client
            )
            info = pb.getDynamicsInfo(self.body, -1, physicsClientId=self.client)
            inv_pos, inv_orn = pb.invertTransform(info[3], info[4])
            pos, orn = pb.multiplyTransforms(com_pos, com_orn, inv_pos, inv_orn)
            return np.array(pos), np.array(orn), np.zeros(3), np.zeros(3)
        state = pb.getLinkState(
            self.body,
            link,
            computeLinkVelocity=1,
            computeForwardKinematics=1,
            physicsClientId=self.client,
        )
        return np.array(state[4]), np.array(state[5]), np.array(state[6]), np.array(state[7])
