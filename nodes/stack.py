"""`embodied-stack run`: the stack's nodes from config/stack.yaml, in one
process (default) or one supervised process per node (`--processes`).

Every node follows the simulator's clock (`use_sim_time`, `<namespace>/clock`).
The simulator runs as fast as the machine allows, locked to the wall clock with
`--realtime`, or at most `--max-rtf` times real time. It refuses to start without a
valid deployment registry (config/registry.yaml: who is accountable)."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from embodied_stack.audit.registry import registry_robot_id
from embodied_stack.config import config_path, load_yaml, namespace_agnostic_params
from embodied_stack.errors import ConfigError
from embodied_stack.nodes.launcher import ALL_NODES, InProcessStack, specs_for
from embodied_stack.supervisor import RestartPolicy, Supervisor, node_argv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack run", description=__doc__)
    parser.add_argument("--processes", action="store_true", help="one process per node")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="lock sim time to wall time")
    pace.add_argument(
        "--max-rtf",
        type=float,
        default=0.0,
        metavar="R",
        help="at most R sim seconds per wall second (default 0: as fast as the machine allows)",
    )
    parser.add_argument("--gui", action="store_true", help="show the PyBullet GUI")
    parser.add_argument("--scene", help="scene file (default: sim_node's `scene` param)")
    parser.add_argument("--params", type=Path, help="params file (default config/stack.yaml)")
    parser.add_argument("--namespace", default="", help="robot namespace, e.g. /robot1")
    parser.add_argument("--nodes", help="comma-separated subset (default: all)")
    parser.add_argument("--no-console", action="store_true", help="leave out console_node")
    parser.add_argument("--record", type=Path, help="record every topic to this MCAP file")
    parser.add_argument(
        "--restart-policy", type=Path, help="YAML: node -> {respawn, initial_backoff_s, ...}"
    )
    return parser


def node_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """sim_node's settings from the command line: they win over the params file."""
    if not args.max_rtf >= 0:
        raise SystemExit(f"embodied-stack run: --max-rtf must be >= 0, got {args.max_rtf}")
    sim: dict[str, Any] = {
        "realtime": bool(args.realtime),
        "max_rtf": 1.0 if args.realtime else float(args.max_rtf),
        "gui": bool(args.gui),
    }
    if args.scene:
        sim["scene"] = str(Path(args.scene).resolve())
    return {"sim_node": sim}


def selected_nodes(args: argparse.Namespace) -> list[str]:
    names = args.nodes.split(",") if args.nodes else list(ALL_NODES)
    unknown = sorted(set(names) - set(ALL_NODES))
    if unknown:
        raise SystemExit(f"embodied-stack run: unknown nodes {unknown}; known: {list(ALL_NODES)}")
    return [n for n in names if not (args.no_console and n == "console_node")]


def restart_policies(path: Path | None) -> dict[str, RestartPolicy]:
    if path is None:
        return {}
    data = load_yaml(config_path(str(path)))
    return {name: RestartPolicy.model_validate(v) for name, v in data.items()}


def registry_problem(params: Path, nodes: list[str]) -> str | None:
    """Every registry file the selected nodes will read (the params file's `registry`,
    globally or per node), validated: the error naming the file and field, or None."""
    from embodied_stack.audit.registry import load_registry

    try:
        data = load_yaml(params)
    except ConfigError as exc:
        return str(exc)
    names = set()
    for section in ["/**", *nodes, *(f"/**/{n}" for n in nodes)]:
        values = (data.get(section) or {}).get("ros__parameters") or {}
        if "registry" in values or section == "/**":
            names.add(str(values.get("registry", "registry.yaml")))
    for name in sorted(names):
        try:
            load_registry(name)
        except ConfigError as exc:
            return str(exc)
    return None


def run_in_process(args: argparse.Namespace, stop: threading.Event) -> int:
    params = args.params or config_path("stack.yaml")
    specs = specs_for(selected_nodes(args), node_overrides(args))
    stack = InProcessStack(specs, params_file=params, namespace=args.namespace).start()
    recording = _start_recording(stack, args.record) if args.record else None
    print(f"embodied-stack: {len(specs)} nodes running in one process; Ctrl-C stops them")
    try:
        stop.wait()
    finally:
        stack.stop_spinning()  # before the recorder goes: no callback of it is running
        if recording is not None:
            recording.close()
            _report_recording(recording.recorder, args.record)
        stack.shutdown()
    return 0


