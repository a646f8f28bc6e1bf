"""The data of shape measurement: blobs of points, what is measured of them, thresholds."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from embodied_stack.perception.colors import light_color
from embodied_stack.perception.footprint import FloatArray, Rect, min_area_rect
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
    # Cubes cut from a blob of touching objects: top face edge / height above the support
    # (a tray's 5 mm floor unseen under a cube in it: 0.89; a knife, flatter than wide: < 0.8)
    touching_edge_ratio: tuple[float, float] = (0.8, 1.15)
    touching_max_cubes: int = 9  # same-coloured cubes one blob is cut into, at most
    touching_min_solidity: float = 0.6  # top face area / its hull: a ring (a rim) is no cubes
    touching_min_rest: int = 40  # points beside a lone cube: another object against it
    touching_min_fill: float = 0.81  # pixel area / square: top faces 0.84-1.0, discs 0.79
    row_height_tolerance: float = 0.3  # of the width: a row of balls is as tall as wide
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
    area: FloatArray  # (N,) m2 each pixel would cover on a horizontal surface at its height
    color: Color | None
    pitch: float  # m between neighbouring pixels on the surface
    camera_xy: tuple[float, float] = (0.0, 0.0)
    occluded: bool = False  # touches the arm, a person or the image border
    table_value: float = 0.0  # white/gray blobs (color None): the brightness reference
    covered: bool = False  # another blob stands on it: its top face is partly hidden

    def resolved_color(self) -> Color:
        return self.color if self.color is not None else light_color(self.values, self.table_value)

    def subset(self, keep: npt.NDArray[np.bool_]) -> Blob:
        return replace(
            self,
            points=self.points[keep],
            values=self.values[keep],
            uv=self.uv[keep],
            area=self.area[keep],
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


def measured(kind: ObjectKind, blob: Blob, rect: Rect, top: float, low: float) -> Measured:
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
