"""Console operators and roles, from the registry (config/registry.yaml).

The registry stores only argon2 hashes; the file is re-read when it changes,
so `embodied-stack registry add-operator` takes effect without a restart.
"""

from __future__ import annotations

from pathlib import Path

from embodied_stack.config import config_path, load_yaml
from embodied_stack.console.auth import Action
from embodied_stack.safety.reset_auth import RegistryAuthorizer

# Watching and stopping are never withheld from a logged-in person (ISO 13850:
# an e-stop must be available to everyone at the machine).
ALWAYS_ALLOWED = frozenset({Action.VIEW, Action.ESTOP})
_POLICY: dict[str, frozenset[Action]] = {
    "viewer": frozenset(),
    "operator": frozenset({Action.INSTRUCT, Action.APPROVE, Action.JOG}),
    "safety_officer": frozenset({Action.INSTRUCT, Action.APPROVE, Action.JOG, Action.RESET}),
}


class RegistryDirectory:
    def __init__(self, registry: str | Path = "registry.yaml") -> None:
        self._path = config_path(str(registry))
        self._authorizer = RegistryAuthorizer(self._path)

    def has_operators(self) -> bool:
        return bool(load_yaml(self._path).get("operators"))

    def authenticate(self, name: str, password: str) -> str | None:
        return self._authorizer.role_of(name, password)

    def allows(self, role: str, action: Action) -> bool:
        return action in ALWAYS_ALLOWED or action in _POLICY.get(role, frozenset())
