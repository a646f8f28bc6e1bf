"""Forward kinematics and the geometric Jacobian of a serial chain read from a URDF.

The chain runs from ``profile.base_link`` to ``profile.tcp_link``; fixed joints are
folded into the origin of the next moving joint (or into the tool transform), so
FK costs one 4x4 product per actuated joint. Joint limits are the tighter of the
URDF's ``<limit>`` and the robot profile's (`joint_limits`): a profile may narrow
the robot's ranges and speeds, never widen them.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from embodied_stack.errors import ConfigError
from embodied_stack.robot import RobotProfile

Array = NDArray[np.float64]


def rpy_matrix(roll: float, pitch: float, yaw: float) -> Array:
    """URDF fixed-axis roll-pitch-yaw: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def transform(rotation: Array, translation: Array) -> Array:
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = translation
    return out


@dataclass(frozen=True)
class _UrdfJoint:
    name: str
    kind: str
    parent: str
    child: str
    origin: Array  # 4x4
    axis: Array  # unit 3-vector
    lower: float = -math.inf  # rad, from <limit> (continuous joints have none)
    upper: float = math.inf
    velocity: float = math.inf  # rad/s; a missing or zero velocity limit is no limit


def _floats(text: str | None, default: str) -> list[float]:
    return [float(v) for v in (text or default).split()]


def _parse_joints(urdf: Path) -> dict[str, _UrdfJoint]:
    """Joints of a URDF, keyed by child link."""
    try:
        root = ET.parse(urdf).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ConfigError(f"cannot read URDF {urdf}: {exc}") from exc
    joints: dict[str, _UrdfJoint] = {}
    for el in root.iter("joint"):
        origin = el.find("origin")
        axis_el = el.find("axis")
        xyz = _floats(origin.get("xyz") if origin is not None else None, "0 0 0")
        rpy = _floats(origin.get("rpy") if origin is not None else None, "0 0 0")
        axis = np.array(_floats(axis_el.get("xyz") if axis_el is not None else None, "1 0 0"))
        norm = float(np.linalg.norm(axis))
        parent, child = el.find("parent"), el.find("child")
        if parent is None or child is None:
            raise ConfigError(f"URDF {urdf}: joint {el.get('name')} lacks parent or child")
        joints[child.get("link", "")] = _UrdfJoint(
            name=el.get("name", ""),
            kind=el.get("type", "fixed"),
            parent=parent.get("link", ""),
            child=child.get("link", ""),
            origin=transform(rpy_matrix(*rpy), np.array(xyz)),
            axis=axis / norm if norm > 0 else np.array([0.0, 0.0, 1.0]),
            **_limit(urdf, el),
        )
    return joints


def _limit(urdf: Path, joint: ET.Element) -> dict[str, float]:
    """Position and velocity limits of a joint's <limit> (none for continuous joints)."""
    limit = joint.find("limit")
    if limit is None:
        return {}
    try:
        values = {k: float(limit.get(k, "nan")) for k in ("lower", "upper", "velocity")}
    except ValueError as exc:
        raise ConfigError(f"URDF {urdf}: joint {joint.get('name')}: bad <limit>: {exc}") from exc
    found: dict[str, float] = {}
    if joint.get("type") != "continuous":
        found |= {k: values[k] for k in ("lower", "upper") if math.isfinite(values[k])}
    if math.isfinite(values["velocity"]) and values["velocity"] > 0:
        found["velocity"] = values["velocity"]
    return found


@lru_cache(maxsize=8)
def _chain_from(urdf: Path, base: str, tip: str) -> list[_UrdfJoint]:
    joints = _parse_joints(urdf)
    chain: list[_UrdfJoint] = []
    link = tip
    while link != base:
        if link not in joints:
            raise ConfigError(f"URDF {urdf}: no chain from {base!r} to {tip!r} (stuck at {link!r})")
        chain.append(joints[link])
        link = joints[link].parent
    return chain[::-1]


@dataclass(frozen=True)
class JointLimits:
    """Per joint, in profile order: the tighter of the URDF's and the profile's limits
    (the URDF has no acceleration limit: that one is the profile's alone)."""

    lower: Array  # rad
    upper: Array  # rad
    max_velocity: Array  # rad/s
    max_acceleration: Array  # rad/s^2


def joint_limits(profile: RobotProfile) -> JointLimits:
    """The limits a motion must respect: URDF <limit> and profile, whichever is tighter."""
    chain = _chain_from(profile.urdf_path(), profile.base_link, profile.tcp_link)
    by_name = {j.name: j for j in chain if j.kind != "fixed"}
    urdf = [by_name[n] for n in profile.joints if n in by_name]
    if len(urdf) != len(profile.joints):
        missing = sorted(set(profile.joints) - set(by_name))
        raise ConfigError(f"URDF {profile.urdf_path()} has no moving joint(s) {missing}")
    lower = np.maximum(profile.lower, [j.lower for j in urdf])
    upper = np.minimum(profile.upper, [j.upper for j in urdf])
    if np.any(lower >= upper):
        bad = [n for n, lo, hi in zip(profile.joints, lower, upper, strict=True) if lo >= hi]
        raise ConfigError(f"profile {profile.name}: joint ranges outside the URDF's: {bad}")
    return JointLimits(
        lower=lower,
        upper=upper,
        max_velocity=np.minimum(profile.max_velocity, [j.velocity for j in urdf]),
        max_acceleration=np.array(profile.max_acceleration, dtype=float),
    )


