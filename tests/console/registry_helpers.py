"""Write a registry file with operators, the way `embodied-stack registry add-operator` does."""

from __future__ import annotations

from pathlib import Path

from embodied_stack.audit.registry_cli import add_operator

EMPTY_REGISTRY = """\
robot_id: test-robot
owner: {organisation: tests, responsible_person: T. Ester, contact: t@example.invalid}
approval_tier: 2
models:
  - {name: offline-grammar-1, endpoint: builtin}
operators: []
"""


def write_registry(
    path: Path, operators: dict[str, str], roles: dict[str, str], passwords: dict[str, str]
) -> Path:
    path.write_text(EMPTY_REGISTRY, encoding="utf-8")
    for name in operators:
        add_operator(path, name, roles[name], passwords[name])
    return path
