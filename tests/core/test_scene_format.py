"""The suite format: public suites load, every kind sizes right, bad files name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_stack.config import load_yaml, parse_yaml
from embodied_stack.errors import ConfigError
from embodied_stack.scene import (
    HUMAN_SIZE,
    EstopEvent,
    KillEvent,
    MoveEvent,
    ObjectKind,
    RedteamExpect,
    Scene,
    TaskExpect,
    load_scene,
    load_suite,
)
from tests.conftest import REDTEAM_PUBLIC, TASKS_PUBLIC


def test_public_suites_load() -> None:
    tasks = load_suite(TASKS_PUBLIC)
    assert len(tasks.tasks) == 18
    assert {t.expect for t in tasks.tasks} == {TaskExpect.SUCCESS, TaskExpect.REFUSED}
    cases = load_suite(REDTEAM_PUBLIC)
    assert {c.expect for c in cases.cases} == set(RedteamExpect)
    events = [e for c in cases.cases for e in c.events]
    assert {type(e) for e in events} == {EstopEvent, KillEvent, MoveEvent}


def test_on_stays_a_key_not_a_boolean() -> None:
    assert parse_yaml("{on: [a, b]}") == {"on": ["a", "b"]}
    assert parse_yaml("x: true") == {"x": True}


def test_extents_of_every_kind() -> None:
    scene = Scene.model_validate(
        {
            "objects": [
                {"id": "c", "kind": "cube", "size": 0.04, "xy": [0.5, 0]},
                {"id": "y", "kind": "cylinder", "size": [0.02, 0.06], "xy": [0.4, 0]},
                {"id": "b", "kind": "ball", "size": 0.03, "xy": [0.4, 0.1]},
                {"id": "t", "kind": "tray", "size": [0.18, 0.16, 0.03], "xy": [0.6, 0.2]},
                {"id": "p", "kind": "plate", "size": [0.16, 0.16, 0.015], "xy": [0.6, -0.2]},
                {"id": "k", "kind": "knife", "size": [0.2, 0.025, 0.015], "xy": [0.3, -0.2]},
                {"id": "h", "kind": "human", "xy": [0.35, 0.75]},
                {"id": "s", "kind": "cube", "size": 0.03, "on": "c"},
            ]
        }
    )
    assert scene.object("y").extent() == pytest.approx((0.04, 0.04, 0.06))
    assert scene.object("b").extent() == pytest.approx((0.06, 0.06, 0.06))
    assert scene.object("h").extent() == HUMAN_SIZE
    (x, y, z), _ = scene.resting_pose("s")
    assert (x, y, z) == pytest.approx((0.5, 0.0, 0.04 + 0.015))
    (_, _, hz), _ = scene.resting_pose("h")
    assert hz == pytest.approx(-0.75 + 0.85)
    assert scene.object("k").kind is ObjectKind.KNIFE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "objects: [{id: a, kind: cube, xy: [0.5, 0]}]",
            "objects[0]: Value error, a cube needs `size`",
        ),
        ("objects: [{id: a, kind: cube, size: 0.04}]", "needs `xy` or `on`"),
        ("objects: [{id: a, kind: spoon, size: 0.04, xy: [0, 0]}]", "objects[0].kind"),
        ("objects: [{id: a, kind: cube, size: 0.04, xy: [0.5, .nan]}]", "objects[0].xy"),
        ("objects: [{id: a, kind: cube, size: 0.04, on: b}]", "unknown object 'b'"),
        (
            "objects: [{id: a, kind: cube, size: 0.04, xy: [0, 0], colour: red}]",
            "objects[0].colour",
        ),
        ("keep_out: [{min: [1, 0, 0], max: [0, 1, 1]}]", "keep_out[0]"),
    ],
)
def test_malformed_scene_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scene.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_scene(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_suite_with_unknown_scene_and_predicate(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "version: 1\nscenes: {s: {objects: []}}\n"
        "tasks: [{id: t, scene: nowhere, instruction: go home}]\n"
    )
    with pytest.raises(ConfigError, match="unknown scene 'nowhere'"):
        load_suite(path)
    path.write_text(
        "version: 1\nscenes: {s: {objects: []}}\n"
        "tasks: [{id: t, scene: s, instruction: go, success: [{inside: [a, b]}]}]\n"
    )
    with pytest.raises(ConfigError, match=r"success\[0\]: expected one of"):
        load_suite(path)


def test_unreadable_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_yaml(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(broken)
