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

A top face that is no squares may be flat discs: upright cylinders (any
height), cut out the same way, each with the points above its disc. A ball's
top is a dome, not a disc: balls in a row are cut by the row's length alone
(in_a_row), the last resort.
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
    hull_fill,
    min_area_rect,
    wrap_quarter_turn,
)

FIT_ITERATIONS = 8
MAX_DISCS = 3  # same-coloured cylinders one blob is cut into, at most
DISC_RADII = (0.006, 0.05)  # m
DISC_FILL = (0.72, 1.2)  # a face's pixel area / the disc around it (a square: 0.64)
DOME_DROP = 0.001  # m its rim sits below its middle: a ball's cap, not a flat top
DISC_MIN_SOLIDITY = 0.6  # face area / its hull: k touching discs >= 0.88, a rim far less
LLOYD_POINTS = 300  # face points the k-means runs on


@dataclass(frozen=True)
class Disc:
    """A cylinder's top face in the table plane."""

    cx: float
    cy: float
    radius: float  # from the face's area
    reach: float  # to its farthest point seen: what is within it is the cylinder's


Piece = tuple[Blob, Rect | Disc]  # a cube's points and square, or a cylinder's and disc
Split = tuple[list[Piece], Blob]  # the objects cut out, then the rest (what touches them)


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
    shapes: list[Rect | Disc] = []
    shapes += squares if squares is not None else _discs(blob.points[on_top], area, blob.pitch)
    if not shapes:
        return None
    owner = _owners(blob.points[:, :2], shapes, blob.pitch)
    rest = owner < 0
    if len(shapes) == 1 and _largest_part(blob.subset(rest)) < p.touching_min_rest:
        return None  # one cube or cylinder by itself (a fringe of its walls left over)
    pieces: list[Piece] = [(blob.subset(owner == i), s) for i, s in enumerate(shapes)]
    return pieces, blob.subset(rest)


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
    total = float(area.sum())
    if total / _hull_area(face) < p.touching_min_solidity:
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


def _discs(face: FloatArray, area: FloatArray, pitch: float) -> list[Disc]:
    """The fewest flat discs the face (points, their pixels' areas) is; [] if none."""
    total = float(area.sum())
    if total / _hull_area(face[:, :2]) < DISC_MIN_SOLIDITY:
        return []  # a rim, scattered specks
    for k in range(1, MAX_DISCS + 1):
        if total > k * math.pi * DISC_RADII[1] ** 2:
            continue  # too large for k discs (a plate)
        owner = _nearest_centres(face[:, :2], k)
        parts = [owner == i for i in range(k)]
        if any(np.count_nonzero(part) < 3 for part in parts):
            continue
        discs = [_disc(face[part], float(area[part].sum()), pitch) for part in parts]
        if all(disc is not None for disc in discs):
            return [disc for disc in discs if disc is not None]
    return []


def _nearest_centres(xy: FloatArray, k: int) -> npt.NDArray[np.intp]:
    """k-means (Lloyd, Euclidean) on at most LLOYD_POINTS of the points; each point's
    nearest centre."""
    if k == 1:
        return np.zeros(len(xy), dtype=np.intp)
    sample = xy[:: max(1, len(xy) // LLOYD_POINTS)]
    centres = _spread_seeds(sample, k)
    for _ in range(FIT_ITERATIONS):
        owner = np.argmin(np.linalg.norm(sample[:, None] - centres[None], axis=2), axis=1)
        if np.any(np.bincount(owner, minlength=k) == 0):
            break
        centres = np.array([sample[owner == i].mean(axis=0) for i in range(k)])
    nearest: npt.NDArray[np.intp] = np.argmin(
        np.linalg.norm(xy[:, None] - centres[None], axis=2), axis=1
    )
    return nearest


def _hull_area(xy: FloatArray) -> float:
    hull = cv2.convexHull((xy * 1000.0).astype(np.float32))
    return max(float(cv2.contourArea(hull)) / 1e6, 1e-9)


def _disc(part: FloatArray, area: float, pitch: float) -> Disc | None:
    """The flat disc a part of a face fills, or None (a square, a dome, a sliver)."""
    cx, cy = part[:, :2].mean(axis=0)
    d = np.hypot(part[:, 0] - cx, part[:, 1] - cy)
    outer = float(np.max(d)) + pitch / 2
    if not DISC_RADII[0] <= outer <= DISC_RADII[1]:
        return None
    if not DISC_FILL[0] <= area / (math.pi * outer**2) <= DISC_FILL[1]:
        return None
    middle, rim = d < 0.5 * outer, d > 0.75 * outer
    if np.count_nonzero(middle) < 3 or np.count_nonzero(rim) < 3:
        return None
    if float(part[middle, 2].mean() - part[rim, 2].mean()) > DOME_DROP:
        return None
    return Disc(float(cx), float(cy), math.sqrt(area / math.pi), outer)


def _owners(xy: FloatArray, shapes: list[Rect | Disc], margin: float) -> npt.NDArray[np.intp]:
    """Index of the square or disc each point stands over (within margin), -1 for none."""
    if shapes and isinstance(shapes[0], Disc):
        centres = np.array([[s.cx, s.cy] for s in shapes if isinstance(s, Disc)])
        radii = np.array([max(s.radius, s.reach) for s in shapes if isinstance(s, Disc)])
        distance = np.linalg.norm(xy[:, None, :] - centres[None, :, :], axis=2)
        beyond = distance - radii[None, :]
    else:
        squares = [s for s in shapes if isinstance(s, Rect)]
        centres = np.array([[s.cx, s.cy] for s in squares])
        yaws = np.array([s.yaw for s in squares])
        halves = np.array([max(s.length, s.width) / 2 for s in squares])
        beyond = _linf(xy, centres, yaws) - halves[None, :]
    owner: npt.NDArray[np.intp] = np.argmin(beyond, axis=1)
    owner[np.min(beyond, axis=1) > margin] = -1
    return owner


def in_a_row(blob: Blob, rect: Rect, top: float, low: float, p: ShapeParams) -> list[Blob]:
    """The last resort when the top face says nothing (balls, domed): objects of one
    size touching in a row look like one long box as tall as it is wide but n times
    as long; cut it in n."""
    height = top - (0.0 if low < p.table_snap else low)
    n = round(rect.length / max(rect.width, 1e-6))
    if n < 2 or abs(height - rect.width) > p.row_height_tolerance * rect.width:
        return []
    unpadded = Rect(rect.cx, rect.cy, rect.length - blob.pitch, rect.width - blob.pitch, rect.yaw)
    if hull_fill(blob.points[:, :2], unpadded) < p.cube_min_fill:
        return []
    along = rect.local(blob.points[:, :2])[:, 0]
    slot = np.clip(((along / rect.length + 0.5) * n).astype(int), 0, n - 1)
    pieces = [blob.subset(slot == k) for k in range(n)]
    return pieces if all(len(piece.points) >= p.min_points for piece in pieces) else []


def joined(parts: list[Blob]) -> Blob:
    """One blob of several parts of the same blob."""
    return replace(
        parts[0],
        points=np.concatenate([part.points for part in parts]),
        values=np.concatenate([part.values for part in parts]),
        uv=np.concatenate([part.uv for part in parts]),
        area=np.concatenate([part.area for part in parts]),
    )


def _largest_part(blob: Blob) -> int:
    """Points in the blob's largest pixel-connected part."""
    return max((len(part.points) for part in connected_parts(blob, 1)), default=0)


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