class Chain:
    """A revolute serial chain: FK of every link frame, TCP pose and Jacobian."""

    def __init__(self, profile: RobotProfile) -> None:
        urdf_chain = _chain_from(profile.urdf_path(), profile.base_link, profile.tcp_link)
        moving = [j for j in urdf_chain if j.kind != "fixed"]
        names = [j.name for j in moving]
        if names != list(profile.joints):
            raise ConfigError(
                f"URDF chain joints {names} differ from profile joints {profile.joints}"
            )
        if any(j.kind not in ("revolute", "continuous") for j in moving):
            raise ConfigError("only revolute chains are supported")
        self.joint_names: tuple[str, ...] = tuple(names)
        self.limits = joint_limits(profile)
        self.lower = self.limits.lower
        self.upper = self.limits.upper
        self.dof = len(names)
        # Per moving joint: origin (with preceding fixed joints folded in) and axis.
        self._origins: list[Array] = []
        self._axes: list[Array] = []
        # Links after each moving joint reached only through fixed joints, with offsets.
        self._fixed_after: list[list[tuple[str, Array]]] = [[]]
        self._link_after: list[str] = []
        pending = np.eye(4)
        for joint in urdf_chain:
            if joint.kind == "fixed":
                pending = pending @ joint.origin
                self._fixed_after[-1].append((joint.child, pending.copy()))
                continue
            self._origins.append(pending @ joint.origin)
            self._axes.append(joint.axis)
            self._link_after.append(joint.child)
            self._fixed_after.append([])
            pending = np.eye(4)
        self.base_link = profile.base_link
        self.tcp_link = profile.tcp_link
        self._tool = pending  # last moving joint's link -> TCP
        self._z_axes = all(np.allclose(a, (0.0, 0.0, 1.0)) for a in self._axes)
        self._origin_stack = np.array(self._origins)
        self._axis_stack = np.array(self._axes)
        self._k_stack = np.array([_skew(a) for a in self._axes])
        self._kk_stack = self._k_stack @ self._k_stack
        # Farthest the TCP can be from each joint's axis origin, in any configuration:
        # the lengths of the offsets after it (rotations keep lengths).
        offsets = [float(np.linalg.norm(o[:3, 3])) for o in self._origins[1:]]
        offsets.append(float(np.linalg.norm(self._tool[:3, 3])))
        self.reach_after: Array = np.cumsum(offsets[::-1])[::-1]

    def _local_transforms(self, q: Array) -> Array:
        """origin_i @ rot(axis_i, q_i) for every joint at once (dof x 4 x 4)."""
        c = np.cos(q)[:, None]
        s = np.sin(q)[:, None]
        o = self._origin_stack
        if self._z_axes:
            out = o.copy()
            out[:, :, 0] = c * o[:, :, 0] + s * o[:, :, 1]
            out[:, :, 1] = c * o[:, :, 1] - s * o[:, :, 0]
            return out
        rot = np.tile(np.eye(4), (self.dof, 1, 1))
        rot[:, :3, :3] += s[:, :, None] * self._k_stack + (1.0 - c[:, :, None]) * self._kk_stack
        return np.asarray(o @ rot)

    def joint_frames(self, q: Array) -> tuple[list[Array], Array]:
        """Frame of every moving joint (after its rotation) and the TCP frame."""
        local = self._local_transforms(np.asarray(q, dtype=float))
        frames: list[Array] = [local[0]]
        for i in range(1, self.dof):
            frames.append(frames[-1] @ local[i])
        return frames, frames[-1] @ self._tool

    def tcp(self, q: Array) -> Array:
        """4x4 pose of the TCP in the base frame."""
        return self.joint_frames(q)[1]

    def link_frames(self, q: Array) -> dict[str, Array]:
        """Pose of every link on the chain, base to TCP, in the base frame."""
        frames, _ = self.joint_frames(q)
        out: dict[str, Array] = {self.base_link: np.eye(4)}
        for child, offset in self._fixed_after[0]:
            out[child] = offset
        for i, frame in enumerate(frames):
            out[self._link_after[i]] = frame
            for child, offset in self._fixed_after[i + 1]:
                out[child] = frame @ offset
        return out

    def jacobian(self, q: Array) -> tuple[Array, Array]:
        """Geometric Jacobian (6 x dof, linear rows first) at the TCP, and the TCP pose."""
        frames, tcp = self.joint_frames(q)
        stack = np.array(frames)
        if self._z_axes:
            axes = stack[:, :3, 2]
        else:
            axes = np.einsum("nij,nj->ni", stack[:, :3, :3], self._axis_stack)
        d = tcp[:3, 3] - stack[:, :3, 3]
        jac = np.empty((6, self.dof))
        # cross(axes, d), written out: np.cross costs more than the whole FK here
        jac[0] = axes[:, 1] * d[:, 2] - axes[:, 2] * d[:, 1]
        jac[1] = axes[:, 2] * d[:, 0] - axes[:, 0] * d[:, 2]
        jac[2] = axes[:, 0] * d[:, 1] - axes[:, 1] * d[:, 0]
        jac[3:] = axes.T
        return jac, tcp

    def tcp_velocities(self, q: Array, qd: Array) -> Array:
        """Linear TCP velocity (n x 3) for n configurations and joint velocities (n x dof)
        at once: J(q) qd, row by row (what `jacobian` gives, without a loop in Python)."""
        q, qd = np.atleast_2d(q), np.atleast_2d(qd)
        c, s = np.cos(q)[:, :, None, None], np.sin(q)[:, :, None, None]
        rot = np.broadcast_to(np.eye(4), (*q.shape, 4, 4)).copy()
        rot[:, :, :3, :3] += s * self._k_stack + (1.0 - c) * self._kk_stack
        local = self._origin_stack @ rot  # n x dof x 4 x 4
        frames = np.empty_like(local)
        frames[:, 0] = local[:, 0]
        for i in range(1, self.dof):
            frames[:, i] = frames[:, i - 1] @ local[:, i]
        tcp = (frames[:, -1] @ self._tool)[:, :3, 3]
        axes = np.einsum("ndij,dj->ndi", frames[:, :, :3, :3], self._axis_stack)
        arms = tcp[:, None, :] - frames[:, :, :3, 3]
        velocity: Array = np.einsum("ndi,nd->ni", np.cross(axes, arms), qd)
        return velocity

    def tcp_acceleration_bound(self, max_qd: Array, max_qdd: Array) -> Array:
        """A bound of the TCP's linear acceleration over a stretch of motion where every
        joint i keeps |qd_i| <= max_qd[..., i] and |qdd_i| <= max_qdd[..., i].

        With v = sum_i J_i qd_i and J_i = z_i x (p - o_i), |J_i| <= L_i (`reach_after`):
        a = sum_i J_i qdd_i + sum_i dJ_i/dt qd_i. The axis z_i turns with the links before
        it (|dz_i/dt| <= sum_{j<i} |qd_j|) and p - o_i changes at most by
        sum_{j<i} L_i |qd_j| + sum_{j>=i} L_j |qd_j|, so |dJ_i/dt| <= 2 L_0 sum_j |qd_j|
        and |a| <= sum_i L_i |qdd_i| + 2 L_0 (sum_i |qd_i|)^2 (L_0, the largest reach)."""
        speed = np.sum(np.abs(max_qd), axis=-1)
        bound: Array = np.abs(max_qdd) @ self.reach_after + 2.0 * self.reach_after[0] * speed**2
        return bound

    def within_limits(self, q: Array, tol: float = 1e-9) -> bool:
        return bool(np.all(q >= self.lower - tol) and np.all(q <= self.upper + tol))


