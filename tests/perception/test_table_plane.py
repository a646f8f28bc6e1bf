"""Heights are measured from the table fitted in depth, not from a perfect extrinsic:
a camera mount a fraction of a degree off, or a few millimetres high, changes nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_stack.camera import Intrinsics, deproject, world_from_optical
from embodied_stack.perception.detector import Detector, DetectorConfig
from embodied_stack.perception.evaluate import false_positives, match_scene
from embodied_stack.perception.table_plane import TableFitConfig, estimate_table
from tests.perception.helpers import (
    CAMERA,
    POSITION_TARGET,
    hard_scene,
    public_scenes,
    render_public,
)

INTR = Intrinsics.from_config(CAMERA)
NOMINAL = world_from_optical(CAMERA.position, CAMERA.target)


def mount_error(axis: str, degrees: float = 0.0, raised: float = 0.0) -> np.ndarray:
    """The configured pose of a camera truly at NOMINAL: turned about its own optical
    axis `axis` (x: tilt down/up, z: roll) by degrees, or placed `raised` m higher."""
    k = NOMINAL[:3, {"x": 0, "y": 1, "z": 2}[axis]]
    a = math.radians(degrees)
    skew = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    turn = np.eye(3) + math.sin(a) * skew + (1.0 - math.cos(a)) * skew @ skew
    pose = NOMINAL.copy()
    pose[:3, :3] = turn @ NOMINAL[:3, :3]
    pose[2, 3] += raised
    return pose


def table_depth(pose: np.ndarray) -> np.ndarray:
    """Depth of a camera at `pose` seeing only the plane z = 0."""
    v, u = np.mgrid[0 : INTR.height, 0 : INTR.width].astype(np.float64)
    rays = np.stack([(u - INTR.cx) / INTR.fx, (v - INTR.cy) / INTR.fy, np.ones_like(u)], -1)
    down = rays @ pose[2, :3]
    depth = np.where(down < 0, -pose[2, 3] / np.minimum(down, -1e-9), np.nan)
    return depth.astype(np.float32)


ERRORS = {
    "tilted_0.3_deg": mount_error("x", 0.3),
    "tilted_0.6_deg": mount_error("x", -0.6),
    "tilted_1_deg": mount_error("x", 1.0),
    "rolled_0.6_deg": mount_error("z", 0.6),
    "panned_0.3_deg": mount_error("y", 0.3),
    "5_mm_high": mount_error("x", raised=0.005),
}


@pytest.mark.parametrize("error", sorted(ERRORS))
def test_a_camera_mount_slightly_off_sees_the_same_objects(error: str) -> None:
    detector = Detector(INTR, ERRORS[error])
    frames = [(name, render_public(suite, name)) for suite, name in public_scenes()]
    for name, r in [*frames, ("hard", hard_scene())]:
        detections = detector.detect(r.rgb, r.depth)
        assert detector.table is not None and detector.table.fitted, name
        matches = match_scene(r.scene, r.truth, detections)
        assert all(m.detection is not None for m in matches), (name, matches)
        assert not false_positives(matches, detections), (name, [d.label() for d in detections])
        worst = max(m.pos_err for m in matches)
        assert worst < POSITION_TARGET, f"{name}: {worst * 1000:.1f} mm"


def test_without_the_fit_such_a_mount_turns_the_table_into_objects() -> None:
    """Why the fit is there: 0.6 deg of tilt raises the far table above min_height."""
    unfitted = DetectorConfig(table=TableFitConfig(enabled=False))
    r = render_public("tasks", "two_cubes_tray")
    detections = Detector(INTR, mount_error("x", -0.6), unfitted).detect(r.rgb, r.depth)
    assert false_positives(match_scene(r.scene, r.truth, detections), detections)


@pytest.mark.parametrize(("axis", "degrees"), [("x", 0.5), ("x", -2.0), ("z", 1.5)])
def test_the_levelled_pose_puts_the_table_at_z_0(axis: str, degrees: float) -> None:
    configured = mount_error(axis, degrees, raised=0.004)
    table = estimate_table(table_depth(NOMINAL), INTR, configured, TableFitConfig())
    assert table.fitted and table.noise < 1e-4
    assert table.tilt_deg == pytest.approx(abs(degrees), abs=0.5 * abs(degrees) + 0.05)
    # Every table pixel is at z = 0 in the levelled pose, the camera where it was in x, y.
    v, u = np.mgrid[0 : INTR.height : 7, 0 : INTR.width : 7].astype(np.float64)
    depth = table_depth(NOMINAL)[::7, ::7].astype(np.float64)
    seen = np.isfinite(depth)
    points = deproject(u[seen], v[seen], depth[seen], INTR, table.pose)
    assert np.max(np.abs(points[:, 2])) < 1e-4
    assert table.pose[:2, 3] == pytest.approx(configured[:2, 3])


@pytest.mark.parametrize(
    "depth",
    [
        pytest.param(lambda: table_depth(NOMINAL) + 0.2, id="no_table_near_z_0"),
        pytest.param(lambda: table_depth(mount_error("x", 8.0)), id="tilted_beyond_the_limit"),
        pytest.param(lambda: np.full((INTR.height, INTR.width), np.nan), id="no_depth"),
    ],
)
def test_no_trusted_table_keeps_the_configured_pose(depth: object) -> None:
    assert callable(depth)
    table = estimate_table(depth().astype(np.float32), INTR, NOMINAL, TableFitConfig())
    assert not table.fitted
    assert table.pose is NOMINAL
