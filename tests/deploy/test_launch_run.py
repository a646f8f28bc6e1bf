"""Run the launch files' Python against a minimal stand-in of `launch`/`launch_ros`
(not installable here) to catch errors the AST cannot see, and check, with real
rclpy, that the params file reaches nodes under a namespace."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rclpy
from rclpy.context import Context
from rclpy.node import Node

from embodied_stack.config import load_yaml

from .launch_ast import LAUNCH_DIR, REPO

STACK_YAML = REPO / "config" / "stack.yaml"


class Recorded:
    """Any launch action or description: keeps what it was built with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class Substitution:
    def __init__(self) -> None:
        pass

    def perform(self, context: Any) -> str:
        raise NotImplementedError


class Text(Substitution):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def perform(self, context: Any) -> str:
        return self.text

    def describe(self) -> str:
        return repr(self.text)


class RecordedSubstitution(Recorded, Substitution):
    pass


def _normalize(value: Any) -> list[Substitution]:
    if isinstance(value, str):
        return [Text(value)]
    if isinstance(value, Substitution):
        return [value]
    return [s for v in value for s in _normalize(v)]


def _perform(context: Any, subs: list[Substitution]) -> str:
    return "".join(s.perform(context) for s in subs)


def _stubs() -> dict[str, types.ModuleType]:
    names = {
        "launch": {},
        "launch.actions": {
            "DeclareLaunchArgument": Recorded,
            "GroupAction": Recorded,
            "IncludeLaunchDescription": Recorded,
        },
        "launch.conditions": {"IfCondition": Recorded},
        "launch.launch_context": {"LaunchContext": Recorded},
        "launch.launch_description": {"LaunchDescription": Recorded},
        "launch.launch_description_sources": {"PythonLaunchDescriptionSource": Recorded},
        "launch.substitution": {"Substitution": Substitution},
        "launch.substitutions": {
            "LaunchConfiguration": RecordedSubstitution,
            "PathJoinSubstitution": RecordedSubstitution,
        },
        "launch.utilities": {
            "normalize_to_list_of_substitutions": _normalize,
            "perform_substitutions": _perform,
        },
        "launch_ros": {},
        "launch_ros.actions": {"Node": Recorded},
        "launch_ros.descriptions": {"ParameterValue": Recorded},
        "launch_ros.substitutions": {"FindPackageShare": RecordedSubstitution},
    }
    modules = {}
    for name, attributes in names.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        modules[name] = module
    return modules


def load_launch_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, module in _stubs().items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _walk(action: Any) -> Iterator[Recorded]:
    if isinstance(action, Recorded):
        yield action
        for value in [*action.args, *action.kwargs.values()]:
            yield from _walk(value)
    elif isinstance(action, (list, tuple)):
        for item in action:
            yield from _walk(item)


@pytest.mark.parametrize("path", sorted(LAUNCH_DIR.glob("*.launch.py")), ids=lambda p: p.name)
def test_generate_launch_description_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_launch_file(path, monkeypatch)
    description = module.generate_launch_description()
    actions = list(_walk(description))
    arguments = [a for a in actions if a.args and isinstance(a.args[0], str)]
    assert arguments, f"{path.name} declares no arguments"


