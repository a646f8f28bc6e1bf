"""Cubes: placed by their top face, or by the side walls when something hides the top."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from embodied_stack.perception.blobs import Blob, Measured, ShapeParams, measured
from embodied_stack.perception.footprint import (
    FloatArray,
    Rect,
    anchored_centre,
    hull_fill,
    min_area_rect,
    wrap_quarter_turn,
)
from embodied_stack.scene import ObjectKind


def cube(
    blob: Blob, rect: Rect, top: float, low: float, on_top: npt.NDArray[np.bool_], p: ShapeParams
) -> Measured:
    """Centre and yaw from the top face; with the top hidden, from the side walls."""
    m = measured(ObjectKind.CUBE, blob, rect, top, low)
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
        m.rect = walls_square(blob.points[:, :2], rect, blob.camera_xy)
    m.rect = Rect(m.rect.cx, m.rect.cy, m.rect.length, m.rect.width, wrap_quarter_turn(m.rect.yaw))
    return m


def walls_square(xy: FloatArray, rect: Rect, camera_xy: tuple[float, float]) -> Rect:
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
