"""planner_node over DDS: instructions in, labelled plans out, approval and time-out,
audit events for each, with the offline planner and with a model on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from embodied_stack.audit.registry import hash_password
from embodied_stack.config import config_path, load_yaml, parse_yaml
from embodied_stack.nodes import qos
from embodied_stack.nodes.planner_node import PlannerNode, parse_instruction
from embodied_stack.nodes.ros_conversions import json_from_ros, json_to_ros
from embodied_stack.planning.scene_objects import perceived_objects
from embodied_stack.planning.scripted_endpoint import ScriptedEndpoint
from embodied_stack.robot import load_robot
from embodied_stack.scene import Scene
from embodied_stack.schemas import (
    Approval,
    AuditEvent,
    AuditEventKind,
    ObjectsMessage,
    Plan,
    PlannerKind,
    PlanStatus,
)

pytestmark = pytest.mark.ros

SCENE = Scene.model_validate(
    parse_yaml("""
objects:
  - {id: red_cube_1, kind: cube, color: red, size: 0.04, xy: [0.50, -0.15]}
  - {id: blue_cube_1, kind: cube, color: blue, size: 0.04, xy: [0.45, 0.10]}
  - {id: green_tray_1, kind: tray, color: green, size: [0.18, 0.18, 0.03], xy: [0.60, 0.25]}
  - {id: gray_knife_1, kind: knife, color: gray, size: [0.20, 0.025, 0.015], xy: [0.40, -0.30]}
""")
)
APPROVAL_TIMEOUT_S = 3.0
PROFILE = load_robot("panda")


def wait_until(condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    return condition()


class Operator(Node):
    """The test's side: perception and joint states in, instructions and approvals out."""

    def __init__(self, context: Context, namespace: str) -> None:
        super().__init__("planner_test_operator", context=context, namespace=namespace)
        self.plans: list[Plan] = []
        self.events: list[AuditEvent] = []
        self._lock = threading.Lock()
        self.instruction_pub = self.create_publisher(String, "planner/instruction", qos.COMMAND)
        self.approval_pub = self.create_publisher(String, "planner/approval", qos.COMMAND)
        self.objects_pub = self.create_publisher(String, "perception/objects", qos.STATE)
        self.joints_pub = self.create_publisher(JointState, "joint_states", qos.STATE)
        self.create_subscription(String, "planner/plan", self._on_plan, qos.LATCHED)
        self.create_subscription(String, "audit/events", self._on_event, qos.AUDIT)
        self.create_timer(0.1, self._publish_state)

    def _publish_state(self) -> None:
        message = ObjectsMessage(stamp=time.time(), objects=perceived_objects(SCENE))
        self.objects_pub.publish(json_to_ros(message))
        names = [*PROFILE.joints, "panda_finger_joint1"]
        self.joints_pub.publish(JointState(name=names, position=[*PROFILE.home, 0.04]))

    def _on_plan(self, msg: String) -> None:
        with self._lock:
            self.plans.append(json_from_ros(Plan, msg))

    def _on_event(self, msg: String) -> None:
        with self._lock:
            self.events.append(json_from_ros(AuditEvent, msg))

    def instruct(self, text: str, operator: str | None = "alice") -> None:
        body = json.dumps({"text": text, "operator": operator}) if operator else text
        self.instruction_pub.publish(String(data=body))

    def decide(self, plan_id: str, approved: bool, operator: str) -> None:
        approval = Approval(plan_id=plan_id, approved=approved, operator=operator)
        self.approval_pub.publish(json_to_ros(approval))

    def plan_for(self, text: str, status: PlanStatus) -> Plan | None:
        with self._lock:
            return next(
                (p for p in self.plans if p.instruction == text and p.status is status), None
            )

    def events_for(self, plan_id: str, kind: AuditEventKind) -> list[AuditEvent]:
        with self._lock:
            return [e for e in self.events if e.kind is kind and _plan_id(e.payload) == plan_id]


def _plan_id(payload: dict[str, Any]) -> str | None:
    plan = payload.get("plan")
    return plan.get("plan_id") if isinstance(plan, dict) else payload.get("plan_id")


