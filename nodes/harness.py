"""Run the whole stack on one scene and watch it over DDS: the machinery
behind `embodied-stack demo`, `tasks run`, `redteam run`, the soak and the
stack benchmark.

A `StackSession` starts a fresh stack (every node of the simulated stack, in
this process) on a scene, plus a `StackProbe` node that sends instructions and
watches plans, motion status, the e-stop and the simulator's ground truth
(ground truth is for judging only: no node of the stack reads it).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, String

from embodied_stack.errors import SchemaError
from embodied_stack.nodes import qos
from embodied_stack.nodes.launcher import SIM_STACK, InProcessStack, NodeSpec, specs_for
from embodied_stack.scene import Scene
from embodied_stack.schemas import (
    GroundTruth,
    HoldStatus,
    MotionState,
    MotionStatus,
    ObjectsMessage,
    Plan,
    PlanStatus,
    SafetyStatus,
    SimControl,
    SimControlOp,
    from_json,
    to_json,
)

# Streams judged by the latest value: best effort matches any publisher.
_LATEST = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
FINAL_PLAN_STATES = {PlanStatus.REFUSED, PlanStatus.REJECTED}
FINAL_MOTION_STATES = {MotionState.DONE, MotionState.FAILED, MotionState.ABORTED}


class StackProbe(Node):
    """The runner's hands and eyes on the stack, over DDS."""

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("stack_probe", **node_kwargs)
        self.lock = threading.Lock()
        self.plans: dict[str, Plan] = {}
        self.plan_order: list[str] = []
        self.motion: MotionStatus | None = None
        self.motion_history: list[MotionStatus] = []
        self.ground_truth: GroundTruth | None = None
        self.objects: ObjectsMessage | None = None
        self.estop: bool | None = None
        self.safety: SafetyStatus | None = None
        self.hold: HoldStatus | None = None  # the actuator side's last hold change
        self.errors: list[str] = []
        self._instruction = self.create_publisher(String, "planner/instruction", qos.COMMAND)
        self._approval = self.create_publisher(String, "planner/approval", qos.COMMAND)
        self._sim_control = self.create_publisher(String, "sim/control", qos.COMMAND)
        self.create_subscription(String, "planner/plan", self._on_plan, qos.LATCHED)
        self.create_subscription(String, "motion/status", self._on_motion, _LATEST)
        self.create_subscription(String, "sim/ground_truth", self._on_truth, _LATEST)
        self.create_subscription(String, "perception/objects", self._on_objects, _LATEST)
        self.create_subscription(Bool, "safety/estop", self._on_estop, qos.LATCHED)
        self.create_subscription(String, "safety/status", self._on_safety, qos.LATCHED)
        self.create_subscription(String, "sim/hold", self._on_hold, qos.LATCHED)

    def _parse(self, model: Any, msg: String) -> Any:
        try:
            return from_json(model, msg.data)
        except SchemaError as exc:
            self.errors.append(str(exc))
            return None

    def _on_hold(self, msg: String) -> HoldStatus | None:
        status: HoldStatus | None = self._parse(HoldStatus, msg)
        if status is not None:
            with self.lock:
                self.hold = status
        return status

    def _on_plan(self, msg: String) -> None:
        plan = self._parse(Plan, msg)
        if plan is None:
            return
        with self.lock:
            if plan.plan_id not in self.plans:
                self.plan_order.append(plan.plan_id)
            self.plans[plan.plan_id] = plan

    def _on_motion(self, msg: String) -> None:
        status = self._parse(MotionStatus, msg)
        if status is not None:
            with self.lock:
                self.motion = status
                if not self.motion_history or self.motion_history[-1] != status:
                    self.motion_history.append(status)

    def _on_truth(self, msg: String) -> None:
        truth = self._parse(GroundTruth, msg)
        if truth is not None:
            self.ground_truth = truth

    def _on_objects(self, msg: String) -> None:
        objects = self._parse(ObjectsMessage, msg)
        if objects is not None:
            self.objects = objects

    def _on_estop(self, msg: Bool) -> None:
        self.estop = bool(msg.data)

    def _on_safety(self, msg: String) -> None:
        status = self._parse(SafetyStatus, msg)
        if status is not None:
            self.safety = status

    def planner_listening(self) -> bool:
        """planner_node has matched our instruction publisher (a command sent before
        that is lost: the topic keeps nothing for late joiners)."""
        return self._instruction.get_subscription_count() > 0

    def instruct(self, text: str, operator: str = "runner") -> None:
        import json

        self._instruction.publish(String(data=json.dumps({"text": text, "operator": operator})))

    def move_object(self, object_id: str, xy: tuple[float, float]) -> None:
        """Teleport an object in the simulator (a person stepping in)."""
        control = SimControl(op=SimControlOp.MOVE, object_id=object_id, xy=xy)
        self._sim_control.publish(String(data=to_json(control)))

    def latest_plan(self) -> Plan | None:
        with self.lock:
            return self.plans[self.plan_order[-1]] if self.plan_order else None

    @property
    def sim_time(self) -> float:
        truth = self.ground_truth
        return truth.sim_time if truth is not None else 0.0


@dataclass
class SessionConfig:
    """What differs between runs: the scene, the planner, extra node parameters."""

    scene: Scene
    llm_url: str | None = None
    llm_model: str = "scripted"
    registry_models: list[dict[str, str]] = field(default_factory=list)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: tuple[str, ...] = SIM_STACK
    workdir: Path | None = None


_sessions = itertools.count()


