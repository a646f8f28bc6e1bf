"""People standing beside the table: tall blobs away from the robot base.

A person is a box of known size (scene.HUMAN_SIZE) on the floor; often only
part of it is in view, so its centre is anchored on the faces the camera sees.
"""

from __future__ import annotations

import math

import numpy as np

from embodied_stack.perception.detection import Detection
from embodied_stack.perception.footprint import (
    FloatArray,
    Rect,
    anchored_centre,
    wrap_half_turn,
)
from embodied_stack.scene import FLOOR_Z, HUMAN_SIZE, ObjectKind

EXTENT_TOLERANCE = 0.03  # m: a visible extent this close to the nominal one is whole
SQUARE_SNAP = math.radians(20)  # people stand square to the table unless clearly turned
FACE_BAND = 0.015  # m
OCCLUDER_REACH = 0.03  # m: view cut this close to a visible end: that end is not a side


def _face_scores(xy: FloatArray, angles: FloatArray) -> FloatArray:
    """Per angle: points within FACE_BAND of the extreme lines along the rotated axes."""
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    scores = np.zeros(len(angles))
    for along in (xy[:, 0] * c + xy[:, 1] * s, -xy[:, 0] * s + xy[:, 1] * c):
        lo, hi = along.min(axis=1, keepdims=True), along.max(axis=1, keepdims=True)
        scores += np.count_nonzero((along - lo < FACE_BAND) | (hi - along < FACE_BAND), axis=1)
    return scores


def _person_axis(points: FloatArray) -> float:
    """Yaw of the person's box: the direction that lines the visible walls up (mod 90 deg).

    The camera sees a person's walls edge-on from above, so in the table plane its
    points pile up along the box outline; the best-aligned square frame is the box's.
    """
    xy = points[:: max(1, len(points) // 400), :2]
    coarse = np.radians(np.arange(-45.0, 45.0, 3.0))
    best = float(coarse[np.argmax(_face_scores(xy, coarse))])
    fine = best + np.radians(np.arange(-3.0, 3.01, 0.5))
    axis = float(fine[np.argmax(_face_scores(xy, fine))])
    return 0.0 if abs(axis) < SQUARE_SNAP else wrap_half_turn(axis)


def _trusted_side(lo: float, hi: float, camera: float, hidden: FloatArray) -> float:
    """Which end of a partly seen extent is a real face: +1 the hi end, -1 the lo end.

    The side facing the camera, unless the view of the person is cut there by
    something in front (the arm): then that visible end is only where the view stops.
    """
    side = 1.0 if camera > (lo + hi) / 2 else -1.0
    if len(hidden):
        cut_hi = bool(np.any(np.abs(hidden - hi) < OCCLUDER_REACH))
        cut_lo = bool(np.any(np.abs(hidden - lo) < OCCLUDER_REACH))
        if cut_hi != cut_lo:
            side = -1.0 if cut_hi else 1.0
    return side


def person_from_points(
    points: FloatArray,
    camera_xy: tuple[float, float],
    box: tuple[int, int, int, int],
    cut: FloatArray | None = None,
    at_border: bool = False,
) -> Detection:
    """A person's box fitted to the visible points of its upper body.

    cut: the person's points (M, 3) where something in front (the arm) hides the
    rest of them in the image, so that edge is not mistaken for the person's side.
    at_border: the person runs off the image; they are reported occluded either way.
    """
    axis = _person_axis(points)
    frame = Rect(0.0, 0.0, 1.0, 1.0, axis)
    local = frame.local(points[:, :2])
    cam = frame.local(np.array([camera_xy]))[0]
    hidden = frame.local(cut[:, :2]) if cut is not None else np.zeros((0, 2))
    centre = []
    for k in (0, 1):
        lo, hi = float(local[:, k].min()), float(local[:, k].max())
        side = _trusted_side(lo, hi, float(cam[k]), hidden[:, k])
        centre.append(anchored_centre(lo, hi, HUMAN_SIZE[k], side, EXTENT_TOLERANCE))
    c, s = math.cos(axis), math.sin(axis)
    x = centre[0] * c - centre[1] * s
    y = centre[0] * s + centre[1] * c
    return Detection(
        kind=ObjectKind.HUMAN,
        position=(x, y, FLOOR_Z + HUMAN_SIZE[2] / 2),
        yaw=axis,
        size=HUMAN_SIZE,
        support="floor",
        confidence=min(1.0, 0.5 + len(points) / 2000.0),
        pixels=len(points),
        box=box,
        occluded=at_border or (cut is not None and len(cut) > 0),
    )
