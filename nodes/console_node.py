"""console_node: the teleoperation web console, over the stack's topics.

Wiring only: it subscribes to what the console shows (joint states, objects,
annotated camera, e-stop, safety status, heartbeat, motion status, plans, audit
events and head) and feeds `LiveState`; the web app's actions go out on
`planner/instruction`, `planner/approval`, `teleop/jog`, `safety/trip` and
`safety/reset_request` (answered on `safety/reset_result`). The HTTP/WebSocket
server (embodied_stack.console) runs on its own thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Header, String

from embodied_stack.audit.registry import registry_robot_id
from embodied_stack.console import records
from embodied_stack.console.backend import (
    ActionResult,
    AuditQuery,
    ChainStatus,
    ConsoleListener,
    ConsoleSnapshot,
)
from embodied_stack.console.directory import RegistryDirectory
from embodied_stack.console.server import ConsoleServer
from embodied_stack.console.settings import ConsoleSettings
from embodied_stack.console.state import LiveState
from embodied_stack.errors import SchemaError
from embodied_stack.nodes.spin import spin_node
from embodied_stack.robot import load_robot
from embodied_stack.safety.incidents import IncidentSummary
from embodied_stack.schemas import (
    Approval,
    AuditEvent,
    AuditEventKind,
    AuditHead,
    JogCommand,
    Message,
    MotionStatus,
    ObjectsMessage,
    Plan,
    PlanStatus,
    ResetOutcome,
    ResetRequest,
    SafetyStatus,
    Trip,
    from_json,
)

from . import qos
from .audit_client import AuditClient
from .ros_conversions import image_from_ros, joint_state_from_ros, json_to_ros

NAME = "console_node"
RESET_TIMEOUT_S = 3.0
MsgT = TypeVar("MsgT", bound=Message)

PARAMETERS: list[tuple[str, Any, str]] = [
    ("robot", "panda", "robot profile, config/robots/<robot>.yaml (global)"),
    ("registry", "registry.yaml", "registry: operators, roles, robot id (global)"),
    ("heartbeat_timeout_s", 0.1, "heartbeat age shown as stale beyond this (global)"),
    ("host", "127.0.0.1", "address to serve on; loopback unless deliberately exposed"),
    ("port", 8080, "TCP port (0 = any free port)"),
    ("tls_cert", "", "PEM certificate; with tls_key serves HTTPS/WSS"),
    ("tls_key", "", "PEM private key"),
    ("session_ttl_s", 900.0, "a session expires after this long without use"),
    ("session_max_s", 43200.0, "a session expires this long after login, used or not"),
    ("allowed_origins", [""], "extra origins allowed for WebSocket/POST (e.g. a proxy)"),
    ("login_max_failures", 5, "failed logins per address or name within the window"),
    ("login_window_s", 60.0, "login rate-limit window"),
    ("jog_deadman_s", 0.3, "a jog not refreshed this long is stopped"),
    ("tick_s", 0.2, "heartbeat age pushed to browsers this often"),
    ("audit_log_dir", "", "audit log directory; empty = the one audit/head names"),
    ("incident_dir", "var/incidents", "incident bundles directory"),
]


class ConsoleNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NAME, **node_kwargs)
        for name, default, text in PARAMETERS:
            self.declare_parameter(name, default, ParameterDescriptor(description=text))
        p = self.get_parameter
        registry = str(p("registry").value)
        self.robot_id = registry_robot_id(registry)
        self.state = LiveState(self.robot_id, load_robot(str(p("robot").value)))
        self._audit = AuditClient(self, NAME, self.robot_id)
        self._reset_lock = threading.Lock()
        self._reset_waiters: dict[str, tuple[threading.Event, list[ResetOutcome]]] = {}
        self._create_publishers()
        self._create_subscriptions(float(p("heartbeat_timeout_s").value))
        self.server = ConsoleServer(self, RegistryDirectory(registry), self._settings())
        self.server.start()
        self.get_logger().info(f"console at {self.server.url}")

    def _settings(self) -> ConsoleSettings:
        p = self.get_parameter
        values = {name: p(name).value for name in ConsoleSettings.model_fields}
        values["allowed_origins"] = [o for o in values["allowed_origins"] if o]
        return ConsoleSettings.model_validate(values)

    def _create_publishers(self) -> None:
        self._instruction_pub = self.create_publisher(String, "planner/instruction", qos.COMMAND)
        self._approval_pub = self.create_publisher(String, "planner/approval", qos.COMMAND)
        self._jog_pub = self.create_publisher(String, "teleop/jog", qos.COMMAND)
        self._trip_pub = self.create_publisher(String, "safety/trip", qos.COMMAND)
        self._reset_pub = self.create_publisher(String, "safety/reset_request", qos.COMMAND)

    def _create_subscriptions(self, heartbeat_timeout_s: float) -> None:
        s = self.state
        sub = self.create_subscription
        sub(JointState, "joint_states", lambda m: s.on_joints(joint_state_from_ros(m)), qos.STATE)
        sub(Image, "perception/annotated", lambda m: s.on_frame(image_from_ros(m)), qos.SENSOR)
        sub(Bool, "safety/estop", lambda m: s.on_estop(bool(m.data)), qos.LATCHED)
        sub(
            Header,
            "safety/heartbeat",
            lambda _m: s.on_heartbeat(),
            qos.heartbeat(heartbeat_timeout_s),
        )
        self._json(ObjectsMessage, "perception/objects", s.on_objects, qos.STATE)
        self._json(SafetyStatus, "safety/status", s.on_safety, qos.LATCHED)
        self._json(MotionStatus, "motion/status", s.on_motion, qos.LATCHED)
        self._json(Plan, "planner/plan", s.on_plan, qos.LATCHED)
        self._json(AuditEvent, "audit/events", s.on_audit_event, qos.AUDIT)
        self._json(AuditHead, "audit/head", s.on_audit_head, qos.LATCHED)
        self._json(ResetOutcome, "safety/reset_result", self._on_reset_result, qos.COMMAND)

    def _json(
        self, model: type[MsgT], topic: str, handle: Callable[[MsgT], None], profile: Any
    ) -> None:
        def callback(msg: String) -> None:
            try:
                handle(from_json(model, msg.data))
            except SchemaError as exc:
                self.get_logger().warning(f"{topic}: ignored malformed message: {exc}")

        self.create_subscription(String, topic, callback, profile)

    # ---- ConsoleBackend: state ----------------------------------------------------------

    def snapshot(self) -> ConsoleSnapshot:
        return self.state.snapshot()

    def heartbeat_age_s(self) -> float | None:
        return self.state.heartbeat_age_s()

    def latest_frame(self) -> bytes | None:
        return self.state.latest_frame()

    def subscribe(self, listener: ConsoleListener) -> Callable[[], None]:
        return self.state.subscribe(listener)

    # ---- ConsoleBackend: actions --------------------------------------------------------

    def send_instruction(self, text: str, operator: str) -> ActionResult:
        self._instruction_pub.publish(String(data=json.dumps({"text": text, "operator": operator})))
        return ActionResult(ok=True, message="sent to the planner")

    def decide(
        self, plan_id: str, approved: bool, operator: str, reason: str | None
    ) -> ActionResult:
        plan = self.state.plan(plan_id)
        if plan is None:
            return ActionResult(ok=False, message=f"no plan {plan_id!r} known to the console")
        if plan.status != PlanStatus.PROPOSED:
            return ActionResult(ok=False, message=f"plan {plan_id} is {plan.status.value}")
        approval = Approval(plan_id=plan_id, approved=approved, operator=operator, reason=reason)
        self._approval_pub.publish(json_to_ros(approval))
        verdict = "approved" if approved else "rejected"
        return ActionResult(ok=True, message=f"plan {plan_id} {verdict} by {operator}")

    def jog(self, command: JogCommand) -> ActionResult:
        self._jog_pub.publish(json_to_ros(command))
        return ActionResult(ok=True)

    def trip(self, who: str, why: str) -> ActionResult:
        self._trip_pub.publish(json_to_ros(Trip(who=who, why=why)))
        return ActionResult(ok=True, message="e-stop requested")

    def reset(self, operator: str, password: str) -> ActionResult:
        """Ask the kill switch; it checks the operator's secret and every input itself."""
        done, answers = threading.Event(), []
        with self._reset_lock:
            self._reset_waiters[operator] = (done, answers)
        try:
            request = ResetRequest(operator=operator, token=password)
            self._reset_pub.publish(json_to_ros(request))
            if not done.wait(RESET_TIMEOUT_S):
                return ActionResult(ok=False, message="no answer from the kill switch")
        finally:
            with self._reset_lock:
                self._reset_waiters.pop(operator, None)
        return ActionResult(ok=answers[0].ok, message=answers[0].reason)

    def _on_reset_result(self, outcome: ResetOutcome) -> None:
        with self._reset_lock:
            waiter = self._reset_waiters.get(outcome.operator)
        if waiter is not None:
            waiter[1].append(outcome)
            waiter[0].set()

    def record(self, kind: AuditEventKind, actor: str, payload: dict[str, Any]) -> None:
        self._audit.emit(kind.value, actor=actor, payload=payload)

    # ---- ConsoleBackend: records --------------------------------------------------------

    def _audit_dir(self) -> Path | None:
        configured = str(self.get_parameter("audit_log_dir").value)
        if configured:
            return Path(configured)
        head = self.state.snapshot().audit_head
        return Path(head.file).parent if head is not None and head.file else None

    def audit_events(self, query: AuditQuery) -> list[dict[str, Any]]:
        log_dir = self._audit_dir()
        return records.query_audit(log_dir, query) if log_dir else []

    def verify_chain(self) -> ChainStatus:
        log_dir = self._audit_dir()
        if log_dir is None:
            return ChainStatus(ok=False, message="audit log location unknown (no audit/head yet)")
        head = self.state.snapshot().audit_head
        return records.chain_status(log_dir, expect_head=head.head_hash if head else None)

    def incidents(self) -> list[IncidentSummary]:
        return records.list_incidents(str(self.get_parameter("incident_dir").value))

    def destroy_node(self) -> None:
        self.server.stop()
        self._audit.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    spin_node(ConsoleNode, args)


if __name__ == "__main__":
    main()
