"""`embodied-stack soak --minutes N [--json OUT] [--processes]`: tasks in a loop through
one long-lived stack (the scene reset between tasks), alternating public tasks.

Reports tasks done, failures, RSS growth (after the first task, so start-up caches do
not count), heartbeat false trips (every hold of the actuator side and every stopped
plan: the soak never presses the e-stop), audit events and the log's verification.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from std_msgs.msg import String

from embodied_stack.audit.log import verify
from embodied_stack.nodes.bench_stack import (
    ProcessSession,
    WatchedSession,
    WatchProbe,
    attempt,
    descendants,
    rss_mb,
    tree_rss_mb,
)
from embodied_stack.nodes.harness import SessionConfig, StackSession
from embodied_stack.nodes.launcher import SIM_STACK
from embodied_stack.nodes.task_runner import settle
from embodied_stack.scene import Suite, load_suite
from embodied_stack.schemas import SimControl, SimControlOp, to_json

DEFAULT_SUITE = Path("/work/shared/tasks/public.yaml")
DEFAULT_TASKS = "red_in_tray,blue_in_green_tray,zh_red_in_tray,pick_up_blue,move_red_to_point"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack soak", description=__doc__)
    parser.add_argument("--minutes", type=float, required=True, help="how long to loop")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--processes", action="store_true", help="one process per node")
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    parser.add_argument(
        "--tasks", default=DEFAULT_TASKS, help="comma-separated task ids (one scene)"
    )
    parser.add_argument(
        "--heartbeat-timeout", type=float, help="override heartbeat_timeout_s (default: config)"
    )
    return parser


def reset_scene(session: StackSession) -> None:
    """Scene back to its start, arm home; give perception a moment to see it again."""
    probe = session.probe
    assert probe is not None
    probe._sim_control.publish(String(data=to_json(SimControl(op=SimControlOp.RESET))))
    settle(session, 1.5)


def false_trips(probe: WatchProbe, results: list[dict[str, Any]]) -> dict[str, Any]:
    with probe.lock:
        holds = [h for h in probe.holds if h.holding]
    stopped = [r["reason"] for r in results if "stopped" in str(r.get("reason"))]
    return {
        "holds": len(holds),
        "hold_reasons": dict(Counter(str(h.reason) for h in holds)),
        "heartbeat_holds": sum(1 for h in holds if "heartbeat" in str(h.reason)),
        "plans_stopped": len(stopped),
    }


def audit_report(session: StackSession) -> dict[str, Any]:
    report = verify(session.audit_dir)
    return {
        "records": report.records,
        "verified": report.ok,
        "summary": report.summary(),
        "gaps": len(report.gaps),
    }


def rss_by_process(session: WatchedSession | ProcessSession) -> dict[str, float]:
    """RSS per node process (with its children, e.g. the render worker), or for the
    one-process stack: this process alone and each child tree."""
    if isinstance(session, ProcessSession):
        assert session.supervisor is not None
        pids = {name: session.pid(name) for name in session.supervisor.children}
        return {name: round(tree_rss_mb([pid]), 1) for name, pid in pids.items() if pid}
    out = {"host": round(rss_mb(os.getpid()), 1)}
    for pid in session.pids()[1:]:
        out[f"child {pid}"] = round(tree_rss_mb([pid]), 1)
    for pid in descendants(os.getpid())[1:]:
        out.setdefault(f"child {pid}", round(rss_mb(pid), 1))
    return out


def soak(
    session: WatchedSession | ProcessSession, suite: Suite, task_ids: list[str], minutes: float
) -> Any:
    tasks = [t for t in suite.tasks if t.id in task_ids]
    if not tasks:
        raise SystemExit(f"embodied-stack soak: none of {task_ids} in {suite}")
    probe = session.probe
    assert isinstance(probe, WatchProbe)
    error = session.wait_ready(150.0)
    if error is not None:
        raise SystemExit(f"embodied-stack soak: {error}")
    holds_at_ready = len(probe.holds)  # "no e-stop state yet" at start-up is not a trip
    results: list[dict[str, Any]] = []
    rss: list[tuple[float, float]] = []
    by_process: list[dict[str, float]] = []
    started = time.monotonic()
    deadline = started + minutes * 60.0
    while time.monotonic() < deadline or not results:
        task = tasks[len(results) % len(tasks)]
        reset_scene(session)
        result = attempt(session, task, suite)
        results.append(result)
        rss.append((time.monotonic() - started, tree_rss_mb(session.pids())))
        by_process.append(rss_by_process(session))
        mark = "ok  " if result["passed"] else "FAIL"
        print(f"[{len(results):4d}] {mark} {task.id}: {result['outcome']} ({result['reason']})")
    with probe.lock:
        del probe.holds[:holds_at_ready]
    return results, rss, by_process, time.monotonic() - started


def report(
    session: StackSession,
    results: list[dict[str, Any]],
    rss: list[tuple[float, float]],
    by_process: list[dict[str, float]],
    wall: float,
) -> dict[str, Any]:
    probe = session.probe
    assert isinstance(probe, WatchProbe)
    failures = [r for r in results if not r["passed"]]
    return {
        "wall_s": round(wall, 1),
        "tasks_done": len(results),
        "tasks_passed": len(results) - len(failures),
        "failures": len(failures),
        "failure_reasons": dict(Counter(str(r["reason"])[:80] for r in failures)),
        "rss_mb_first": round(rss[0][1], 1),
        "rss_mb_last": round(rss[-1][1], 1),
        "rss_mb_growth": round(rss[-1][1] - rss[0][1], 1),
        "rss_mb_series": [(round(t, 1), round(m, 1)) for t, m in rss],
        "rss_mb_by_process_first": by_process[0],
        "rss_mb_by_process_last": by_process[-1],
        "false_trips": false_trips(probe, results),
        "audit": audit_report(session),
    }


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    suite = load_suite(args.suite)
    task_ids = args.tasks.split(",")
    scenes = {t.scene for t in suite.tasks if t.id in task_ids}
    if len(scenes) != 1:
        raise SystemExit(f"embodied-stack soak: the tasks must share one scene, got {scenes}")
    overrides: dict[str, dict[str, Any]] = {}
    if args.heartbeat_timeout is not None:
        overrides = {n: {"heartbeat_timeout_s": args.heartbeat_timeout} for n in SIM_STACK}
    config = SessionConfig(scene=suite.scenes[scenes.pop()], overrides=overrides)
    session = ProcessSession(config) if args.processes else WatchedSession(config)
    with session:
        results, rss, by_process, wall = soak(session, suite, task_ids, args.minutes)
        figures = report(session, results, rss, by_process, wall)
    figures["mode"] = "processes" if args.processes else "one_process"
    figures["heartbeat_timeout_s"] = args.heartbeat_timeout
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    summary = {k: v for k, v in figures.items() if k != "rss_mb_series"}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0