def session_domain_id() -> int:
    """A DDS domain of its own for each session of this process (120..219), so a
    session never hears the last one's latched messages or a neighbour's stack."""
    return 120 + (os.getpid() * 7 + next(_sessions)) % 100


class StackSession:
    """A fresh stack on one scene, on a DDS domain of its own; use as a context manager."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self._tmp = tempfile.TemporaryDirectory(prefix="embodied-stack-")
        self.workdir = config.workdir or Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.audit_dir = self.workdir / "audit"
        self.stack: InProcessStack | None = None
        self.probe: StackProbe | None = None

    # ---- set-up --------------------------------------------------------------------------

    def _write_inputs(self) -> dict[str, dict[str, Any]]:
        scene_file = self.workdir / "scene.yaml"
        scene_file.write_text(yaml.safe_dump(self.config.scene.model_dump(mode="json")))
        registry_file = self.workdir / "registry.yaml"
        registry_file.write_text(yaml.safe_dump(self._registry()))
        overrides: dict[str, dict[str, Any]] = {
            # Headless: a 5 Hz camera (of sim time) is plenty for a static table, and
            # nobody watches, so up to twice real time (no faster: the safety paths
            # need CPU left over, sim_node's max_rtf).
            "sim_node": {"scene": str(scene_file), "camera.rate_hz": 5.0, "max_rtf": 2.0},
            # keep-out boxes count in the risk tier; nobody is there to approve a
            # waiting plan, so a short wait is a prompt denial
            "planner_node": {"scene": str(scene_file), "approval_timeout_s": 5.0},
            "audit_node": {
                "log_dir": str(self.audit_dir),
                "incident_dir": str(self.workdir / "incidents"),
            },
            # The latch state lives with the session. A session directory without one
            # is a fresh simulation start, not a lost stop (README, kill switch).
            "killswitch_node": {
                "state_file": str(self.workdir / "safety" / "estop_latch.json"),
                "release_at_first_start": True,
            },
        }
        if self.config.llm_url:
            overrides["planner_node"] |= {
                "backend": "llm",
                "llm.base_url": self.config.llm_url,
                "llm.model": self.config.llm_model,
            }
        for name in self.config.nodes:
            overrides.setdefault(name, {})["registry"] = str(registry_file)
        for name, params in self.config.overrides.items():
            overrides.setdefault(name, {}).update(params)
        return overrides

    def _registry(self) -> dict[str, Any]:
        from embodied_stack.config import config_path, load_yaml

        registry = load_yaml(config_path("registry.yaml"))
        models = list(registry.get("models", []))
        if self.config.llm_url:
            models.append({"name": self.config.llm_model, "endpoint": self.config.llm_url})
        registry["models"] = models + self.config.registry_models
        return registry

    def start(self) -> StackSession:
        overrides = self._write_inputs()
        specs: list[NodeSpec] = specs_for(self.config.nodes, overrides)
        self.domain_id = session_domain_id()
        self.stack = InProcessStack(specs, domain_id=self.domain_id)
        self.probe = StackProbe(context=self.stack.context)
        self.stack.attach(self.probe)
        self.stack.start()
        return self

    def close(self) -> None:
        if self.stack is not None:
            self.stack.stop_spinning()  # first: no node destroyed under a running callback
            if self.probe is not None:
                self.stack.detach(self.probe)
                self.probe.destroy_node()
            self.stack.shutdown()
            self.stack = None
        self._tmp.cleanup()

    def __enter__(self) -> StackSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- waiting -------------------------------------------------------------------------

    def wait_until(
        self, cond: Callable[[], bool], *, wall_timeout_s: float, poll_s: float = 0.02
    ) -> bool:
        deadline = time.monotonic() + wall_timeout_s
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(poll_s)
        return cond()

    def wait_ready(self, wall_timeout_s: float = 60.0) -> str | None:
        """Ready = ground truth flowing, objects perceived, e-stop released, the simulator
        no longer holding (it has heard the e-stop state and the heartbeat too), the
        planner listening. Error or None."""
        probe = self._probe()
        expected = sum(1 for _ in self.config.scene.objects)
        planner = "planner_node" in self.config.nodes

        def ready() -> bool:
            seen = probe.objects is not None and len(probe.objects.objects) >= min(expected, 1)
            listening = probe.planner_listening() or not planner
            free = probe.hold is not None and not probe.hold.holding
            return (
                probe.ground_truth is not None
                and seen
                and probe.estop is False
                and free
                and listening
            )

        if self.wait_until(ready, wall_timeout_s=wall_timeout_s):
            return None
        return (
            f"stack not ready after {wall_timeout_s:.0f} s: ground truth "
            f"{'ok' if probe.ground_truth else 'missing'}, objects "
            f"{len(probe.objects.objects) if probe.objects else 'missing'}, e-stop {probe.estop},"
            f" simulator {_hold_state(probe.hold)},"
            f" planner {'listening' if probe.planner_listening() else 'not heard'}"
            + (f" ({probe.safety.tripped_by}: {probe.safety.reason})" if probe.safety else "")
        )

    def _probe(self) -> StackProbe:
        if self.probe is None:
            raise RuntimeError("session not started")
        return self.probe

    @property
    def sim_node(self) -> Any:
        assert self.stack is not None
        return self.stack.nodes.get("sim_node")


def _hold_state(hold: HoldStatus | None) -> str:
    if hold is None:
        return "not heard"
    return f"holding ({hold.reason})" if hold.holding else "free"
