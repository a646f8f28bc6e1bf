"""Robot link geometry for the red-line checks, from a private headless PyBullet client.

The robot profile's URDF is loaded into its own DIRECT client (never the
simulator's), so checks see the real collision geometry of every link: the
closest distance of each link to a box, the lowest point of the arm, the TCP.
One instance is not thread-safe: users hold its `lock`; `geometry_for` shares one per robot.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pybullet as pb

from embodied_stack.errors import ConfigError
from embodied_stack.robot import RobotProfile, load_robot
from embodied_stack.scene import KeepOutBox

Array = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]
_FAR = 1e9


@dataclass(frozen=True)
class LinkDistance:
    """Closest approach of the arm to one box: signed distance (< 0 = inside)."""

    distance: float
    link: str


class RobotGeometry:
    """Forward geometry of one robot in a private PyBullet client."""

    def __init__(
        self,
        profile: RobotProfile,
        *,
        finger_opening: float | None = None,
        client: int | None = None,
    ) -> None:
        """`client`: a DIRECT client to share (never stepped; the caller keeps it),
        else a private one. Bodies in one client never interact unless queried, and
        PyBullet holds the interpreter lock per call, so sharers only need own locks."""
        self.profile = profile
        self._owns_client = client is None
        self._client = pb.connect(pb.DIRECT) if client is None else client
        path = profile.urdf_path()
        if not path.is_file():
            raise ConfigError(f"robot {profile.name}: URDF not found at {path}")
        # Collision geometry only: visual meshes cost ~50 MB per load and no check reads them.
        flags = pb.URDF_IGNORE_VISUAL_SHAPES
        self._robot = pb.loadURDF(
            str(path), useFixedBase=True, flags=flags, physicsClientId=self._client
        )
        names = self._joint_names()
        self._arm = [names.index(j) for j in profile.joints]
        self._movable = [i for i in range(len(names)) if self._is_movable(i)]
        self._fingers = [names.index(j) for j in profile.gripper.joints if j in names]
        self.link_names = {i: self._link_name(i) for i in range(len(names))}
        self.link_names[-1] = profile.base_link
        self._tcp = self._index_of(profile.tcp_link)
        opening = profile.gripper.max_opening if finger_opening is None else finger_opening
        for finger in self._fingers:  # open fingers: the widest the hand gets
            pb.resetJointState(self._robot, finger, opening / 2, physicsClientId=self._client)
        self._boxes: dict[tuple[Vec3, Vec3], int] = {}
        self.lock = threading.RLock()  # one user at a time: queries change the joint state

    # ---- set-up helpers -----------------------------------------------------------------

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, physicsClientId=self._client, **kwargs)

    def _joint_names(self) -> list[str]:
        count = self._call(pb.getNumJoints, self._robot)
        return [self._call(pb.getJointInfo, self._robot, i)[1].decode() for i in range(count)]

    def _link_name(self, index: int) -> str:
        return str(self._call(pb.getJointInfo, self._robot, index)[12].decode())

    def _is_movable(self, index: int) -> bool:
        return bool(self._call(pb.getJointInfo, self._robot, index)[2] != pb.JOINT_FIXED)

    def _index_of(self, link: str) -> int:
        for index, name in self.link_names.items():
            if name == link:
                return index
        raise ConfigError(f"robot {self.profile.name}: no link named {link!r}")

    # ---- state --------------------------------------------------------------------------

    def set_joints(self, q: Sequence[float] | Array) -> None:
        for index, value in zip(self._arm, q, strict=True):
            self._call(pb.resetJointState, self._robot, index, float(value))

    def tcp_position(self) -> Array:
        state = self._call(pb.getLinkState, self._robot, self._tcp, computeForwardKinematics=1)
        return np.array(state[4], dtype=float)

    def link_origins(self) -> Array:
        """World positions of every link frame (n x 3), for measuring displacement."""
        states = self._call(
            pb.getLinkStates, self._robot, list(self.link_names)[:-1], computeForwardKinematics=1
        )
        return np.array([s[4] for s in states], dtype=float)

    def tcp_jacobian(self) -> Array:
        """Linear Jacobian of the TCP (3 x arm joints) at the current joint state."""
        positions = [self._call(pb.getJointState, self._robot, i)[0] for i in self._movable]
        zeros = [0.0] * len(positions)
        # PyBullet's Jacobian point is relative to the link's centre of mass frame.
        state = self._call(pb.getLinkState, self._robot, self._tcp)
        frame, _ = pb.invertTransform(state[2], state[3])
        linear, _angular = self._call(
            pb.calculateJacobian, self._robot, self._tcp, list(frame), positions, zeros, zeros
        )
        columns = [self._movable.index(i) for i in self._arm]
        return np.array(linear, dtype=float)[:, columns]

    def tcp_velocity(self, qd: Sequence[float] | Array) -> Array:
        velocity: Array = self.tcp_jacobian() @ np.asarray(qd, dtype=float)
        return velocity

    def link_aabbs(self) -> dict[str, tuple[Vec3, Vec3]]:
        out: dict[str, tuple[Vec3, Vec3]] = {}
        for index, name in self.link_names.items():
            lo, hi = self._call(pb.getAABB, self._robot, index)
            out[name] = (tuple(lo), tuple(hi))
        return out

    # ---- distances ----------------------------------------------------------------------

    def closest(
        self, box: KeepOutBox, max_distance: float, *, include_base: bool = False
    ) -> LinkDistance | None:
        """The arm's closest link to the box within max_distance (None if all farther)."""
        body = self._box_body(box)
        points = self._call(pb.getClosestPoints, self._robot, body, max_distance)
        best: LinkDistance | None = None
        for point in points:
            link, distance = int(point[3]), float(point[8])
            if link == -1 and not include_base:
                continue
            if best is None or distance < best.distance:
                best = LinkDistance(distance=distance, link=self.link_names[link])
        return best

    def _box_body(self, box: KeepOutBox) -> int:
        key = (box.min, box.max)
        body = self._boxes.get(key)
        if body is None:
            lo, hi = np.array(box.min), np.array(box.max)
            shape = self._call(
                pb.createCollisionShape, pb.GEOM_BOX, halfExtents=((hi - lo) / 2).tolist()
            )
            body = int(
                self._call(
                    pb.createMultiBody,
                    baseMass=0,
                    baseCollisionShapeIndex=shape,
                    basePosition=((hi + lo) / 2).tolist(),
                )
            )
            self._boxes[key] = body
            if len(self._boxes) > 256:  # scenes change; don't grow without bound
                self._drop_boxes(keep=key)
        return body

    def _drop_boxes(self, keep: tuple[Vec3, Vec3]) -> None:
        for key, body in list(self._boxes.items()):
            if key != keep:
                self._call(pb.removeBody, body)
                del self._boxes[key]

    def close(self) -> None:
        if self._owns_client and pb.isConnected(physicsClientId=self._client):
            pb.disconnect(physicsClientId=self._client)


