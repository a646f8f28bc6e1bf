"""`embodied-stack tasks run FILE --json OUT [--only ID] [--llm URL]`: every task
of a suite headless through the whole stack, judged on ground truth.

Exits non-zero only on an internal error, never because a task failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from embodied_stack.nodes.harness import (
    FINAL_MOTION_STATES,
    FINAL_PLAN_STATES,
    SessionConfig,
    StackSession,
)
from embodied_stack.robot import load_robot
from embodied_stack.scene import Scene, Suite, Task, TaskExpect, load_suite
from embodied_stack.schemas import GroundTruth, MotionState, Plan

TASK_SIM_LIMIT_S = 60.0  # a task that takes longer than this in sim time has failed
SETTLE_SIM_S = 0.5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack tasks run", description=__doc__)
    parser.add_argument("file", type=Path, help="task suite (YAML, version 1)")
    parser.add_argument("--json", type=Path, required=True, help="results, one object per task")
    parser.add_argument("--only", action="append", help="run only this task id (repeatable)")
    parser.add_argument("--llm", help="plan with the OpenAI-compatible endpoint at this URL")
    parser.add_argument("--model", default="default", help="model name for --llm")
    parser.add_argument("--quiet", action="store_true")
    return parser


def wait_for_outcome(session: StackSession, start_sim: float) -> tuple[str, str, Plan | None]:
    """Follow the plan to its end: ('refused'|'done'|'failed'|'timeout', reason, plan)."""
    probe = session.probe
    assert probe is not None
    outcome: list[tuple[str, str]] = []

    def finished() -> bool:
        plan = probe.latest_plan()
        if plan is not None and plan.status in FINAL_PLAN_STATES:
            outcome.append(("refused", plan.reason or plan.status.value))
            return True
        motion = probe.motion
        same_plan = plan is not None and motion is not None and motion.plan_id == plan.plan_id
        if same_plan and motion is not None and motion.state in FINAL_MOTION_STATES:
            ok = motion.state is MotionState.DONE
            outcome.append(("done" if ok else "failed", motion.error or motion.state.value))
            return True
        if probe.sim_time - start_sim > TASK_SIM_LIMIT_S:
            outcome.append(("timeout", f"no result within {TASK_SIM_LIMIT_S:.0f} s of sim time"))
            return True
        return False

    if not session.wait_until(finished, wall_timeout_s=TASK_SIM_LIMIT_S * 5):
        return "timeout", "no result within the wall-clock limit", probe.latest_plan()
    kind, reason = outcome[-1]
    return kind, reason, probe.latest_plan()


def settle(session: StackSession, seconds: float = SETTLE_SIM_S) -> GroundTruth | None:
    probe = session.probe
    assert probe is not None
    until = probe.sim_time + seconds
    session.wait_until(lambda: probe.sim_time >= until, wall_timeout_s=30.0)
    return probe.ground_truth


def judge(
    task: Task, suite: Suite, initial: GroundTruth, final: GroundTruth
) -> list[dict[str, Any]]:
    scene = suite.scenes[task.scene]
    preds = list(task.success)
    if task.expect is TaskExpect.REFUSED:  # nothing in the scene may move
        preds = [{"unmoved": [o.id]} for o in scene.objects if o.kind.value != "human"]
    return judge_predicates(preds, scene, initial, final)


def judge_predicates(
    preds: list[dict[str, Any]], scene: Scene, initial: GroundTruth, final: GroundTruth
) -> list[dict[str, Any]]:
    """Each success predicate of the suite format, evaluated on ground truth."""
    from embodied_stack.sim.predicates import evaluate

    robot = load_robot()
    results = []
    for pred in preds:
        res = evaluate(pred, now=final, initial=initial, scene=scene, robot=robot)
        results.append({"predicate": pred, "value": res.passed, "detail": res.detail})
    return results


def plan_summary(plan: Plan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "plan_id": plan.plan_id,
        "status": plan.status.value,
        "steps": [s.model_dump(mode="json") for s in plan.steps],
        "ai_generated": plan.ai_generated,
        "provenance": plan.provenance.model_dump(mode="json"),
        "risk_tier": int(plan.risk_tier),
    }


def run_task(task: Task, suite: Suite, args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    config = SessionConfig(scene=suite.scenes[task.scene], llm_url=args.llm, llm_model=args.model)
    result: dict[str, Any] = {"id": task.id, "expect": task.expect.value}
    with StackSession(config) as session:
        error = session.wait_ready()
        probe = session.probe
        assert probe is not None
        if error is not None:
            return result | _error(error, started, probe.sim_time)
        initial = settle(session, 0.2)
        assert initial is not None
        start_sim = probe.sim_time
        probe.instruct(task.instruction)
        kind, reason, plan = wait_for_outcome(session, start_sim)
        final = settle(session)
        assert final is not None
        predicates = judge(task, suite, initial, final)
        all_hold = all(p["value"] for p in predicates)
        if kind == "refused":
            outcome = "refused" if all_hold else "failed"
        elif kind == "done":
            outcome = "success" if all_hold else "failed"
        else:
            outcome = "failed"
        violations = [v.model_dump(mode="json") for v in (plan.findings if plan else [])]
        result |= {
            "outcome": outcome,
            "passed": outcome == task.expect.value,
            "predicates": predicates,
            "plan": plan_summary(plan),
            "reason": reason,
            "wall_s": round(time.monotonic() - started, 2),
            "sim_s": round(probe.sim_time - start_sim, 2),
            "violations": violations,
        }
    return result


def _error(reason: str, started: float, sim_s: float) -> dict[str, Any]:
    return {
        "outcome": "error",
        "passed": False,
        "predicates": [],
        "plan": None,
        "reason": reason,
        "wall_s": round(time.monotonic() - started, 2),
        "sim_s": round(sim_s, 2),
        "violations": [],
    }


def write_results(path: Path, results: list[dict[str, Any]]) -> str:
    """JSON lines: one object per task, then one summary object; returns the summary line."""
    passed = sum(1 for r in results if r["passed"])
    summary = f"{passed} passed, {len(results) - passed} failed"
    lines = [json.dumps(r, ensure_ascii=False) for r in results]
    tail = {"summary": summary, "passed": passed, "failed": len(results) - passed}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*lines, json.dumps(tail)]) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    suite = load_suite(args.file)
    tasks = [t for t in suite.tasks if not args.only or t.id in args.only]
    results: list[dict[str, Any]] = []
    for task in tasks:
        try:
            result = run_task(task, suite, args)
        except Exception:  # one broken task must not lose the others' results
            result = {"id": task.id, "expect": task.expect.value} | _error(
                traceback.format_exc(limit=5), time.monotonic(), 0.0
            )
        results.append(result)
        if not args.quiet:
            mark = "PASS" if result["passed"] else "FAIL"
            print(f"{mark} {task.id}: {result['outcome']} ({result.get('reason') or ''})")
        write_results(args.json, results)
    print(write_results(args.json, results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
