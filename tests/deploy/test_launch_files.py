"""The launch files, checked statically (`ros2 launch` is not installable from PyPI):
real entry points, declared and described arguments, real share paths, and every
parameter of config/stack.yaml declared by the node it is meant for."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from embodied_stack.config import load_yaml

from .launch_ast import (
    LAUNCH_DIR,
    NODES_DIR,
    PACKAGE,
    REPO,
    LaunchFile,
    call_name,
    console_scripts,
    declared_parameters,
    keyword,
    setup_kwargs,
)

LAUNCH_FILES = sorted(LAUNCH_DIR.glob("*.launch.py"))
SCRIPTS = console_scripts()
NODE_NAMES = [name for name, target in SCRIPTS.items() if f"{PACKAGE}.nodes." in target]
STACK = load_yaml(REPO / "config" / "stack.yaml")

# Keyword arguments of the launch / launch_ros (Jazzy, Kilted) constructors used here.
_PROCESS = {"output", "condition", "respawn", "respawn_delay", "respawn_max_retries",
            "emulate_tty", "additional_env", "cwd", "env", "shell", "sigterm_timeout",
            "sigkill_timeout", "prefix", "log_cmd", "on_exit", "cached_output"}  # fmt: skip
ALLOWED_KWARGS = {
    "Node": {
        "package",
        "executable",
        "name",
        "namespace",
        "exec_name",
        "parameters",
        "remappings",
        "ros_arguments",
        "arguments",
    }
    | _PROCESS,
    "DeclareLaunchArgument": {"name", "default_value", "description", "choices", "condition"},
    "IncludeLaunchDescription": {"launch_description_source", "launch_arguments", "condition"},
    "GroupAction": {"actions", "scoped", "forwarding", "launch_configurations", "condition"},
}
STANDARD_ARGUMENTS = {"namespace", "robot", "params_file", "use_sim_time"}


def parsed(path: Path) -> LaunchFile:
    return LaunchFile.parse(path)


def test_the_three_launch_files_exist() -> None:
    names = {p.name for p in LAUNCH_FILES}
    assert {"sim.launch.py", "robot.launch.py", "console.launch.py"} <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_defines_generate_launch_description(path: Path) -> None:
    tree = parsed(path).tree
    functions = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert "generate_launch_description" in functions


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_constructors_get_only_keywords_they_take(path: Path) -> None:
    launch = parsed(path)
    for name, allowed in ALLOWED_KWARGS.items():
        for call in launch.calls(name):
            unknown = {k.arg for k in call.keywords if k.arg is not None} - allowed
            assert not unknown, f"{path.name}:{call.lineno} {name}() has no {sorted(unknown)}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_node_is_a_real_entry_point_of_this_package(path: Path) -> None:
    launch = parsed(path)
    for call in launch.calls("Node"):
        where = f"{path.name}:{call.lineno}"
        assert launch.value(keyword(call, "package")) == PACKAGE, where
        executable = launch.value(keyword(call, "executable"))
        assert executable in NODE_NAMES, f"{where}: {executable!r} is not in setup.py NODES"
        assert executable in SCRIPTS, f"{where}: {executable!r} has no console_scripts entry"
        module = SCRIPTS[executable].split(":")[0]
        assert module == f"{PACKAGE}.nodes.{executable}", where
        # the node name is the entry point's, so its params file section applies
        assert launch.value(keyword(call, "name")) == executable, where
        for needed in ("namespace", "parameters", "remappings"):
            assert keyword(call, needed) is not None, f"{where}: {executable} without {needed}"


def test_stack_launch_starts_every_node_of_the_package() -> None:
    launch = parsed(LAUNCH_DIR / "stack.launch.py")
    started = {launch.value(keyword(c, "executable")) for c in launch.calls("Node")}
    assert started == set(NODE_NAMES)


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_arguments_are_described_and_the_standard_ones_present(path: Path) -> None:
    launch = parsed(path)
    descriptions = launch.argument_descriptions()
    assert set(descriptions) >= STANDARD_ARGUMENTS, path.name
    if path.name != "console.launch.py":  # that one is the console
        assert "console" in descriptions, path.name
    for name, description in descriptions.items():
        assert description and len(description) > 10, f"{path.name}: {name} lacks a description"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launch_configuration_is_declared(path: Path) -> None:
    launch = parsed(path)
    undeclared = launch.used_configurations() - set(launch.argument_descriptions())
    assert not undeclared, f"{path.name}: LaunchConfiguration of undeclared {sorted(undeclared)}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_share_paths_exist_in_the_tree_and_are_installed(path: Path) -> None:
    installed = _installed_files()
    for package, *parts in parsed(path).share_paths():
        assert package == PACKAGE
        assert all(isinstance(p, str) for p in parts), f"{path.name}: non-literal share path"
        relative = "/".join(parts)
        assert (REPO / relative).is_file(), f"{path.name}: {relative} missing from the tree"
        assert relative in installed, f"{path.name}: setup.py does not install {relative}"


def _installed_files() -> set[str]:
    """Repo-relative files setup.py's data_files put into share/embodied_stack."""
    out = set()
    for target, files in setup_kwargs()["data_files"]:
        if target.startswith(f"share/{PACKAGE}"):
            sub = target.removeprefix(f"share/{PACKAGE}").strip("/")
            out |= {f"{sub}/{Path(f).name}".strip("/") for f in files}
    return out


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_includes_name_real_launch_files_and_pass_their_arguments(path: Path) -> None:
    launch = parsed(path)
    for include in launch.calls("IncludeLaunchDescription"):
        targets = [
            p
            for p in launch.share_paths()
            if _contains(include, p) and len(p) == 3 and p[1] == "launch"
        ]
        assert len(targets) == 1, f"{path.name}:{include.lineno}: include target not static"
        included = parsed(LAUNCH_DIR / targets[0][2])
        passed = launch.include_arguments(include)
        unknown = passed - set(included.argument_descriptions())
        assert not unknown, f"{path.name} passes {sorted(unknown)} that {targets[0][2]} lacks"
        missing = included.required_arguments() - passed
        assert not missing, f"{path.name} does not pass required {sorted(missing)}"


