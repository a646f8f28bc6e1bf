"""Who may reset the e-stop: an operator proven by their secret, with a role.

std_srvs/Trigger carries no caller identity, so the kill switch accepts a reset
only from a `ResetRequest` (operator + token) whose token verifies against the
registry's argon2 hash; the role then decides (EstopLatch allows safety_officer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from embodied_stack.config import config_path, load_yaml


class Authorizer(Protocol):
    def role_of(self, operator: str, token: str) -> str | None:
        """The operator's role when the token proves who they are, else None."""
        ...


class RegistryAuthorizer:
    """Checks tokens against the operators of config/registry.yaml (argon2 hashes).

    Reads the file on every request, so an operator added or removed takes
    effect without restarting the kill switch.
    """

    def __init__(self, registry: str | Path = "registry.yaml") -> None:
        self._path = config_path(str(registry))
        self._hasher = PasswordHasher()

    def role_of(self, operator: str, token: str) -> str | None:
        entry = self._operators().get(operator)
        if entry is None:
            return None
        digest = entry.get("password_hash") or entry.get("hash")
        if not isinstance(digest, str):
            return None
        try:
            self._hasher.verify(digest, token)
        except (VerificationError, InvalidHashError):
            return None
        role = entry.get("role")
        return role if isinstance(role, str) else None

    def _operators(self) -> dict[str, dict[str, Any]]:
        operators = load_yaml(self._path).get("operators") or []
        if isinstance(operators, dict):  # {name: {role, password_hash}}
            return {str(k): dict(v) for k, v in operators.items() if isinstance(v, dict)}
        return {
            str(op.get("name")): dict(op)
            for op in operators
            if isinstance(op, dict) and op.get("name")
        }
