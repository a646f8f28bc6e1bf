"""Who may reset the e-stop: an operator proven by their secret, with a role.

std_srvs/Trigger carries no caller identity, so the kill switch accepts a reset
only from a `ResetRequest` (operator + token) whose token is the operator's
password, verified against the registry's argon2 hash (embodied_stack.audit.registry);
the role then decides (roles allowed the `reset` action: safety_officer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from embodied_stack.audit.registry import ROLE_ACTIONS, Action, load_registry
from embodied_stack.errors import ConfigError


class Authorizer(Protocol):
    def role_of(self, operator: str, token: str) -> str | None:
        """The operator's role when the token proves who they are, else None."""
        ...


def reset_roles() -> frozenset[str]:
    """Roles the registry's role table allows to reset the e-stop."""
    return frozenset(
        role.value for role, actions in ROLE_ACTIONS.items() if Action.RESET in actions
    )


class RegistryAuthorizer:
    """Checks tokens against the registry's operators.

    Reads the registry on every request, so an operator added or removed takes
    effect without restarting the kill switch; an invalid registry authorises nobody.
    """

    def __init__(self, registry: str | Path = "registry.yaml") -> None:
        self._path = registry
        self.last_error: str | None = None

    def role_of(self, operator: str, token: str) -> str | None:
        try:
            registry = load_registry(self._path)
        except ConfigError as exc:
            self.last_error = str(exc)
            return None
        found = registry.verify_password(operator, token)
        return found.role.value if found is not None else None
