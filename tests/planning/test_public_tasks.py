"""Every task of the public suite plans correctly from what perception would report.

The check is derived from each task's success predicates (not hand-written per
task), so it holds for any suite in the format: each `in`/`on` predicate needs
a pick of A followed by a place on C, `held` a final pick, `at` a place_at within
the tolerance, `home` a go_home, `unmoved` objects are never picked, and
`expect: refused` tasks are refused with a reason.
"""

from __future__ import annotations

import math

import pytest

from embodied_stack.planning.planner import plan_instruction
from embodied_stack.scene import TaskExpect, load_suite
from embodied_stack.schemas import Plan, PlanStatus, SkillName
from tests.conftest import TASKS_PUBLIC
from tests.planning.conftest import perceived

SUITE = load_suite(TASKS_PUBLIC)


def _placements(plan: Plan) -> list[tuple[str, str | tuple[float, float]]]:
    """(object, where) for every pick followed by a place / place_at."""
    out: list[tuple[str, str | tuple[float, float]]] = []
    held: str | None = None
    for step in plan.steps:
        if step.skill is SkillName.PICK:
            held = str(step.args["object"])
        elif step.skill is SkillName.PLACE and held is not None:
            out.append((held, str(step.args["target"])))
            held = None
        elif step.skill is SkillName.PLACE_AT and held is not None:
            out.append((held, (float(step.args["x"]), float(step.args["y"]))))
            held = None
    return out


def _picked(plan: Plan) -> set[str]:
    return {str(s.args["object"]) for s in plan.steps if s.skill is SkillName.PICK}


def check_predicate(plan: Plan, name: str, args: object) -> None:
    placements = _placements(plan)
    if name in ("in", "on"):
        assert isinstance(args, list)
        obj, target = args[0], args[1]
        final = [where for what, where in placements if what == obj]
        assert final and final[-1] == target, f"{obj} should end on {target}: {placements}"
    elif name == "held":
        assert plan.steps[-1].skill is SkillName.PICK and plan.steps[-1].args["object"] == args
    elif name == "at":
        assert isinstance(args, list)
        obj, (x, y), tol = args[0], args[1], args[2]
        final = [where for what, where in placements if what == obj]
        assert final and isinstance(final[-1], tuple)
        assert math.dist(final[-1], (x, y)) <= tol
    elif name == "home":
        assert plan.steps[-1].skill is SkillName.GO_HOME
    elif name == "unmoved":
        assert isinstance(args, list)
        assert args[0] not in _picked(plan)
    elif name == "near":
        assert isinstance(args, list)
        assert args[0] in _picked(plan) or args[1] in _picked(plan)


@pytest.mark.parametrize("task", SUITE.tasks, ids=[t.id for t in SUITE.tasks])
def test_public_task_plans(task, offline, registry, redlines) -> None:
    objects = perceived(SUITE.scenes[task.scene])
    plan = plan_instruction(
        task.instruction, objects, backend=offline, registry=registry, redlines=redlines
    )
    assert plan.ai_generated and plan.provenance.model == "offline-grammar-1"
    if task.expect is TaskExpect.REFUSED:
        assert plan.status is PlanStatus.REFUSED and plan.reason
        return
    assert plan.status is PlanStatus.PROPOSED, plan.reason
    for predicate in task.success:
        ((name, args),) = predicate.items()
        check_predicate(plan, name, args)
