"""Write a registry file with operators, as `embodied-stack registry add-operator` would."""

from __future__ import annotations

from pathlib import Path

import yaml
from argon2 import PasswordHasher


def write_registry(
    path: Path, operators: dict[str, str], roles: dict[str, str], passwords: dict[str, str]
) -> Path:
    hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # fast in tests
    data = {
        "robot_id": "test-robot",
        "owner": {"organisation": "tests", "responsible_person": "T. Ester", "contact": "t@x"},
        "approval_tier": 2,
        "models": [{"name": "offline-grammar-1", "endpoint": "builtin"}],
        "operators": [
            {"name": name, "role": roles[name], "password_hash": hasher.hash(passwords[name])}
            for name in operators
        ],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