def point_box_distance(point: Sequence[float] | Array, box: KeepOutBox) -> float:
    """Signed distance from a point to an axis-aligned box (< 0 inside)."""
    p, lo, hi = np.asarray(point), np.asarray(box.min), np.asarray(box.max)
    outside = np.maximum(np.maximum(lo - p, p - hi), 0.0)
    if np.any(outside > 0):
        return float(np.linalg.norm(outside))
    return -float(np.min(np.minimum(p - lo, hi - p)))


_shared: dict[tuple[str, str], RobotGeometry] = {}
_shared_lock = threading.Lock()
_shared_client: int | None = None  # one PyBullet client holds every shared geometry
# Users of a shared geometry: trajectory checks (long: a whole trajectory under the
# lock) and runtime monitors (short checks at the state rate). Kept apart so a
# monitor never waits behind a trajectory check; monitors share one among themselves.
TRAJECTORIES = "trajectories"
MONITORS = "monitors"


def geometry_for(robot: str = "panda", user: str = TRAJECTORIES) -> RobotGeometry:
    """The process's shared RobotGeometry of a robot for one kind of user, created
    once: loading the URDF holds the interpreter for a noticeable time, and each
    client holds ~40 MB, so it must not happen per thread, per node or per call (nor
    per stack when stacks come and go in one process). Hold its `lock` while using it."""
    global _shared_client
    with _shared_lock:
        key = (robot, user)
        if key not in _shared:
            if _shared_client is None:  # a client holds ~27 MB before any body is loaded
                _shared_client = pb.connect(pb.DIRECT)
            _shared[key] = RobotGeometry(load_robot(robot), client=_shared_client)
        return _shared[key]


def floor_box(min_link_z: float) -> KeepOutBox:
    """Everything below the table top a link may not enter."""
    return KeepOutBox(min=(-5.0, -5.0, min_link_z - 2.0), max=(5.0, 5.0, min_link_z))
