"""Kind, footprint and heights of one segmented blob of points.

Each blob is one colour region of the image above the table. Its kind comes
from the footprint shape (long and thin: knife; large and low: container;
square: cube; round with a flat top: cylinder; round and domed: ball), its
pose from the faces that are really seen (a cube's top face, a ball's
surface, a container's outline).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from embodied_stack.perception.blobs import Blob, Measured, ShapeParams, mark_covered, measured
from embodied_stack.perception.cubes import cube
from embodied_stack.perception.footprint import (
    Rect,
    hull_fill,
    min_area_rect,
    radial_spread,
    sphere_fit,
    wrap_quarter_turn,
)
from embodied_stack.perception.touching import (
    Disc,
    connected_parts,
    in_a_row,
    joined,
    touching_cubes,
)
from embodied_stack.scene import ObjectKind

__all__ = ["Blob", "Measured", "ShapeParams", "mark_covered", "measure"]
SIDE_ROWS = 2.5  # pixel pitches a side wall's lowest seen point may be above its bottom


def measure(blob: Blob, p: ShapeParams, floor: float = 0.0) -> list[Measured]:
    """One blob to one or more measured objects (objects inside a container split off,
    same-coloured cubes touching cut apart). floor: the height the blob stands on, when
    known (a container's floor)."""
    if len(blob.points) < p.min_points:
        return []
    xy = blob.points[:, :2]
    rect = min_area_rect(xy, pad=blob.pitch)
    z = blob.points[:, 2]
    top, low = float(np.percentile(z, 99)), float(np.percentile(z, 1))
    if rect.width - blob.pitch < p.min_width:
        return []  # a wall seen edge-on (a person's side, the table's edge), not an object
    split = touching_cubes(blob, top, _cube_edges(blob, rect, top, low, floor, p), p)
    if split is not None:
        pieces, rest = split
        return [_cut_out(piece, shape, top, p) for piece, shape in pieces] + _beside_cubes(rest, p)
    if _knife_shaped(rect, p):
        return [measured(ObjectKind.KNIFE, blob, rect, top, low)]
    if rect.length >= p.container_min_length and rect.width >= p.container_min_width:
        found = _container(blob, rect, p)
        if found:
            return found
    row = in_a_row(blob, rect, top, low, p)
    if row:
        return [
            _compact(piece, min_area_rect(piece.points[:, :2], pad=blob.pitch), top, low, p)
            for piece in row
        ]
    return [_compact(blob, rect, top, low, p)]


def _cube_edges(
    blob: Blob, rect: Rect, top: float, low: float, floor: float, p: ShapeParams
) -> list[tuple[float, float]]:
    """Edge ranges of cubes the blob's top may be, in order: standing on the floor
    given (the table, a container's); or, when its lowest point seen is well above
    that, on something of another colour (a plate, a cube): at most a few pixel rows
    below that point (a side wall's lowest row spans ~2 pitches), anywhere below it
    when no side is seen (a camera looking straight down). A knife-shaped blob is
    only cut on the floor: a knife on a plate would pass for a row of small cubes."""
    low_ratio, high_ratio = p.touching_edge_ratio
    height = top - floor
    ranges = [(height * low_ratio, height * high_ratio)]
    if low - floor < p.table_snap or _knife_shaped(rect, p):
        return ranges
    seen = top - low
    if seen >= p.stack_min_edge:
        ranges.append((seen * low_ratio, min(height, seen + SIDE_ROWS * blob.pitch) * high_ratio))
    else:
        ranges.append((p.stack_min_edge, height * high_ratio))
    return ranges


def _knife_shaped(rect: Rect, p: ShapeParams) -> bool:
    return rect.width < p.knife_max_width and rect.length >= p.knife_min_aspect * rect.width


def _beside_cubes(rest: Blob, p: ShapeParams) -> list[Measured]:
    """What touches cut-out cubes, each connected part measured apart; but parts that
    line up as one knife are that knife, its middle hidden behind a cube."""
    parts = connected_parts(rest, p.min_points)
    if len(parts) > 1:
        whole = joined(parts)
        rect = min_area_rect(whole.points[:, :2], pad=whole.pitch)
        if _knife_shaped(rect, p):
            z = whole.points[:, 2]
            top, low = float(np.percentile(z, 99)), float(np.percentile(z, 1))
            return [measured(ObjectKind.KNIFE, whole, rect, top, low)]
    return [found for part in parts for found in measure(part, p)]


def _cut_out(piece: Blob, shape: Rect | Disc, top: float, p: ShapeParams) -> Measured:
    """A cube or a cylinder cut from a blob of touching objects: its top face is top."""
    rect = min_area_rect(piece.points[:, :2], pad=piece.pitch)
    low = float(np.percentile(piece.points[:, 2], 1))
    if isinstance(shape, Disc):
        return _round(
            ObjectKind.CYLINDER, piece, rect, top, low, (shape.cx, shape.cy, shape.radius)
        )
    return cube(piece, rect, top, low, piece.points[:, 2] > top - p.top_band, p)


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
    out = measured(kind, shell, rect, rim_top, float(np.percentile(shell.points[:, 2], 1)))
    out.inner_floor = floor if kind is ObjectKind.TRAY else rim_top
    found = [out]
    if np.count_nonzero(raised) >= p.min_points:
        found += measure(blob.subset(raised | (inner & (z > floor + p.top_band))), p, floor)
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
        return cube(blob, rect, top, low, on_top, p)
    top_share = float(np.count_nonzero(on_top)) / len(xy)
    if not (blob.covered or blob.occluded) and top_share >= p.cylinder_min_top_share:
        face = xy[on_top]  # its whole top face is in view: square or round
        if hull_fill(face, min_area_rect(face)) >= p.cube_min_fill:
            return cube(blob, rect, top, low, on_top, p)
        return _flat_topped_cylinder(blob, rect, top, low, on_top)
    centre, radius, rms = sphere_fit(blob.points)
    ball = rms < p.fit_max_rms and 0.3 * rect.length < radius < 0.7 * rect.length
    if not ball and radial_spread(xy, rect.cx, rect.cy) > p.square_min_spread:
        return cube(blob, rect, top, low, on_top, p)  # corners stick out: a partly seen cube
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
    return cube(blob, rect, top, low, np.zeros_like(on_top), p)


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
    m = measured(kind, blob, rect, top, low)
    m.rect = Rect(cx, cy, 2 * radius, 2 * radius, 0.0)
    m.radius = radius
    return m
