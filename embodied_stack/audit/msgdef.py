"""ROS 2 message definitions in the `ros2msg` form MCAP files carry (as rosbag2 writes):
the type's .msg text, then each type it uses, once, after a line of 80 `=` and
`MSG: pkg/Type`. The .msg files come from `<prefix>/share/<pkg>/msg/` of the
AMENT_PREFIX_PATH entries or this Python environment (the PyPI ROS wheels ship them).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path

from embodied_stack.errors import StackError

SEPARATOR = "=" * 80
PRIMITIVES = frozenset(
    [
        "bool",
        "byte",
        "char",
        "float32",
        "float64",
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "string",
        "wstring",
    ]
)
_BOUNDS = re.compile(r"(\[[^\]]*\]|<=\d+)")


class MsgDefError(StackError):
    """A message definition cannot be found."""


def _prefixes() -> list[Path]:
    ament = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [*ament, Path(sys.prefix)]


def split_type(type_name: str) -> tuple[str, str]:
    """("sensor_msgs", "Image") from "sensor_msgs/msg/Image" or "sensor_msgs/Image"."""
    parts = type_name.split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise MsgDefError(f"not a message type name: {type_name!r}")


@functools.cache
def msg_text(package: str, name: str) -> str:
    for prefix in _prefixes():
        path = prefix / "share" / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise MsgDefError(f"{package}/msg/{name}.msg not found under {[str(p) for p in _prefixes()]}")


def field_types(text: str, package: str) -> list[tuple[str, str]]:
    """The (package, name) of every non-primitive field type in a .msg text."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if len(words) < 2 or "=" in words[1]:
            continue  # a constant
        base = _BOUNDS.sub("", words[0])
        if base in PRIMITIVES:
            continue
        if "/" in base:
            found.append(split_type(base))
        elif base == "Header":
            found.append(("std_msgs", "Header"))
        else:
            found.append((package, base))
    return found


@functools.cache
def full_definition(type_name: str) -> str:
    """The ros2msg schema text of a type with all its dependencies."""
    package, name = split_type(type_name)
    parts = [msg_text(package, name).rstrip("\n")]
    seen = {(package, name)}
    todo = field_types(parts[0], package)
    while todo:
        dep = todo.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        text = msg_text(*dep).rstrip("\n")
        parts.append(f"{SEPARATOR}\nMSG: {dep[0]}/{dep[1]}\n{text}")
        todo.extend(field_types(text, dep[0]))
    return "\n".join(parts) + "\n"
