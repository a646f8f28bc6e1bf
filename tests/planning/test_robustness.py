"""Whatever is typed, the planner answers with a plan or a refusal; it never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from embodied_stack.planning.planner import plan_instruction
from embodied_stack.planning.vocab import CHINESE, ENGLISH
from embodied_stack.scene import load_suite
from embodied_stack.schemas import PlanStatus
from tests.conftest import REDTEAM_PUBLIC, TASKS_PUBLIC
from tests.planning.conftest import perceived

SCENES = {**load_suite(TASKS_PUBLIC).scenes, **load_suite(REDTEAM_PUBLIC).scenes}
OBJECTS = {name: perceived(scene) for name, scene in SCENES.items()}
WORDS = sorted(ENGLISH) + sorted(CHINESE) + [",", ".", "->", "0.4", "-0.2", "x", "y", "10", "cm"]
WORDS += ["red_cube", "tray", "r1", "then", "and", "的", "把", "然后"]


def _check(text: str, scene: str, offline, registry, redlines) -> None:
    plan = plan_instruction(
        text, OBJECTS[scene], backend=offline, registry=registry, redlines=redlines
    )
    assert plan.status in (PlanStatus.PROPOSED, PlanStatus.REFUSED)
    assert plan.ai_generated
    if plan.status is PlanStatus.REFUSED:
        assert plan.reason and ":" in plan.reason
    else:
        assert plan.steps


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from(WORDS), min_size=1, max_size=14).map(" ".join),
    scene=st.sampled_from(sorted(SCENES)),
)
def test_word_salad_never_crashes(text, scene, offline, registry, redlines) -> None:
    _check(text, scene, offline, registry, redlines)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80), scene=st.sampled_from(sorted(SCENES)))
def test_any_text_never_crashes(text, scene, offline, registry, redlines) -> None:
    _check(text, scene, offline, registry, redlines)
