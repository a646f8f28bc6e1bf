"""`embodied-stack bench estop --json OUT`: how fast a press holds the arm, across processes.

killswitch_node, sim_node and motion_node (and perception_node under `--load full`)
run as separate processes. A forked process plays the serial e-stop box on a
pseudo-terminal (nodes/serial_device.py; real-time priority when allowed, as a
microcontroller keeps its own time); this one watches `sim/hold`, which sim_node
stamps with CLOCK_MONOTONIC (system-wide on Linux) when it commands a hold.

- press -> hold: box line written -> sim_node commanding the hold. Between presses
  the button is released, the latch reset through the Trigger service
  (`allow_trigger_reset`, the documented trusted-bench path) and the hold lifted;
  under load each press waits (up to 2 s) for a plan to be moving the arm.
- false trips: holds the stack entered on its own during `--soak` seconds of load
  (each is reset so the load goes on), on the warm stack before any kill.
- heartbeat loss -> hold: SIGKILL of the kill-switch process -> hold; respawned (it
  boots latched: its death is a stop) and reset.
In that order: presses, soak, kills. Holds the stack entered on its own outside the
soak are reported as unexpected. The JSON also keeps every sample, in order.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Header, String
from std_srvs.srv import Trigger

from embodied_stack.config import config_path, load_yaml, namespace_agnostic_params
from embodied_stack.nodes import qos
from embodied_stack.nodes.launcher import NodeSpec
from embodied_stack.nodes.ros_conversions import json_from_ros, json_to_ros
from embodied_stack.nodes.serial_device import EstopBox
from embodied_stack.schemas import (
    HoldStatus,
    MotionState,
    MotionStatus,
    Plan,
    PlannerKind,
    PlanStatus,
    PlanStep,
    Provenance,
    SafetyStatus,
    Trip,
)
from embodied_stack.supervisor import RestartPolicy, Supervisor, node_argv

KILLSWITCH = "killswitch_node"
STEP_TIMEOUT_S = 10.0  # a press, reset or respawn not done in this is a failure
START_TIMEOUT_S = 120.0  # cold interpreters on a loaded machine
REVIVE_TIMEOUT_S = 30.0  # a respawned kill switch that lifts no hold in this is retried


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack bench estop", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--presses", type=int, default=1000, help="serial presses to time")
    parser.add_argument("--losses", type=int, default=20, help="kill -9 of the kill switch")
    parser.add_argument("--soak", type=float, default=30.0, help="seconds at load (600: full)")
    parser.add_argument("--timeout", type=float, help="heartbeat timeout, s (default: stack.yaml)")
    parser.add_argument(
        "--load",
        choices=("none", "motion", "full"),
        default="motion",
        help="motion: plans keep the arm moving; full: also camera rendering + perception_node",
    )
    return parser


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, q)) if values else float("nan")


class Stack:
    """The node processes, each in its own process group (killed as groups at the end)."""

    def __init__(self, nodes: list[NodeSpec], losses: int) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-estop-")
        params = namespace_agnostic_params(config_path("stack.yaml"), self._dir.name)
        fast = RestartPolicy(
            respawn=True, initial_backoff_s=0.05, max_backoff_s=0.05, max_restarts=losses + 5
        )
        self.supervisor = Supervisor()
        latch = str(Path(self._dir.name) / "estop_latch.json")  # never the cwd's real one
        for spec in nodes:
            if spec.name == KILLSWITCH:
                spec.overrides |= {"state_file": latch, "release_at_first_start": True}
            policy = fast if spec.name == KILLSWITCH else RestartPolicy(respawn=False)
            self.supervisor.add(spec.name, node_argv(spec.name, spec.ros_args(params, "")), policy)

    def start(self) -> None:
        self.supervisor.start_all()

    def __str__(self) -> str:
        return ", ".join(
            f"{c.name} pid {c.process.pid if c.process else None} exits {c.exit_codes}"
            for c in self.supervisor.children.values()
        )

    def check_alive(self) -> None:
        for name, child in self.supervisor.children.items():
            proc = child.process
            if name != KILLSWITCH and proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}")

    def respawn_killswitch(self) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while self.supervisor.pid(KILLSWITCH) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("killswitch_node was not respawned")
            self.supervisor.poll()
            time.sleep(0.005)

    def close(self) -> None:
        # start_new_session: each child's pid is its process group (render workers too)
        groups = [c.process.pid for c in self.supervisor.children.values() if c.process]
        try:
            self.supervisor.stop_all(timeout_s=5.0)
        finally:
            for group in groups:  # whatever a node left behind
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
            self._dir.cleanup()


TERMINAL = (MotionState.DONE, MotionState.FAILED, MotionState.ABORTED)
TARGETS = ((0.50, 0.20, 0.30), (0.50, -0.20, 0.30))  # inside the workspace, clear of objects


class Probe(Node):
    """The bench on DDS: watches holds, the latch and motion; resets; keeps the arm moving."""

    def __init__(self, timeout_s: float, **node_kwargs: Any) -> None:
        super().__init__("bench_estop", **node_kwargs)
        self._changed = threading.Condition()
        self.holds: list[HoldStatus] = []
        self.status: SafetyStatus | None = None
        self.beats = 0
        self.plans_done = 0
        self.plan_errors: Counter[str] = Counter()  # why plans of the load failed
        self.revive_retries = 0  # respawned kill switches that never lifted the hold
        self.attributed: set[int] = set()  # numbers of the holds the bench caused
        self.load_enabled = False
        self.motion: MotionStatus | None = None
        self._plan: tuple[str, float] | None = None  # plan id in flight, when sent
        self._plan_pub = self.create_publisher(String, "planner/plan", qos.LATCHED)
        self._reset = self.create_client(Trigger, "safety/reset")
        self._trip_pub = self.create_publisher(String, "safety/trip", qos.COMMAND)
        self.status_at = 0.0  # monotonic time of the last safety/status
        self.relatches = 0  # red-line holds cleared by latching again (see settle)
        self.create_subscription(String, "sim/hold", self._on_hold, qos.LATCHED)
        self.create_subscription(String, "safety/status", self._on_status, qos.LATCHED)
        self.create_subscription(String, "motion/status", self._on_motion, qos.LATCHED)
        self.create_subscription(
            Header, "safety/heartbeat", self._on_beat, qos.heartbeat(timeout_s)
        )
        self.create_timer(0.1, self._drive_load)

    def _note(self, update: Callable[[], None]) -> None:
        with self._changed:
            update()
            self._changed.notify_all()

    def _on_hold(self, msg: String) -> None:
        hold = json_from_ros(HoldStatus, msg)
        self._note(lambda: self.holds.append(hold))

    def _on_status(self, msg: String) -> None:
        status = json_from_ros(SafetyStatus, msg)
        self.status_at = time.monotonic()
        self._note(lambda: setattr(self, "status", status))

    def _on_beat(self, _msg: Header) -> None:
        self.beats += 1

    def _on_motion(self, msg: String) -> None:
        status = json_from_ros(MotionStatus, msg)
        plan = self._plan
        if plan is not None and status.plan_id == plan[0] and status.state in TERMINAL:
            self.plans_done += status.state is MotionState.DONE
            if status.state is MotionState.FAILED:
                self.plan_errors[str(status.error)[:120]] += 1
            self._plan = None
        self._note(lambda: setattr(self, "motion", status))

    def _drive_load(self) -> None:
        """A new plan whenever the last one ended (or was lost): the stack keeps moving."""
        if not self.load_enabled or not self.moving_allowed():
            return
        if self._plan is not None and time.monotonic() - self._plan[1] < 15.0:
            return
        x, y, z = TARGETS[self.plans_done % 2]
        plan = Plan(
            instruction="bench estop load",
            steps=[PlanStep.model_validate({"skill": "move_to", "args": {"x": x, "y": y, "z": z}})],
            provenance=Provenance(planner=PlannerKind.OPERATOR, model="bench-estop"),
            ai_generated=False,
            status=PlanStatus.APPROVED,
            approved_by="bench-estop",
            approved_at=time.time(),
        )
        self._plan = (plan.plan_id, time.monotonic())
        self._plan_pub.publish(json_to_ros(plan))

    # ---- queries (bench thread) ------------------------------------------------------------

    def discovered(self) -> bool:
        return (
            self.beats > 0
            and self.status is not None
            and bool(self.holds)
            and self._plan_pub.get_subscription_count() > 0
            and self._reset.service_is_ready()
        )

    def hold_count(self) -> int:
        return self.holds[-1].hold_count if self.holds else 0

    def moving_allowed(self) -> bool:
        status = self.status
        return (
            bool(self.holds)
            and not self.holds[-1].holding
            and status is not None
            and (not status.latched)
        )

    def executing(self) -> bool:
        motion = self.motion
        return motion is not None and motion.state is MotionState.EXECUTING

    def red_line_hold(self) -> bool:
        last = self.holds[-1] if self.holds else None
        return last is not None and last.holding and (last.reason or "").startswith("red line")

    def trip(self, why: str) -> None:
        self._trip_pub.publish(json_to_ros(Trip(who="bench-estop", why=why)))

    def reset_allowed(self) -> bool:
        status = self.status
        return status is not None and status.latched and status.reset_allowed

    def unexpected_reasons(self, after: int) -> list[str | None]:
        return [
            h.reason
            for h in self.holds
            if h.holding and h.hold_count > after and h.hold_count not in self.attributed
        ]

    def state(self) -> str:
        last = self.holds[-1] if self.holds else None
        return f"hold={last}, safety={self.status}, beats={self.beats}"

    def wait_change(self, timeout_s: float) -> None:
        with self._changed:
            self._changed.wait(timeout_s)

    def wait_hold(self, before: int, timeout_s: float) -> HoldStatus | None:
        """The first hold numbered above `before` that was reported (a report may be
        overwritten by the next on the latched topic: the count still tells)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                news = [h for h in self.holds if h.hold_count > before and h.holding]
                if news:
                    return news[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def reset(self) -> None:
        """The trusted-bench Trigger reset; waits for the latch to report the outcome."""
        answered = threading.Event()
        future = self._reset.call_async(Trigger.Request())
        future.add_done_callback(lambda _f: answered.set())
        answered.wait(2.0)
        response = future.result() if future.done() else None
        if response is not None and response.success:
            end = time.monotonic() + 1.0
            while self.reset_allowed() and time.monotonic() < end:
                self.wait_change(0.01)


def start_probe(timeout_s: float) -> tuple[Probe, Callable[[], None]]:
    context = Context()
    rclpy.init(context=context)
    probe = Probe(timeout_s, context=context)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(probe)
    thread = threading.Thread(target=executor.spin, name="bench-estop-probe", daemon=True)
    thread.start()

    def stop() -> None:
        executor.shutdown(timeout_sec=2.0)
        probe.destroy_node()
        rclpy.try_shutdown(context=context)
        thread.join(timeout=2.0)

    return probe, stop


def node_specs(port: str, timeout_s: float, load: str) -> list[NodeSpec]:
    beat = {"heartbeat_timeout_s": timeout_s}
    specs = [
        NodeSpec(KILLSWITCH, {**beat, "serial.port": port, "allow_trigger_reset": True}),
        NodeSpec("sim_node", {**beat, "realtime": True}),
        NodeSpec("motion_node", {**beat, "audit_durable": False}),  # no audit_node here
    ]
    if load == "full":
        specs.append(NodeSpec("perception_node"))
    return specs


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, stack: Stack) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        stack.check_alive()
        time.sleep(0.001)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.presses < 1 or args.losses < 1 or args.soak < 0:
        raise SystemExit("bench estop: --presses and --losses must be >= 1, --soak >= 0")
    # A domain of its own unless the caller chose one: the fleet stop is domain-wide.
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(101, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")
    timeout_s = args.timeout or float(
        load_yaml(config_path("stack.yaml"))["/**"]["ros__parameters"]["heartbeat_timeout_s"]
    )
    device = EstopBox()
    stack = Stack(node_specs(device.port, timeout_s, args.load), args.losses)
    probe, stop_probe = start_probe(timeout_s)
    try:
        stack.start()
        figures = run(args, stack, probe, device, timeout_s)
    finally:
        probe.load_enabled = False
        stack.close()
        stop_probe()
        device.close()
    print_figures(figures)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def run(
    args: argparse.Namespace,
    stack: Stack,
    probe: Probe,
    device: EstopBox,
    timeout_s: float,
) -> dict[str, Any]:
    wait_until(probe.discovered, START_TIMEOUT_S, "the nodes to come up", stack)
    settle(probe, device, stack, START_TIMEOUT_S)
    probe.load_enabled = args.load != "none"
    first_hold = probe.hold_count()
    presses = timed(lambda: press(probe, device, stack), args.presses)
    soak = soak_run(probe, device, stack, args.soak)  # on the warm stack, before any kill
    losses = timed(lambda: heartbeat_loss(probe, device, stack), args.losses)
    unexpected = probe.hold_count() - first_hold - len(probe.attributed)
    return {
        "samples": len(presses),
        "press_to_hold_p50_ms": percentile_ms(presses, 50),
        "press_to_hold_p99_ms": percentile_ms(presses, 99),
        "press_to_hold_max_ms": max(presses) * 1e3,
        "heartbeat_loss_samples": len(losses),
        "heartbeat_loss_to_hold_p50_ms": percentile_ms(losses, 50),
        "heartbeat_loss_to_hold_p99_ms": percentile_ms(losses, 99),
        "heartbeat_loss_to_hold_max_ms": max(losses) * 1e3,
        "heartbeat_timeout_ms": timeout_s * 1e3,
        "killswitch_respawn_retries": probe.revive_retries,
        "red_line_relatches": probe.relatches,
        "false_trips": soak["false_trips"],
        "false_trips_by_kind": soak["kinds"],
        "false_trip_reasons": soak["reasons"],
        "unexpected_holds": unexpected,  # on its own during presses and losses
        "unexpected_hold_reasons": probe.unexpected_reasons(first_hold),
        "soak_s": args.soak,
        "load": args.load,
        "plans_completed": probe.plans_done,
        "plans_completed_in_soak": soak["plans"],
        "plan_failures": dict(probe.plan_errors.most_common(5)),
        "press_to_hold_ms": [round(x * 1e3, 3) for x in presses],  # in press order
        "heartbeat_loss_to_hold_ms": [round(x * 1e3, 3) for x in losses],
        "load_average_at_end": list(os.getloadavg()),
        "targets": {
            "press_to_hold_p99_ms": 10.0,
            "heartbeat_loss_to_hold_p99_ms": timeout_s * 1e3 + 20.0,
            "false_trips": 0,
        },
    }


def settle(probe: Probe, device: EstopBox, stack: Stack, timeout_s: float) -> None:
    """Button released, latch reset, hold lifted: ready for a fresh stop."""
    device.set(False)
    deadline = time.monotonic() + timeout_s
    while not probe.moving_allowed():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the hold was not lifted within {timeout_s:g} s: {probe.state()}; {stack}"
            )
        stack.check_alive()
        # A red-line hold in sim_node clears only once it has seen the latch set and then
        # reset; a reset quicker than that delivery (the latched topic keeps only the last
        # value) leaves it holding: give it time, or latch again when it was missed.
        red = probe.red_line_hold()
        if probe.reset_allowed() and (not red or time.monotonic() - probe.status_at > 0.3):
            probe.reset()
        elif red and probe.status is not None and not probe.status.latched:
            probe.relatches += 1
            probe.trip("latch again: sim_node holds for a red line and missed the last latch")
            probe.wait_change(0.2)
        else:
            probe.wait_change(0.05)


