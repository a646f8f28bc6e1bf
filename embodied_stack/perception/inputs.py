"""Checks on camera input: a bad frame is an error value, never half-used."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from embodied_stack.camera import Intrinsics
from embodied_stack.errors import StackError

RgbImage = npt.NDArray[np.uint8]
DepthImage = npt.NDArray[np.float32]


class PerceptionInputError(StackError):
    """A camera frame that perception refuses, naming the rule it broke."""


def check_frame(rgb: object, depth: object, intr: Intrinsics) -> tuple[RgbImage, DepthImage]:
    """Validate a colour/depth pair against the intrinsics; returns them typed.

    rgb: (H, W, 3) uint8; depth: (H, W) float32 or float64 metres along the optical
    axis, NaN or 0 where unknown. H, W must match the intrinsics.
    """
    if not isinstance(rgb, np.ndarray) or not isinstance(depth, np.ndarray):
        raise PerceptionInputError("rgb and depth must be numpy arrays")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise PerceptionInputError(
            f"rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype} (encoding rgb8)"
        )
    if depth.ndim != 2 or depth.dtype not in (np.float32, np.float64):
        raise PerceptionInputError(
            f"depth must be (H, W) float32 metres, got {depth.shape} {depth.dtype} (encoding 32FC1)"
        )
    if rgb.shape[:2] != depth.shape:
        raise PerceptionInputError(
            f"rgb {rgb.shape[1]}x{rgb.shape[0]} and depth {depth.shape[1]}x{depth.shape[0]} "
            "differ in size"
        )
    if depth.shape != (intr.height, intr.width):
        raise PerceptionInputError(
            f"image {depth.shape[1]}x{depth.shape[0]} does not match camera info "
            f"{intr.width}x{intr.height}"
        )
    if depth.size == 0:
        raise PerceptionInputError("empty depth image")
    depth32 = depth.astype(np.float32, copy=False)
    valid = np.count_nonzero(np.isfinite(depth32) & (depth32 > 0))
    if valid < depth32.size // 20:
        raise PerceptionInputError(
            f"depth has {valid} valid pixels of {depth32.size} (< 5 %): empty or all-NaN"
        )
    return np.ascontiguousarray(rgb), depth32


def check_intrinsics(intr: Intrinsics) -> Intrinsics:
    """Refuse camera info perception cannot project with: non-finite or non-positive
    focal lengths, a principal point outside the image."""
    values = {"fx": intr.fx, "fy": intr.fy, "cx": intr.cx, "cy": intr.cy}
    bad = [f"{name} {value}" for name, value in values.items() if not math.isfinite(value)]
    if bad:
        raise PerceptionInputError(f"camera info: not finite: {', '.join(bad)}")
    if intr.fx <= 0 or intr.fy <= 0:
        raise PerceptionInputError(f"camera info: focal lengths fx {intr.fx}, fy {intr.fy} <= 0")
    if not (0 <= intr.cx < intr.width and 0 <= intr.cy < intr.height):
        raise PerceptionInputError(
            f"camera info: principal point ({intr.cx}, {intr.cy}) outside the "
            f"{intr.width}x{intr.height} image"
        )
    return intr
