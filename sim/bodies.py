"""Scene building: the table, the floor and every object kind of the suite format.

Sizes, stacking and colours come from `embodied_stack.scene`; this module only
turns them into PyBullet bodies (collision + visual shapes) on a given client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pybullet as pb

from embodied_stack.scene import (
    FLOOR_Z,
    PALETTE,
    Color,
    KeepOutBox,
    ObjectKind,
    Scene,
    SceneObject,
    container_floor,
)

Rgba = tuple[float, float, float, float]
Vec3 = tuple[float, float, float]

# The table top is z = 0; it reaches from behind the robot base to beyond the
# workspace and stays clear of people standing beside it (|y| > ~0.47).
TABLE_MIN: Vec3 = (-0.30, -0.47, FLOOR_Z)
TABLE_MAX: Vec3 = (1.00, 0.47, 0.0)
TABLE_RGBA: Rgba = (0.47, 0.39, 0.31, 1.0)  # dark wood: no palette colour
FLOOR_RGBA: Rgba = (0.24, 0.25, 0.28, 1.0)
HUMAN_RGBA: Rgba = (0.80, 0.62, 0.50, 1.0)
WALL_THICKNESS = 0.006  # m, tray walls

# Plastic-like objects: light enough for a 40 N grasp, heavy enough to sit still.
DENSITY = 600.0  # kg/m^3
OBJECT_FRICTION = 1.0
CONTAINER_MASS = 0.4  # kg (trays and plates)


@dataclass(frozen=True)
class Part:
    """One box/cylinder/sphere of a body, in the body frame."""

    shape: int
    half_extents: Vec3 = (0.0, 0.0, 0.0)
    radius: float = 0.0
    length: float = 0.0
    offset: Vec3 = (0.0, 0.0, 0.0)


def rgba_of(obj: SceneObject) -> Rgba:
    if obj.kind is ObjectKind.HUMAN and obj.color is None:
        return HUMAN_RGBA
    r, g, b = PALETTE[obj.color or Color.GRAY]
    return (r / 255.0, g / 255.0, b / 255.0, 1.0)


def parts_of(obj: SceneObject) -> list[Part]:
    """Collision/visual parts of an object, centred on its extent box."""
    ex, ey, ez = obj.extent()
    if obj.kind is ObjectKind.BALL:
        return [Part(pb.GEOM_SPHERE, radius=ex / 2)]
    if obj.kind is ObjectKind.CYLINDER:
        return [Part(pb.GEOM_CYLINDER, radius=ex / 2, length=ez)]
    if obj.kind is ObjectKind.TRAY:
        return _tray_parts(obj)
    return [Part(pb.GEOM_BOX, half_extents=(ex / 2, ey / 2, ez / 2))]


def _tray_parts(obj: SceneObject) -> list[Part]:
    """A floor as thick as the scene format's container floor, and four walls."""
    ex, ey, ez = obj.extent()
    floor = container_floor(obj)
    t = min(WALL_THICKNESS, ex / 4, ey / 4)
    wall_h = ez - floor
    wall_z = -ez / 2 + floor + wall_h / 2
    return [
        Part(
            pb.GEOM_BOX,
            half_extents=(ex / 2, ey / 2, floor / 2),
            offset=(0, 0, -ez / 2 + floor / 2),
        ),
        Part(
            pb.GEOM_BOX,
            half_extents=(t / 2, ey / 2, wall_h / 2),
            offset=(ex / 2 - t / 2, 0, wall_z),
        ),
        Part(
            pb.GEOM_BOX,
            half_extents=(t / 2, ey / 2, wall_h / 2),
            offset=(-ex / 2 + t / 2, 0, wall_z),
        ),
        Part(
            pb.GEOM_BOX,
            half_extents=(ex / 2, t / 2, wall_h / 2),
            offset=(0, ey / 2 - t / 2, wall_z),
        ),
        Part(
            pb.GEOM_BOX,
            half_extents=(ex / 2, t / 2, wall_h / 2),
            offset=(0, -ey / 2 + t / 2, wall_z),
        ),
    ]


