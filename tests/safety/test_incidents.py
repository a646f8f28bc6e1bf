"""Incident bundles hold the plan, the violations, the policy, state and the audit slice."""

from __future__ import annotations

import json
from pathlib import Path

from embodied_stack.motion_types import JointStateSample
from embodied_stack.safety.incidents import StateHistory, read_incident, write_incident
from embodied_stack.schemas import Plan, PlannerKind, Provenance, Violation


def test_bundle_round_trip(tmp_path: Path) -> None:
    history = StateHistory(seconds=1.0)
    for i in range(30):
        history.append(JointStateSample(names=("j",), positions=(i * 0.1,), stamp=i * 0.1))
    plan = Plan(provenance=Provenance(planner=PlannerKind.LLM, model="m"), instruction="x")
    violation = Violation(rule="keep_out", where="step 1", value=-0.01, limit=0.0, source="x")
    audit = [{"seq": 7, "kind": "trip"}]
    path = write_incident(
        tmp_path,
        kind="violation",
        reason="keep out",
        robot_id="r1",
        policy_version="p1",
        plan=plan,
        violations=[violation],
        state=history.records(),
        audit=audit,
    )
    summary = read_incident(path)
    assert (summary.kind, summary.policy_version, summary.plan_id) == (
        "violation",
        "p1",
        plan.plan_id,
    )
    assert summary.violations == 1 and summary.audit_records == 1
    state = [json.loads(line) for line in (path / "state.jsonl").read_text().splitlines()]
    assert 10 <= len(state) <= 11 and abs(state[-1]["stamp"] - 2.9) < 1e-9  # the last second
    assert json.loads((path / "violations.json").read_text())[0]["rule"] == "keep_out"
    assert json.loads((path / "plan.json").read_text())["plan_id"] == plan.plan_id
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
