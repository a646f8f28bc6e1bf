"""`embodied-stack run`, the command itself: it starts in one process and with
`--processes`, every node follows the simulator's clock (also under a namespace),
`--record` records in both modes, Ctrl-C (SIGINT to the process group, as a
terminal sends it) ends everything with exit code 0, and it refuses to start
without a valid registry."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from mcap_ros2.reader import read_ros2_messages
from rclpy.node import Node
from rclpy.parameter_client import AsyncParameterClient
from rosgraph_msgs.msg import Clock

from embodied_stack.config import config_path, load_yaml
from embodied_stack.nodes import qos, stack
from embodied_stack.nodes.launcher import InProcessStack, NodeSpec
from embodied_stack.nodes.ros_conversions import time_from_ros
from tests.ros_rig import spinning

pytestmark = [pytest.mark.stack, pytest.mark.ros, pytest.mark.timeout(400)]

START_TIMEOUT_S = 180.0  # a whole stack importing on two loaded cores
LIGHT_SIM = {"render_process": False, "camera.width": 64, "camera.height": 48}


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# ---- the command line, without starting anything -----------------------------------------


def test_pace_flags_set_the_simulators_rate() -> None:
    parse = stack.build_parser().parse_args
    default = stack.node_overrides(parse([]))["sim_node"]
    assert default["realtime"] is False and default["max_rtf"] == 0.0  # as fast as it can
    assert stack.node_overrides(parse(["--realtime"]))["sim_node"]["max_rtf"] == 1.0
    assert stack.node_overrides(parse(["--max-rtf", "3"]))["sim_node"]["max_rtf"] == 3.0
    with pytest.raises(SystemExit):
        parse(["--realtime", "--max-rtf", "2"])  # one or the other
    with pytest.raises(SystemExit, match="--max-rtf must be >= 0"):
        stack.node_overrides(parse(["--max-rtf", "-1"]))


def params_with_registry(tmp_path: Path, registry: Path) -> Path:
    params = load_yaml(config_path("stack.yaml"))
    params["/**"]["ros__parameters"]["registry"] = str(registry)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"registry\.yaml: cannot read"),
        ("robot_id: r1\nmodels: [{name: m}]\n", r"registry\.yaml: owner: Field required"),
        (
            "owner: {organisation: o, responsible_person: p, contact: c}\nmodels: [{name: m}]\n",
            r"registry\.yaml: robot_id: Field required",
        ),
    ],
    ids=["missing", "no_owner", "no_robot_id"],
)
def test_run_refuses_to_start_without_a_valid_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    registry = tmp_path / "registry.yaml"
    if content is not None:
        registry.write_text(content)
    params = params_with_registry(tmp_path, registry)
    assert stack.main(["--params", str(params), "--nodes", "sim_node"]) == 2
    err = capsys.readouterr().err
    assert "refusing to start without a valid deployment registry" in err
    assert re.search(message, err), err


# ---- sim time under a namespace, in one process -------------------------------------------


def test_namespaced_in_process_nodes_follow_the_namespaced_sim_clock(tmp_path: Path) -> None:
    """sim_node publishes /robot1/clock; a node beside it (audit_node) follows it."""
    specs = [
        NodeSpec("sim_node", {**LIGHT_SIM, "max_rtf": 1.0}),
        NodeSpec("audit_node", {"log_dir": str(tmp_path / "audit")}),
    ]
    with InProcessStack(specs, namespace="/robot1") as running:
        sim, audit = running.nodes["sim_node"], running.nodes["audit_node"]
        assert wait_until(lambda: sim.now > 1.0)  # type: ignore[attr-defined]
        assert audit.get_parameter("use_sim_time").value is True
        assert wait_until(lambda: audit.get_clock().now().nanoseconds > 5e8)
        follower = audit.get_clock().now().nanoseconds * 1e-9
        assert abs(follower - sim.now) < 0.5, (follower, sim.now)  # type: ignore[attr-defined]


def test_node_processes_get_the_clock_remap_and_their_overrides_under_a_namespace(
    tmp_path: Path,
) -> None:
    """The same rules for a node process: `/clock` remapped to the namespace's clock,
    and the overrides in a `/**/<node>` section read after the params file."""
    params = tmp_path / "params.yaml"
    params.write_text("{}\n")
    args = NodeSpec("audit_node", {"use_sim_time": True}).ros_args(params, "/r1")
    assert args[:3] == ["--ros-args", "--params-file", str(params)]
    assert args[3:5] == ["-r", "/clock:=clock"] and "__ns:=/r1" in args
    overrides = load_yaml(args[args.index("--params-file", 3) + 1])
    assert overrides == {"/**/audit_node": {"ros__parameters": {"use_sim_time": True}}}
    assert "-r" not in NodeSpec("audit_node").ros_args(params, "")  # no namespace: /clock


# ---- the real command, in a process group of its own --------------------------------------


class RunCommand:
    """`embodied-stack run ...` in its own session (process group), output collected."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "embodied_stack.cli", "run", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = START_TIMEOUT_S) -> None:
        ok = wait_until(lambda: text in self.output or self.process.poll() is not None, timeout)
        assert ok and text in self.output, self.output[-3000:]

    def ctrl_c(self, timeout: float = 60.0) -> int:
        """SIGINT to the whole group, as a terminal's Ctrl-C; the exit code."""
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5.0)
        return code

    def group_alive(self) -> list[int]:
        """Processes left in the command's process group."""
        left = []
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if entry.name.isdigit() and int(fields[2]) == self.process.pid and fields[0] != "Z":
                left.append(int(entry.name))
        return left

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10.0)


