"""Kind, footprint and heights of one segmented blob of points.

Each blob is one colour region of the image above the table. Its kind comes
from the footprint shape (long and thin: knife; large and low: container;
square: cube; round with a flat top: cylinder; round and domed: ball), its
pose from the faces that are really seen (a cube's top face, a ball's
surface, a container's outline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from embodied_stack.perception.colors import light_color
from embodied_stack.perception.footprint import (
    FloatArray,
    Rect,
    anchored_centre,
    hull_fill,
    min_area_rect,
    radial_spread,
    sphere_fit,
    wrap_quarter_turn,
)
from embodied_stack.scene import Color, ObjectKind


class ShapeParams(BaseModel):
    """Thresholds of the kind classifier, metres unless named otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table_snap: float = 0.012  # lowest point below this: the blob stands on the table
    top_band: float = 0.003  # points this close to the top belong to the top face
    knife_max_width: float = 0.045
    knife_min_aspect: float = 3.0
    container_min_length: float = 0.09
    container_min_width: float = 0.06
    container_max_height: float = 0.06
    rim_band: float = 0.015  # outline band of a container holding its walls
    tray_min_depth: float = 0.008  # rim above inner floor: a tray, else a plate
    inner_object_min_height: float = 0.01  # above a container's floor: an object in it
    cube_min_fill: float = 0.86  # hull / rectangle area (discs: ~0.8)
    cylinder_min_top_share: float = 0.3  # share of points on a flat top
    min_points: int = 12
    min_width: float = 0.008  # m: thinner footprints are surfaces seen edge-on
    fit_max_rms: float = 0.002  # sphere or circle fits closer than this: round
    square_min_spread: float = 0.085  # outline radius std/mean: squares >0.1, discs <0.07
    square_face_min_ratio: float = 0.7  # a cube's top face seen whole is about square
    row_height_tolerance: float = 0.3  # of the width: a row of cubes is as tall as wide
    stack_min_ratio: float = 1.6  # a cube this many times taller than its top face: a stack
    stack_max_cubes: int = 5
    stack_min_edge: float = 0.015  # m, smallest cube believed in a same-coloured stack
    square_tolerance: float = 0.01  # footprint sides closer than this: a square


@dataclass
class Blob:
    """Points of one image region with their brightness and pixel coordinates."""

    points: FloatArray  # (N, 3) world
    values: npt.NDArray[np.uint8]  # (N,) HSV value
    uv: npt.NDArray[np.int32]  # (N, 2)
    color: Color | None
    pitch: float  # m between neighbouring pixels on the surface
    camera_xy: tuple[float, float] = (0.0, 0.0)
    occluded: bool = False  # touches the arm, a person or the image border
    table_value: float = 0.0  # white/gray blobs (color None): the brightness reference
    covered: bool = False  # another blob stands on it: its top face is partly hidden

    def resolved_color(self) -> Color:
        return self.color if self.color is not None else light_color(self.values, self.table_value)

    def subset(self, keep: npt.NDArray[np.bool_]) -> Blob:
        return Blob(
            self.points[keep],
            self.values[keep],
            self.uv[keep],
            self.color,
            self.pitch,
            self.camera_xy,
            self.occluded,
            self.table_value,
            self.covered,
        )


@dataclass
class Measured:
    """A blob's shape before supports are resolved (bottom still unknown)."""

    kind: ObjectKind
    color: Color | None
    rect: Rect  # footprint; for cubes from the top face
    top: float  # z of the highest face
    low: float  # z of the lowest visible point
    pixels: int
    box: tuple[int, int, int, int]
    radius: float = 0.0  # balls and cylinders
    centre_z: float | None = None  # balls: fitted centre height
    inner_floor: float | None = None  # containers: height objects rest at
    confidence: float = 1.0
    occluded: bool = False
    face_edge: float | None = None  # cubes: edge of the top face, when seen whole


def mark_covered(blobs: list[Blob], p: ShapeParams) -> None:
    """Flag blobs with another blob standing on them (their top face is partly hidden)."""
    summary = []
    for blob in blobs:
        z = blob.points[:, 2]
        rect = min_area_rect(blob.points[:, :2]) if len(z) >= 3 else None
        summary.append((rect, float(np.percentile(z, 99)), float(np.percentile(z, 1))))
    for i, (rect, top, _low) in enumerate(summary):
        if rect is None:
            continue
        blobs[i].covered = any(
            j != i
            and other is not None
            and abs(low - top) < p.table_snap
            and rect.contains(other.cx, other.cy)
            for j, (other, _top, low) in enumerate(summary)
        )


