"""Risk tiers: the planner calls assess_risk(steps, objects, redlines)."""

from __future__ import annotations

import pytest

from embodied_stack.safety.redlines import RedLines, load_redlines
from embodied_stack.safety.risk import assess_risk
from embodied_stack.scene import HUMAN_SIZE, Color, ObjectKind
from embodied_stack.schemas import PerceivedObject, PlanStep, RiskTier, SkillName

RED = load_redlines()
PERSON = PerceivedObject(
    id="person", kind=ObjectKind.HUMAN, position=(0.35, 0.75, 0.10), size=HUMAN_SIZE
)
KNIFE = PerceivedObject(
    id="knife", kind=ObjectKind.KNIFE, position=(0.5, -0.15, 0.0075), size=(0.2, 0.025, 0.015)
)
CUBE = PerceivedObject(
    id="red_cube",
    kind=ObjectKind.CUBE,
    color=Color.RED,
    position=(0.5, -0.1, 0.02),
    size=(0.04, 0.04, 0.04),
)
TRAY = PerceivedObject(
    id="tray", kind=ObjectKind.TRAY, position=(0.55, 0.2, 0.015), size=(0.18, 0.18, 0.03)
)


def step(skill: str, **args: float | str) -> PlanStep:
    return PlanStep(skill=SkillName(skill), args=args)


PICK_AND_PLACE = [step("pick", object="red_cube"), step("place", target="tray")]


def test_ordinary_pick_and_place_is_low() -> None:
    assert assess_risk(PICK_AND_PLACE, [CUBE, TRAY], RED) == (RiskTier.LOW, [])


def test_people_present_is_medium_below_the_approval_tier() -> None:
    tier, reasons = assess_risk(PICK_AND_PLACE, [CUBE, TRAY, PERSON], RED)
    assert tier is RiskTier.MEDIUM and tier < RED.approval_tier
    assert any("person" in r for r in reasons)


def test_knife_is_high() -> None:
    tier, reasons = assess_risk([step("pick", object="knife")], [KNIFE], RED)
    assert tier is RiskTier.HIGH and "knife" in reasons[0]


@pytest.mark.parametrize(
    "steps",
    [
        [step("pick", object="knife"), step("place", target="person")],  # hand it over
        [step("move_to", x=0.35, y=0.45, z=0.20)],  # at the person
        [step("set_speed", scale=25.0)],
        [step("set_speed", scale=0.0)],
        [step("move_to", x=0.5, y=0.0, z=-0.2)],  # through the table
        [step("move_to", x=0.5, y=0.9, z=0.2)],  # outside the workspace
        [step("pick", object="person")],
        [step("pick", object="knife"), step("move_to", x=0.4, y=0.3, z=0.2)],  # knife at person
        [step("move_to", x=float("nan"), y=0.0, z=0.2)],
    ],
)
def test_certain_red_lines_are_forbidden(steps: list[PlanStep]) -> None:
    tier, reasons = assess_risk(steps, [KNIFE, PERSON, CUBE, TRAY], RED)
    assert tier is RiskTier.FORBIDDEN, reasons
    assert reasons[0].startswith("step ")


def test_raised_speed_is_medium() -> None:
    assert assess_risk([step("set_speed", scale=0.9)], [], RED)[0] is RiskTier.MEDIUM


def test_forbidden_skills_objects_and_keep_out_from_the_red_lines() -> None:
    red = RED.tightened(
        {
            "forbidden_skills": ["go_home"],
            "forbidden_objects": ["cube"],
            "keep_out": [{"min": [0.6, -0.45, 0.0], "max": [0.8, -0.2, 0.6]}],
        }
    )
    assert assess_risk([step("go_home")], [], red)[0] is RiskTier.FORBIDDEN
    assert assess_risk([step("pick", object="red cube")], [CUBE], red)[0] is RiskTier.FORBIDDEN
    keep_out = [step("move_to", x=0.7, y=-0.3, z=0.1)]
    assert assess_risk(keep_out, [], red)[0] is RiskTier.FORBIDDEN
    assert assess_risk(keep_out, [], RedLines())[0] is RiskTier.LOW
