"""The deployment registry: validation that names the field, roles, passwords, models."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from embodied_stack.audit import registry_cli
from embodied_stack.audit.registry import (
    BUILTIN_ENDPOINT,
    BUILTIN_MODEL,
    UNREGISTERED_ROBOT_ID,
    Action,
    Role,
    hash_password,
    load_registry,
    registry_robot_id,
    role_allows,
)
from embodied_stack.config import config_path
from embodied_stack.errors import ConfigError

GOOD = """\
robot_id: lab-arm-2
owner: {organisation: Lab, responsible_person: Ada, contact: ada@lab.invalid}
approval_tier: 1
models:
  - {name: offline-grammar-1, endpoint: builtin}
  - {name: qwen2.5-7b, endpoint: "http://127.0.0.1:11434/v1"}
operators: []
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    return path


def test_shipped_registry_is_valid_and_registers_the_offline_planner() -> None:
    registry = load_registry()
    assert registry.model_allowed(BUILTIN_MODEL, BUILTIN_ENDPOINT)
    assert registry.operators == []  # no default credentials


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("robot_id: lab-arm-2", "robot_id: ''", "robot_id"),
        ("responsible_person: Ada, ", "", "owner.responsible_person"),
        ("approval_tier: 1", "approval_tier: 7", "approval_tier"),
        (
            "operators: []",
            "operators: [{name: eve, role: admin, password_hash: x}]",
            "operators[0]",
        ),
        (
            "operators: []",
            "operators: [{name: eve, role: viewer, password_hash: plain}]",
            "operators[0].password_hash",
        ),
        ("operators: []", "operatrs: []", "operatrs"),
    ],
)
def test_validation_errors_name_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_registry(path)
    assert f"{path}: {field}" in str(err.value)


def test_duplicate_operators_are_refused(tmp_path: Path) -> None:
    entry = f"{{name: eve, role: viewer, password_hash: '{hash_password('x' * 8)}'}}"
    path = _write(tmp_path, GOOD.replace("operators: []", f"operators: [{entry}, {entry}]"))
    with pytest.raises(ConfigError, match="duplicate entries eve"):
        load_registry(path)


def test_only_registered_models_may_plan(tmp_path: Path) -> None:
    registry = load_registry(_write(tmp_path, GOOD))
    assert registry.model_allowed("qwen2.5-7b", "http://127.0.0.1:11434/v1/")
    assert not registry.model_allowed("qwen2.5-7b", "http://evil.invalid/v1")
    assert not registry.model_allowed("gpt-unknown", "http://127.0.0.1:11434/v1")


def test_role_table() -> None:
    assert role_allows(Role.VIEWER, Action.VIEW) and role_allows("viewer", "stop")
    assert not role_allows("viewer", "approve") and not role_allows("viewer", "jog")
    assert role_allows("operator", "approve") and role_allows("operator", "jog")
    assert not role_allows("operator", "reset")
    assert role_allows("safety_officer", "reset")
    assert not role_allows("root", "view") and not role_allows("operator", "fly")


def test_add_operator_cli_writes_a_verifiable_hash_and_keeps_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "registry.yaml"
    shutil.copy(config_path("registry.yaml"), path)
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    argv = ["add-operator", "alice", "--role", "operator", "--registry", str(path)]
    assert registry_cli.main([*argv, "--password-stdin"]) == 0
    text = path.read_text()
    assert "correct horse" not in text
    assert "# Who is accountable for this robot." in text
    registry = load_registry(path)
    operator = registry.verify_password("alice", "correct horse battery")
    assert operator is not None and operator.role is Role.OPERATOR
    assert registry.verify_password("alice", "wrong horse battery") is None
    assert registry.verify_password("mallory", "correct horse battery") is None
    assert "correct horse" not in capsys.readouterr().out

    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    assert registry_cli.main([*argv, "--password-stdin"]) == 1  # alice exists
    assert "already exists" in capsys.readouterr().err


def test_add_operator_refuses_a_short_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, GOOD)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    argv = ["add-operator", "bob", "--role", "viewer", "--registry", str(path), "--password-stdin"]
    assert registry_cli.main(argv) == 1
    assert load_registry(path).operators == []


def test_add_operator_to_a_block_list(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("operators: []\n", "operators:\n") + "# end\n")
    registry_cli.add_operator(path, "carol", "viewer", "password-1")
    registry_cli.add_operator(path, "dave", "safety_officer", "password-2")
    registry = load_registry(path)
    assert [o.name for o in registry.operators] == ["carol", "dave"]
    assert path.read_text().endswith("# end\n")


def test_robot_id_for_labels_falls_back_to_one_name(tmp_path: Path) -> None:
    assert registry_robot_id(_write(tmp_path, GOOD)) == "lab-arm-2"
    invalid = GOOD.replace("approval_tier: 1", "approval_tier: lots")
    assert registry_robot_id(_write(tmp_path, invalid)) == "lab-arm-2"  # labelled anyway
    assert registry_robot_id(_write(tmp_path, "owner: {}\n")) == UNREGISTERED_ROBOT_ID
    assert registry_robot_id(tmp_path / "missing.yaml") == UNREGISTERED_ROBOT_ID
