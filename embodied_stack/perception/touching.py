"""Same-coloured objects touching: one colour blob, several objects.

A cube standing on the table is as tall as its edge, and its top face is the
highest flat patch of its blob: a tray's rim is lower, a knife flatter. So the
blob's top face is tiled with squares as wide as the top is high (k-means with
an L-infinity distance in each square's frame, k from the face's area). When
every tile is a whole square face, each is a cube: it takes the points above
its square (its top and the side walls), and what is left over (another
object it touches: a tray, a knife, a lower cube) is split into its connected
parts and measured again. A row, a grid, an offset pair of cubes, a cube
against a tray or a knife all come apart this way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from embodied_stack.perception.blobs import Blob, ShapeParams
from embodied_stack.perception.footprint import (
    FloatArray,
    Rect,
    min_area_rect,
    wrap_quarter_turn,
)

FIT_ITERATIONS = 8
Split = tuple[list[Blob], Blob]  # the cubes, then the rest (whatever touches them)


def touching_cubes(
    blob: Blob, top: float, edges: list[tuple[float, float]], p: ShapeParams
) -> Split | None:
    """The cubes in a blob standing on the table and whatever touches them; None when
    the blob is not cubes with something else (one lone cube, a tray, a cylinder).

    edges: ranges a cube's edge may be in (its height above what it may stand on:
    the table, a container's floor, something of another colour), however little
    of its sides is seen; the first range the top face tiles in decides."""
    on_top = blob.points[:, 2] > top - p.top_band
    if np.count_nonzero(on_top) < p.min_points:
        return None
    face, area = blob.points[on_top, :2], blob.area[on_top]
    tilings = (_tile(face, area, edge_range, blob.pitch, p) for edge_range in edges)
    squares = next((tiling for tiling in tilings if tiling is not None), None)
    if squares is None:
        return None
    owner = _owners(blob.points[:, :2], squares, blob.pitch)
    rest = owner < 0
    if len(squares) == 1 and np.count_nonzero(rest) < p.touching_min_rest:
        return None  # one cube by itself: measured as it is
    cubes = [blob.subset(owner == i) for i in range(len(squares))]
    return cubes, blob.subset(rest)


@dataclass(frozen=True)
class _Faces:
    """What a cube's top face must be here: an edge in [lo, hi], filled, at pixel pitch."""

    lo: float
    hi: float
    pitch: float
    min_fill: float

    def square(self, part: FloatArray, area: float, yaw: float) -> Rect | None:
        """The square a part of the face (area m2) fills, in the face's frame or its own;
        None if it fills none. Sides are measured to +-half a pixel (coarse images get
        that much slack); the fill is the pixels' area over the square's (discs: 0.79)."""
        for frame in (yaw, min_area_rect(part).yaw):
            rect = _rect_along(part, frame, self.pitch)
            sides_ok = self.lo <= rect.width and rect.length <= self.hi + self.pitch / 2
            if sides_ok and area >= self.min_fill * rect.length * rect.width:
                return Rect(rect.cx, rect.cy, rect.length, rect.width, wrap_quarter_turn(frame))
        return None


def _rect_along(xy: FloatArray, yaw: float, pad: float) -> Rect:
    """The rectangle around the points with sides along yaw, grown by pad; length >= width."""
    local = Rect(0.0, 0.0, 0.0, 0.0, yaw).local(xy)
    lo, hi = local.min(axis=0), local.max(axis=0)
    mid = (lo + hi) / 2
    c, s = math.cos(yaw), math.sin(yaw)
    cx, cy = mid[0] * c - mid[1] * s, mid[0] * s + mid[1] * c
    a, b = float(hi[0] - lo[0]) + pad, float(hi[1] - lo[1]) + pad
    if b > a:
        return Rect(cx, cy, b, a, yaw + math.pi / 2)
    return Rect(cx, cy, a, b, yaw)


def _tile(
    face: FloatArray, area: FloatArray, edges: tuple[float, float], pitch: float, p: ShapeParams
) -> list[Rect] | None:
    """Squares with edges in range tiling the face (points and their pixels' areas), the
    fewest that fit; None if none do."""
    faces = _Faces(edges[0], edges[1], pitch, p.touching_min_fill)
    if faces.lo <= 0:
        return None
    hull = cv2.convexHull((face * 1000.0).astype(np.float32))
    hull_area = max(float(cv2.contourArea(hull)) / 1e6, 1e-9)
    total = float(area.sum())
    if total / hull_area < p.touching_min_solidity:
        return None  # a ring (a container's rim) or scattered specks
    fewest = max(1, math.ceil(total / faces.hi**2 - 1e-9))
    most = min(p.touching_max_cubes, math.floor(total / faces.lo**2))
    for k in range(fewest, most + 1):
        squares = _fit_squares(face, area, k, faces)
        if squares is not None:
            return squares
    return None


