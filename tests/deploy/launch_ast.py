"""Read launch files without `launch` installed: their AST, with module constants resolved.

`ros2 launch` is not on PyPI, so the launch files are checked statically: every
`Node(...)`, `DeclareLaunchArgument(...)`, `LaunchConfiguration(...)`,
`IncludeLaunchDescription(...)` and share path is found in the syntax tree.
"""

from __future__ import annotations

import ast
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LAUNCH_DIR = REPO / "launch"
NODES_DIR = REPO / "nodes"
PACKAGE = "embodied_stack"


def call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


@dataclass
class LaunchFile:
    path: Path
    tree: ast.Module
    constants: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, path: Path) -> LaunchFile:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found = cls(path=path, tree=tree)
        for stmt in tree.body:  # module-level NAME = <literal>
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target = stmt.targets[0]
                if isinstance(target, ast.Name):
                    with contextlib.suppress(ValueError):
                        found.constants[target.id] = ast.literal_eval(stmt.value)
        return found

    def value(self, expr: ast.expr | None) -> Any:
        """A literal, or a module constant's value; None when not static."""
        if expr is None:
            return None
        if isinstance(expr, ast.Name):
            return self.constants.get(expr.id)
        try:
            return ast.literal_eval(expr)
        except ValueError:
            return None

    def calls(self, name: str) -> list[ast.Call]:
        return [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and call_name(n) == name]

    def declared_arguments(self) -> dict[str, ast.Call]:
        """DeclareLaunchArgument calls by name, including the table form
        `[(name, default, description), ...]` fed to a DeclareLaunchArgument comprehension."""
        out: dict[str, ast.Call] = {}
        for call in self.calls("DeclareLaunchArgument"):
            name = self.value(call.args[0] if call.args else keyword(call, "name"))
            if isinstance(name, str):
                out[name] = call
        return out

    def argument_table(self) -> dict[str, tuple[ast.expr, ast.expr]]:
        """The `ARGUMENTS = [(name, default, description), ...]` table, if the file has one."""
        for stmt in self.tree.body:
            if (
                isinstance(stmt, ast.Assign)
                and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id == "ARGUMENTS"
                and isinstance(stmt.value, ast.List)
            ):
                rows = [e for e in stmt.value.elts if isinstance(e, ast.Tuple)]
                return {self.value(r.elts[0]): (r.elts[1], r.elts[2]) for r in rows}
        return {}

    def argument_descriptions(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name, call in self.declared_arguments().items():
            out[name] = _text(keyword(call, "description"))
        for name, (_default, description) in self.argument_table().items():
            out[name] = _text(description)
        return out

    def required_arguments(self) -> set[str]:
        """Declared without a default value: a caller must give them."""
        required = {
            name
            for name, call in self.declared_arguments().items()
            if keyword(call, "default_value") is None and len(call.args) < 2
        }
        return required | {
            name
            for name, (default, _d) in self.argument_table().items()
            if isinstance(default, ast.Constant) and default.value is None
        }

    def used_configurations(self) -> set[str]:
        used = set()
        for call in self.calls("LaunchConfiguration"):
            name = self.value(call.args[0]) if call.args else None
            if isinstance(name, str):
                used.add(name)
            else:  # LaunchConfiguration(name) in a loop over a literal list of names
                used |= self._loop_names(call)
        return used

    def _loop_names(self, call: ast.Call) -> set[str]:
        """The literal names a loop or comprehension around `call` iterates over."""
        loops = (ast.For, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)
        for node in ast.walk(self.tree):
            if isinstance(node, loops) and _contains(node, call):
                source = node.iter if isinstance(node, ast.For) else node.generators[0].iter
                values = self._iterated(source)
                if values:
                    return values
        return set()

    def _iterated(self, source: ast.expr) -> set[str]:
        values = self._local_list(source.id) if isinstance(source, ast.Name) else self.value(source)
        if isinstance(values, (list, tuple)):
            return {v for v in values if isinstance(v, str)}
        return set()

    def _local_list(self, name: str) -> Any:
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name
            ):
                return self.value(node.value)
        return None

    def share_paths(self) -> list[tuple[str, ...]]:
        """Every PathJoinSubstitution([FindPackageShare(pkg), "a", "b"]) as (pkg, "a", "b")."""
        out = []
        for call in self.calls("PathJoinSubstitution"):
            parts = call.args[0] if call.args else None
            if not isinstance(parts, ast.List) or not parts.elts:
                continue
            head = parts.elts[0]
            if isinstance(head, ast.Call) and call_name(head) == "FindPackageShare":
                rest = [self.value(p) for p in parts.elts[1:]]
                out.append((self.value(head.args[0]), *rest))
        return out

    def include_arguments(self, include: ast.Call) -> set[str]:
        """Names an IncludeLaunchDescription passes through `launch_arguments`."""
        args = keyword(include, "launch_arguments")
        names: set[str] = set()
        if args is None:
            return names
        for node in ast.walk(args):
            if isinstance(node, ast.Dict):
                names |= {self.value(k) for k in node.keys if k is not None}
            if isinstance(node, ast.Tuple) and node.elts:
                first = self.value(node.elts[0])
                if isinstance(first, str):
                    names.add(first)
            if isinstance(node, ast.Starred):
                names |= self._starred_names(node)
        return {n for n in names if isinstance(n, str)}

    def _starred_names(self, node: ast.Starred) -> set[str]:
        for inner in ast.walk(node):
            if isinstance(inner, ast.comprehension):
                return self._iterated(inner.iter)
        return set()