def press(probe: Probe, device: EstopBox, stack: Stack) -> float | None:
    """One timed press; None when the stack held on its own before the press went in."""
    settle(probe, device, stack, STEP_TIMEOUT_S)
    if probe.load_enabled:  # press while a plan moves the arm, when one gets going
        deadline = time.monotonic() + 2.0
        while not probe.executing() and time.monotonic() < deadline:
            probe.wait_change(0.05)
    time.sleep(random.uniform(0.0, 0.02))  # at an arbitrary phase of every loop
    before = probe.hold_count()
    if not probe.moving_allowed():
        return None  # a hold came first (counted as unexpected); no fresh stop to time
    written = device.set(True)  # at or before the first P line reaches the pty
    hold = probe.wait_hold(before, STEP_TIMEOUT_S)
    if hold is None:
        raise TimeoutError(f"no hold within {STEP_TIMEOUT_S:g} s of a press: {probe.state()}")
    ours = hold.hold_count == before + 1 and (hold.reason or "").startswith("e-stop")
    if not ours or hold.monotonic_s < written:
        return None  # something else stopped the arm first
    probe.attributed.add(hold.hold_count)
    return float(hold.monotonic_s - written)


def heartbeat_loss(probe: Probe, device: EstopBox, stack: Stack) -> float | None:
    """One kill -9 of the kill switch, timed to the hold; respawned and reset after."""
    settle(probe, device, stack, STEP_TIMEOUT_S)
    before = probe.hold_count()
    if not probe.moving_allowed():
        return None
    killed = time.monotonic()
    stack.supervisor.kill(KILLSWITCH)
    hold = probe.wait_hold(before, STEP_TIMEOUT_S)
    revive(probe, device, stack)
    if hold is None:
        raise TimeoutError(f"no hold within {STEP_TIMEOUT_S:g} s of killing the kill switch")
    ours = hold.hold_count == before + 1 and "heartbeat" in (hold.reason or "")
    if not ours or hold.monotonic_s < killed:
        return None
    probe.attributed.add(hold.hold_count)
    return float(hold.monotonic_s - killed)


