"""`embodied-stack bench stack --json OUT [--only ID] [--limit N] [--modes ...]`: the whole
stack in one process and in `--processes` mode running the public task suite.

Figures: `rss_mb_one_process` (peak RSS of the process hosting the stack),
`rss_mb_processes_total` (peak sum over the node processes), `stack_rtf` (sim seconds
per wall second while tasks run, perception on), `tasks_per_hour` (including each
task's fresh stack start-up). Targets: rss_mb_one_process <= 600, stack_rtf >= 1.5.

Also home of `ProcessSession` (a StackSession with one supervised process per node,
as `embodied-stack run --processes`) and `WatchProbe`, used by the soak and the
fault-injection tests.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from std_msgs.msg import Bool, String

from embodied_stack.config import config_path, namespace_agnostic_params
from embodied_stack.nodes.harness import (
    SessionConfig,
    StackProbe,
    StackSession,
    session_domain_id,
)
from embodied_stack.nodes.launcher import SIM_STACK, specs_for
from embodied_stack.nodes.stack import RestartAuditor
from embodied_stack.schemas import GroundTruth, HoldStatus
from embodied_stack.supervisor import RestartPolicy, Supervisor, node_argv

TARGETS = {"rss_mb_one_process": 600.0, "stack_rtf": 1.5}


@dataclass(frozen=True)
class TcpSample:
    monotonic: float  # when the probe received it
    sim_time: float
    position: tuple[float, float, float]


class WatchProbe(StackProbe):
    """StackProbe plus the TCP's recent path and every hold of the actuator side."""

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(**node_kwargs)
        self.tcp: deque[TcpSample] = deque(maxlen=3000)
        self.holds: list[HoldStatus] = []
        self.estop_count = 0  # safety/estop messages (a restarted kill switch sends one)

    def _on_truth(self, msg: String) -> None:
        super()._on_truth(msg)
        truth: GroundTruth | None = self.ground_truth
        if truth is not None:
            pos = tuple(truth.tcp.position)
            self.tcp.append(TcpSample(time.monotonic(), truth.sim_time, pos))  # type: ignore[arg-type]

    def _on_estop(self, msg: Bool) -> None:
        super()._on_estop(msg)
        self.estop_count += 1

    def _on_hold(self, msg: String) -> HoldStatus | None:
        status = super()._on_hold(msg)
        if status is not None:
            with self.lock:
                self.holds.append(status)
        return status


class WatchedSession(StackSession):
    """The one-process stack (StackSession) with a WatchProbe."""

    def start(self) -> WatchedSession:
        from embodied_stack.nodes.launcher import InProcessStack

        self.stack = InProcessStack(specs_for(self.config.nodes, self._write_inputs()))
        self.probe = WatchProbe(context=self.stack.context)
        self.stack.attach(self.probe)
        self.stack.start()
        return self

    def pids(self) -> list[int]:
        assert self.stack is not None
        children = [self.stack.processes.pid(n) for n in self.stack.processes.children]
        return [os.getpid(), *(p for p in children if p is not None)]


