"""The table plane measured from depth, so heights do not hang on a perfect extrinsic.

The camera pose comes from config; a mount a fraction of a degree off tilts the
whole height map (0.3 deg at a metre and a half: 8 mm across the table, enough
to turn the table itself into an object). Each frame, the table is fitted in a
sparse grid of depth pixels near z = 0 (RANSAC, then least squares on the
inliers) and the pose is levelled onto it: turned about the camera centre so the
table's normal is +z, then shifted so the table is z = 0. A plane says nothing
about yaw or the camera's x, y: those stay as configured. When no plane can be
trusted (too few table pixels, a tilt or offset beyond the limits), the
configured pose stands.

The spread of the table's heights about the plane is the depth noise, which
sets how high above the table a pixel must be to count as an object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.camera import Intrinsics, deproject

FloatArray = npt.NDArray[np.float64]
MAD_TO_SIGMA = 1.4826  # median absolute deviation to standard deviation (Gaussian)


class TableFitConfig(BaseModel):
    """Limits of the table fit (metres, degrees)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    samples: int = Field(default=3000, ge=100)  # pixels sampled in a grid, any image size
    band: float = Field(default=0.05, gt=0)  # |z| under the configured pose: may be table
    threshold: float = Field(default=0.004, gt=0)  # m from a RANSAC plane: on it
    min_threshold: float = Field(default=0.002, gt=0)  # inlier band floor after refining
    iterations: int = Field(default=48, ge=1)
    min_points: int = Field(default=150, ge=3)  # table samples needed to trust a fit
    max_tilt_deg: float = Field(default=4.0, gt=0)  # beyond this: a wrong plane, not a mount
    max_offset: float = Field(default=0.03, gt=0)  # m of table height off z = 0


@dataclass(frozen=True)
class TableEstimate:
    """The frame's table: the levelled pose and what the fit measured."""

    pose: FloatArray  # world_from_optical with the table at z = 0
    fitted: bool  # False: no trusted plane, the configured pose
    tilt_deg: float  # between the configured and the fitted table normal
    offset: float  # m, table height under the configured pose (at its sampled centre)
    noise: float  # m, robust std of the table's heights about the plane
    rows: npt.NDArray[np.intp]  # sampled table pixels (inliers), to re-measure noise
    cols: npt.NDArray[np.intp]


