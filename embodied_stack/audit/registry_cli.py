"""`embodied-stack registry add-operator NAME --role ROLE [--registry PATH] [--password-stdin]`
and `embodied-stack registry check [--registry PATH]`.

The password is read twice with getpass (or once from stdin for scripts) and only its
argon2 hash is written. The file is edited as text so its comments survive; the result
is parsed back and must equal the old registry plus the new operator, else the whole
file is rewritten from data (comments lost, content kept). The write is atomic.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from embodied_stack.audit.registry import NAME_PATTERN, Registry, Role, hash_password
from embodied_stack.config import config_path, load_yaml, parse_yaml, validate
from embodied_stack.errors import ConfigError

MIN_PASSWORD_LEN = 8
_EMPTY_LIST = re.compile(r"^operators:\s*\[\s*\]\s*(#.*)?$")
_BLOCK_START = re.compile(r"^operators:\s*(#.*)?$")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack registry")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-operator", help="add an operator (stores only a password hash)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--registry", type=Path, help="registry file (default config/registry.yaml)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    check = sub.add_parser("check", help="validate the registry")
    check.add_argument("--registry", type=Path)
    return parser


def read_password(from_stdin: bool) -> str:
    """The new password: one stdin line, or typed twice at a prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("passwords differ")
    if len(password) < MIN_PASSWORD_LEN:
        raise ConfigError(f"password too short: at least {MIN_PASSWORD_LEN} characters")
    return password


def operator_line(name: str, role: str, password_hash: str) -> str:
    fields = {"name": name, "role": role, "password_hash": password_hash}
    return "  - {" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in fields.items()) + "}"


def insert_operator(text: str, line: str) -> str | None:
    """The registry text with one operator line added, or None if its layout is unknown."""
    lines = text.splitlines()
    for i, current in enumerate(lines):
        if _EMPTY_LIST.match(current):
            comment = current[current.index("]") + 1 :].rstrip()
            lines[i : i + 1] = [f"operators:{comment}", line]
            return "\n".join(lines) + "\n"
        if _BLOCK_START.match(current):
            end = i + 1
            while end < len(lines) and (lines[end].startswith((" ", "-")) or not lines[end]):
                end += 1
            while end > i + 1 and not lines[end - 1].strip():
                end -= 1
            lines.insert(end, line)
            return "\n".join(lines) + "\n"
    if not any(re.match(r"^operators\s*:", current) for current in lines):
        return text.rstrip("\n") + "\noperators:\n" + line + "\n"
    return None


def _new_text(path: Path, text: str, data: dict[str, Any], entry: dict[str, str]) -> str:
    expected = {**data, "operators": [*(data.get("operators") or []), entry]}
    edited = insert_operator(text, operator_line(**entry))
    if edited is not None and parse_yaml(edited) == expected:
        return edited
    print(f"registry: {path} layout not recognised; rewriting it (comments lost)", file=sys.stderr)
    return json.dumps(expected, indent=2, ensure_ascii=False) + "\n"  # JSON is valid YAML


def write_atomically(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_operator(path: Path, name: str, role: str, password: str) -> Registry:
    """Add an operator to the registry file; returns the validated new registry."""
    if not re.match(NAME_PATTERN, name):
        raise ConfigError(f"operator name {name!r} must match {NAME_PATTERN}")
    data = load_yaml(path)
    registry = validate(Registry, data, str(path))
    if registry.operator(name) is not None:
        raise ConfigError(f"{path}: operators: {name!r} already exists")
    entry = {"name": name, "role": Role(role).value, "password_hash": hash_password(password)}
    text = _new_text(path, path.read_text(encoding="utf-8"), data, entry)
    updated = validate(Registry, parse_yaml(text), str(path))
    write_atomically(path, text)
    return updated


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    path = args.registry or config_path("registry.yaml")  # as given, relative to the cwd
    try:
        if args.command == "check":
            registry = validate(Registry, load_yaml(path), str(path))
            print(f"{path}: valid, robot {registry.robot_id}, {len(registry.operators)} operators")
            return 0
        add_operator(path, args.name, args.role, read_password(args.password_stdin))
    except ConfigError as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 1
    print(f"added operator {args.name} ({args.role}) to {path}")
    return 0