class ProcessSession(StackSession):
    """The stack with one supervised process per node (`run --processes`), restarts
    audited; the probe and the supervisor's audit node live in this process."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        serial_port: str | None = None,
        policies: dict[str, RestartPolicy] | None = None,
        poll_s: float = 0.05,
    ) -> None:
        super().__init__(config)
        self.serial_port = serial_port
        self.policies = policies or {}
        self.supervisor: Supervisor | None = None
        self.auditor: RestartAuditor | None = None
        self.context: Context | None = None
        self._executor: MultiThreadedExecutor | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poll_s = poll_s
        self._threads: list[threading.Thread] = []

    def start(self) -> ProcessSession:
        overrides = self._write_inputs()
        if self.serial_port:
            overrides.setdefault("killswitch_node", {})["serial.port"] = self.serial_port
        for name in self.config.nodes:
            overrides.setdefault(name, {}).setdefault("use_sim_time", True)
        params = namespace_agnostic_params(config_path("stack.yaml"), self.workdir)
        # A domain of its own: a node of the last session still dying (killed at its
        # teardown) must not reach this session's kill switch as a death of its own.
        self.domain_id = session_domain_id()
        registry = str(self.workdir / "registry.yaml")
        self.auditor = RestartAuditor(registry=registry, domain_id=self.domain_id)
        env = {"ROS_DOMAIN_ID": str(self.domain_id)}
        self.supervisor = Supervisor(on_restart=self.auditor, env=env)
        for spec in specs_for(self.config.nodes, overrides):
            argv = node_argv(spec.name, spec.ros_args(Path(params), ""))
            self.supervisor.add(spec.name, argv, self.policies.get(spec.name))
        self.supervisor.start_all()
        self.context = Context()
        rclpy.init(context=self.context, domain_id=self.domain_id)
        self.probe = WatchProbe(context=self.context)
        self._executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self._executor.add_node(self.probe)
        self._thread(self._spin, "probe")
        self._thread(self._poll, "supervisor")
        return self

    def _thread(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _spin(self) -> None:
        assert self._executor is not None and self.context is not None
        try:
            self._executor.spin()
        except Exception:  # shutdown races end the spin
            if self.context.ok():
                raise

    def _poll(self) -> None:
        while not self._stop.wait(self._poll_s):
            with self._lock:
                if self.supervisor is not None:
                    self.supervisor.poll()

    def kill(self, name: str) -> int | None:
        """kill -9 one node process; returns the pid killed (None if it was not running)."""
        with self._lock:
            assert self.supervisor is not None
            pid = self.supervisor.pid(name)
            self.supervisor.kill(name)
        return pid

    def pid(self, name: str) -> int | None:
        with self._lock:
            assert self.supervisor is not None
            return self.supervisor.pid(name)

    def restarts(self, name: str) -> int:
        assert self.supervisor is not None
        return self.supervisor.children[name].restarts

    def pids(self) -> list[int]:
        assert self.supervisor is not None
        return [p for p in (self.pid(n) for n in self.supervisor.children) if p is not None]

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads[1:]:
            thread.join(timeout=2.0)
        if self.supervisor is not None:
            with self._lock:
                self.supervisor.stop_all()
        if self.auditor is not None:
            self.auditor.close(flush_s=0.0)
        if self._executor is not None and self.probe is not None:
            self._executor.remove_node(self.probe)
            self.probe.destroy_node()
            self._executor.shutdown(timeout_sec=2.0)
        if self.context is not None:
            rclpy.try_shutdown(context=self.context)
        if self._threads:
            self._threads[0].join(timeout=2.0)
        self.probe = None
        self._tmp.cleanup()


# ---- memory ---------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident set size of one process, MB (from /proc; 0 when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def descendants(pid: int) -> list[int]:
    """The process and all its children, grandchildren... (render workers included)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = Path(f"/proc/{current}/task").iterdir()
            for task in tasks:
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except OSError:
            continue
    return found


def tree_rss_mb(pids: list[int]) -> float:
    return sum(rss_mb(p) for root in pids for p in descendants(root))


class RssSampler:
    """Peak RSS of a set of process trees, sampled in a thread."""

    def __init__(self, pids: Any, period_s: float = 1.0) -> None:
        self._pids = pids  # callable returning the roots to measure
        self.peak_mb = 0.0
        self.peak_self_mb = 0.0
        self._stop = threading.Event()
        self._period = period_s
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def sample(self) -> None:
        self.peak_mb = max(self.peak_mb, tree_rss_mb(self._pids()))
        self.peak_self_mb = max(self.peak_self_mb, rss_mb(os.getpid()))

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


# ---- one task -------------------------------------------------------------------------


def attempt(session: StackSession, task: Any, suite: Any) -> dict[str, Any]:
    """One task on a ready session: instruct, follow, judge on ground truth."""
    from embodied_stack.nodes.task_runner import judge, settle, wait_for_outcome

    probe = session.probe
    assert probe is not None
    initial = settle(session, 0.2)
    assert initial is not None
    start_sim, start_wall = probe.sim_time, time.monotonic()
    plans_before = len(probe.plan_order)
    probe.instruct(task.instruction)
    # a long-lived session still shows the last task's plan: wait for this one's
    if session.wait_until(lambda: len(probe.plan_order) > plans_before, wall_timeout_s=60.0):
        kind, reason, _plan = wait_for_outcome(session, start_sim)
    else:
        kind, reason = "timeout", "no plan within 60 s"
    sim_s, wall_s = probe.sim_time - start_sim, time.monotonic() - start_wall
    final = settle(session)
    assert final is not None
    predicates = judge(task, suite, initial, final)
    holds = all(p["value"] for p in predicates)
    ok_kind = {"done": "success", "refused": "refused"}.get(kind)
    outcome = ok_kind if ok_kind is not None and holds else "failed"
    return {
        "id": task.id,
        "outcome": outcome,
        "passed": outcome == task.expect.value,
        "reason": reason,
        "sim_s": round(sim_s, 2),
        "task_wall_s": round(wall_s, 2),
    }