def write_registry(path: Path, models: list[dict[str, str]]) -> Path:
    registry = load_yaml(config_path("registry.yaml"))
    registry["models"] = [*registry["models"], *models]
    registry["operators"] = [
        {"name": "alice", "role": "operator", "password_hash": hash_password("a-long-pass")},
        {"name": "bob", "role": "viewer", "password_hash": hash_password("b-long-pass")},
    ]
    path.write_text(yaml.safe_dump(registry))
    return path


@contextmanager
def planner_session(overrides: dict[str, Any], namespace: str) -> Iterator[Operator]:
    """The planner and the test's node under their own namespace (as a robot runs)."""
    context = Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(context=context)
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    planner = PlannerNode(context=context, parameter_overrides=params, namespace=namespace)
    operator = Operator(context, namespace)
    for node in (planner, operator):
        executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        assert wait_until(lambda: operator.instruction_pub.get_subscription_count() > 0)
        time.sleep(0.3)  # first joint states and objects delivered
        yield operator
    finally:
        for node in (operator, planner):
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown(timeout_sec=5.0)
        rclpy.try_shutdown(context=context)
        spin.join(timeout=5.0)


@pytest.fixture(scope="module")
def offline_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    registry = write_registry(tmp_path_factory.mktemp("planner") / "registry.yaml", [])
    # Approval logic on its own: knife plans cannot pass a dry run (the skills do not
    # grasp knives), so the twin is left out here and tested below.
    overrides = {
        "registry": str(registry),
        "approval_timeout_s": APPROVAL_TIMEOUT_S,
        "dry_run": False,
    }
    with planner_session(overrides, "offline_robot") as operator:
        yield operator


def test_low_risk_plan_is_approved_at_once_and_audited(offline_session: Operator) -> None:
    text = "put the red cube in the tray"
    offline_session.instruct(text)
    plan = wait_until(lambda: offline_session.plan_for(text, PlanStatus.APPROVED))
    assert plan is not None
    assert [s.args for s in plan.steps] == [{"object": "red_cube_1"}, {"target": "green_tray_1"}]
    assert plan.ai_generated and plan.approved_by == "auto" and plan.robot_id == "sim-panda-01"
    assert plan.provenance.planner is PlannerKind.OFFLINE
    assert offline_session.plan_for(text, PlanStatus.PROPOSED) is None  # never left waiting
    assert wait_until(lambda: offline_session.events_for(plan.plan_id, AuditEventKind.APPROVAL))
    (event,) = offline_session.events_for(plan.plan_id, AuditEventKind.PLAN)
    assert event.actor == "alice" and event.ai_generated and event.model is not None
    assert event.model.name == "offline-grammar-1"
    instructions = [e for e in offline_session.events if e.kind is AuditEventKind.INSTRUCTION]
    assert any(e.payload["text"] == text and e.actor == "alice" for e in instructions)


def test_refusal_is_published_with_its_reason_and_audited(offline_session: Operator) -> None:
    text = "pick up the cube"
    offline_session.instruct(text, operator=None)  # plain text: an anonymous instruction
    plan = wait_until(lambda: offline_session.plan_for(text, PlanStatus.REFUSED))
    assert plan is not None and plan.reason.startswith("ambiguous_reference")
    assert "red_cube_1" in plan.reason and "blue_cube_1" in plan.reason
    (event,) = wait_until(lambda: offline_session.events_for(plan.plan_id, AuditEventKind.REFUSAL))
    assert event.actor == "anonymous" and event.ai_generated


def test_high_risk_plan_waits_for_an_operator_who_may_approve(offline_session: Operator) -> None:
    text = "pick up the knife"
    offline_session.instruct(text)
    waiting = wait_until(lambda: offline_session.plan_for(text, PlanStatus.PROPOSED))
    assert waiting is not None and waiting.risk_tier.name == "HIGH"
    offline_session.decide(waiting.plan_id, True, "bob")  # a viewer: ignored
    offline_session.decide(waiting.plan_id, True, "mallory")  # not registered: ignored
    time.sleep(0.3)
    assert offline_session.plan_for(text, PlanStatus.APPROVED) is None
    offline_session.decide(waiting.plan_id, True, "alice")
    approved = wait_until(lambda: offline_session.plan_for(text, PlanStatus.APPROVED))
    assert approved is not None and approved.plan_id == waiting.plan_id
    assert approved.approved_by == "alice"
    (event,) = wait_until(
        lambda: offline_session.events_for(approved.plan_id, AuditEventKind.APPROVAL)
    )
    assert event.actor == "alice" and event.payload["auto"] is False


