"""Console operators and roles from the registry (config/registry.yaml).

Passwords are checked with the registry's argon2 hashes and roles with its one
table (`role_allows`). The file is reloaded when it changes, so
`embodied-stack registry add-operator` takes effect without a restart; a file
that does not validate means nobody can log in (fail closed), with the reason logged.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from embodied_stack.audit.registry import Action, Registry, load_registry, role_allows
from embodied_stack.config import config_path
from embodied_stack.errors import ConfigError

log = logging.getLogger(__name__)


class RegistryDirectory:
    def __init__(self, registry: str | Path = "registry.yaml") -> None:
        self._path = config_path(str(registry))
        self._lock = threading.Lock()
        self._loaded: tuple[float, Registry | None] | None = None

    def registry(self) -> Registry | None:
        """The current registry, or None when it cannot be read or does not validate."""
        try:
            mtime = self._path.stat().st_mtime
        except OSError:
            mtime = -1.0
        with self._lock:
            if self._loaded is None or self._loaded[0] != mtime:
                self._loaded = (mtime, self._load())
            return self._loaded[1]

    def _load(self) -> Registry | None:
        try:
            return load_registry(self._path)
        except ConfigError as exc:
            log.error("console logins disabled: %s", exc)
            return None

    def has_operators(self) -> bool:
        registry = self.registry()
        return registry is not None and bool(registry.operators)

    def authenticate(self, name: str, password: str) -> str | None:
        registry = self.registry()
        operator = registry.verify_password(name, password) if registry else None
        return operator.role.value if operator else None

    def allows(self, role: str, action: Action) -> bool:
        return role_allows(role, action)
