"""The emergency-stop latch (ISO 13850 spirit) as a pure state machine.

Any input pressed, any software trip or a fleet stop sets the latch. Only a
deliberate reset clears it: by a role allowed to reset, and only while every
input (including the fleet stop) is released. A reset never restarts motion;
it only permits a *new* approved plan to move (motion_node drops the old one
when the latch is set).

Boot: the latch starts set ("startup"). With `require_reset_at_start`, or a
`boot_cause` (a stop carried over from before a restart: see estop_state.py), it
stays set until a reset; otherwise it clears by itself once every configured
input has reported released at least once (the e-stop chain is known healthy).
Inputs never heard from count as pressed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from embodied_stack.schemas import SafetyStatus

FLEET_INPUT = "fleet"
STARTUP = "startup"
DEFAULT_RESET_ROLES = frozenset({"safety_officer"})


class ResetResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: bool
    reason: str


class EstopLatch:
    """Latched stop from named inputs, software trips and the fleet stop."""

    def __init__(
        self,
        *,
        inputs: Iterable[str] = (),
        reset_roles: Iterable[str] = DEFAULT_RESET_ROLES,
        require_reset_at_start: bool = False,
        boot_cause: tuple[str, str] | None = None,
    ) -> None:
        # None = never heard from (counts as pressed).
        self._inputs: dict[str, bool | None] = {name: None for name in inputs}
        self._inputs[FLEET_INPUT] = False  # no fleet stop until one is heard
        self._reset_roles = frozenset(reset_roles)
        self._latched = True
        who, why = boot_cause or (STARTUP, "stack started: waiting for the e-stop chain")
        self._tripped_by: str | None = who
        self._reason: str | None = why
        self._auto_clear = not require_reset_at_start and boot_cause is None
        self.trip_count = 0
        self._maybe_arm()

    # ---- inputs -------------------------------------------------------------------------

    def add_input(self, name: str) -> None:
        self._inputs.setdefault(name, None)

    def set_input(self, name: str, pressed: bool) -> bool:
        """Record an input's state. Returns True when this newly set the latch."""
        self._inputs[name] = pressed
        if pressed:
            return self._set(name, f"input {name} pressed")
        self._maybe_arm()
        return False

    def trip(self, who: str, why: str) -> bool:
        """A software stop. Returns True when this newly set the latch."""
        return self._set(who, why)

    def fleet_stop(self, active: bool) -> bool:
        return self.set_input(FLEET_INPUT, active)

    # ---- reset --------------------------------------------------------------------------

    def reset(self, operator: str, role: str | None) -> ResetResult:
        """Clear the latch: the role must be allowed and every input released."""
        if role not in self._reset_roles:
            return ResetResult(ok=False, reason=f"{operator!r} (role {role}) may not reset")
        held = self.pressed_inputs()
        if held:
            return ResetResult(ok=False, reason=f"inputs still pressed: {', '.join(held)}")
        was = self._tripped_by
        self._latched, self._tripped_by, self._auto_clear = False, None, False
        self._reason = f"reset by {operator}; motion stays stopped until a new plan is approved"
        return ResetResult(ok=True, reason=f"reset by {operator} (was tripped by {was})")

    # ---- state --------------------------------------------------------------------------

    @property
    def latched(self) -> bool:
        return self._latched

    @property
    def needs_reset(self) -> bool:
        """Set, and only a reset clears it (not a boot latch waiting for its inputs):
        what a restart must not forget."""
        waiting_to_arm = self._auto_clear and self._tripped_by == STARTUP
        return self._latched and not waiting_to_arm

    def pressed_inputs(self) -> list[str]:
        """Inputs pressed or never heard from."""
        return sorted(name for name, state in self._inputs.items() if state is not False)

    def status(self, stamp: float | None = None) -> SafetyStatus:
        return SafetyStatus(
            latched=self._latched,
            inputs={name: state is not False for name, state in self._inputs.items()},
            tripped_by=self._tripped_by,
            reason=self._reason,
            reset_allowed=self._latched and not self.pressed_inputs(),
            stamp=time.time() if stamp is None else stamp,
        )

    def _set(self, who: str, why: str) -> bool:
        self._auto_clear = False  # a real trip is never cleared without a reset
        if self._latched and self._tripped_by != STARTUP:
            return False
        newly = not self._latched
        self._latched, self._tripped_by, self._reason = True, who, why
        self.trip_count += 1
        return newly

    def _maybe_arm(self) -> None:
        """Clear the startup latch once every input is known released."""
        if self._auto_clear and self._tripped_by == STARTUP and not self.pressed_inputs():
            self._latched, self._tripped_by = False, None
            self._reason = "e-stop chain healthy"
            self._auto_clear = False