def test_approval_time_out_is_a_denial(offline_session: Operator) -> None:
    text = "grab the gray knife"
    offline_session.instruct(text)
    waiting = wait_until(lambda: offline_session.plan_for(text, PlanStatus.PROPOSED))
    assert waiting is not None
    rejected = wait_until(
        lambda: offline_session.plan_for(text, PlanStatus.REJECTED), timeout=APPROVAL_TIMEOUT_S + 10
    )
    assert rejected is not None and "time-out is a denial" in rejected.reason
    assert wait_until(
        lambda: offline_session.events_for(rejected.plan_id, AuditEventKind.REJECTION)
    )
    offline_session.decide(rejected.plan_id, True, "alice")  # too late: stays rejected
    time.sleep(0.3)
    assert offline_session.plan_for(text, PlanStatus.APPROVED) is None


def test_model_plans_are_labelled_with_their_provenance(tmp_path: Path) -> None:
    reply = {
        "content": "",
        "tool_calls": [
            {
                "function": {
                    "name": "submit_plan",
                    "arguments": {"steps": [{"skill": "pick", "args": {"object": "blue cube"}}]},
                }
            }
        ],
    }
    with ScriptedEndpoint(reply) as endpoint:
        model = {"name": endpoint.model, "endpoint": endpoint.url}
        registry = write_registry(tmp_path / "registry.yaml", [model])
        overrides = {
            "registry": str(registry),
            "backend": "llm",
            "llm.base_url": endpoint.url,
            "llm.model": endpoint.model,
            "llm.timeout_s": 5.0,
        }
        with planner_session(overrides, "llm_robot") as operator:
            text = "pick up the blue cube"
            operator.instruct(text)
            plan = wait_until(lambda: operator.plan_for(text, PlanStatus.APPROVED))
        assert endpoint.requests  # the model was really asked
    assert plan is not None and plan.steps[0].args == {"object": "blue_cube_1"}
    assert plan.provenance.planner is PlannerKind.LLM and plan.ai_generated
    assert plan.provenance.endpoint == endpoint.url and len(plan.provenance.prompt_sha256) == 64


def test_a_plan_that_crosses_a_red_line_in_the_twin_is_rejected(tmp_path: Path) -> None:
    """The model drops the cube from 0.35 m: valid steps, caught by the dry run."""
    steps = [
        {"skill": "pick", "args": {"object": "red cube"}},
        {"skill": "move_to", "args": {"x": 0.5, "y": 0.0, "z": 0.4}},
        {"skill": "open_gripper", "args": {}},
    ]
    reply = {"tool_calls": [{"function": {"name": "submit_plan", "arguments": {"steps": steps}}}]}
    with ScriptedEndpoint(reply) as endpoint:
        model = {"name": endpoint.model, "endpoint": endpoint.url}
        overrides = {
            "registry": str(write_registry(tmp_path / "registry.yaml", [model])),
            "backend": "llm",
            "llm.base_url": endpoint.url,
            "llm.model": endpoint.model,
        }
        with planner_session(overrides, "dry_run_robot") as operator:
            text = "put the red cube down"
            operator.instruct(text)
            plan = wait_until(lambda: operator.plan_for(text, PlanStatus.REJECTED), timeout=180)
            assert plan is not None, [p.status for p in operator.plans]
            assert wait_until(lambda: operator.events_for(plan.plan_id, AuditEventKind.DRY_RUN))
    assert plan.dry_run is not None and not plan.dry_run.ok
    assert plan.reason is not None and plan.reason.startswith("dry_run: ")
    assert "step 3" in plan.reason and "0.10 m" in plan.reason  # which step, which red line
    assert operator.plan_for(text, PlanStatus.APPROVED) is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("go home", ("go home", "anonymous")),
        ('{"text": "go home", "operator": "alice"}', ("go home", "alice")),
        ('{"text": "go home"}', ("go home", "anonymous")),
        ("{not json", ("{not json", "anonymous")),
    ],
)
def test_parse_instruction(data: str, expected: tuple[str, str]) -> None:
    assert parse_instruction(data) == expected