def revive(probe: Probe, device: EstopBox, stack: Stack, attempts: int = 3) -> None:
    """Respawn the kill switch until the hold lifts (a respawn that never gets through
    is killed and tried again; each retry is counted)."""
    for attempt in range(attempts):
        stack.respawn_killswitch()
        try:
            settle(probe, device, stack, REVIVE_TIMEOUT_S)
            return
        except TimeoutError:
            if attempt == attempts - 1:
                raise
            probe.revive_retries += 1
            stack.supervisor.kill(KILLSWITCH)
            time.sleep(0.5)


def timed(measure: Callable[[], float | None], n: int) -> list[float]:
    """n samples of a measurement that may decline (the stack held on its own first)."""
    samples: list[float] = []
    for _ in range(3 * n + 10):
        sample = measure()
        if sample is not None:
            samples.append(sample)
        if len(samples) == n:
            return samples
    raise RuntimeError(f"only {len(samples)} of {n} samples: the stack kept holding on its own")


def soak_run(probe: Probe, device: EstopBox, stack: Stack, seconds: float) -> dict[str, Any]:
    """Holds the stack entered on its own while loaded; each is reset so the load goes on."""
    holds_before, plans_before = probe.hold_count(), probe.plans_done
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stack.check_alive()
        if not probe.moving_allowed():
            settle(probe, device, stack, STEP_TIMEOUT_S)
        probe.wait_change(0.05)
    trips = [h for h in probe.holds if h.holding and h.hold_count > holds_before]
    probe.attributed.update(h.hold_count for h in trips)  # reported here, not as unexpected
    count = probe.hold_count() - holds_before
    kinds = Counter(_kind(h.reason) for h in trips)
    kinds["not reported (overwritten)"] = count - len(trips)
    return {
        "false_trips": count,
        "kinds": dict(kinds),
        "reasons": [h.reason for h in trips][:50],
        "plans": probe.plans_done - plans_before,
    }