def _sample(
    depth: npt.NDArray[np.float32], intr: Intrinsics, pose: FloatArray, cfg: TableFitConfig
) -> tuple[FloatArray, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """World points of a sparse pixel grid within cfg.band of z = 0 (configured pose)."""
    s = max(1, int(math.sqrt(depth.size / cfg.samples)))
    rows, cols = np.mgrid[s // 2 : depth.shape[0] : s, s // 2 : depth.shape[1] : s]
    rows, cols = rows.ravel(), cols.ravel()
    d = depth[rows, cols].astype(np.float64)
    ok = np.isfinite(d) & (d > 0)
    rows, cols, d = rows[ok], cols[ok], d[ok]
    points = deproject(cols.astype(np.float64), rows.astype(np.float64), d, intr, pose)
    near = np.abs(points[:, 2]) < cfg.band
    return points[near], rows[near], cols[near]


def _ransac(points: FloatArray, cfg: TableFitConfig) -> npt.NDArray[np.bool_]:
    """Inliers of the plane through three samples that most points lie on."""
    rng = np.random.default_rng(0)  # the same draw every frame: results repeat
    pick = rng.integers(0, len(points), size=(cfg.iterations, 3))
    a, b, c = points[pick[:, 0]], points[pick[:, 1]], points[pick[:, 2]]
    normals = np.cross(b - a, c - a)
    length = np.linalg.norm(normals, axis=1)
    usable = length > 1e-9
    normals = normals[usable] / length[usable, None]
    offsets = np.einsum("ij,ij->i", normals, a[usable])
    if len(normals) == 0:
        return np.zeros(len(points), dtype=bool)
    near = np.abs(points @ normals.T - offsets) < cfg.threshold
    best = int(np.argmax(np.count_nonzero(near, axis=0)))
    inliers: npt.NDArray[np.bool_] = near[:, best]
    return inliers


def _least_squares(points: FloatArray) -> tuple[FloatArray, float]:
    """Plane through points: unit normal (z up) and offset d with normal . p = d."""
    centre = points.mean(axis=0)
    spread = points - centre
    _values, vectors = np.linalg.eigh(spread.T @ spread)
    normal = vectors[:, 0] if vectors[2, 0] >= 0 else -vectors[:, 0]  # least spread
    return normal, float(normal @ centre)


def _robust_sigma(residual: FloatArray) -> float:
    return MAD_TO_SIGMA * float(np.median(np.abs(residual - np.median(residual))))


def _refine(
    points: FloatArray, inliers: npt.NDArray[np.bool_], cfg: TableFitConfig
) -> tuple[FloatArray, float, npt.NDArray[np.bool_], float]:
    """Least squares on the inliers, then again on the band the noise allows."""
    normal, d = _least_squares(points[inliers])
    residual = points @ normal - d
    noise = _robust_sigma(residual[np.abs(residual) < 4 * cfg.threshold])
    inliers = np.abs(residual) < max(3.0 * noise, cfg.min_threshold)
    if np.count_nonzero(inliers) >= 3:
        normal, d = _least_squares(points[inliers])
        residual = points @ normal - d
        noise = _robust_sigma(residual[inliers])
    return normal, d, inliers, noise


def levelled_pose(pose: FloatArray, normal: FloatArray, d: float) -> FloatArray:
    """The pose turned about the camera centre so the plane normal . p = d becomes z = 0."""
    axis = np.cross(normal, [0.0, 0.0, 1.0])
    sin, cos = float(np.linalg.norm(axis)), float(normal[2])
    rot = np.eye(3)
    if sin > 1e-12:
        k = axis / sin
        skew = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
        rot = np.eye(3) + sin * skew + (1.0 - cos) * (skew @ skew)
    camera = pose[:3, 3]
    out = pose.copy()
    out[:3, :3] = rot @ pose[:3, :3]
    out[2, 3] = float(normal @ camera) - d  # the camera's height above the plane
    return out


def estimate_table(
    depth: npt.NDArray[np.float32], intr: Intrinsics, pose: FloatArray, cfg: TableFitConfig
) -> TableEstimate:
    """The frame's table plane, or the configured pose when none can be trusted."""
    empty = np.zeros(0, dtype=np.intp)
    unfitted = TableEstimate(pose, False, 0.0, 0.0, 0.0, empty, empty)
    if not cfg.enabled:
        return unfitted
    points, rows, cols = _sample(depth, intr, pose, cfg)
    if len(points) < cfg.min_points:
        return unfitted
    inliers = _ransac(points, cfg)
    if np.count_nonzero(inliers) < cfg.min_points:
        return unfitted
    normal, d, inliers, noise = _refine(points, inliers, cfg)
    tilt = math.degrees(math.acos(min(1.0, float(normal[2]))))
    offset = float(points[inliers, 2].mean()) if np.any(inliers) else math.inf
    trusted = (
        np.count_nonzero(inliers) >= cfg.min_points
        and tilt <= cfg.max_tilt_deg
        and abs(offset) <= cfg.max_offset
    )
    if not trusted:
        return TableEstimate(pose, False, tilt, offset, noise, rows[inliers], cols[inliers])
    levelled = levelled_pose(pose, normal, d)
    return TableEstimate(levelled, True, tilt, offset, noise, rows[inliers], cols[inliers])


def table_noise(depth: npt.NDArray[np.float32], estimate: TableEstimate, intr: Intrinsics) -> float:
    """Robust std of the table's heights in (filtered) depth at the fitted table pixels."""
    if len(estimate.rows) < 3:
        return 0.0
    d = depth[estimate.rows, estimate.cols].astype(np.float64)
    ok = np.isfinite(d) & (d > 0)
    if np.count_nonzero(ok) < 3:
        return 0.0
    rows, cols = estimate.rows[ok].astype(np.float64), estimate.cols[ok].astype(np.float64)
    z = deproject(cols, rows, d[ok], intr, estimate.pose)[:, 2]
    return _robust_sigma(z)
