"""What each object stands on, and the poses and sizes that follow from it.

A blob's lowest visible point tells whether it stands on the table, on another
object or inside a container; its bottom then fixes its height (a cube's edge,
a cylinder's length) and the z of its centre.
"""

from __future__ import annotations

from embodied_stack.perception.detection import Detection
from embodied_stack.perception.shapes import Measured, ShapeParams
from embodied_stack.scene import CONTAINERS, ObjectKind

Support = tuple[float, str, int | None, bool]  # bottom z, support, index, inside
# Kinds whose bottom the shape cannot tell: with nothing seen below, on the table.
UNSTACKED = frozenset({ObjectKind.CYLINDER, ObjectKind.KNIFE, ObjectKind.TRAY, ObjectKind.PLATE})


def _lowest(m: Measured) -> float:
    """The lowest point seen, or lower where the shape says so: a camera looking
    straight down sees only the top of a cube, whose edge then tells its bottom."""
    if m.kind is ObjectKind.CUBE and m.face_edge is not None:
        return min(m.low, m.top - m.face_edge)
    if m.kind is ObjectKind.BALL and m.centre_z is not None:
        return min(m.low, m.centre_z - m.radius)
    return m.low


def find_support(i: int, found: list[Measured], p: ShapeParams) -> Support:
    m = found[i]
    low = _lowest(m)
    for j, c in enumerate(found):
        if j == i or c.kind not in CONTAINERS or c.inner_floor is None:
            continue
        resting_in = m.top > c.inner_floor + p.top_band and low < c.top + p.table_snap
        if resting_in and c.rect.contains(m.rect.cx, m.rect.cy):
            return c.inner_floor, "object", j, True
    if low < p.table_snap:
        return 0.0, "table", None, False
    below = [
        j
        for j, c in enumerate(found)
        if j != i and abs(c.top - low) < p.table_snap and c.rect.contains(m.rect.cx, m.rect.cy)
    ]
    if below:
        j = max(below, key=lambda k: found[k].top)
        return found[j].top, "object", j, False
    if m.kind in UNSTACKED:  # flat things and upright cylinders seen only from above
        return 0.0, "table", None, False
    return low, "unknown", None, False


def to_detection(m: Measured, support: Support) -> Detection:
    bottom, kind_of_support, index, inside = support
    r = m.rect
    height = max(m.top - bottom, 0.002)
    size = (r.length, r.width, height)
    yaw = r.yaw
    z = bottom + height / 2
    if m.kind is ObjectKind.CUBE:
        edge = height
        size, z = (edge, edge, edge), bottom + edge / 2
    elif m.kind in (ObjectKind.CYLINDER, ObjectKind.BALL):
        yaw = 0.0
        diameter = 2 * m.radius
        if m.kind is ObjectKind.BALL:
            height = diameter
            z = bottom + m.radius
        size = (diameter, diameter, height)
    return Detection(
        kind=m.kind,
        color=m.color,
        position=(r.cx, r.cy, z),
        yaw=yaw,
        size=size,
        support=kind_of_support,
        support_index=index,
        inside=inside,
        confidence=m.confidence,
        occluded=m.occluded,
        pixels=m.pixels,
        box=m.box,
    )


def resolve(found: list[Measured], p: ShapeParams) -> list[Detection]:
    detections = [to_detection(m, find_support(i, found, p)) for i, m in enumerate(found)]
    for i, m in enumerate(found):
        if m.kind is ObjectKind.CUBE and m.face_edge is not None:
            _split_stack(detections, i, m.face_edge, p)
    return detections


def _split_stack(detections: list[Detection], i: int, face_edge: float, p: ShapeParams) -> None:
    """A same-coloured stack of cubes is one blob n edges tall: report n cubes."""
    d = detections[i]
    n = round(d.size[2] / face_edge)
    if d.support == "unknown" or d.size[2] < p.stack_min_ratio * face_edge:
        return
    if not 2 <= n <= p.stack_max_cubes or face_edge < p.stack_min_edge:
        return
    edge, (x, y, _z), bottom = d.size[2] / n, d.position, d.bottom_z
    detections[i] = d.model_copy(
        update={"size": (edge, edge, edge), "position": (x, y, bottom + edge / 2)}
    )
    below = i
    for k in range(1, n):
        cube = d.model_copy(
            update={
                "size": (edge, edge, edge),
                "position": (x, y, bottom + edge * (k + 0.5)),
                "support": "object",
                "support_index": below,
                "inside": False,
            }
        )
        detections.append(cube)
        below = len(detections) - 1
    for j, other in enumerate(detections[: len(detections) - n + 1]):
        if j != i and other.support_index == i:  # what stood on the stack stands on its top
            detections[j] = other.model_copy(update={"support_index": below})