def _fit_squares(face: FloatArray, area: FloatArray, k: int, faces: _Faces) -> list[Rect] | None:
    """k squares over the face points, each point to the nearest in L-infinity (Lloyd
    iterations, frame of the whole face), started from a grid of cells when the face
    is one, else from points far apart; None unless each part is a square's face."""
    frame = min_area_rect(face, pad=faces.pitch)
    yaw = wrap_quarter_turn(frame.yaw)
    for seeds in (_grid_seeds(frame, k), _spread_seeds(face, k)):
        if seeds is None:
            continue
        owner = _lloyd(face, seeds, yaw)
        if owner is None:
            continue
        parts = [owner == i for i in range(k)]
        squares = [faces.square(face[part], float(area[part].sum()), yaw) for part in parts]
        if all(square is not None for square in squares):
            return [square for square in squares if square is not None]
    return None


def _lloyd(face: FloatArray, centres: FloatArray, yaw: float) -> npt.NDArray[np.intp] | None:
    yaws = np.full(len(centres), yaw)
    owner = np.zeros(len(face), dtype=np.intp)
    for _ in range(FIT_ITERATIONS):
        owner = np.argmin(_linf(face, centres, yaws), axis=1)
        if np.any(np.bincount(owner, minlength=len(centres)) < 3):
            return None
        moved = np.array([face[owner == i].mean(axis=0) for i in range(len(centres))])
        if np.max(np.abs(moved - centres)) < 1e-4:
            break
        centres = moved
    return owner


def _grid_seeds(frame: Rect, k: int) -> FloatArray | None:
    """Centres of an n x m grid of cells over the face's rectangle, if n m = k."""
    edge = math.sqrt(frame.length * frame.width / k)
    n, m = max(1, round(frame.length / edge)), max(1, round(frame.width / edge))
    if n * m != k:
        return None
    along = (np.arange(n) + 0.5) / n - 0.5
    across = (np.arange(m) + 0.5) / m - 0.5
    a, b = np.meshgrid(along * frame.length, across * frame.width, indexing="ij")
    c, s = math.cos(frame.yaw), math.sin(frame.yaw)
    x = frame.cx + a.ravel() * c - b.ravel() * s
    y = frame.cy + a.ravel() * s + b.ravel() * c
    return np.column_stack([x, y])


def _spread_seeds(xy: FloatArray, k: int) -> FloatArray:
    """k points far apart: the farthest from the centre, then each farthest from the rest."""
    seeds = [xy[int(np.argmax(np.sum((xy - xy.mean(axis=0)) ** 2, axis=1)))]]
    nearest = np.sum((xy - seeds[0]) ** 2, axis=1)
    for _ in range(1, k):
        seeds.append(xy[int(np.argmax(nearest))])
        nearest = np.minimum(nearest, np.sum((xy - seeds[-1]) ** 2, axis=1))
    return np.array(seeds)


def _linf(xy: FloatArray, centres: FloatArray, yaws: FloatArray) -> FloatArray:
    """(N, k) L-infinity distance of each point from each centre, in that square's frame."""
    dx = xy[:, 0:1] - centres[None, :, 0]
    dy = xy[:, 1:2] - centres[None, :, 1]
    c, s = np.cos(yaws)[None, :], np.sin(yaws)[None, :]
    out: FloatArray = np.maximum(np.abs(dx * c + dy * s), np.abs(-dx * s + dy * c))
    return out


def _owners(xy: FloatArray, squares: list[Rect], margin: float) -> npt.NDArray[np.intp]:
    """Index of the square each point stands over (within margin), -1 for none."""
    centres = np.array([[s.cx, s.cy] for s in squares])
    yaws = np.array([s.yaw for s in squares])
    halves = np.array([max(s.length, s.width) / 2 for s in squares])
    beyond = _linf(xy, centres, yaws) - halves[None, :]
    owner: npt.NDArray[np.intp] = np.argmin(beyond, axis=1)
    owner[np.min(beyond, axis=1) > margin] = -1
    return owner


def joined(parts: list[Blob]) -> Blob:
    """One blob of several parts of the same blob."""
    return replace(
        parts[0],
        points=np.concatenate([part.points for part in parts]),
        values=np.concatenate([part.values for part in parts]),
        uv=np.concatenate([part.uv for part in parts]),
        area=np.concatenate([part.area for part in parts]),
    )


def connected_parts(blob: Blob, min_points: int) -> list[Blob]:
    """A blob's pixel-connected parts with at least min_points points."""
    if len(blob.points) < min_points:
        return []
    u, v = blob.uv[:, 0], blob.uv[:, 1]
    u0, v0 = int(u.min()), int(v.min())
    mask = np.zeros((int(v.max()) - v0 + 1, int(u.max()) - u0 + 1), dtype=np.uint8)
    mask[v - v0, u - u0] = 1
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    label = labels[v - v0, u - u0]
    parts = [blob.subset(label == k) for k in range(1, count)]
    return [part for part in parts if len(part.points) >= min_points]
