"""Top-down footprints of point sets: rotated rectangles fitted in the xy plane."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Rect:
    """A rectangle in the table plane: centre, extent along its own x (length) and y."""

    cx: float
    cy: float
    length: float  # along yaw
    width: float
    yaw: float  # rad, in (-pi/2, pi/2]

    def local(self, xy: FloatArray) -> FloatArray:
        """Coordinates of points in the rectangle's frame (x along yaw)."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        d = xy - np.array([self.cx, self.cy])
        out: FloatArray = np.stack([d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c], 1)
        return out

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        loc = self.local(np.array([[x, y]]))[0]
        return bool(
            abs(loc[0]) <= self.length / 2 + margin and abs(loc[1]) <= self.width / 2 + margin
        )

    def corners(self) -> FloatArray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        ax = np.array([c, s]) * self.length / 2
        ay = np.array([-s, c]) * self.width / 2
        centre = np.array([self.cx, self.cy])
        return np.array([centre + ax + ay, centre - ax + ay, centre - ax - ay, centre + ax - ay])


def wrap_half_turn(angle: float) -> float:
    """Angle in (-pi/2, pi/2]: a shape symmetric under a half turn."""
    a = (angle + math.pi / 2) % math.pi - math.pi / 2
    return a if a > -math.pi / 2 + 1e-12 else a + math.pi


def wrap_quarter_turn(angle: float) -> float:
    """Angle in (-pi/4, pi/4]: a square symmetric under a quarter turn."""
    a = (angle + math.pi / 4) % (math.pi / 2) - math.pi / 4
    return a if a > -math.pi / 4 + 1e-12 else a + math.pi / 2


def min_area_rect(xy: FloatArray, pad: float = 0.0) -> Rect:
    """Smallest rotated rectangle around the points, length >= width, grown by pad."""
    (cx, cy), (w, h), angle = cv2.minAreaRect((xy * 1000.0).astype(np.float32))
    yaw = math.radians(angle)
    length, width = w / 1000.0, h / 1000.0
    if width > length:
        length, width, yaw = width, length, yaw + math.pi / 2
    return Rect(cx / 1000.0, cy / 1000.0, length + pad, width + pad, wrap_half_turn(yaw))


def hull_fill(xy: FloatArray, rect: Rect) -> float:
    """Convex hull area over rectangle area: ~1 for boxes, ~pi/4 for discs."""
    hull = cv2.convexHull((xy * 1000.0).astype(np.float32))
    area = float(cv2.contourArea(hull)) / 1e6
    return area / max(rect.length * rect.width, 1e-9)


def radial_spread(xy: FloatArray, cx: float, cy: float, bins: int = 24) -> float:
    """How much the outline's distance from the centre varies with direction (std/mean).

    ~0 for a disc; ~0.1 for a square (corners stick out), whatever part is seen.
    NaN when too few directions are seen to tell.
    """
    d = xy - np.array([cx, cy])
    radius = np.hypot(d[:, 0], d[:, 1])
    sector = ((np.arctan2(d[:, 1], d[:, 0]) + math.pi) / (2 * math.pi) * bins).astype(int)
    outline = np.full(bins, -1.0)
    np.maximum.at(outline, np.clip(sector, 0, bins - 1), radius)
    seen = outline[outline > 0]
    if len(seen) < bins // 4:
        return math.nan
    return float(np.std(seen) / max(float(np.mean(seen)), 1e-9))


def anchored_centre(
    lo: float, hi: float, nominal: float, camera_side: float, tolerance: float
) -> float:
    """Centre along one axis of a box of known extent of which [lo, hi] was seen.

    When less than the whole extent is visible, the side facing the camera
    (camera_side > 0: the hi side) is the one really seen.
    """
    if hi - lo >= nominal - tolerance:
        return (lo + hi) / 2
    return hi - nominal / 2 if camera_side > 0 else lo + nominal / 2


def sphere_fit(points: FloatArray) -> tuple[FloatArray, float, float]:
    """Least-squares sphere (or circle, for 2-D points): centre, radius, rms residual."""
    a = np.column_stack([2 * points, np.ones(len(points))])
    b = np.sum(points * points, axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    centre = sol[:-1]
    radius = math.sqrt(max(float(sol[-1] + centre @ centre), 0.0))
    residual = np.linalg.norm(points - centre, axis=1) - radius
    return centre, radius, float(np.sqrt(np.mean(residual**2)))