@contextmanager
def run_command(args: list[str], cwd: Path) -> Iterator[RunCommand]:
    command = RunCommand(args, cwd)
    try:
        yield command
    finally:
        command.kill()


def sim_params(tmp_path: Path) -> Path:
    """stack.yaml with a light camera: these tests look at the clock, not the images."""
    params = load_yaml(config_path("stack.yaml"))
    params["sim_node"]["ros__parameters"].update(LIGHT_SIM)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def remote_use_sim_time(probe: Node, node: str) -> bool:
    client = AsyncParameterClient(probe, node)
    assert client.wait_for_services(timeout_sec=60.0), f"no parameter services of {node}"
    future = client.get_parameters(["use_sim_time"])
    assert wait_until(future.done, 30.0)
    result = future.result()
    assert result is not None
    return bool(result.values[0].bool_value)


def test_processes_follow_the_sim_clock_record_and_stop_on_ctrl_c(tmp_path: Path) -> None:
    nodes = "killswitch_node,audit_node,sim_node"
    record = tmp_path / "run.mcap"
    args = ["--processes", "--nodes", nodes, "--namespace", "/r1", "--record", str(record)]
    args += ["--params", str(sim_params(tmp_path))]
    clocks: list[float] = []

    def probe_node(context: object) -> Node:
        node = Node("run_probe", namespace="/r1", context=context)  # type: ignore[arg-type]
        node.create_subscription(
            Clock, "clock", lambda m: clocks.append(time_from_ros(m.clock)), qos.COMMAND
        )
        return node

    with run_command(args, tmp_path) as run, spinning(probe_node) as (probe,):
        run.wait_for("3 node processes")
        assert wait_until(lambda: len(clocks) > 10 and clocks[-1] > 1.0, START_TIMEOUT_S)
        assert remote_use_sim_time(probe, "/r1/audit_node") is True
        assert remote_use_sim_time(probe, "/r1/sim_node") is True
        assert remote_use_sim_time(probe, "/r1/killswitch_node") is False  # wall time, always
        time.sleep(1.0)
        assert run.ctrl_c() == 0, run.output[-3000:]
        assert "stopped after" in run.output
        assert wait_until(lambda: not run.group_alive(), 30.0), run.group_alive()
    assert "recorded" in run.output
    topics = {item.channel.topic for item in read_ros2_messages(str(record))}
    assert {"/r1/clock", "/r1/joint_states", "/r1/safety/heartbeat"} <= topics, topics


def test_one_process_stack_starts_records_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """The default command (every node but the console) and a recording."""
    record = tmp_path / "run.mcap"
    args = ["--no-console", "--record", str(record), "--params", str(sim_params(tmp_path))]
    with run_command(args, tmp_path) as run:
        run.wait_for("6 nodes running in one process")
        time.sleep(5.0)  # let the nodes come up and talk
        assert run.ctrl_c() == 0, run.output[-3000:]
        assert "stopped after" in run.output
        assert wait_until(lambda: not run.group_alive(), 30.0), run.group_alive()
    topics = {item.channel.topic for item in read_ros2_messages(str(record))}
    assert {"/clock", "/joint_states", "/safety/heartbeat"} <= topics, topics
    # The planner's dry-run pool workers share the stack's process group: they must
    # leave Ctrl-C to the parent (safety/dry_run_worker.py), not die of it.
    assert "Traceback" not in run.output, run.output[-3000:]
