"""What every kill-switch input device offers the kill-switch node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

# Called from the device's reader thread: (input name, pressed).
OnChange = Callable[[str, bool], None]


class EstopInputError(RuntimeError):
    """The device (or its library) is missing or unusable; the message says which."""


@runtime_checkable
class EstopInput(Protocol):
    """A kill-switch input. Fail-safe: a device that cannot be read reads pressed."""

    name: str

    def pressed(self) -> bool:
        """Current state, including faults (silence, garbage, lost device = pressed)."""
        ...

    def start(self, on_change: OnChange) -> None:
        """Start watching in a background thread; call on_change on every state change."""
        ...

    def close(self) -> None: ...
