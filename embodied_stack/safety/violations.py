"""Collecting violations: the worst breach of each rule, with where it happened."""

from __future__ import annotations

import math

import numpy as np

from embodied_stack.scene import KeepOutBox
from embodied_stack.schemas import PerceivedObject, Violation

# Rules whose value must stay at or above the limit (distances, heights); the rest
# (speeds, drops) must stay at or below it.
FLOOR_RULES = frozenset({"below_table", "keep_out", "protective_distance", "knife_near_person"})


class Collector:
    """Keeps, per rule, the violation that exceeds its limit the most."""

    def __init__(self, *, source: str, step: int | None = None, label: str = "") -> None:
        self.source, self.step, self.label = source, step, label
        self._worst: dict[str, tuple[float, Violation]] = {}

    def add(self, rule: str, where: str, value: float, limit: float) -> None:
        excess = (limit - value) if rule in FLOOR_RULES else (value - limit)
        if rule in self._worst and self._worst[rule][0] >= excess:
            return
        place = f"{self.label}, {where}" if self.label else where
        violation = Violation(
            rule=rule,
            where=place,
            value=value if math.isfinite(value) else 0.0,
            limit=limit,
            source=self.source,
            step=self.step,
        )
        self._worst[rule] = (excess, violation)

    def violations(self) -> list[Violation]:
        return [v for _excess, v in self._worst.values()]

    def __bool__(self) -> bool:
        return bool(self._worst)


def object_box(obj: PerceivedObject) -> KeepOutBox:
    """Axis-aligned box around a perceived object (its yaw taken into account)."""
    c, s = abs(math.cos(obj.yaw)), abs(math.sin(obj.yaw))
    sx, sy, sz = obj.size
    # A degenerate (flat) estimate still gets a box: never an invalid one.
    half = np.maximum(np.array([c * sx + s * sy, s * sx + c * sy, sz]) / 2, 1e-4)
    centre = np.array(obj.position)
    lo, hi = centre - half, centre + half
    return KeepOutBox(min=(lo[0], lo[1], lo[2]), max=(hi[0], hi[1], hi[2]))
