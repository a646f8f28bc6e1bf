"""Colour classes of the named palette, robust to brightness and noise.

Chromatic colours are told apart by hue alone (brightness-invariant). Black is
a pixel class of its own (darker than about half the table's measured
brightness); white and gray share one and are told apart per object by the
value of its brightest (top) faces, normalised by the table's brightness.
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
LIGHT_CLASS = len(CHROMATIC)  # pixel class shared by white and gray
DARK_CLASS = LIGHT_CLASS + 1  # black
CLASS_COUNT = DARK_CLASS + 1
DARK_BELOW = 0.45  # of the table's brightness: black (black tops ~0.2, gray sides ~0.7)
WHITE_ABOVE = 1.5  # of the table's brightness, top faces: white (~2.0) over gray (~1.1)
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
    rgb: npt.NDArray[np.uint8], table_value: float
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Per-pixel class (index into CHROMATIC, LIGHT_CLASS or DARK_CLASS) and HSV value.

    rgb: (N, 3) uint8. table_value: the table's brightness, the reference that
    makes dark/light independent of exposure.
    """
    converted = cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2HSV_FULL)
    hsv = np.asarray(converted, dtype=np.uint8).reshape(-1, 3)
    hue, sat, val = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    chromatic = (sat >= MIN_SATURATION) & (val >= MIN_VALUE)
    dark = val < DARK_BELOW * max(table_value, 1.0)
    achromatic = np.where(dark, DARK_CLASS, LIGHT_CLASS)
    classes = np.where(chromatic, HUE_TABLE[hue], achromatic).astype(np.uint8)
    return classes, val


def light_color(values: npt.NDArray[np.uint8], table_value: float) -> Color:
    """White or gray, from the brightest (top) faces relative to the table."""
    level = float(np.percentile(values, 90)) / max(table_value, 1.0)
    return Color.WHITE if level > WHITE_ABOVE else Color.GRAY


def class_color(index: int) -> Color | None:
    """The colour of a chromatic or dark pixel class; None for light (white or gray)."""
    if index == DARK_CLASS:
        return Color.BLACK
    if index == LIGHT_CLASS:
        return None
    return CHROMATIC[index]