def mass_of(obj: SceneObject) -> float:
    """0 (static) for people; containers a fixed mass; solids from their volume."""
    if obj.kind is ObjectKind.HUMAN:
        return 0.0
    if obj.kind in (ObjectKind.TRAY, ObjectKind.PLATE):
        return CONTAINER_MASS
    ex, ey, ez = obj.extent()
    volume = ex * ey * ez
    if obj.kind is ObjectKind.BALL:
        volume = math.pi / 6 * ex**3
    elif obj.kind is ObjectKind.CYLINDER:
        volume = math.pi / 4 * ex * ex * ez
    return max(0.01, DENSITY * volume)


def create_body(
    client: int, parts: list[Part], rgba: Rgba, mass: float, position: Vec3, yaw: float
) -> int:
    """A multi-shape rigid body (one collision and one visual shape array)."""
    common = {
        "shapeTypes": [p.shape for p in parts],
        "halfExtents": [list(p.half_extents) for p in parts],
        "radii": [p.radius for p in parts],
        "physicsClientId": client,
    }
    col = pb.createCollisionShapeArray(
        **common,
        lengths=[p.length for p in parts],
        collisionFramePositions=[list(p.offset) for p in parts],
    )
    vis = pb.createVisualShapeArray(
        **common,
        lengths=[p.length for p in parts],
        rgbaColors=[list(rgba) for _ in parts],
        visualFramePositions=[list(p.offset) for p in parts],
    )
    body: int = pb.createMultiBody(
        baseMass=mass,
        baseCollisionShapeIndex=col,
        baseVisualShapeIndex=vis,
        basePosition=list(position),
        baseOrientation=pb.getQuaternionFromEuler([0.0, 0.0, yaw]),
        physicsClientId=client,
    )
    return body


def build_object(client: int, scene: Scene, obj: SceneObject) -> int:
    position, yaw = scene.resting_pose(obj.id)
    body = create_body(client, parts_of(obj), rgba_of(obj), mass_of(obj), position, yaw)
    pb.changeDynamics(
        body,
        -1,
        lateralFriction=OBJECT_FRICTION,
        spinningFriction=0.01,
        rollingFriction=0.002 if obj.kind is ObjectKind.BALL else 0.0001,
        restitution=0.0,
        physicsClientId=client,
    )
    return body


def build_objects(client: int, scene: Scene) -> dict[str, int]:
    """Every scene object, bottom of a stack first, by scene id."""
    return {obj.id: build_object(client, scene, obj) for obj in _stack_order(scene)}


def _stack_order(scene: Scene) -> list[SceneObject]:
    def depth(obj: SceneObject) -> int:
        return 0 if obj.on is None else 1 + depth(scene.object(obj.on))

    return sorted(scene.objects, key=depth)


def build_table(client: int) -> tuple[int, int]:
    """The floor plane at z = FLOOR_Z and the table block whose top is z = 0."""
    (x0, y0, z0), (x1, y1, z1) = TABLE_MIN, TABLE_MAX
    half = ((x1 - x0) / 2, (y1 - y0) / 2, (z1 - z0) / 2)
    centre = ((x1 + x0) / 2, (y1 + y0) / 2, (z1 + z0) / 2)
    table = create_body(
        client, [Part(pb.GEOM_BOX, half_extents=half)], TABLE_RGBA, 0.0, centre, 0.0
    )
    floor = create_body(
        client,
        [Part(pb.GEOM_BOX, half_extents=(5.0, 5.0, 0.05))],
        FLOOR_RGBA,
        0.0,
        (0.0, 0.0, FLOOR_Z - 0.05),
        0.0,
    )
    for body in (table, floor):
        # Rolling friction combines by product: the table's 1.0 lets balls rest.
        pb.changeDynamics(
            body, -1, lateralFriction=0.8, rollingFriction=1.0, physicsClientId=client
        )
    return table, floor


def draw_keep_out(client: int, boxes: list[KeepOutBox]) -> list[int]:
    """Keep-out boxes as debug lines: seen in the GUI, never by the camera or physics."""
    ids: list[int] = []
    for box in boxes:
        corners = [
            (x, y, z)
            for x in (box.min[0], box.max[0])
            for y in (box.min[1], box.max[1])
            for z in (box.min[2], box.max[2])
        ]
        for i, a in enumerate(corners):
            for b in corners[i + 1 :]:
                if sum(1 for u, v in zip(a, b, strict=True) if u != v) == 1:
                    ids.append(pb.addUserDebugLine(a, b, [1, 0, 0], 2.0, physicsClientId=client))
    return ids
