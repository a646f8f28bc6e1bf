"""Where in a container a placed object goes: apart from what is there, off the walls."""

from __future__ import annotations

from embodied_stack.control.grasp import OBJECT_GAP, SPOT_MARGIN, TRAY_WALL, container_spot
from embodied_stack.scene import ObjectKind
from embodied_stack.schemas import PerceivedObject

TRAY = PerceivedObject(
    id="tray", kind=ObjectKind.TRAY, position=(0.66, -0.2, 0.015), size=(0.16, 0.16, 0.03)
)


def cube(name: str, x: float = 0.4, y: float = 0.0) -> PerceivedObject:
    return PerceivedObject(
        id=name, kind=ObjectKind.CUBE, position=(x, y, 0.025), size=(0.04, 0.04, 0.04)
    )


def wall_clearance(x: float, y: float, half: float = 0.02) -> float:
    inner = TRAY.size[0] / 2 - TRAY_WALL
    return inner - half - max(abs(x - TRAY.position[0]), abs(y - TRAY.position[1]))


def test_two_cubes_one_after_the_other_sit_apart_and_off_the_walls() -> None:
    first = container_spot(TRAY, cube("a"), [])
    assert isinstance(first, tuple)
    placed = cube("a", *first)
    second = container_spot(TRAY, cube("b"), [placed])
    assert isinstance(second, tuple)
    gap = max(abs(second[0] - first[0]), abs(second[1] - first[1])) - 0.04
    assert gap >= OBJECT_GAP
    assert min(wall_clearance(*first), wall_clearance(*second)) >= SPOT_MARGIN + 0.01


def test_a_container_with_room_for_one_takes_it_in_the_middle() -> None:
    plate = PerceivedObject(
        id="plate", kind=ObjectKind.PLATE, position=(0.5, 0.1, 0.005), size=(0.07, 0.07, 0.01)
    )
    spot = container_spot(plate, cube("a"), [])
    assert isinstance(spot, tuple)
    assert abs(spot[0] - 0.5) < 1e-9 and abs(spot[1] - 0.1) < 1e-9


def test_a_full_container_says_so() -> None:
    crowd = [
        cube(f"c{i}", 0.66 + dx, -0.2 + dy)
        for i, (dx, dy) in enumerate(
            [
                (-0.05, -0.05),
                (-0.05, 0.0),
                (-0.05, 0.05),
                (0.0, -0.05),
                (0.0, 0.0),
                (0.0, 0.05),
                (0.05, -0.05),
                (0.05, 0.0),
                (0.05, 0.05),
            ]
        )
    ]
    assert container_spot(TRAY, cube("z"), crowd) == "no free spot for z inside tray"
