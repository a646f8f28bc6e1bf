"""Pinhole camera model shared by the simulator (rendering) and perception
(deprojection), so both agree on intrinsics and pose to the pixel.

Conventions: ROS CameraInfo (pixel centres at integer coordinates) and the
optical frame (x right, y down, z forward). Depth is metric distance along z.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

FloatArray = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]


class CameraConfig(BaseModel):
    """Intrinsics from image size and vertical field of view; pose as look-at."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(default=640, ge=16, le=4096)
    height: int = Field(default=480, ge=16, le=4096)
    fov_y_deg: float = Field(default=58.0, gt=1.0, lt=170.0)
    near: float = Field(default=0.05, gt=0.0)
    far: float = Field(default=4.0, gt=0.0)
    position: Vec3 = (1.05, 0.0, 1.10)  # world frame, m
    target: Vec3 = (0.45, 0.0, 0.0)  # the point the optical axis passes through
    rate_hz: float = Field(default=15.0, gt=0.0)

    @model_validator(mode="after")
    def _check(self) -> CameraConfig:
        if self.far <= self.near:
            raise ValueError("`far` must be beyond `near`")
        if np.linalg.norm(np.subtract(self.target, self.position)) < 1e-6:
            raise ValueError("`target` must differ from `position`")
        return self

    def resized(self, width: int, height: int) -> CameraConfig:
        return self.model_copy(update={"width": width, "height": height})


class Intrinsics(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_config(cls, cam: CameraConfig) -> Intrinsics:
        fy = (cam.height / 2.0) / math.tan(math.radians(cam.fov_y_deg) / 2.0)
        return cls(
            width=cam.width,
            height=cam.height,
            fx=fy,
            fy=fy,
            cx=(cam.width - 1) / 2.0,
            cy=(cam.height - 1) / 2.0,
        )

    def matrix(self) -> FloatArray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def world_from_optical(position: Vec3, target: Vec3) -> FloatArray:
    """4x4 pose of the optical frame in the world, for a camera looking at target (z up)."""
    forward = np.subtract(target, position).astype(float)
    forward /= np.linalg.norm(forward)
    up = np.array([0.0, 0.0, 1.0])
    if abs(float(forward @ up)) > 0.999:  # looking straight down: pick x as "up" in the image
        up = np.array([1.0, 0.0, 0.0])
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = right, down, forward
    pose[:3, 3] = position
    return pose


def deproject(
    u: FloatArray, v: FloatArray, depth: FloatArray, intr: Intrinsics, pose: FloatArray
) -> FloatArray:
    """Pixels (u, v) with metric depth to world points, shape (N, 3)."""
    x = (u - intr.cx) / intr.fx * depth
    y = (v - intr.cy) / intr.fy * depth
    pts = np.stack([x, y, depth], axis=-1)
    out: FloatArray = pts @ pose[:3, :3].T + pose[:3, 3]
    return out


def project(points: FloatArray, intr: Intrinsics, pose: FloatArray) -> FloatArray:
    """World points (N, 3) to pixels (N, 2) and depth: returns (N, 3) of u, v, z."""
    rot, trans = pose[:3, :3], pose[:3, 3]
    cam = (points - trans) @ rot
    z = cam[:, 2]
    u = intr.fx * cam[:, 0] / z + intr.cx
    v = intr.fy * cam[:, 1] / z + intr.cy
    out: FloatArray = np.stack([u, v, z], axis=-1)
    return out
