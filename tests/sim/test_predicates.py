"""Each success predicate, true and false, on scenes built in the real simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from embodied_stack.config import parse_yaml
from embodied_stack.scene import Scene
from embodied_stack.schemas import GroundTruth
from embodied_stack.sim.predicates import PredicateResult, evaluate
from embodied_stack.sim.world import SimWorld
from tests.sim.helpers import grasp, move_tcp

SCENE = """
objects:
  - {id: red_cube,   kind: cube, color: red,   size: 0.04, xy: [0.50, -0.15]}
  - {id: blue_cube,  kind: cube, color: blue,  size: 0.04, xy: [0.45,  0.10], yaw: 0.6}
  - {id: tray,       kind: tray, color: green, size: [0.18, 0.18, 0.03], xy: [0.62, 0.25]}
  - {id: plate,      kind: plate, color: white, size: [0.16, 0.16, 0.015], xy: [0.35, 0.28]}
  - {id: in_tray,    kind: cube, color: yellow, size: 0.03, on: tray}
  - {id: on_plate,   kind: cylinder, color: purple, size: [0.02, 0.05], on: plate}
  - {id: top_cube,   kind: cube, color: orange, size: 0.03, on: blue_cube}
  - {id: ball,       kind: ball, color: black, size: 0.02, xy: [0.40, -0.30]}
"""


@pytest.fixture(scope="module")
def world() -> Iterator[SimWorld]:
    with SimWorld(scene=Scene.model_validate(parse_yaml(SCENE))) as w:
        yield w


@pytest.fixture
def settled(world: SimWorld) -> tuple[SimWorld, GroundTruth]:
    world.reset()
    initial = world.ground_truth()
    world.step(120)
    return world, initial


def judge(world: SimWorld, initial: GroundTruth, pred: dict[str, Any]) -> PredicateResult:
    return evaluate(
        pred, now=world.ground_truth(), initial=initial, scene=world.scene, robot=world.robot
    )


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        ({"in": ["in_tray", "tray"]}, True),
        ({"in": ["red_cube", "tray"]}, False),
        ({"in": ["on_plate", "plate"]}, True),
        ({"in": ["in_tray", "plate"]}, False),
        ({"on": ["top_cube", "blue_cube"]}, True),
        ({"on": ["red_cube", "blue_cube"]}, False),
        ({"on": ["blue_cube", "top_cube"]}, False),
        ({"at": ["red_cube", [0.50, -0.15], 0.01]}, True),
        ({"at": ["red_cube", [0.40, -0.25], 0.02]}, False),
        ({"at": ["top_cube", [0.45, 0.10], 0.02]}, False),  # right place, but not on the table
        ({"near": ["red_cube", "ball", 0.20]}, True),
        ({"near": ["red_cube", "tray", 0.20]}, False),
        ({"unmoved": ["red_cube"]}, True),
        ({"unmoved": ["ball", 0.001]}, True),
        ({"held": "red_cube"}, False),
        ({"home": None}, True),
    ],
)
def test_predicate_on_a_settled_scene(
    settled: tuple[SimWorld, GroundTruth], pred: dict[str, Any], expected: bool
) -> None:
    world, initial = settled
    result = judge(world, initial, pred)
    assert result.passed is expected, result.detail
    assert any(ch.isdigit() for ch in result.detail)


def test_unmoved_fails_after_an_object_is_moved(settled: tuple[SimWorld, GroundTruth]) -> None:
    world, initial = settled
    world.teleport("red_cube", (0.52, -0.15))
    world.step(60)
    assert not judge(world, initial, {"unmoved": ["red_cube"]}).passed
    assert judge(world, initial, {"unmoved": ["red_cube", 0.05]}).passed
    assert judge(world, initial, {"at": ["red_cube", [0.52, -0.15], 0.01]}).passed


def test_held_and_home_follow_a_grasp(settled: tuple[SimWorld, GroundTruth]) -> None:
    world, initial = settled
    grasp(world, "red_cube", lift=0.15)
    assert judge(world, initial, {"held": "red_cube"}).passed
    assert judge(world, initial, {"held": ["red_cube"]}).passed
    assert not judge(world, initial, {"held": "blue_cube"}).passed
    assert not judge(world, initial, {"home": None}).passed
    assert not judge(world, initial, {"at": ["red_cube", [0.50, -0.15], 0.02]}).passed


def test_in_becomes_true_when_a_cube_is_put_in_the_tray(
    settled: tuple[SimWorld, GroundTruth],
) -> None:
    world, initial = settled
    assert not judge(world, initial, {"in": ["red_cube", "tray"]}).passed
    grasp(world, "red_cube", lift=0.15)
    move_tcp(world, (0.60, 0.22, 0.15), 1.5)
    move_tcp(world, (0.60, 0.22, 0.045), 1.0)
    world.set_gripper(world.robot.gripper.max_opening)
    world.step(120)
    move_tcp(world, (0.60, 0.22, 0.2), 0.8)
    world.step(120)
    result = judge(world, initial, {"in": ["red_cube", "tray"]})
    assert result.passed, result.detail
    assert not judge(world, initial, {"held": "red_cube"}).passed


def test_unknown_objects_and_predicates_fail_with_a_reason(
    settled: tuple[SimWorld, GroundTruth],
) -> None:
    world, initial = settled
    assert "unknown object" in judge(world, initial, {"in": ["ghost", "tray"]}).detail
    assert "unknown predicate" in judge(world, initial, {"under": ["a", "b"]}).detail
    assert not judge(world, initial, {"at": ["red_cube"]}).passed
