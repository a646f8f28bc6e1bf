"""The suite format's success predicates at load time: the bare `- home` form, the
arity of each predicate, and object ids that exist in the task's scene, with errors
naming the field. The public suites still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_stack.errors import ConfigError
from embodied_stack.robot import load_robot
from embodied_stack.scene import load_suite
from embodied_stack.sim.predicates import evaluate
from embodied_stack.sim.world import SimWorld
from tests.conftest import SHARED

SCENE = """version: 1
scenes:
  s:
    objects:
      - {id: a, kind: cube, color: red, size: 0.04, xy: [0.5, -0.1]}
      - {id: tray, kind: tray, color: green, size: [0.18, 0.18, 0.03], xy: [0.6, 0.2]}
"""


def suite(tmp_path: Path, success: str, *, cases: bool = False, extra: str = "") -> Path:
    kind = "cases" if cases else "tasks"
    expect = ", expect: success" if cases else ""
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"{SCENE}{kind}:\n  - {{id: t, scene: s, instruction: go{expect}{extra}, "
        f"success: {success}}}\n"
    )
    return path


def test_a_bare_home_is_the_home_predicate_and_judges(tmp_path: Path) -> None:
    loaded = load_suite(suite(tmp_path, "[home, {in: [a, tray]}, {home: 0.1}]"))
    assert loaded.tasks[0].success == [{"home": None}, {"in": ["a", "tray"]}, {"home": 0.1}]
    with SimWorld(scene=loaded.scenes["s"]) as world:
        truth = world.ground_truth()
    result = evaluate(
        loaded.tasks[0].success[0], now=truth, initial=truth, scene=world.scene, robot=load_robot()
    )
    assert result.passed, result.detail


def test_every_arity_the_format_allows_loads(tmp_path: Path) -> None:
    preds = (
        "[{in: [a, tray]}, {on: [a, tray]}, {at: [a, [0.5, -0.1], 0.02]}, {near: [a, tray, 0.3]},"
        " {unmoved: [a]}, {unmoved: [a, 0.02]}, {held: a}, {held: [a]}, home, {home: null}]"
    )
    assert len(load_suite(suite(tmp_path, preds)).tasks[0].success) == 10


@pytest.mark.parametrize(
    ("success", "message"),
    [
        ("[{in: [a]}]", r"tasks\[0\]\.success\[0\]: in: expected \[A, B\] \(2 object ids\)"),
        ("[{on: [a, tray, a]}]", r"success\[0\]: on: expected \[A, B\]"),
        ("[{at: [a, [0.5], 0.02]}]", r"success\[0\]: at: expected \[A, \[x, y\], tol\]"),
        ("[{at: [a, [0.5, 0.1]]}]", r"success\[0\]: at: expected"),
        ("[{near: [a, tray]}]", r"success\[0\]: near: expected \[A, B, d\]"),
        ("[{near: [a, tray, -1]}]", r"success\[0\]: near: expected \[A, B, d\] \(d >= 0\)"),
        ("[{unmoved: [a, x]}]", r"success\[0\]: unmoved: expected \[A\] or \[A, tol\]"),
        ("[{held: [a, tray]}]", r"success\[0\]: held: expected A"),
        ("[home, {home: [a]}]", r"success\[1\]: home: expected no arguments"),
        ("[held]", r"success\[0\]: held: expected A, got None"),
        ("[hom]", r"success\[0\]: expected one of \[.*'home'.*\], got \['hom'\]"),
        ("[{in: [a, tray], on: [a, tray]}]", r"success\[0\]: expected one of"),
    ],
)
def test_bad_arity_names_the_field(tmp_path: Path, success: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_suite(suite(tmp_path, success))


@pytest.mark.parametrize(
    ("success", "message"),
    [
        ("[{in: [a, bin]}]", r"tasks\[0\] \(t\)\.success\[0\]\.in: unknown object 'bin'"),
        ("[home, {near: [a, b, 0.1]}]", r"success\[1\]\.near: unknown object 'b'"),
        ("[{at: [cube, [0.5, 0.1], 0.02]}]", r"success\[0\]\.at: unknown object 'cube'"),
        ("[{unmoved: [z]}]", r"success\[0\]\.unmoved: unknown object 'z' \(scene 's' has"),
        ("[{held: z}]", r"success\[0\]\.held: unknown object 'z'"),
    ],
)
def test_objects_must_exist_in_the_tasks_scene(tmp_path: Path, success: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_suite(suite(tmp_path, success))


def test_red_team_cases_are_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cases\[0\] \(t\)\.success\[0\]\.in: unknown"):
        load_suite(suite(tmp_path, "[{in: [x, tray]}]", cases=True))
    event = ", events: [{at_s: 1.0, move: ghost, xy: [0.3, 0.3]}]"
    with pytest.raises(ConfigError, match=r"cases\[0\] \(t\)\.events\[0\]\.move: unknown"):
        load_suite(suite(tmp_path, "[home]", cases=True, extra=event))


@pytest.mark.parametrize(
    "path",
    sorted((SHARED / "tasks").glob("*.yaml")) + sorted((SHARED / "redteam").glob("*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_shared_suite_still_loads(path: Path) -> None:
    loaded = load_suite(path)
    assert loaded.tasks or loaded.cases
