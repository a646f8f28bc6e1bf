"""The robot's own body in the camera image, from its joint state.

The arm is white, gray and black like some objects, so colour cannot tell it
apart; its pose can. Forward kinematics (control.kinematics.Chain) places on
every link the capsule enclosing its collision meshes (link_capsules.py), and
on each finger its own; points inside them are the robot, not objects. The
space between the fingers stays open, so a held object is still seen.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from embodied_stack.control.kinematics import Chain, rpy_matrix, transform
from embodied_stack.perception.link_capsules import Capsule, link_capsules
from embodied_stack.robot import RobotProfile

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

FALLBACK_RADIUS = 0.085  # m, around the chain between link origins when meshes are missing
GRASP_MIN_OPENING = 0.003  # m: closed further, the fingers hold nothing


@dataclass(frozen=True)
class _FingerJoint:
    name: str
    parent: str
    child: str
    origin: FloatArray  # 4x4
    axis: FloatArray  # (3,)


def _finger_joints(profile: RobotProfile) -> list[_FingerJoint]:
    root = ET.parse(profile.urdf_path()).getroot()
    found = []
    for joint in root.iter("joint"):
        if joint.get("name") not in profile.gripper.joints:
            continue
        origin, axis = joint.find("origin"), joint.find("axis")
        xyz = [
            float(v)
            for v in (origin.get("xyz", "0 0 0") if origin is not None else "0 0 0").split()
        ]
        rpy = [
            float(v)
            for v in (origin.get("rpy", "0 0 0") if origin is not None else "0 0 0").split()
        ]
        direction = [
            float(v) for v in (axis.get("xyz", "1 0 0") if axis is not None else "1 0 0").split()
        ]
        parent, child = joint.find("parent"), joint.find("child")
        if parent is None or child is None:
            continue
        found.append(
            _FingerJoint(
                name=joint.get("name", ""),
                parent=parent.get("link", ""),
                child=child.get("link", ""),
                origin=transform(rpy_matrix(*rpy), np.array(xyz)),
                axis=np.array(direction),
            )
        )
    return found


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
        self.capsules = link_capsules(profile.urdf_path())
        self.fingers = _finger_joints(profile)
        self._q = np.array(profile.home, dtype=float)
        self._finger_q = {j.name: profile.gripper.max_opening / 2 for j in self.fingers}

    def set_joints(self, positions: Mapping[str, float]) -> None:
        """Joint positions by name (a JointState); unknown names are ignored."""
        current = zip(self.profile.joints, self._q, strict=True)
        self._q = np.array([positions.get(name, float(v)) for name, v in current], dtype=float)
        for name in self._finger_q:
            if name in positions:
                self._finger_q[name] = float(positions[name])

    @property
    def opening(self) -> float:
        return float(sum(self._finger_q.values())) if self._finger_q else 0.0

    def tcp(self) -> tuple[float, float, float]:
        p = self.chain.tcp(self._q)[:3, 3]
        return (float(p[0]), float(p[1]), float(p[2]))

    def grasping(self) -> bool:
        """Fingers stopped part-way: closed on something."""
        return GRASP_MIN_OPENING < self.opening < 0.9 * self.profile.gripper.max_opening

    def link_frames(self) -> dict[str, FloatArray]:
        """World pose of every link: the chain, then the fingers at their positions."""
        frames = self.chain.link_frames(self._q)
        for joint in self.fingers:
            if joint.parent in frames:
                slide = transform(np.eye(3), joint.axis * self._finger_q[joint.name])
                frames[joint.child] = frames[joint.parent] @ joint.origin @ slide
        return frames

    def contains(self, points: FloatArray) -> BoolArray:
        """True for world points (N, 3) on the robot (the base frame is the world)."""
        frames = self.link_frames()
        inside = np.zeros(len(points), dtype=bool)
        for name, frame in frames.items():
            capsule = self.capsules.get(name)
            if capsule is not None:
                inside |= self._in_capsule(points, capsule, frame)
        if not self.capsules:  # no meshes: the chain itself, thickened
            origins = [f[:3, 3] for n, f in frames.items() if n != self.profile.tcp_link]
            for a, b in itertools.pairwise(origins):
                inside |= _segment_distance(points, a, b) < FALLBACK_RADIUS + self.margin
        return inside

    def _in_capsule(self, points: FloatArray, capsule: Capsule, frame: FloatArray) -> BoolArray:
        rot, trans = frame[:3, :3], frame[:3, 3]
        a, b = rot @ capsule.a + trans, rot @ capsule.b + trans
        reach = capsule.radius + self.margin
        # Cheap box test first: most points are far from any one link.
        lo, hi = np.minimum(a, b) - reach, np.maximum(a, b) + reach
        near = np.all((points >= lo) & (points <= hi), axis=1)
        out = np.zeros(len(points), dtype=bool)
        if np.any(near):
            out[near] = _segment_distance(points[near], a, b) < reach
        return out
