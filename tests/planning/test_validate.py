"""Validation turns untrusted steps into a plan or a refusal naming step, argument and value."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embodied_stack.planning.refusal import Refusal
from embodied_stack.planning.skills import PlanLimits
from embodied_stack.planning.validate import validate_steps
from embodied_stack.scene import load_suite
from tests.conftest import TASKS_PUBLIC
from tests.planning.conftest import perceived

SUITE = load_suite(TASKS_PUBLIC)
SCENE = perceived(SUITE.scenes["two_cubes_tray"])
TWO_RED = perceived(SUITE.scenes["two_red_cubes"])


def refusal(raw: Any, objects=SCENE, **kwargs: Any) -> Refusal:
    with pytest.raises(Refusal) as caught:
        validate_steps(raw, objects, **kwargs)
    return caught.value


def test_descriptions_resolve_to_perceived_ids() -> None:
    steps = validate_steps(
        [
            {"skill": "pick", "args": {"object": "the red cube"}},
            {"skill": "place", "args": {"target": "green tray"}},
        ],
        SCENE,
    )
    assert [s.args for s in steps] == [{"object": "red_cube"}, {"target": "tray"}]


def test_position_words_in_a_models_reference() -> None:
    steps = validate_steps([{"skill": "pick", "args": {"object": "red cube on the left"}}], TWO_RED)
    assert steps[0].args["object"] == "red_left"


@pytest.mark.parametrize(
    ("raw", "rule", "words"),
    [
        ({"steps": []}, "malformed_plan", ["list"]),
        ([], "empty_plan", []),
        (["pick"], "malformed_step", ["step 1"]),
        ([{"skill": "disable_estop", "args": {}}], "unknown_skill", ["disable_estop"]),
        ([{"skill": "pick"}], "bad_argument", ["missing", "object"]),
        ([{"skill": "go_home", "args": {"speed": 1}}], "bad_argument", ["unexpected", "speed"]),
        ([{"skill": "go_home", "args": {}, "why": "x"}], "malformed_step", ["why"]),
        ([{"skill": "set_speed", "args": {"scale": 25}}], "out_of_range", ["scale", "25"]),
        ([{"skill": "set_speed", "args": {"scale": 0}}], "out_of_range", ["(0, 1]"]),
        ([{"skill": "set_speed", "args": {"scale": True}}], "bad_number", ["scale"]),
        ([{"skill": "wait", "args": {"seconds": "2"}}], "bad_number", ["seconds"]),
        ([{"skill": "wait", "args": {"seconds": 3600}}], "out_of_range", ["seconds"]),
        (
            [{"skill": "move_to", "args": {"x": math.nan, "y": 0, "z": 0.2}}],
            "non_finite_number",
            ["x"],
        ),
        (
            [{"skill": "move_to", "args": {"x": 0.5, "y": 1e309, "z": 0.2}}],
            "non_finite_number",
            ["y"],
        ),
        ([{"skill": "move_to", "args": {"x": 0.5, "y": 0, "z": None}}], "bad_number", ["z"]),
        ([{"skill": "move_to", "args": {"x": 50, "y": 0, "z": 0.2}}], "out_of_range", ["x"]),
        ([{"skill": "pick", "args": {"object": "purple ball"}}], "no_match", ["purple ball"]),
        ([{"skill": "pick", "args": {"object": "ghost_7"}}], "bad_reference", ["ghost_7"]),
        ([{"skill": "pick", "args": {"object": 3}}], "bad_reference", ["object"]),
        ([{"skill": "place", "args": {"target": "tray"}}], "nothing_held", ["step 1"]),
        ([{"skill": "place_at", "args": {"x": 0.4, "y": 0.0}}], "nothing_held", ["step 1"]),
        ([{"skill": "pick", "args": {"object": "tray"}}], "not_graspable", ["tray"]),
        (
            [{"skill": "pick", "args": {"object": "red_cube"}}] * 2,
            "gripper_busy",
            ["step 2", "red_cube"],
        ),
        (
            [
                {"skill": "pick", "args": {"object": "red_cube"}},
                {"skill": "place", "args": {"target": "red_cube"}},
            ],
            "bad_target",
            ["itself"],
        ),
    ],
)
def test_refusals_name_the_rule_step_and_value(raw: Any, rule: str, words: list[str]) -> None:
    refused = refusal(raw)
    assert refused.rule == rule, refused.reason
    for word in words:
        assert word in refused.detail


def test_ambiguous_model_reference_names_the_matches() -> None:
    refused = refusal([{"skill": "pick", "args": {"object": "red cube"}}], TWO_RED)
    assert refused.rule == "ambiguous_reference"
    assert "red_left" in refused.detail and "red_right" in refused.detail


def test_nothing_is_picked_from_under_another_object() -> None:
    stacked = perceived(load_suite(TASKS_PUBLIC).scenes["stacking"])
    top = stacked[0].model_copy(update={"support": "green_cube"})
    objects = [top, *stacked[1:]]
    refused = refusal([{"skill": "pick", "args": {"object": "green_cube"}}], objects)
    assert refused.rule == "object_underneath" and "red_cube" in refused.detail
    stacking = [
        {"skill": "pick", "args": {"object": "blue_cube"}},
        {"skill": "place", "args": {"target": "green_cube"}},
        {"skill": "pick", "args": {"object": "green_cube"}},
    ]
    refused = refusal(stacking, stacked)
    assert refused.rule == "object_underneath" and "step 3" in refused.detail


def test_too_many_steps() -> None:
    raw = [{"skill": "wait", "args": {"seconds": 0.1}}] * 5
    refused = refusal(raw, limits=PlanLimits(max_steps=4))
    assert refused.rule == "too_many_steps" and "5" in refused.detail


def test_held_object_can_be_placed_without_a_pick() -> None:
    steps = validate_steps(
        [{"skill": "place", "args": {"target": "tray"}}], SCENE, holding="red_cube"
    )
    assert steps[0].args == {"target": "tray"}


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
STEP = st.fixed_dictionaries(
    {
        "skill": st.sampled_from(["pick", "place", "move_to", "set_speed", "wait", "boom"])
        | st.text(max_size=6)
    },
    optional={
        "args": st.dictionaries(
            st.sampled_from(["object", "target", "x", "y", "z", "scale", "seconds", "q"]),
            JSON,
            max_size=4,
        )
    },
)


@settings(max_examples=120, deadline=None)
@given(st.lists(STEP, max_size=6) | JSON)
def test_validation_never_crashes(raw: Any) -> None:
    try:
        steps = validate_steps(raw, SCENE)
    except Refusal as refused:
        assert refused.rule and refused.detail
    else:
        for step in steps:
            for value in step.args.values():
                assert isinstance(value, str) or math.isfinite(value)
