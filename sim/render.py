"""RGB-D rendering with matrices built from `embodied_stack.camera`, so a pixel
the simulator draws deprojects (perception's `deproject`) to the world point it shows.

OpenGL eye frame: x right, y up, looking along -z; the optical frame is x right,
y down, z forward, i.e. the eye frame turned half a turn about x.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pybullet as pb

from embodied_stack.camera import CameraConfig, Intrinsics, world_from_optical

GL_FROM_OPTICAL = np.diag([1.0, -1.0, -1.0, 1.0])


def view_matrix(cam: CameraConfig) -> list[float]:
    """Column-major 4x4 view matrix (world to eye)."""
    world_from_eye = world_from_optical(cam.position, cam.target) @ GL_FROM_OPTICAL
    eye_from_world = np.linalg.inv(world_from_eye)
    return [float(v) for v in eye_from_world.flatten(order="F")]


def projection_matrix(cam: CameraConfig) -> list[float]:
    """Column-major OpenGL projection matching `Intrinsics.from_config` to the pixel
    (pixel centres at integer coordinates, row 0 at the top)."""
    intr = Intrinsics.from_config(cam)
    w, h, n, f = cam.width, cam.height, cam.near, cam.far
    proj = np.zeros((4, 4))
    proj[0, 0] = 2.0 * intr.fx / w
    proj[0, 2] = 1.0 - 2.0 * (intr.cx + 0.5) / w
    proj[1, 1] = 2.0 * intr.fy / h
    proj[1, 2] = 2.0 * (intr.cy + 0.5) / h - 1.0
    proj[2, 2] = -(f + n) / (f - n)
    proj[2, 3] = -2.0 * f * n / (f - n)
    proj[3, 2] = -1.0
    return [float(v) for v in proj.flatten(order="F")]


def linear_depth(
    buffer: npt.NDArray[np.float32], near: float, far: float
) -> npt.NDArray[np.float32]:
    """OpenGL depth buffer [0, 1] to metric depth along the optical axis; 1 (nothing) is far."""
    d = np.clip(buffer, 0.0, 1.0, dtype=np.float32)
    z = np.float32(far * near) / (np.float32(far) - np.float32(far - near) * d)
    out: npt.NDArray[np.float32] = np.clip(z, near, far, dtype=np.float32)
    return out


def render(client: int, cam: CameraConfig) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """Colour (H, W, 3) uint8 and metric depth (H, W) float32 from the tiny renderer."""
    _w, _h, rgba, depth_buffer, _seg = pb.getCameraImage(
        cam.width,
        cam.height,
        viewMatrix=view_matrix(cam),
        projectionMatrix=projection_matrix(cam),
        renderer=pb.ER_TINY_RENDERER,
        flags=pb.ER_NO_SEGMENTATION_MASK,
        shadow=0,
        physicsClientId=client,
    )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(cam.height, cam.width, 4)[:, :, :3]
    depth = np.asarray(depth_buffer, dtype=np.float32).reshape(cam.height, cam.width)
    return np.ascontiguousarray(rgb), linear_depth(depth, cam.near, cam.far)
