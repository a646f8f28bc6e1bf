"""Colour classes of the named palette, robust to brightness and noise.

Chromatic colours are told apart by hue alone (brightness-invariant); white,
gray and black share one pixel class and are split per object by the value
of its brightest (top) faces, normalised by the table's measured brightness.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from embodied_stack.scene import PALETTE, Color

CHROMATIC: tuple[Color, ...] = (
    Color.RED,
    Color.ORANGE,
    Color.YELLOW,
    Color.GREEN,
    Color.BLUE,
    Color.PURPLE,
)
ACHROMATIC_CLASS = len(CHROMATIC)  # pixel class shared by white, gray and black
NONE_CLASS = 255  # not an object colour (too dark to tell)
MIN_SATURATION = 90  # of 255: below this a pixel counts as white/gray/black
MIN_VALUE = 40  # of 255: darker pixels have unreliable hue


def _hue_of(rgb: tuple[int, int, int]) -> int:
    pixel = np.array([[rgb]], dtype=np.uint8)
    return int(cv2.cvtColor(pixel, cv2.COLOR_RGB2HSV_FULL)[0, 0, 0])


def _hue_table() -> npt.NDArray[np.uint8]:
    """Hue (0-255, circular) -> index into CHROMATIC, nearest palette hue."""
    centres = np.array([_hue_of(PALETTE[c]) for c in CHROMATIC], dtype=np.int32)
    hues = np.arange(256, dtype=np.int32)[:, None]
    diff = np.abs(hues - centres[None, :])
    circular = np.minimum(diff, 256 - diff)
    table: npt.NDArray[np.uint8] = np.argmin(circular, axis=1).astype(np.uint8)
    return table


HUE_TABLE = _hue_table()


def pixel_classes(
    rgb: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Per-pixel class (index into CHROMATIC, ACHROMATIC_CLASS) and HSV value.

    rgb: (N, 3) uint8. Dark chromatic-looking pixels are achromatic (black).
    """
    converted = cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2HSV_FULL)
    hsv = np.asarray(converted, dtype=np.uint8).reshape(-1, 3)
    hue, sat, val = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    chromatic = (sat >= MIN_SATURATION) & (val >= MIN_VALUE)
    classes = np.where(chromatic, HUE_TABLE[hue], ACHROMATIC_CLASS).astype(np.uint8)
    return classes, val


class AchromaticThresholds:
    """Normalised top-face value (table brightness = 1) separating black/gray/white."""

    def __init__(self, black_below: float, white_above: float) -> None:
        self.black_below = black_below
        self.white_above = white_above

    def classify(self, top_value: float, table_value: float) -> Color:
        level = top_value / max(table_value, 1.0)
        if level < self.black_below:
            return Color.BLACK
        if level > self.white_above:
            return Color.WHITE
        return Color.GRAY


def class_color(index: int) -> Color:
    return CHROMATIC[index]