def run_mode(mode: str, tasks: list[Any], suite: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Every task on a fresh stack of this mode ('one_process' or 'processes')."""
    results: list[dict[str, Any]] = []
    peak_self, peak_total = 0.0, 0.0
    started = time.monotonic()
    overrides: dict[str, dict[str, Any]] = {}
    if args.heartbeat_timeout is not None:
        beat = {"heartbeat_timeout_s": args.heartbeat_timeout}
        overrides = {n: dict(beat) for n in SIM_STACK}
    for task in tasks:
        config = SessionConfig(scene=suite.scenes[task.scene], overrides=overrides)
        session: WatchedSession | ProcessSession
        session = WatchedSession(config) if mode == "one_process" else ProcessSession(config)
        t0 = time.monotonic()
        with session, RssSampler(session.pids) as rss:
            error = session.wait_ready(120.0)
            assert session.probe is not None
            sim0, wall0 = session.probe.sim_time, time.monotonic()
            if error is not None:
                result = {"id": task.id, "outcome": "error", "passed": False, "reason": error}
            else:
                result = attempt(session, task, suite)
            rss.sample()
            # sim time over wall time from ready to judged: perception, planning, motion on
            result["session_sim_s"] = round(session.probe.sim_time - sim0, 2)
            result["session_wall_s"] = round(time.monotonic() - wall0, 2)
        result["wall_s"] = round(time.monotonic() - t0, 2)
        result["rss_mb_host"] = round(rss.peak_self_mb, 1)  # this process, stack or probe
        result["rss_mb_stack"] = round(rss.peak_mb, 1)  # every process of this session
        peak_self, peak_total = max(peak_self, rss.peak_self_mb), max(peak_total, rss.peak_mb)
        results.append(result)
        if not args.quiet:
            print(
                f"[{mode}] {'PASS' if result['passed'] else 'FAIL'} {task.id}: "
                f"{result['outcome']} ({result.get('reason') or ''}) {result['wall_s']} s"
            )
    return summarize(results, time.monotonic() - started, peak_self, peak_total)


def summarize(
    results: list[dict[str, Any]], wall_s: float, peak_self: float, peak_total: float
) -> dict[str, Any]:
    sim = sum(r.get("session_sim_s", 0.0) for r in results)
    ready_wall = sum(r.get("session_wall_s", 0.0) for r in results)
    task_wall = sum(r.get("task_wall_s", 0.0) for r in results)
    return {
        "tasks": len(results),
        "passed": sum(1 for r in results if r["passed"]),
        "wall_s": round(wall_s, 1),
        "stack_rtf": round(sim / ready_wall, 3) if ready_wall else None,
        "tasks_per_hour": round(3600.0 * len(results) / wall_s, 1) if wall_s else None,
        "tasks_per_hour_excl_startup": round(3600.0 * len(results) / task_wall, 1)
        if task_wall
        else None,
        # the first session is a fresh process; later ones show what earlier ones left
        "rss_mb_host_first_session": results[0].get("rss_mb_host") if results else None,
        "rss_mb_host_process": round(peak_self, 1),
        "rss_mb_all_processes": round(peak_total, 1),
        "results": results,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack bench stack", description=__doc__)
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--suite", type=Path, default=Path("/work/shared/tasks/public.yaml"))
    parser.add_argument("--only", action="append", help="only this task id (repeatable)")
    parser.add_argument("--limit", type=int, help="only the first N tasks")
    parser.add_argument(
        "--modes", default="one_process,processes", help="comma-separated: one_process,processes"
    )
    parser.add_argument(
        "--heartbeat-timeout", type=float, help="override heartbeat_timeout_s (default: config)"
    )
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str]) -> int:
    from embodied_stack.scene import load_suite

    args = build_parser().parse_args(argv)
    suite = load_suite(args.suite)
    tasks = [t for t in suite.tasks if not args.only or t.id in args.only][: args.limit]
    modes = {m: run_mode(m, tasks, suite, args) for m in args.modes.split(",")}
    one, procs = modes.get("one_process", {}), modes.get("processes", {})
    figures: dict[str, Any] = {
        "rss_mb_one_process": one.get("rss_mb_host_first_session"),
        "rss_mb_one_process_after_all_sessions": one.get("rss_mb_host_process"),
        "rss_mb_one_process_with_children": one.get("rss_mb_all_processes"),
        "rss_mb_processes_total": procs.get("rss_mb_all_processes"),
        "stack_rtf": one.get("stack_rtf", procs.get("stack_rtf")),
        "stack_rtf_processes": procs.get("stack_rtf"),
        "tasks_per_hour": one.get("tasks_per_hour", procs.get("tasks_per_hour")),
        "tasks_per_hour_processes": procs.get("tasks_per_hour"),
        "targets": TARGETS,
        "modes": modes,
        "suite": str(args.suite),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "heartbeat_timeout_s": args.heartbeat_timeout,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    for key in ("rss_mb_one_process", "rss_mb_processes_total", "stack_rtf", "tasks_per_hour"):
        print(f"{key}: {figures[key]}")
    return 0
