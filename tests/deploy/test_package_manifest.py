"""package.xml and setup.py against the code: every third-party module the package
imports is declared (an exec_depend, or a test_depend for tests and benchmarks),
every Python library declared is used, and every ROS package imported has its PyPI
wheel in setup.py's ROS_WHEELS."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .launch_ast import REPO

# import name -> rosdep key (ROS packages: their own name)
KEYS = {
    "argon2": "python3-argon2",
    "cv2": "python3-opencv",
    "evdev": "python3-evdev",
    "fastapi": "python3-fastapi",
    "starlette": "python3-fastapi",  # FastAPI's own foundation, installed with it
    "gpiod": "python3-libgpiod",
    "httpx": "python3-httpx",
    "hypothesis": "python3-hypothesis",
    "jieba": "python3-jieba-pip",
    "mcap": "python3-mcap-pip",
    "mcap_ros2": "python3-mcap-ros2-support-pip",
    "numpy": "python3-numpy",
    "openai": "python3-openai-pip",
    "playwright": "python3-playwright-pip",
    "pybullet": "python3-pybullet-pip",
    "pybullet_data": "python3-pybullet-pip",
    "pydantic": "python3-pydantic",
    "pydantic_core": "python3-pydantic",
    "pytest": "python3-pytest",
    "serial": "python3-serial",
    "uvicorn": "python3-uvicorn",
    "websockets": "python3-websockets",
    "yaml": "python3-yaml",
}
ROS_PACKAGES = {
    "builtin_interfaces",
    "diagnostic_msgs",
    "geometry_msgs",
    "launch",
    "launch_ros",
    "rcl_interfaces",
    "rclpy",
    "rosgraph_msgs",
    "sensor_msgs",
    "std_msgs",
    "std_srvs",
    "trajectory_msgs",
    "visualization_msgs",
}
FIRST_PARTY = {"embodied_stack", "tests", "setuptools"}  # setuptools: the build itself
# Python libraries declared though nothing imports them, and why.
USED_OUTSIDE_IMPORTS = {
    "python3-mcap-ros2-support-pip": "reads the recordings back (README: Foxglove, mcap-ros2)",
    "python3-pytest-timeout": "pytest plugin (pytest.ini --timeout)",
    "python3-pytest-rerunfailures": "pytest plugin (pytest.ini --reruns)",
    "python3-colcon-common-extensions": "the colcon build test runs the colcon command",
}
MANIFEST = ET.parse(REPO / "package.xml").getroot()


def depends(tag: str) -> set[str]:
    return {str(e.text).strip() for e in MANIFEST.findall(tag)}


def imports(*dirs: str) -> dict[str, set[Path]]:
    """Top-level third-party module -> files importing it."""
    found: dict[str, set[Path]] = {}
    for directory in dirs:
        for path in (REPO / directory).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    root = name.split(".")[0]
                    if root not in sys.stdlib_module_names and root not in FIRST_PARTY:
                        found.setdefault(root, set()).add(path.relative_to(REPO))
    return found


def key_of(module: str) -> str:
    if module in ROS_PACKAGES:
        return module
    if module not in KEYS:
        pytest.fail(f"{module} is imported but has no rosdep key here: declare it in package.xml")
    return KEYS[module]


def is_tooling(path: Path) -> bool:
    """Benchmarks and the soak: developer commands, their libraries are test tools."""
    return path.stem.startswith(("bench", "soak")) or path.name == "bench.py"


def test_package_xml_is_format_3_with_the_ament_python_build_type() -> None:
    assert MANIFEST.get("format") == "3"
    assert MANIFEST.findtext("name") == "embodied_stack"
    assert MANIFEST.findtext("export/build_type") == "ament_python"


def test_every_module_the_package_imports_is_an_exec_or_test_dependency() -> None:
    execs, tests = depends("exec_depend"), depends("test_depend")
    for module, files in imports("embodied_stack", "sim", "nodes", "launch").items():
        key = key_of(module)
        needed = tests | execs if all(is_tooling(f) for f in files) else execs
        assert key in needed, f"{module} ({key}) imported by {sorted(map(str, files))}"


def test_every_module_the_tests_import_is_declared() -> None:
    declared = depends("exec_depend") | depends("test_depend")
    for module, files in imports("tests").items():
        assert key_of(module) in declared, f"{module} imported by {sorted(map(str, files))}"


def test_every_python_library_declared_is_used() -> None:
    used = {key_of(m) for m in imports("embodied_stack", "sim", "nodes", "launch", "tests")}
    declared = {k for k in depends("exec_depend") | depends("test_depend") if "python3" in k}
    unused = declared - used - set(USED_OUTSIDE_IMPORTS)
    assert not unused, f"declared but never imported: {sorted(unused)}"


def test_every_ros_package_imported_has_its_wheel_in_setup_py() -> None:
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    wheels: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "ROS_WHEELS" for t in node.targets
        ):
            wheels = set(ast.literal_eval(node.value))
    imported = set(imports("embodied_stack", "sim", "nodes")) & ROS_PACKAGES
    assert imported, "no ROS package imported?"
    for package in imported:
        assert f"ros-{package.replace('_', '-')}" in wheels, package
    for package in depends("exec_depend") & ROS_PACKAGES - {"launch", "launch_ros"}:
        # launch is not on PyPI (DESIGN.md §2): launch files are checked statically
        assert f"ros-{package.replace('_', '-')}" in wheels, package
