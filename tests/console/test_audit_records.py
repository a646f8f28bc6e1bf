"""What an operator does in the console lands in the audit log: the real console_node
and the real audit_node over DDS, the log read back from disk.

(The other console server tests record `backend.record` calls on a stand-in; this one
checks the records themselves: kind, actor, fields, source, robot, a whole chain.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import String

from embodied_stack.audit.record import AuditRecord, read_records
from embodied_stack.audit.verify import verify
from embodied_stack.nodes import qos
from embodied_stack.nodes.audit_node import AuditNode
from embodied_stack.nodes.console_node import ConsoleNode
from embodied_stack.nodes.ros_conversions import json_to_ros
from embodied_stack.schemas import Plan, PlannerKind, Provenance
from tests.console.conftest import PASSWORDS
from tests.ros_rig import spinning

pytestmark = pytest.mark.ros
ROBOT_ID = "test-robot"  # what tests/console/registry_helpers.py registers


@dataclass
class Rig:
    console: ConsoleNode
    probe: Node
    log_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.console.server.url, timeout=10.0)

    def console_records(self) -> list[AuditRecord]:
        if not self.log_dir.exists():
            return []
        return [r for r in read_records(self.log_dir) if r.source == "console_node"]


@pytest.fixture
def rig(registry_file: Path, tmp_path: Path) -> Iterator[Rig]:
    log_dir = tmp_path / "audit"
    registry = Parameter("registry", value=str(registry_file))

    def make_console(context: Context) -> Node:
        return ConsoleNode(context=context, parameter_overrides=[registry, _param("port", 0)])

    def make_audit(context: Context) -> Node:
        dirs = [_param("log_dir", str(log_dir)), _param("incident_dir", str(tmp_path / "inc"))]
        return AuditNode(context=context, parameter_overrides=[registry, *dirs])

    def make_probe(context: Context) -> Node:
        return Node("console_audit_probe", context=context)

    with spinning(make_console, make_audit, make_probe) as (console, _audit, probe):
        assert isinstance(console, ConsoleNode)
        yield Rig(console, probe, log_dir)


def _param(name: str, value: Any) -> Parameter:
    return Parameter(name, value=value)


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail("condition not met in time")


def _proposed_plans(rig: Rig, count: int) -> list[Plan]:
    """Plans the console knows as proposed (latched on planner/plan, as the planner does)."""
    plans = [
        Plan(
            instruction=f"pick the red cube {i}",
            provenance=Provenance(planner=PlannerKind.OFFLINE, model="offline-grammar-1"),
        )
        for i in range(count)
    ]
    pub = rig.probe.create_publisher(String, "planner/plan", qos.LATCHED)
    for plan in plans:
        pub.publish(json_to_ros(plan))
        wait_for(lambda p=plan: rig.console.state.plan(p.plan_id) is not None)
    return plans


def test_login_approval_and_rejection_are_records_with_actor_and_fields(rig: Rig) -> None:
    approve, reject = _proposed_plans(rig, 2)
    with closing(rig.client()) as stranger:
        wrong = {"name": "otto", "password": "not-the-password"}
        assert stranger.post("/api/login", json=wrong).status_code == 401
    with closing(rig.client()) as otto:
        login = {"name": "otto", "password": PASSWORDS["otto"]}
        answer = otto.post("/api/login", json=login)
        assert answer.status_code == 200, answer.text
        headers = {"X-CSRF-Token": answer.json()["csrf"]}
        yes = {"approved": True}
        no = {"approved": False, "reason": "too close to the tray edge"}
        for plan, body in ((approve, yes), (reject, no)):
            decided = otto.post(f"/api/plans/{plan.plan_id}/decision", json=body, headers=headers)
            assert decided.status_code == 200, decided.text

        records = wait_for(lambda: len(r := rig.console_records()) >= 4 and r)
        # the rejection is an incident: once its bundle is recorded the log is quiet
        wait_for(lambda: _incident_for(rig, "rejection"))
        # ... and the console shows the records, from the log it finds through audit/head
        shown = wait_for(lambda: len(e := _shown(otto)) >= 4 and e)
        chain = otto.get("/api/audit/verify").json()

    assert [(r.kind, r.actor) for r in records] == [
        ("login", "otto"),
        ("login", "otto"),
        ("approval", "otto"),
        ("rejection", "otto"),
    ]
    failed, succeeded, approval, rejection = records
    assert failed.payload["ok"] is False and succeeded.payload["ok"] is True
    assert failed.payload["client"] == succeeded.payload["client"] == "127.0.0.1"
    assert approval.payload == {"plan_id": approve.plan_id, "reason": None}
    assert rejection.payload == {"plan_id": reject.plan_id, "reason": "too close to the tray edge"}
    assert {r.robot_id for r in records} == {ROBOT_ID}
    assert [r.source_seq for r in records] == [0, 1, 2, 3]  # none lost
    assert not any(r.ai_generated for r in records)  # operators' acts, not a model's
    for file in rig.log_dir.iterdir():  # no password, right or wrong, is ever logged
        assert b"not-the-password" not in file.read_bytes()
        assert PASSWORDS["otto"].encode() not in file.read_bytes()

    assert [e["kind"] for e in shown] == ["login", "login", "approval", "rejection"]
    assert chain["ok"] is True, chain
    report = verify(rig.log_dir)
    assert report.ok, report.summary()


def _shown(client: httpx.Client) -> list[dict[str, Any]]:
    answer = client.get("/api/audit", params={"actor": "otto"})
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def _incident_for(rig: Rig, kind: str) -> bool:
    records = read_records(rig.log_dir)
    return any(r.kind == "incident" and r.payload.get("for_kind") == kind for r in records)
