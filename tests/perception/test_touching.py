"""Same-coloured objects touching each other make one colour blob: the cubes and
cylinders in it are found by their top faces (squares, flat discs) and the rest
measured apart (scenes rendered by the simulator)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from embodied_stack.camera import Intrinsics, world_from_optical
from embodied_stack.perception.arm_mask import ArmModel
from embodied_stack.perception.detector import Detector
from embodied_stack.perception.evaluate import false_positives, match_scene
from embodied_stack.robot import load_robot
from embodied_stack.scene import ObjectKind, Scene
from embodied_stack.sim.world import SimWorld
from tests.perception.helpers import POSITION_TARGET, detector, render_scene
from tests.perception.test_other_cameras import CAMERAS

EDGE = 0.04


def cube(object_id: str, color: str, x: float, y: float, yaw: float = 0.0) -> dict[str, Any]:
    return {"id": object_id, "kind": "cube", "color": color, "size": EDGE, "xy": [x, y], "yaw": yaw}


def cylinder(object_id: str, color: str, x: float, y: float) -> dict[str, Any]:
    return {"id": object_id, "kind": "cylinder", "color": color, "size": [0.02, 0.05], "xy": [x, y]}


def turned(cx: float, cy: float, dx: float, dy: float, yaw: float) -> tuple[float, float]:
    c, s = math.cos(yaw), math.sin(yaw)
    return cx + dx * c - dy * s, cy + dx * s + dy * c


KNIFE = {"kind": "knife", "color": "black", "size": [0.20, 0.025, 0.015]}
PLATE = {
    "id": "plate",
    "kind": "plate",
    "color": "white",
    "size": [0.18, 0.18, 0.015],
    "xy": [0.55, 0.1],
}
GREEN_TRAY = {"id": "tray", "kind": "tray", "color": "green", "size": [0.16, 0.16, 0.03]}
LAYOUTS: dict[str, list[dict[str, Any]]] = {
    "yellow_2x2_grid": [
        cube(f"c{i}{j}", "yellow", 0.43 + EDGE * i, 0.08 + EDGE * j) for i in (0, 1) for j in (0, 1)
    ],
    "red_pair_offset_by_half_a_cube": [
        cube("a", "red", 0.50, -0.10),
        cube("b", "red", 0.54, -0.08),
    ],
    "green_cube_against_green_tray": [
        {**GREEN_TRAY, "xy": [0.6, 0.1]},
        cube("c", "green", 0.6, 0.2),
    ],
    "black_knife_along_black_cube": [
        cube("c", "black", 0.45, -0.2),
        {**KNIFE, "id": "k", "xy": [0.45, -0.1675]},
    ],
    "black_knife_end_on_black_cube": [
        cube("c", "black", 0.45, -0.2),
        {**KNIFE, "id": "k", "xy": [0.45, -0.08], "yaw": math.pi / 2},
    ],
    "turned_blue_row_of_three": [
        cube(f"c{i}", "blue", *turned(0.45, 0.0, EDGE * (i - 1), 0.0, 0.4), yaw=0.4)
        for i in range(3)
    ],
    "purple_3x2_grid": [
        cube(f"c{i}{j}", "purple", 0.42 + EDGE * i, 0.1 + EDGE * j)
        for i in range(3)
        for j in (0, 1)
    ],
    "red_pair_on_a_blue_plate": [
        {**PLATE, "color": "blue"},
        cube("a", "red", 0.55, 0.08),
        cube("b", "red", 0.55, 0.12),
    ],
    "green_2x2_grid_on_a_white_plate": [
        PLATE,
        *(
            cube(f"c{i}{j}", "green", 0.53 + EDGE * i, 0.08 + EDGE * j)
            for i in (0, 1)
            for j in (0, 1)
        ),
    ],
    "yellow_cylinder_taller_than_the_yellow_cube_it_touches": [
        cylinder("y", "yellow", 0.5, 0.0),
        cube("c", "yellow", 0.5, 0.04),
    ],
    "three_orange_cylinders_touching": [
        cylinder("a", "orange", 0.5, 0.0),
        cylinder("b", "orange", 0.5, 0.04),
        cylinder("c", "orange", 0.5346, 0.02),
    ],
    "purple_cylinder_against_purple_tray": [
        {**GREEN_TRAY, "color": "purple", "xy": [0.55, 0.1]},
        cylinder("y", "purple", 0.55, 0.0),
    ],
    "green_cube_in_green_tray_against_its_wall": [
        {**GREEN_TRAY, "xy": [0.55, 0.1]},
        cube("c", "green", 0.55, 0.153),
    ],
}

BALLS_IN_A_ROW = [  # cut by the row's length alone: only from the default camera (README)
    {"id": "a", "kind": "ball", "color": "blue", "size": 0.02, "xy": [0.5, 0.0]},
    {"id": "b", "kind": "ball", "color": "blue", "size": 0.02, "xy": [0.5, 0.04]},
]


@pytest.mark.parametrize("layout", sorted([*LAYOUTS, "two_blue_balls_in_a_row"]))
def test_touching_same_coloured_objects_are_told_apart(layout: str) -> None:
    objects = LAYOUTS.get(layout, BALLS_IN_A_ROW)
    scene = Scene.model_validate({"objects": objects})
    r = render_scene(scene, settle_steps=60)
    detections = detector().detect(r.rgb, r.depth)
    matches = match_scene(scene, r.truth, detections)
    assert all(m.detection is not None for m in matches), [
        (m.object_id, m.detection) for m in matches
    ]
    assert not false_positives(matches, detections), [d.label() for d in detections]
    for m in matches:
        assert m.pos_err < POSITION_TARGET, f"{m.object_id}: {m.pos_err * 1000:.1f} mm"
        if m.yaw_err is not None:
            assert m.yaw_err < math.radians(5), m.object_id
        assert m.detection is not None
        if m.detection.kind is ObjectKind.CUBE:
            assert m.detection.size == pytest.approx((EDGE, EDGE, EDGE), abs=0.004)


@pytest.mark.parametrize("mount", sorted(CAMERAS))
def test_other_camera_mounts_tell_them_apart_too(mount: str) -> None:
    """Seen from the side (a cube hides a knife's middle), straight down (no side
    faces seen) or from a low corner at 424x240 (7 pixels to a cube's edge)."""
    cam = CAMERAS[mount]
    arm = ArmModel(load_robot("panda"))  # at home, as the simulator starts
    seen_by = Detector(Intrinsics.from_config(cam), world_from_optical(cam.position, cam.target))
    for layout, objects in sorted(LAYOUTS.items()):
        scene = Scene.model_validate({"objects": objects})
        with SimWorld(scene=scene, camera=cam) as world:
            world.step(60)
            rgb, depth = world.render()
            truth = world.ground_truth()
        detections = seen_by.detect(rgb, depth, exclude=arm.contains)
        matches = match_scene(scene, truth, detections)
        assert all(m.detection is not None for m in matches), (layout, matches)
        assert not false_positives(matches, detections), (layout, [d.label() for d in detections])
        assert max(m.pos_err for m in matches) < POSITION_TARGET, layout