def _skew(v: Array) -> Array:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def rotation_error(current: Array, target: Array) -> Array:
    """Rotation vector taking `current` to `target` (both 3x3), in the base frame."""
    r = target @ current.T
    cos = max(-1.0, min(1.0, (r[0, 0] + r[1, 1] + r[2, 2] - 1.0) / 2.0))
    angle = math.acos(cos)
    vee = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    if angle < 1e-7:
        return 0.5 * vee
    if angle > math.pi - 1e-4:
        # Near pi the antisymmetric part vanishes: take the axis from the symmetric part.
        sym = (r + np.eye(3)) / 2.0
        axis: Array = sym[int(np.argmax(np.diag(sym)))]
        axis = axis / float(np.linalg.norm(axis))
        if float(axis @ vee) < 0:
            axis = -axis
        return angle * axis
    return angle / (2.0 * math.sin(angle)) * vee


def rotation_angle(a: Array, b: Array) -> float:
    """Angle (rad) between two rotations (3x3)."""
    r = b @ a.T
    return math.acos(max(-1.0, min(1.0, (r[0, 0] + r[1, 1] + r[2, 2] - 1.0) / 2.0)))


def down_rotation(yaw: float) -> Array:
    """TCP orientation pointing straight down (tool z = -world z), rotated by `yaw` about z."""
    c, s = math.cos(yaw), math.sin(yaw)
    # Rz(yaw) @ Rx(pi)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def tool_yaw(rotation: Array) -> float:
    """Yaw of the tool x axis about world z (meaningful when the tool points down)."""
    return math.atan2(float(rotation[1, 0]), float(rotation[0, 0]))