def measure(blob: Blob, p: ShapeParams) -> list[Measured]:
    """One blob to one or more measured objects (objects inside a container split off)."""
    if len(blob.points) < p.min_points:
        return []
    xy = blob.points[:, :2]
    rect = min_area_rect(xy, pad=blob.pitch)
    z = blob.points[:, 2]
    top, low = float(np.percentile(z, 99)), float(np.percentile(z, 1))
    if rect.width - blob.pitch < p.min_width:
        return []  # a wall seen edge-on (a person's side, the table's edge), not an object
    if rect.width < p.knife_max_width and rect.length >= p.knife_min_aspect * rect.width:
        return [_measured(ObjectKind.KNIFE, blob, rect, top, low)]
    if rect.length >= p.container_min_length and rect.width >= p.container_min_width:
        found = _container(blob, rect, p)
        if found:
            return found
    pieces = _side_by_side(blob, rect, top, low, p)
    if pieces:
        return [
            _compact(piece, min_area_rect(piece.points[:, :2], pad=blob.pitch), top, low, p)
            for piece in pieces
        ]
    return [_compact(blob, rect, top, low, p)]


def _side_by_side(blob: Blob, rect: Rect, top: float, low: float, p: ShapeParams) -> list[Blob]:
    """Same-coloured cubes touching in a row look like one long box: cut it in cubes.

    A box as tall as it is wide but n times as long is n cubes (cubes are cubes).
    """
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


def _measured(kind: ObjectKind, blob: Blob, rect: Rect, top: float, low: float) -> Measured:
    u, v = blob.uv[:, 0], blob.uv[:, 1]
    box = (int(u.min()), int(v.min()), int(u.max()) + 1, int(v.max()) + 1)
    confidence = min(1.0, 0.5 + len(blob.points) / 200.0) * (0.5 if blob.occluded else 1.0)
    return Measured(
        kind,
        blob.resolved_color(),
        rect,
        top,
        low,
        len(blob.points),
        box,
        confidence=confidence,
        occluded=blob.occluded,
    )


def _container(blob: Blob, rect: Rect, p: ShapeParams) -> list[Measured]:
    """A tray (rim above an inner floor) or a plate (a flat slab); objects inside split off."""
    local = rect.local(blob.points[:, :2])
    margin = np.minimum(rect.length / 2 - np.abs(local[:, 0]), rect.width / 2 - np.abs(local[:, 1]))
    z = blob.points[:, 2]
    rim = margin < p.rim_band
    if np.count_nonzero(rim) < p.min_points:
        return []
    rim_top = float(np.percentile(z[rim], 95))
    if rim_top > p.container_max_height:
        return []
    inner = ~rim
    floor = float(np.median(z[inner])) if np.count_nonzero(inner) >= p.min_points else rim_top
    raised = inner & (z > floor + p.inner_object_min_height)
    kind = ObjectKind.TRAY if rim_top - floor > p.tray_min_depth else ObjectKind.PLATE
    if rect.length - rect.width < p.square_tolerance:  # a square: yaw only up to quarter turns
        rect = Rect(rect.cx, rect.cy, rect.length, rect.width, wrap_quarter_turn(rect.yaw))
    shell = blob.subset(~raised)
    out = _measured(kind, shell, rect, rim_top, float(np.percentile(shell.points[:, 2], 1)))
    out.inner_floor = floor if kind is ObjectKind.TRAY else rim_top
    found = [out]
    if np.count_nonzero(raised) >= p.min_points:
        found += measure(blob.subset(raised | (inner & (z > floor + p.top_band))), p)
    return found


