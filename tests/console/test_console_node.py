"""console_node over DDS with the real kill switch: what the browser does reaches the
topics, and what the topics say reaches the browser."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import String
from websockets.sync.client import connect

from embodied_stack.motion_types import JointStateSample
from embodied_stack.nodes import qos
from embodied_stack.nodes.console_node import ConsoleNode
from embodied_stack.nodes.killswitch_node import KillswitchNode
from embodied_stack.nodes.ros_conversions import joint_state_to_ros, json_from_ros, json_to_ros
from embodied_stack.robot import load_robot
from embodied_stack.schemas import Approval, JogCommand, Plan, PlannerKind, Provenance
from tests.console.conftest import PASSWORDS
from tests.console.test_authorization import ws_reply

pytestmark = pytest.mark.ros


@dataclass
class Rig:
    console: ConsoleNode
    probe: Node
    heard: dict[str, list[str]] = field(default_factory=dict)

    def login(self, name: str) -> tuple[httpx.Client, str]:
        client = httpx.Client(base_url=self.console.server.url, timeout=10.0)
        response = client.post("/api/login", json={"name": name, "password": PASSWORDS[name]})
        assert response.status_code == 200, response.text
        return client, str(response.json()["csrf"])


def wait_for(predicate: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail("condition not met in time")


@pytest.fixture
def rig(registry_file: Path, tmp_path: Path) -> Iterator[Rig]:
    context = Context()
    rclpy.init(context=context)
    registry = Parameter("registry", value=str(registry_file))
    console = ConsoleNode(
        context=context, parameter_overrides=[registry, Parameter("port", value=0)]
    )
    latch = [  # a latch file of its own; a fresh directory starts released
        Parameter("state_file", value=str(tmp_path / "estop_latch.json")),
        Parameter("release_at_first_start", value=True),
    ]
    kill = KillswitchNode(context=context, parameter_overrides=[registry, *latch])
    probe = Node("console_probe", context=context)
    rig = Rig(console, probe)
    for topic in ("planner/instruction", "planner/approval", "teleop/jog"):
        rig.heard[topic] = []
        probe.create_subscription(
            String, topic, lambda m, t=topic: rig.heard[t].append(m.data), qos.COMMAND
        )
    executor = MultiThreadedExecutor(context=context)
    for node in (console, kill, probe):
        executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    yield rig
    executor.shutdown()
    for node in (console, kill, probe):
        node.destroy_node()
    rclpy.try_shutdown(context=context)
    spin.join(timeout=5)


def test_joint_states_become_joints_and_a_tcp_pose(rig: Rig) -> None:
    profile = load_robot("panda")
    pub = rig.probe.create_publisher(
        type(joint_state_to_ros(_home(profile))), "joint_states", qos.STATE
    )
    client, _ = rig.login("vera")
    with closing(client):

        def tcp() -> Any:
            pub.publish(joint_state_to_ros(_home(profile)))
            return client.get("/api/state").json()["tcp"]

        pose = wait_for(tcp)
    x, _, z = pose["position"]
    assert 0.2 < x < 0.8 and 0.1 < z < 0.9  # the Panda's home: in front, above the table


def _home(profile: Any) -> JointStateSample:
    return JointStateSample(
        names=tuple(profile.joints), positions=tuple(profile.home), stamp=time.time()
    )


def test_instruction_and_approval_go_out_with_the_operator(rig: Rig) -> None:
    plan = Plan(
        instruction="pick the red cube",
        provenance=Provenance(planner=PlannerKind.OFFLINE, model="offline-grammar-1"),
    )
    rig.probe.create_publisher(String, "planner/plan", qos.LATCHED).publish(json_to_ros(plan))
    client, csrf = rig.login("otto")
    headers = {"X-CSRF-Token": csrf}
    with closing(client):
        sent = client.post("/api/instruction", json={"text": "把红色方块放进托盘"}, headers=headers)
        assert sent.status_code == 200
        wait_for(
            lambda: plan.plan_id in [p["plan_id"] for p in client.get("/api/state").json()["plans"]]
        )
        path = f"/api/plans/{plan.plan_id}/decision"
        assert client.post(path, json={"approved": True}, headers=headers).status_code == 200
        unknown = client.post("/api/plans/nope/decision", json={"approved": True}, headers=headers)
        assert unknown.status_code == 409
    instruction = json.loads(wait_for(lambda: rig.heard["planner/instruction"])[0])
    assert instruction == {"text": "把红色方块放进托盘", "operator": "otto"}
    approval = json_from_ros(
        Approval, String(data=wait_for(lambda: rig.heard["planner/approval"])[0])
    )
    assert (approval.plan_id, approval.approved, approval.operator) == (plan.plan_id, True, "otto")


def test_estop_from_the_browser_latches_and_an_officer_resets(rig: Rig) -> None:
    client, _ = rig.login("otto")
    officer, csrf = rig.login("sofia")
    with closing(client), closing(officer):
        wait_for(lambda: client.get("/api/state").json()["estop"] is False)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        url = rig.console.server.url
        with connect(
            url.replace("http", "ws", 1) + "/ws", origin=url, additional_headers={"Cookie": cookie}
        ) as ws:
            ws.send(json.dumps({"type": "estop"}))
            assert ws_reply(ws, "estop")["ok"]
        state = wait_for(lambda: (s := client.get("/api/state").json())["estop"] and s)
        assert state["safety"]["tripped_by"] == "console:otto"
        headers = {"X-CSRF-Token": csrf}
        reset = officer.post("/api/reset", json={"password": PASSWORDS["sofia"]}, headers=headers)
        assert reset.status_code == 200, reset.text
        wait_for(lambda: client.get("/api/state").json()["estop"] is False)


def test_jog_reaches_teleop_jog_and_stops(rig: Rig) -> None:
    client, _ = rig.login("otto")
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    url = rig.console.server.url
    with (
        closing(client),
        connect(
            url.replace("http", "ws", 1) + "/ws", origin=url, additional_headers={"Cookie": cookie}
        ) as ws,
    ):
        ws.send(json.dumps({"type": "jog", "axis": "y", "direction": 1}))
        ws_reply(ws, "jog")
        ws.send(json.dumps({"type": "jog_stop"}))
        ws_reply(ws, "jog_stop")
    jogs = wait_for(lambda: len(rig.heard["teleop/jog"]) >= 2 and rig.heard["teleop/jog"])
    commands = [json_from_ros(JogCommand, String(data=j)) for j in jogs]
    assert [(c.axis.value, c.direction, c.operator) for c in commands] == [
        ("y", 1, "otto"),
        ("y", 0, "otto"),
    ]
