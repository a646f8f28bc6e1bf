"""Detections scored against the simulator's ground truth (bench and tests only).

The planner never reads ground truth; this module exists to measure perception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from embodied_stack.perception.detection import Detection
from embodied_stack.scene import ObjectKind, Scene, SceneObject
from embodied_stack.schemas import GroundTruth

MATCH_RADIUS = 0.05  # m in the table plane; people 0.15
PERSON_MATCH_RADIUS = 0.15


@dataclass(frozen=True)
class Match:
    object_id: str
    detection: Detection | None
    pos_err: float = math.nan  # m, 3-D
    yaw_err: float | None = None  # rad, for kinds with a meaningful yaw


def quat_yaw(q: tuple[float, float, float, float]) -> float:
    x, y, z, w = q
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def yaw_period(obj: SceneObject) -> float | None:
    """Symmetry period of an object's yaw, None when yaw means nothing (round, people)."""
    ex, ey, _ez = obj.extent()
    if obj.kind is ObjectKind.CUBE:
        return math.pi / 2
    if obj.kind in (ObjectKind.TRAY, ObjectKind.PLATE, ObjectKind.KNIFE):
        return math.pi / 2 if abs(ex - ey) < 0.01 else math.pi
    return None


def _angle_err(a: float, b: float, period: float) -> float:
    d = (a - b) % period
    return min(d, period - d)


def match_scene(scene: Scene, truth: GroundTruth, detections: list[Detection]) -> list[Match]:
    """Each scene object paired with the nearest unused detection of its kind and colour."""
    used: set[int] = set()
    matches: list[Match] = []
    for obj in scene.objects:
        state = truth.objects[obj.id]
        radius = PERSON_MATCH_RADIUS if obj.kind is ObjectKind.HUMAN else MATCH_RADIUS
        best: tuple[float, int] | None = None
        for i, det in enumerate(detections):
            if i in used or det.kind is not obj.kind or det.color != obj.color:
                continue
            d = math.dist(det.position[:2], state.position[:2])
            if d <= radius and (best is None or d < best[0]):
                best = (d, i)
        if best is None:
            matches.append(Match(obj.id, None))
            continue
        used.add(best[1])
        det = detections[best[1]]
        period = yaw_period(obj)
        true_yaw = quat_yaw(state.orientation)
        ex, ey, _ez = obj.extent()
        if ey > ex:  # detections give the yaw of their longer side
            true_yaw += math.pi / 2
        yaw_err = None if period is None else _angle_err(det.yaw, true_yaw, period)
        matches.append(Match(obj.id, det, math.dist(det.position, state.position), yaw_err))
    return matches


def false_positives(matches: list[Match], detections: list[Detection]) -> list[Detection]:
    matched = {id(m.detection) for m in matches if m.detection is not None}
    return [d for d in detections if id(d) not in matched]