def _contains(tree: ast.AST, target: ast.AST) -> bool:
    return any(n is target for n in ast.walk(tree))


def _text(expr: ast.expr | None) -> str | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ast.JoinedStr):
        return "f-string"
    if isinstance(expr, ast.BinOp):  # implicit concatenation across lines is one Constant
        return "expression"
    return None


def declared_parameters(node_file: Path) -> set[str]:
    """Parameter names a node file declares (declare_parameter(s) calls).

    Names given as literals count directly. A node that declares from a table
    (`for name, default, descriptor in specs: self.declare_parameter(name, ...)`)
    gets the string heads of every tuple, and the keys of every dict literal,
    in the file: the table forms this house uses.
    """
    tree = ast.parse(node_file.read_text(encoding="utf-8"))
    names: set[str] = set()
    from_table = False
    wrappers: set[str] = set()  # helpers like `def _param(name, ...)` that declare
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        arguments = {a.arg for a in function.args.args}
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and call_name(node) == "declare_parameter"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in arguments
            ):
                wrappers.add(function.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = call_name(node)
        if fn in wrappers and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
        elif fn == "declare_parameter" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            else:
                from_table = True
        elif fn == "declare_parameters":
            from_table = True
            prefix = node.args[0] if node.args else keyword(node, "namespace")
            if isinstance(prefix, ast.Constant) and prefix.value:
                names |= {f"{prefix.value}.{n}" for n in _tuple_heads(node)}
            else:
                names |= _tuple_heads(node)
    if from_table:
        names |= _tuple_heads(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                names |= {
                    k.value
                    for k in node.keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                }
    return names


def _tuple_heads(tree: ast.AST) -> set[str]:
    return {
        node.elts[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Tuple)
        and node.elts
        and isinstance(node.elts[0], ast.Constant)
        and isinstance(node.elts[0].value, str)
    }


def setup_kwargs() -> dict[str, Any]:
    """What setup.py passes to setuptools.setup (run with setup() captured, in the repo)."""
    import os
    import runpy

    import setuptools

    captured: dict[str, Any] = {}
    original, cwd = setuptools.setup, Path.cwd()
    setuptools.setup = lambda **kwargs: captured.update(kwargs)  # type: ignore[assignment]
    try:
        os.chdir(REPO)
        runpy.run_path(str(REPO / "setup.py"), run_name="__main__")
    finally:
        setuptools.setup = original  # type: ignore[assignment]
        os.chdir(cwd)
    return captured


def console_scripts() -> dict[str, str]:
    """Entry point name -> "module:function", from setup.py."""
    scripts = setup_kwargs()["entry_points"]["console_scripts"]
    return dict(tuple(part.strip() for part in s.split("=", 1)) for s in scripts)