def _compact(blob: Blob, rect: Rect, top: float, low: float, p: ShapeParams) -> Measured:
    """Cube, cylinder or ball, told apart by footprint fill, a flat top, or a sphere fit.

    A square footprint is a cube; a whole flat top says square or round by itself.
    A cube or cylinder with something on top (covered) shows mostly its sides: no
    whole top, no sphere; the outline in the table plane then says square or round.
    """
    xy = blob.points[:, :2]
    on_top = blob.points[:, 2] > top - p.top_band
    unpadded = Rect(rect.cx, rect.cy, rect.length - blob.pitch, rect.width - blob.pitch, rect.yaw)
    if hull_fill(xy, unpadded) >= p.cube_min_fill:
        return _cube(blob, rect, top, low, on_top, p)
    top_share = float(np.count_nonzero(on_top)) / len(xy)
    if not (blob.covered or blob.occluded) and top_share >= p.cylinder_min_top_share:
        face = xy[on_top]  # its whole top face is in view: square or round
        if hull_fill(face, min_area_rect(face)) >= p.cube_min_fill:
            return _cube(blob, rect, top, low, on_top, p)
        return _flat_topped_cylinder(blob, rect, top, low, on_top)
    centre, radius, rms = sphere_fit(blob.points)
    ball = rms < p.fit_max_rms and 0.3 * rect.length < radius < 0.7 * rect.length
    if not ball and radial_spread(xy, rect.cx, rect.cy) > p.square_min_spread:
        return _cube(blob, rect, top, low, on_top, p)  # corners stick out: a partly seen cube
    if top_share >= p.cylinder_min_top_share:
        return _flat_topped_cylinder(blob, rect, top, low, on_top)
    if ball:
        m = _round(
            ObjectKind.BALL, blob, rect, top, float(centre[2]) - radius, (*centre[:2], radius)
        )
        m.centre_z = float(centre[2])
        return m
    circle, radius, rms = sphere_fit(xy)
    if rms < p.fit_max_rms and radius < rect.length:
        return _round(ObjectKind.CYLINDER, blob, rect, top, low, (*circle, radius))
    return _cube(blob, rect, top, low, np.zeros_like(on_top), p)


def _flat_topped_cylinder(
    blob: Blob, rect: Rect, top: float, low: float, on_top: npt.NDArray[np.bool_]
) -> Measured:
    cx, cy = blob.points[on_top, :2].mean(axis=0)
    radius = (rect.length + rect.width) / 4
    return _round(ObjectKind.CYLINDER, blob, rect, top, low, (cx, cy, radius))


def _round(
    kind: ObjectKind,
    blob: Blob,
    rect: Rect,
    top: float,
    low: float,
    circle: tuple[float, float, float],
) -> Measured:
    cx, cy, radius = (float(v) for v in circle)
    m = _measured(kind, blob, rect, top, low)
    m.rect = Rect(cx, cy, 2 * radius, 2 * radius, 0.0)
    m.radius = radius
    return m


def _cube(
    blob: Blob, rect: Rect, top: float, low: float, on_top: npt.NDArray[np.bool_], p: ShapeParams
) -> Measured:
    """Centre and yaw from the top face; with the top hidden, from the side walls."""
    m = _measured(ObjectKind.CUBE, blob, rect, top, low)
    face_rect = None
    if np.count_nonzero(on_top) >= p.min_points:
        face = blob.points[on_top, :2]
        face_rect = min_area_rect(face, pad=blob.pitch)
    if face_rect is not None and face_rect.width > p.square_face_min_ratio * face_rect.length:
        cx, cy = face.mean(axis=0)
        if hull_fill(face, face_rect) < p.cube_min_fill:  # part of the face hidden
            cx, cy = face_rect.cx, face_rect.cy
        m.rect = Rect(float(cx), float(cy), face_rect.length, face_rect.length, face_rect.yaw)
        m.face_edge = (face_rect.length + face_rect.width) / 2
    else:
        m.rect = _walls_square(blob.points[:, :2], rect, blob.camera_xy)
    m.rect = Rect(m.rect.cx, m.rect.cy, m.rect.length, m.rect.width, wrap_quarter_turn(m.rect.yaw))
    return m


def _walls_square(xy: FloatArray, rect: Rect, camera_xy: tuple[float, float]) -> Rect:
    """A square whose side walls facing the camera are the points: anchored on them."""
    edge = rect.length
    local = rect.local(xy)
    cam = rect.local(np.array([camera_xy]))[0]
    centre = [
        anchored_centre(
            float(local[:, k].min()), float(local[:, k].max()), edge, float(cam[k]), 0.004
        )
        for k in (0, 1)
    ]
    c, s = math.cos(rect.yaw), math.sin(rect.yaw)
    x = rect.cx + centre[0] * c - centre[1] * s
    y = rect.cy + centre[0] * s + centre[1] * c
    return Rect(x, y, edge, edge, rect.yaw)