def test_stack_launch_builds_eight_nodes_sharing_namespace_and_params(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = load_launch_file(LAUNCH_DIR / "stack.launch.py", monkeypatch)
    description = module.generate_launch_description()
    nodes = [a for a in _walk(description) if "executable" in a.kwargs]
    assert len(nodes) == 8
    for node in nodes:
        params = node.kwargs["parameters"]
        assert isinstance(params[0], module.NamespacedParams)
        assert node.kwargs["namespace"].args == ("namespace",)


def test_namespaced_params_reach_nodes_under_a_namespace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = load_launch_file(LAUNCH_DIR / "stack.launch.py", monkeypatch)
    rewritten = module.NamespacedParams(str(STACK_YAML)).perform(context=None)
    sections = {k: v for k, v in load_yaml(STACK_YAML).items() if not str(k).startswith("/")}
    globals_ = set(load_yaml(STACK_YAML)["/**"]["ros__parameters"])
    context = Context()
    rclpy.init(context=context)
    try:
        for name, section in sections.items():
            wanted = _flat_names(section["ros__parameters"])
            with_rewrite = _overrides(context, name, rewritten)
            assert wanted | globals_ <= with_rewrite, name
            # the reason for the rewrite: rcl drops `name:` sections under a namespace
            assert not wanted & (_overrides(context, name, str(STACK_YAML)) - globals_), name
    finally:
        rclpy.try_shutdown(context=context)
        Path(rewritten).unlink()


def _overrides(context: Context, name: str, params_file: str) -> set[str]:
    node = Node(
        name,
        namespace="robot1",
        context=context,
        cli_args=["--ros-args", "--params-file", params_file],
        start_parameter_services=False,
    )
    try:
        return set(node._parameter_overrides)
    finally:
        node.destroy_node()


def _flat_names(params: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in params.items():
        if isinstance(value, dict):
            out |= _flat_names(value, f"{prefix}{key}.")
        else:
            out.add(f"{prefix}{key}")
    return out


def test_overlay_params_file_wins_key_by_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A fleet robot's overlay changes its audit log_dir and registry, keeps the rest."""
    module = load_launch_file(LAUNCH_DIR / "stack.launch.py", monkeypatch)
    overlay = tmp_path / "robot2.yaml"
    overlay.write_text(
        "/**:\n  ros__parameters:\n    registry: robot2-registry.yaml\n"
        "audit_node:\n  ros__parameters:\n    log_dir: var/audit/robot2\n"
    )
    rewritten = module.NamespacedParams(str(STACK_YAML), str(overlay)).perform(context=None)
    stack = load_yaml(STACK_YAML)
    context = Context()
    rclpy.init(context=context)
    try:
        node = Node(
            "audit_node",
            namespace="robot2",
            context=context,
            cli_args=["--ros-args", "--params-file", rewritten],
            start_parameter_services=False,
        )
        values = {k: p.value for k, p in node._parameter_overrides.items()}
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        Path(rewritten).unlink()
    assert values["log_dir"] == "var/audit/robot2"
    assert values["registry"] == "robot2-registry.yaml"
    assert values["rotate_bytes"] == stack["audit_node"]["ros__parameters"]["rotate_bytes"]
    assert values["heartbeat_timeout_s"] == stack["/**"]["ros__parameters"]["heartbeat_timeout_s"]


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        (
            "robot.launch.py",
            {
                "camera/color/image_raw": "/camera/camera/color/image_raw",
                "camera/depth/image_raw": "/camera/camera/aligned_depth_to_color/image_raw",
                "camera/color/camera_info": "/camera/camera/color/camera_info",
                "joint_states": "/joint_states",
            },
        ),
        (
            "sim.launch.py",
            {
                "camera/color/image_raw": "/robot1/camera/color/image_raw",
                "joint_states": "/robot1/joint_states",
                "/clock": "/robot1/clock",  # each simulator's own clock
            },
        ),
    ],
)
def test_remappings_resolve_to_the_real_topics_under_a_namespace(
    preset: str, expected: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remap table of stack.launch.py with a preset's values, applied by real rcl."""
    stack = load_launch_file(LAUNCH_DIR / "stack.launch.py", monkeypatch)
    node_action = next(
        a for a in _walk(stack.generate_launch_description()) if "remappings" in a.kwargs
    )
    values = _preset_values(load_launch_file(LAUNCH_DIR / preset, monkeypatch))
    rules = []
    for source, target in node_action.kwargs["remappings"]:
        rules += ["-r", f"{source}:={values[target.args[0]]}"]
    context = Context()
    rclpy.init(context=context)
    try:
        node = Node("perception_node", namespace="robot1", context=context,
                    cli_args=["--ros-args", *rules], start_parameter_services=False)  # fmt: skip
        for name, resolved in expected.items():
            assert node.resolve_topic_name(name) == resolved, name
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def _preset_values(module: Any) -> dict[str, str]:
    """What a preset gives stack.launch.py: its constants, else its own arguments' defaults."""
    actions = list(_walk(module.generate_launch_description()))
    defaults = {
        a.args[0]: a.kwargs.get("default_value")
        for a in actions
        if a.args and isinstance(a.args[0], str) and "description" in a.kwargs
    }
    include = next(a for a in actions if "launch_arguments" in a.kwargs)
    values = {}
    for name, value in include.kwargs["launch_arguments"]:
        values[name] = value if isinstance(value, str) else defaults[value.args[0]]
    return values
