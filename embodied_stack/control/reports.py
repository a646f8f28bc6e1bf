"""What the motion node says about a plan: audit payloads and status changes."""

from __future__ import annotations

import json
from typing import Any

from embodied_stack.schemas import MotionState, MotionStatus, Plan, Violation


def referenced_objects(plan: Plan) -> set[str]:
    """Object ids the plan's steps name (`object`, `target`)."""
    return {
        str(step.args[key])
        for step in plan.steps
        for key in ("object", "target")
        if isinstance(step.args.get(key), str)
    }


def motion_start_payload(plan: Plan) -> dict[str, Any]:
    return {
        "plan_id": plan.plan_id,
        "instruction": plan.instruction,
        "steps": [s.model_dump(mode="json") for s in plan.steps],
    }


def motion_end_payload(status: MotionStatus) -> dict[str, Any]:
    return {
        "plan_id": status.plan_id,
        "state": status.state.value,
        "error": status.error,
        "step_index": status.step_index,
    }


def violations_payload(plan_id: str | None, violations: list[Violation]) -> dict[str, Any]:
    return {"plan_id": plan_id, "violations": [v.model_dump(mode="json") for v in violations]}


def refused(
    plan: Plan, reason: str, stamp: float, state: MotionState = MotionState.FAILED
) -> MotionStatus:
    """Status of a plan that never started (ABORTED: a stop ended its wait for inputs)."""
    return MotionStatus(
        plan_id=plan.plan_id,
        state=state,
        step_count=len(plan.steps),
        error=reason,
        stamp=stamp,
    )


def malformed(text: str, problem: str, stamp: float) -> MotionStatus:
    """Status of a plan message that failed its schema: its plan_id (and step count)
    read from the raw JSON when they are there, so the sender can tell which plan."""
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    fields = raw if isinstance(raw, dict) else {}
    plan_id = fields.get("plan_id")
    steps = fields.get("steps")
    return MotionStatus(
        plan_id=plan_id if isinstance(plan_id, str) and plan_id else None,
        state=MotionState.FAILED,
        step_count=len(steps) if isinstance(steps, list) else 0,
        error=f"malformed plan: {problem}",
        stamp=stamp,
    )


def changed(new: MotionStatus, old: MotionStatus | None) -> bool:
    """A status worth publishing: anything but the stamp differs."""
    return old is None or new.model_copy(update={"stamp": 0.0}) != old.model_copy(
        update={"stamp": 0.0}
    )
