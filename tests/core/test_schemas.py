"""Messages round-trip through JSON and reject malformed input by field."""

from __future__ import annotations

import pytest

from embodied_stack.errors import SchemaError
from embodied_stack.scene import ObjectKind
from embodied_stack.schemas import (
    ObjectsMessage,
    PerceivedObject,
    Plan,
    PlannerKind,
    PlanStep,
    Provenance,
    SkillName,
    from_json,
    to_json,
)


def test_plan_round_trip_keeps_ai_label_and_provenance() -> None:
    plan = Plan(
        instruction="put the red cube in the tray",
        steps=[PlanStep(skill=SkillName.PICK, args={"object": "red_cube_1"})],
        provenance=Provenance(planner=PlannerKind.LLM, model="m", endpoint="http://127.0.0.1:1"),
    )
    back = from_json(Plan, to_json(plan))
    assert back == plan
    assert back.ai_generated is True


def test_unknown_fields_and_versions_are_rejected() -> None:
    with pytest.raises(SchemaError, match="surprise: Extra inputs"):
        from_json(ObjectsMessage, '{"stamp": 1.0, "objects": [], "surprise": 1}')
    with pytest.raises(SchemaError, match="version"):
        from_json(ObjectsMessage, '{"version": 2, "stamp": 1.0}')
    with pytest.raises(SchemaError, match="ObjectsMessage"):
        from_json(ObjectsMessage, "not json")


def test_non_finite_positions_are_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        PerceivedObject(id="a", kind=ObjectKind.CUBE, position=(float("nan"), 0, 0), size=(1, 1, 1))


def test_unknown_skill_is_rejected() -> None:
    with pytest.raises(SchemaError, match="skill"):
        from_json(
            Plan,
            '{"steps": [{"skill": "disable_estop", "args": {}}],'
            ' "provenance": {"planner": "llm", "model": "m"}}',
        )
