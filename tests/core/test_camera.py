"""The shared pinhole model: project and deproject are inverses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from embodied_stack.camera import CameraConfig, Intrinsics, deproject, project, world_from_optical


def test_optical_frame_is_right_handed_and_looks_at_target() -> None:
    cam = CameraConfig()
    pose = world_from_optical(cam.position, cam.target)
    rot = pose[:3, :3]
    assert np.allclose(rot.T @ rot, np.eye(3))
    assert np.linalg.det(rot) == pytest.approx(1.0)
    forward = np.subtract(cam.target, cam.position)
    assert np.allclose(rot[:, 2], forward / np.linalg.norm(forward))
    assert rot[2, 1] < 0  # image y (down) points down in the world


def test_straight_down_camera_is_defined() -> None:
    pose = world_from_optical((0.5, 0.0, 1.0), (0.5, 0.0, 0.0))
    assert np.allclose(pose[:3, 2], [0, 0, -1])


@given(st.floats(0.2, 0.8), st.floats(-0.4, 0.4), st.floats(0.0, 0.3))
def test_project_deproject_round_trip(x: float, y: float, z: float) -> None:
    cam = CameraConfig()
    intr = Intrinsics.from_config(cam)
    pose = world_from_optical(cam.position, cam.target)
    uvz = project(np.array([[x, y, z]]), intr, pose)
    back = deproject(uvz[:, 0], uvz[:, 1], uvz[:, 2], intr, pose)
    assert back[0] == pytest.approx([x, y, z], abs=1e-9)


def test_target_projects_to_the_image_centre() -> None:
    cam = CameraConfig(width=320, height=240)
    intr = Intrinsics.from_config(cam)
    uvz = project(np.array([cam.target]), intr, world_from_optical(cam.position, cam.target))
    assert uvz[0, :2] == pytest.approx([intr.cx, intr.cy])


def test_bad_camera_config() -> None:
    with pytest.raises(ValueError, match="far"):
        CameraConfig(near=1.0, far=0.5)
    with pytest.raises(ValueError, match="target"):
        CameraConfig(position=(1, 1, 1), target=(1, 1, 1))
