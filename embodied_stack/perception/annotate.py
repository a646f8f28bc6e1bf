"""The camera image with what perception sees drawn on it (for the console)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from embodied_stack.camera import Intrinsics, project
from embodied_stack.perception.footprint import Rect
from embodied_stack.scene import PALETTE
from embodied_stack.schemas import PerceivedObject

LABEL_RGB = (255, 255, 255)
PERSON_RGB = (255, 60, 200)
STALE_RGB = (150, 150, 150)


def _outline(obj: PerceivedObject) -> npt.NDArray[np.float64]:
    """The 8 corners of the object's box in the world."""
    x, y, z = obj.position
    rect = Rect(x, y, obj.size[0], obj.size[1], obj.yaw)
    corners = rect.corners()
    bottom = np.column_stack([corners, np.full(4, z - obj.size[2] / 2)])
    top = np.column_stack([corners, np.full(4, z + obj.size[2] / 2)])
    out: npt.NDArray[np.float64] = np.vstack([bottom, top])
    return out


def _colour(obj: PerceivedObject) -> tuple[int, int, int]:
    if obj.stale:
        return STALE_RGB
    if obj.color is None:
        return PERSON_RGB
    r, g, b = PALETTE[obj.color]
    return (255 - r, 255 - g, 255 - b) if max(r, g, b) < 60 else (r, g, b)


def annotate(
    rgb: npt.NDArray[np.uint8],
    objects: list[PerceivedObject],
    intr: Intrinsics,
    world_from_optical: npt.NDArray[np.float64],
) -> npt.NDArray[np.uint8]:
    """A copy of rgb with each object's box outline and its id (stale ones in gray)."""
    out = np.ascontiguousarray(rgb.copy())
    for obj in objects:
        pixels = project(_outline(obj), intr, world_from_optical)
        if np.any(pixels[:, 2] <= 0):
            continue  # behind the camera
        uv = np.round(pixels[:, :2]).astype(np.int32)
        colour = _colour(obj)
        for face in (uv[:4], uv[4:]):
            cv2.polylines(out, [face.reshape(-1, 1, 2)], True, colour, 1, cv2.LINE_AA)
        for a, b in zip(uv[:4], uv[4:], strict=True):
            cv2.line(out, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, 1, cv2.LINE_AA)
        label = obj.id + (" (held)" if obj.support == "held" else "")
        label += " (stale)" if obj.stale else ""
        u = min(max(int(uv[:, 0].min()), 0), out.shape[1] - 8 * len(label))
        v = min(max(int(uv[:, 1].min()) - 4, 10), out.shape[0] - 4)
        cv2.putText(out, label, (u, v), cv2.FONT_HERSHEY_SIMPLEX, 0.4, LABEL_RGB, 1, cv2.LINE_AA)
    return out
