"""The in-process launcher: params-file sections reach nodes under a namespace,
overrides win, and a node can be stopped dead."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_stack.config import config_path, load_yaml
from embodied_stack.nodes.launcher import InProcessStack, NodeSpec, node_class

pytestmark = pytest.mark.ros


def test_every_node_module_defines_its_node_class() -> None:
    for name in (
        "sim_node",
        "perception_node",
        "planner_node",
        "motion_node",
        "killswitch_node",
        "audit_node",
        "console_node",
        "driver_bridge_node",
    ):
        assert node_class(name).__module__ == f"embodied_stack.nodes.{name}"


@pytest.mark.parametrize("namespace", ["", "/robot1"])
def test_node_sections_reach_namespaced_nodes(namespace: str, tmp_path: Path) -> None:
    defaults = load_yaml(config_path("stack.yaml"))["audit_node"]["ros__parameters"]
    spec = NodeSpec("audit_node", {"log_dir": str(tmp_path / "audit")})
    with InProcessStack([spec], namespace=namespace) as stack:
        node = stack.nodes["audit_node"]
        assert node.get_namespace() == (namespace or "/")
        assert node.get_parameter("log_dir").value == str(tmp_path / "audit")  # override wins
        assert node.get_parameter("rotate_bytes").value == defaults["rotate_bytes"]
        assert node.get_parameter("use_sim_time").value is True
        stack.kill("audit_node")
        assert "audit_node" not in stack.nodes
