"""planner_node: instructions in, labelled plans out, with approval and a full audit trail.

Wiring only. `planner/instruction` (plain text, or JSON {text, operator}) is queued to a
worker thread (a model may take seconds; callbacks never block) that calls
`plan_instruction` with the latest `perception/objects` and `joint_states`. The plan
goes out on `planner/plan` (latched, AI-generated, with provenance): approved at once
below the approval tier, otherwise `proposed` until an `planner/approval` from an
operator whose registry role may approve; no decision in `approval_timeout_s` is a
rejection. Audit events: instruction, plan, refusal, approval, rejection.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import traceback
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from embodied_stack.audit.registry import load_registry
from embodied_stack.config import config_path
from embodied_stack.errors import SchemaError, StackError
from embodied_stack.nodes.spin import spin_node
from embodied_stack.planning.approvals import ApprovalBook, Outcome, registry_approvers
from embodied_stack.planning.backend import PlannerBackend
from embodied_stack.planning.lexer import warm_up
from embodied_stack.planning.llm import LlmBackend, LlmConfig
from embodied_stack.planning.offline import OfflineBackend
from embodied_stack.planning.planner import plan_instruction
from embodied_stack.planning.skills import PlanLimits
from embodied_stack.planning.state import RobotState
from embodied_stack.robot import load_robot
from embodied_stack.safety.dry_run_worker import DryRunWorker
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.scene import load_scene
from embodied_stack.schemas import (
    Approval,
    AuditEventKind,
    ObjectsMessage,
    PerceivedObject,
    Plan,
    PlanStatus,
    RiskTier,
)

from . import qos
from .audit_client import AuditClient
from .ros_conversions import joint_state_from_ros, json_from_ros, json_to_ros

NAME = "planner_node"
ANONYMOUS = "anonymous"


def _describe(text: str, low: float | None = None, high: float | None = None) -> Any:
    if low is None or high is None:
        return ParameterDescriptor(description=text)
    if isinstance(low, int) and isinstance(high, int):
        span_i = IntegerRange(from_value=low, to_value=high, step=1)
        return ParameterDescriptor(description=text, integer_range=[span_i])
    span = FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)
    return ParameterDescriptor(description=text, floating_point_range=[span])


PARAMETERS: list[tuple[str, Any, Any]] = [
    ("robot", "panda", _describe("robot profile, config/robots/<robot>.yaml (global)")),
    ("registry", "registry.yaml", _describe("deployment registry: robot id, models (global)")),
    ("redlines", "redlines.yaml", _describe("red lines: risk tiers, approval tier (global)")),
    ("backend", "offline", _describe("offline | llm")),
    ("llm.base_url", "", _describe("OpenAI-compatible endpoint (or $OPENAI_BASE_URL)")),
    ("llm.model", "", _describe("model name as registered (or $OPENAI_MODEL)")),
    ("llm.api_key_env", "OPENAI_API_KEY", _describe("environment variable holding the key")),
    ("llm.timeout_s", 30.0, _describe("per request", 0.1, 600.0)),
    ("llm.max_retries", 2, _describe("retries on transport errors", 0, 10)),
    ("approval_timeout_s", 120.0, _describe("no decision this long: rejected", 0.1, 86400.0)),
    ("max_steps", 40, _describe("longest plan accepted", 1, 500)),
    ("scene", "", _describe("optional scene file: its keep-out boxes join the red lines")),
    ("perception_wait_s", 5.0, _describe("wait this long for a first scene", 0.0, 120.0)),
    (
        "dry_run",
        True,
        _describe("run each plan in a headless twin first; a red line there rejects it"),
    ),
    ("dry_run_timeout_s", 120.0, _describe("a dry run longer than this fails", 1.0, 3600.0)),
]


class PlannerNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NAME, **node_kwargs)
        for name, default, descriptor in PARAMETERS:
            self.declare_parameter(name, default, descriptor)
        self._load_config()
        self.audit = AuditClient(self, NAME, self.registry.robot_id)
        self._objects: ObjectsMessage | None = None
        self._scene_seen = threading.Event()
        self._state = RobotState()
        self._jobs: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._plan_pub = self.create_publisher(String, "planner/plan", qos.LATCHED)
        inputs = MutuallyExclusiveCallbackGroup()
        self.create_subscription(
            String, "planner/instruction", self._on_instruction, qos.COMMAND, callback_group=inputs
        )
        self.create_subscription(
            String, "planner/approval", self._on_approval, qos.COMMAND, callback_group=inputs
        )
        self.create_subscription(String, "perception/objects", self._on_objects, qos.STATE)
        self.create_subscription(JointState, "joint_states", self._on_joints, qos.STATE)
        self.create_timer(0.1, self._expire, callback_group=inputs)
        self._closing = threading.Event()
        self._worker = threading.Thread(target=self._work, name="planner_worker", daemon=True)
        self._worker.start()

    def _load_config(self) -> None:
        p = self.get_parameter
        self.registry = load_registry(str(p("registry").value))
        self.redlines = load_redlines(str(p("redlines").value))
        scene = str(p("scene").value)
        if scene:
            self.redlines = self.redlines.with_scene(load_scene(config_path(scene)))
        self.profile = load_robot(str(p("robot").value))
        self.gripper_joints = set(self.profile.gripper.joints)
        self.dry_runs = (
            DryRunWorker(float(p("dry_run_timeout_s").value)) if bool(p("dry_run").value) else None
        )
        self.limits = PlanLimits(max_steps=int(p("max_steps").value))
        self.backend = self._make_backend()
        tier = RiskTier(min(int(self.registry.approval_tier), self.redlines.approval_tier))
        self.book = ApprovalBook(
            approval_tier=tier,
            timeout_s=float(p("approval_timeout_s").value),
            may_approve=registry_approvers(self.registry),
        )
        info = self.backend.info
        self.get_logger().info(
            f"planning with {info.model} at {info.endpoint}; approval needed from tier {tier.name}"
        )
        if not self.registry.model_allowed(info.model, info.endpoint):
            self.get_logger().error(
                f"model {info.model} at {info.endpoint} is not in the registry: "
                "every instruction will be refused"
            )

    def _make_backend(self) -> PlannerBackend:
        p = self.get_parameter
        if str(p("backend").value) == "offline":
            return OfflineBackend()
        key_env = str(p("llm.api_key_env").value)
        config = LlmConfig(
            base_url=str(p("llm.base_url").value),
            model=str(p("llm.model").value),
            api_key=_env(key_env),
            timeout_s=float(p("llm.timeout_s").value),
            max_retries=int(p("llm.max_retries").value),
        )
        return LlmBackend(config, limits=self.limits)

    # ---- inputs ---------------------------------------------------------------------------

    def _on_objects(self, msg: String) -> None:
        try:
            self._objects = json_from_ros(ObjectsMessage, msg)
            self._scene_seen.set()
        except SchemaError as exc:
            self.get_logger().error(f"perception/objects ignored: {exc}", throttle_duration_sec=5)

    def _on_joints(self, msg: JointState) -> None:
        try:
            sample = joint_state_from_ros(msg)
        except ValueError as exc:
            self.get_logger().error(f"joint_states ignored: {exc}", throttle_duration_sec=5.0)
            return
        self._state = RobotState.from_joints(
            sample.names, sample.positions, gripper_joints=self.gripper_joints, stamp=sample.stamp
        )

    def _on_instruction(self, msg: String) -> None:
        text, operator = parse_instruction(msg.data)
        self.audit.emit(AuditEventKind.INSTRUCTION, operator, {"text": text})
        self._jobs.put((text, operator))

    def _on_approval(self, msg: String) -> None:
        try:
            approval = json_from_ros(Approval, msg)
        except SchemaError as exc:
            self.get_logger().error(f"planner/approval ignored: {exc}")
            return
        result = self.book.decide(approval, time.monotonic())
        if isinstance(result, str):
            self.get_logger().warning(result)
            return
        self._publish(result)

    def _expire(self) -> None:
        for outcome in self.book.expire(time.monotonic()):
            self._publish(outcome)

    # ---- planning -------------------------------------------------------------------------

    def _work(self) -> None:
        warm_up()  # jieba's dictionary: ~0.5 s once, better before the first instruction
        while (job := self._jobs.get()) is not None:
            text, operator = job
            try:
                self._plan(text, operator)
            except StackError as exc:  # a config problem must not kill the worker
                self.get_logger().error(f"planning failed: {exc}")
            except Exception:  # a bug must not silence the planner for good: log it, go on
                self.get_logger().error(f"planning {text!r} crashed:\n{traceback.format_exc()}")

    def _plan(self, text: str, operator: str) -> None:
        if not self._scene_seen.wait(float(self.get_parameter("perception_wait_s").value)):
            self.get_logger().warning("planning without a perceived scene (no perception/objects)")
        objects = list(self._objects.objects) if self._objects is not None else []
        plan = plan_instruction(
            text,
            objects,
            backend=self.backend,
            robot_state=self._state,
            registry=self.registry,
            redlines=self.redlines,
            limits=self.limits,
        )
        if self._closing.is_set():
            return  # shutting down while a model answered: nothing to publish on
        model = plan.provenance
        if plan.status is PlanStatus.REFUSED:
            self._plan_pub.publish(json_to_ros(plan))
            payload = {"plan_id": plan.plan_id, "instruction": text, "reason": plan.reason}
            self.audit.emit(
                AuditEventKind.REFUSAL, operator, payload, model=model, ai_generated=True
            )
            return
        payload = {"plan": plan.model_dump(mode="json")}
        self.audit.emit(AuditEventKind.PLAN, operator, payload, model=model, ai_generated=True)
        if self.dry_runs is not None and not self._passes_dry_run(plan, objects):
            self._plan_pub.publish(json_to_ros(plan))
            return
        for outcome in self.book.admit(plan, operator, time.monotonic()):
            self._publish(outcome)  # superseded plans first: the latched topic keeps the last
        if plan.plan_id in self.book.waiting():
            self._plan_pub.publish(json_to_ros(plan))  # proposed: waiting for an operator

    def _passes_dry_run(self, plan: Plan, objects: list[PerceivedObject]) -> bool:
        """Run the plan in a twin of the perceived scene; a crossed red line rejects it."""
        assert self.dry_runs is not None
        result = self.dry_runs.run(
            plan, objects, self.redlines, joints=self._arm_joints(), robot=self.profile
        )
        plan.dry_run = result
        payload = {"plan_id": plan.plan_id, **result.model_dump(mode="json")}
        self.audit.emit(
            AuditEventKind.DRY_RUN, "dry_run", payload, model=plan.provenance, ai_generated=True
        )
        if result.ok:
            return True
        first = result.violations[0].describe() if result.violations else result.error
        plan.status = PlanStatus.REJECTED
        plan.reason = f"dry_run: {first}"
        plan.findings.extend(result.violations)
        rejection = {
            "plan_id": plan.plan_id,
            "reason": plan.reason,
            "violations": [v.model_dump(mode="json") for v in result.violations],
        }
        self.audit.emit(
            AuditEventKind.REJECTION, "dry_run", rejection, model=plan.provenance, ai_generated=True
        )
        return False

    def _arm_joints(self) -> list[float] | None:
        by_name = dict(zip(self._state.joint_names, self._state.joint_positions, strict=False))
        if not all(j in by_name for j in self.profile.joints):
            return None
        return [by_name[j] for j in self.profile.joints]

    def _publish(self, outcome: Outcome) -> None:
        self._plan_pub.publish(json_to_ros(outcome.plan))
        self.audit.emit(
            outcome.kind,
            outcome.actor,
            outcome.payload,
            model=outcome.plan.provenance,
            ai_generated=True,
        )

    def destroy_node(self) -> None:
        self._closing.set()
        self._jobs.put(None)
        self._worker.join(timeout=5.0)
        if self.dry_runs is not None:
            self.dry_runs.close()
        self.audit.close()
        if isinstance(self.backend, LlmBackend):
            self.backend.close()
        super().destroy_node()


def parse_instruction(data: str) -> tuple[str, str]:
    """(text, operator) from plain text or JSON {"text": ..., "operator": ...}."""
    stripped = data.strip()
    if stripped.startswith("{"):
        try:
            body = json.loads(stripped)
        except json.JSONDecodeError:
            return data, ANONYMOUS
        if isinstance(body, dict) and isinstance(body.get("text"), str):
            operator = body.get("operator")
            return body["text"], operator if isinstance(operator, str) and operator else ANONYMOUS
    return data, ANONYMOUS


def _env(name: str) -> str:
    return os.environ.get(name, "") if name else ""


def main(args: list[str] | None = None) -> None:
    spin_node(PlannerNode, args)


if __name__ == "__main__":
    main()
