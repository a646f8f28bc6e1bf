"""The robot's own body in the camera image, from its joint state.

The arm is white, gray and black like some objects, so colour cannot tell it
apart; its pose can. Forward kinematics (control.kinematics.Chain) places a
capsule on every link and boxes on the hand and fingers; points inside them
are the robot, not objects. The space between the fingers stays open, so a
held object is still seen.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from embodied_stack.control.kinematics import Chain
from embodied_stack.robot import RobotProfile

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

LINK_RADIUS = 0.085  # m, around the segment joining consecutive link origins
HAND_HALF = (0.045, 0.115)  # m, hand box half extents across the hand frame's x, y
HAND_Z = (-0.04, 0.075)  # m, along the hand frame's z (pointing out of the fingers)
FINGER_Z = (0.045, 0.125)
FINGER_THICKNESS = 0.03  # m, outward from the inner face of a finger
FINGER_HALF_X = 0.018
GRASP_MIN_OPENING = 0.003  # m: closed further, the fingers hold nothing


def _segment_distance(points: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    ab = b - a
    t = np.clip((points - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    closest = a + t[:, None] * ab
    out: FloatArray = np.linalg.norm(points - closest, axis=1)
    return out


class ArmModel:
    """Forward kinematics of the arm for masking it out and locating its TCP."""

    def __init__(self, profile: RobotProfile, margin: float = 0.01) -> None:
        self.profile = profile
        self.chain = Chain(profile)
        self.margin = margin
        self._q = np.array(profile.home, dtype=float)
        self._opening = profile.gripper.max_opening

    def set_joints(self, positions: Mapping[str, float]) -> None:
        """Joint positions by name (a JointState); unknown names are ignored."""
        q = [
            positions.get(name, float(v))
            for name, v in zip(self.profile.joints, self._q, strict=True)
        ]
        self._q = np.array(q, dtype=float)
        fingers = [positions[n] for n in self.profile.gripper.joints if n in positions]
        if fingers:
            self._opening = float(sum(fingers))

    @property
    def opening(self) -> float:
        return self._opening

    def tcp(self) -> tuple[float, float, float]:
        p = self.chain.tcp(self._q)[:3, 3]
        return (float(p[0]), float(p[1]), float(p[2]))

    def grasping(self) -> bool:
        """Fingers stopped part-way: closed on something."""
        return GRASP_MIN_OPENING < self._opening < 0.9 * self.profile.gripper.max_opening

    def contains(self, points: FloatArray) -> BoolArray:
        """True for world points (N, 3) on the robot (the base frame is the world)."""
        frames = self.chain.link_frames(self._q)
        # Links up to the hand; the TCP lies between the fingers, where held objects are.
        origins = [f[:3, 3] for name, f in frames.items() if name != self.profile.tcp_link]
        inside = np.zeros(len(points), dtype=bool)
        radius = LINK_RADIUS + self.margin
        for a, b in itertools.pairwise(origins):
            inside |= _segment_distance(points, a, b) < radius
        hand = frames.get("panda_hand", frames[self.profile.tcp_link])
        inside |= self._in_hand(points, hand)
        return inside

    def _in_hand(self, points: FloatArray, hand: FloatArray) -> BoolArray:
        local = (points - hand[:3, 3]) @ hand[:3, :3]
        m = self.margin
        x, y, z = np.abs(local[:, 0]), np.abs(local[:, 1]), local[:, 2]
        body = (x < HAND_HALF[0] + m) & (y < HAND_HALF[1] + m)
        body &= (z > HAND_Z[0] - m) & (z < HAND_Z[1] + m)
        inner = self._opening / 2
        finger = (x < FINGER_HALF_X + m) & (y > inner) & (y < inner + FINGER_THICKNESS + m)
        finger &= (z > FINGER_Z[0] - m) & (z < FINGER_Z[1] + m)
        out: BoolArray = body | finger
        return out
