"""Build the package with colcon (colcon-core + colcon-ros, as on a ROS 2 machine),
then start a node from the install space and see it join the ROS graph."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from rclpy.node import Node

from .launch_ast import REPO, console_scripts

PACKAGE = "embodied_stack"
COLCON = Path(sys.executable).with_name("colcon")


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # `make setup` installs colcon-core and colcon-ros (setup.py, the test extra): a
    # missing colcon is a broken install, not a reason to skip.
    assert COLCON.exists(), f"no colcon at {COLCON}: run `make setup` (the test extra has it)"
    base = tmp_path_factory.mktemp("colcon")
    env = {
        k: v for k, v in os.environ.items() if k not in ("AMENT_PREFIX_PATH", "COLCON_PREFIX_PATH")
    }
    result = subprocess.run(
        [str(COLCON), "--log-base", str(base / "log"), "build", "--base-paths", str(REPO),
         "--build-base", str(base / "build"), "--install-base", str(base / "install"),
         "--event-handlers", "console_direct-"],
        cwd=base, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Finished <<< {PACKAGE}" in result.stdout, result.stdout[-3000:]
    return base / "install" / PACKAGE


def test_colcon_build_used_the_ament_python_build_type(install: Path) -> None:
    logs = (install.parent.parent / "log").glob("build_*/logger_all.log")
    text = "".join(p.read_text() for p in logs)
    assert f"with type 'ros.ament_python' and name '{PACKAGE}'" in text


def test_install_space_has_the_ament_layout(install: Path) -> None:
    share = install / "share" / PACKAGE
    assert (install / "share/ament_index/resource_index/packages" / PACKAGE).is_file()
    assert (share / "package.xml").is_file()
    launch_files = {p.name for p in (REPO / "launch").glob("*.launch.py")}
    assert launch_files and launch_files <= {p.name for p in (share / "launch").iterdir()}
    for name in ("stack.yaml", "redlines.yaml", "registry.yaml"):
        assert (share / "config" / name).is_file()
    for source in (REPO / "config" / "robots").iterdir():
        assert (share / "config" / "robots" / source.name).is_file(), source.name
    executables = {p.name for p in (install / "lib" / PACKAGE).iterdir()}
    assert set(console_scripts()) <= executables  # where `ros2 run` looks


def installed_env(install: Path) -> dict[str, str]:
    """What `source install/setup.sh` sets for this package, and nothing of the source tree."""
    site = next((install / "lib").glob("python3*/site-packages"))
    env = dict(os.environ)
    env.pop("EMBODIED_STACK_CONFIG", None)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["AMENT_PREFIX_PATH"] = str(install)
    return env


def test_installed_package_imports_from_the_install_space(install: Path) -> None:
    code = (
        "import embodied_stack, embodied_stack.nodes.driver_bridge_node as n;"
        "from embodied_stack.config import config_dir;"
        "print(embodied_stack.__file__); print(config_dir())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=installed_env(install), cwd=install,
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    assert out[0].startswith(str(install)), out
    assert Path(out[1]) == install / "share" / PACKAGE / "config", out


@pytest.fixture
def graph() -> Iterator[Node]:
    context = Context()
    rclpy.init(context=context)
    node = Node("colcon_test_observer", context=context)
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_installed_node_starts_and_joins_the_graph(install: Path, graph: Node) -> None:
    executable = install / "lib" / PACKAGE / "driver_bridge_node"
    namespace = f"/colcon{os.getpid()}"
    process = subprocess.Popen(
        [str(executable), "--ros-args", "-r", f"__ns:={namespace}", "-p", "robot:=ur5e"],
        env=installed_env(install), cwd=install,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        started = _wait(lambda: any("guarding ur5e" in line for line in lines), process)
        assert started, "the installed driver_bridge_node never finished starting"
        on_graph = _wait(
            lambda: ("driver_bridge_node", namespace) in graph.get_node_names_and_namespaces(),
            process,
        )
        assert on_graph, "the installed driver_bridge_node never appeared on the ROS graph"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
    assert process.returncode == 0, "".join(lines)[-3000:]


def _wait(condition: Callable[[], bool], process: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_colcon_is_what_the_test_extra_installs() -> None:
    assert shutil.which("colcon", path=str(COLCON.parent)) is not None
