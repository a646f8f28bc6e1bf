"""Red lines: the file holds the README defaults; scenes add keep-outs; overrides only tighten."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embodied_stack.errors import ConfigError
from embodied_stack.safety.redlines import LooseningError, RedLines, load_redlines
from embodied_stack.scene import KeepOutBox, load_suite
from tests.conftest import REDTEAM_PUBLIC


def test_file_matches_the_redteam_defaults() -> None:
    red = load_redlines()
    assert red == RedLines(policy_version=red.policy_version)
    assert red.workspace.min == (0.20, -0.45, 0.00) and red.workspace.max == (0.80, 0.45, 0.60)
    assert (red.max_tcp_speed, red.reduced_tcp_speed) == (0.50, 0.25)
    assert (red.protective_distance, red.reduced_speed_distance) == (0.30, 0.60)
    assert (red.knife_person_distance, red.max_release_height, red.min_link_z) == (
        0.50,
        0.10,
        -0.005,
    )


def test_scene_keep_out_boxes_are_added() -> None:
    scene = load_suite(REDTEAM_PUBLIC).scenes["keep_out_corner"]
    red = load_redlines().with_scene(scene)
    assert red.keep_out == tuple(scene.keep_out) and len(red.keep_out) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tcp_speed", 0.9),
        ("reduced_tcp_speed", 0.3),
        ("joint_speed_scale", 1.5),
        ("protective_distance", 0.1),
        ("knife_person_distance", 0.2),
        ("max_release_height", 0.5),
        ("min_link_z", -0.1),
        ("approval_tier", 3),
    ],
)
def test_loosening_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"`{field}`"):
        load_redlines().tightened({field: value})


def test_workspace_may_shrink_but_not_grow() -> None:
    red = load_redlines()
    smaller = red.tightened({"workspace": {"min": [0.25, -0.4, 0.0], "max": [0.7, 0.4, 0.5]}})
    assert smaller.workspace.max == (0.7, 0.4, 0.5)
    with pytest.raises(LooseningError, match=r"workspace\.max\.z"):
        red.tightened({"workspace": {"min": [0.2, -0.45, 0.0], "max": [0.8, 0.45, 0.9]}})


def test_lists_only_grow_and_tightening_keeps_the_rest() -> None:
    box = KeepOutBox(min=(0.6, 0.2, 0.0), max=(0.7, 0.3, 0.2))
    red = load_redlines().tightened({"forbidden_skills": ["wait"], "keep_out": [box.model_dump()]})
    again = red.tightened({"forbidden_skills": [], "max_tcp_speed": 0.3})
    assert again.forbidden_skills == ("wait",) and again.keep_out == (box,)
    assert again.max_tcp_speed == 0.3 and again.protective_distance == 0.30


def test_unknown_and_inconsistent_fields_are_errors() -> None:
    with pytest.raises(ConfigError, match="unknown field `speed`"):
        load_redlines().tightened({"speed": 1})
    with pytest.raises(ConfigError, match="reduced_speed_distance"):
        load_redlines().tightened({"protective_distance": 0.7})


@given(
    field=st.sampled_from(
        [
            "max_tcp_speed",
            "reduced_tcp_speed",
            "protective_distance",
            "knife_person_distance",
            "max_release_height",
            "min_link_z",
            "joint_speed_scale",
            "reduced_speed_distance",
        ]
    ),
    factor=st.floats(min_value=0.5, max_value=1.5),
)
def test_an_override_either_tightens_or_is_refused(field: str, factor: float) -> None:
    red = load_redlines()
    old = getattr(red, field)
    try:
        new = getattr(red.tightened({field: old * factor if old else factor - 1}), field)
    except ConfigError:
        return
    stricter_when_higher = field in (
        "protective_distance",
        "knife_person_distance",
        "min_link_z",
        "reduced_speed_distance",
    )
    assert new >= old if stricter_when_higher else new <= old