def _start_recording(stack: InProcessStack, path: Path) -> Any:
    from embodied_stack.nodes.recorder import start_recording

    return start_recording(stack, path)


def _report_recording(recorder: Any, path: Path) -> None:
    print(f"embodied-stack: recorded {recorder.messages} messages to {path}")


class _SpunNode:
    """A node of the supervisor process on a DDS participant of its own (a private
    context), spun by a thread of its own until `close`."""

    def __init__(self, make: Callable[[Any], Any], thread_name: str, domain_id: int | None) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = make(self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=thread_name, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # shutdown races end the spin
            if self.context.ok():
                raise

    def close(self) -> None:
        """Stop spinning first: no node is destroyed under a running callback."""
        import rclpy

        self._executor.shutdown(timeout_sec=2.0)
        self._thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


class ProcessRecording:
    """`--record` with `--processes`: the recorder node in the supervisor's process, on
    a DDS participant of its own, recording the node processes' topics."""

    def __init__(self, path: Path, namespace: str = "") -> None:
        from embodied_stack.nodes.recorder import start_recorder

        def make(context: Any) -> Any:
            return start_recorder(path, context=context, namespace=namespace or None)

        self._spun = _SpunNode(make, "recorder", None)

    @property
    def recorder(self) -> Any:
        return self._spun.node.recorder

    def close(self) -> None:
        """Stop spinning, then finish the MCAP file (its summary and index)."""
        self._spun.close()


class RestartAuditor:
    """The supervisor's `on_restart` hook: each restart is a `restart` audit event,
    sent by a small node of the supervisor process (kept until audit_node is matched)."""

    def __init__(
        self, namespace: str = "", registry: str = "registry.yaml", domain_id: int | None = None
    ) -> None:
        from rclpy.node import Node

        from embodied_stack.nodes.audit_client import AuditClient

        def make(context: Any) -> Any:
            return Node("supervisor", namespace=namespace or None, context=context)

        self._spun = _SpunNode(make, "supervisor-audit", domain_id)
        self.audit = AuditClient(self._spun.node, "supervisor", registry_robot_id(registry))
        self.restarts = 0

    def __call__(self, name: str, code: int, count: int) -> None:
        print(f"embodied-stack: {name} exited with {code}; restart #{count}")
        self.restarts += 1
        payload = {"node": name, "exit_code": code, "restart": count}
        self.audit.emit("restart", "supervisor", payload)

    def close(self, flush_s: float = 1.0) -> None:
        if self.restarts:
            time.sleep(flush_s)  # the flush timer sends a backlog once audit_node is back
        self.audit.close()
        self._spun.close()


def run_processes(args: argparse.Namespace, stop: threading.Event) -> int:
    params_dir = tempfile.TemporaryDirectory(prefix="embodied-stack-params-")
    params = namespace_agnostic_params(args.params or config_path("stack.yaml"), params_dir.name)
    policies = restart_policies(args.restart_policy)

    auditor = RestartAuditor(args.namespace)
    supervisor = Supervisor(on_restart=auditor)
    for spec in specs_for(selected_nodes(args), node_overrides(args)):
        # Each process follows the simulator's clock, as the in-process nodes do (the
        # kill switch turns it off for itself: a safety device keeps wall time).
        spec.overrides.setdefault("use_sim_time", True)
        argv = node_argv(spec.name, spec.ros_args(Path(params), args.namespace))
        supervisor.add(spec.name, argv, policies.get(spec.name))
    recording = ProcessRecording(args.record, args.namespace) if args.record else None
    supervisor.start_all()
    print(f"embodied-stack: {len(supervisor.children)} node processes; Ctrl-C stops them")
    try:
        while not stop.wait(0.2):
            supervisor.poll()
    finally:
        supervisor.stop_all()
        if recording is not None:
            recording.close()
            _report_recording(recording.recorder, args.record)
        auditor.close()
        params_dir.cleanup()
    return 0


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    problem = registry_problem(args.params or config_path("stack.yaml"), selected_nodes(args))
    if problem is not None:
        print(
            "embodied-stack run: refusing to start without a valid deployment registry"
            f" (who is accountable for this robot):\n{problem}",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    started = time.monotonic()
    code = run_processes(args, stop) if args.processes else run_in_process(args, stop)
    print(f"embodied-stack: stopped after {time.monotonic() - started:.1f} s")
    return code
