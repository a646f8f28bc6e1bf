"""What motion_node says about plans it cannot run: which plan, and why."""

from __future__ import annotations

import pytest

from embodied_stack.control import reports
from embodied_stack.schemas import MotionState


def test_a_malformed_plan_names_its_plan_id_and_step_count() -> None:
    text = '{"plan_id": "abc123", "steps": [{"skill": "dance", "args": {}}], "status": "approved"}'
    status = reports.malformed(text, "steps.0.skill: not a skill", 5.0)
    assert (status.plan_id, status.state, status.step_count) == ("abc123", MotionState.FAILED, 1)
    assert status.error == "malformed plan: steps.0.skill: not a skill"
    assert status.stamp == 5.0


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"plan_id": 7}', '{"plan_id": ""}', "{}"])
def test_a_malformed_plan_without_a_usable_plan_id_says_so_without_one(text: str) -> None:
    status = reports.malformed(text, "bad", 0.0)
    assert status.plan_id is None and status.state is MotionState.FAILED
    assert status.error == "malformed plan: bad"