def _contains(include: ast.Call, share_path: tuple[str, ...]) -> bool:
    texts = {n.value for n in ast.walk(include) if isinstance(n, ast.Constant)}
    return set(share_path[1:]) <= texts


def _include_values(path: Path) -> dict[str, str]:
    launch = parsed(path)
    (include,) = launch.calls("IncludeLaunchDescription")
    values: dict[str, str] = {}
    for node in ast.walk(include):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(v, ast.Constant):
                    values[launch.value(k)] = v.value
        if isinstance(node, ast.Tuple) and len(node.elts) == 2:
            key, value = node.elts
            if isinstance(value, ast.Constant):
                values[launch.value(key)] = value.value
    return values


def test_presets_switch_the_right_nodes() -> None:
    sim = _include_values(LAUNCH_DIR / "sim.launch.py")
    assert (sim["sim"], sim["driver_bridge"], sim["stack"]) == ("true", "false", "true")
    robot = _include_values(LAUNCH_DIR / "robot.launch.py")
    assert (robot["sim"], robot["driver_bridge"], robot["stack"]) == ("false", "true", "true")
    console = _include_values(LAUNCH_DIR / "console.launch.py")
    assert (console["sim"], console["driver_bridge"], console["stack"]) == ("false",) * 3
    assert console["console"] == "true"


def test_robot_launch_reads_real_driver_and_camera_topics() -> None:
    launch = parsed(LAUNCH_DIR / "robot.launch.py")
    defaults = {
        name: launch.value(keyword(call, "default_value"))
        for name, call in launch.declared_arguments().items()
    }
    assert defaults["joint_states_topic"] == "/joint_states"
    assert defaults["color_topic"] == "/camera/camera/color/image_raw"
    assert defaults["depth_topic"] == "/camera/camera/aligned_depth_to_color/image_raw"
    assert defaults["camera_info_topic"] == "/camera/camera/color/camera_info"
    assert "robot" in launch.required_arguments()  # a real arm is named, never assumed
    stack = parsed(LAUNCH_DIR / "stack.launch.py")
    remapped = {
        stack.value(node.elts[0])
        for call in stack.calls("Node")
        for node in ast.walk(call)
        if isinstance(node, ast.Tuple) and len(node.elts) == 2
    }
    remapped |= {
        stack.value(t.elts[0])
        for t in ast.walk(stack.tree)
        if isinstance(t, ast.Tuple) and len(t.elts) == 2 and isinstance(t.elts[1], ast.Call)
        and call_name(t.elts[1]) == "LaunchConfiguration"
    }  # fmt: skip
    # the relative names the nodes use (DESIGN.md §4) are all remappable
    assert {"camera/color/image_raw", "camera/depth/image_raw", "camera/color/camera_info",
            "joint_states", "/clock"} <= remapped  # fmt: skip


# ---- config/stack.yaml against the nodes ----------------------------------------------------

SECTIONS = sorted(k for k in STACK if not str(k).startswith("/"))


def test_every_section_of_stack_yaml_is_a_node() -> None:
    assert set(SECTIONS) <= set(NODE_NAMES)


@pytest.mark.parametrize("node", SECTIONS)
def test_stack_yaml_parameters_are_declared_by_their_node(node: str) -> None:
    node_file = NODES_DIR / f"{node}.py"
    assert node_file.is_file(), f"nodes/{node}.py is missing"
    declared = declared_parameters(node_file)
    wanted = set(_flatten(STACK[node]["ros__parameters"]))
    missing = wanted - declared
    assert not missing, f"config/stack.yaml sets {sorted(missing)} that {node} never declares"


@pytest.mark.parametrize("node", NODE_NAMES)
def test_parameters_the_launch_sets_per_node_are_declared(node: str) -> None:
    node_file = NODES_DIR / f"{node}.py"
    assert node_file.is_file(), f"nodes/{node}.py is missing"
    launch = parsed(LAUNCH_DIR / "stack.launch.py")
    calls = [c for c in launch.calls("Node") if launch.value(keyword(c, "executable")) == node]
    keys: set[str] = set()
    for call in calls:
        params = keyword(call, "parameters")
        for d in ast.walk(params) if params is not None else ():
            if isinstance(d, ast.Dict):
                keys |= {launch.value(k) for k in d.keys if k is not None}
    missing = keys - declared_parameters(node_file)
    assert not missing, f"stack.launch.py sets {sorted(missing)} that {node} never declares"


def test_the_robot_the_launch_sets_is_a_global_parameter() -> None:
    assert "robot" in STACK["/**"]["ros__parameters"]


def _flatten(params: dict[str, object], prefix: str = "") -> list[str]:
    names = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            names += _flatten(value, f"{name}.")
        else:
            names.append(name)
    return names