def _kind(reason: str | None) -> str:
    text = reason or ""
    for kind in ("heartbeat", "e-stop", "red line"):
        if kind in text:
            return kind
    return text[:40]


def print_figures(figures: dict[str, Any]) -> None:
    print(
        f"bench estop ({figures['load']} load, heartbeat timeout "
        f"{figures['heartbeat_timeout_ms']:.0f} ms)"
    )
    print(
        f"  press -> hold      n={figures['samples']}: p50 "
        f"{figures['press_to_hold_p50_ms']:.2f} ms, p99 {figures['press_to_hold_p99_ms']:.2f} ms,"
        f" max {figures['press_to_hold_max_ms']:.2f} ms (target p99 <= 10)"
    )
    print(
        f"  heartbeat loss     n={figures['heartbeat_loss_samples']}: p50 "
        f"{figures['heartbeat_loss_to_hold_p50_ms']:.1f} ms, p99 "
        f"{figures['heartbeat_loss_to_hold_p99_ms']:.1f} ms (target <= "
        f"{figures['targets']['heartbeat_loss_to_hold_p99_ms']:.0f})"
    )
    print(
        f"  false trips        {figures['false_trips']} in {figures['soak_s']:g} s soak "
        f"({figures['plans_completed_in_soak']} plans completed meanwhile; target 0)"
    )
