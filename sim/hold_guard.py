"""When the actuator side must hold on its own (DESIGN.md §5), without ROS.

The e-stop state and the kill-switch heartbeat's age decide; the heartbeat is
judged by a monotonic wall clock, never by message stamps. Fail-safe: before
the first e-stop state or heartbeat arrives, the arm holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class HoldGuard:
    def __init__(
        self, *, heartbeat_timeout_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not heartbeat_timeout_s > 0:
            raise ValueError(f"heartbeat_timeout_s must be positive, got {heartbeat_timeout_s}")
        self.timeout_s = heartbeat_timeout_s
        self._clock = clock
        self._estop: bool | None = None  # None: never heard from the kill switch
        self._last_beat: float | None = None
        self._breach: str | None = None  # a red line crossed on the measured state
        self._breach_latched = False  # the kill switch has latched since the breach

    def estop(self, pressed: bool) -> None:
        self._estop = pressed
        # A breach holds until the kill switch has latched and then been reset.
        if pressed and self._breach is not None:
            self._breach_latched = True
        elif not pressed and self._breach_latched:
            self._breach, self._breach_latched = None, False

    def red_line(self, reason: str) -> None:
        """The actuator side saw a red line crossed (or about to be): hold."""
        if self._breach is None:
            self._breach = reason

    def heartbeat(self) -> None:
        self._last_beat = self._clock()

    def reason(self) -> str | None:
        """Why the arm must hold now, or None when it may follow commands."""
        if self._breach is not None:
            return f"red line: {self._breach}"
        if self._estop is None:
            return "no e-stop state received yet"
        if self._estop:
            return "e-stop pressed"
        if self._last_beat is None:
            return "no heartbeat received yet"
        age = self._clock() - self._last_beat
        if age > self.timeout_s:
            return f"heartbeat stale ({age:.3f} s > {self.timeout_s:.3f} s)"
        return None


class RateSchedule:
    """Publish times of several streams on the sim clock, one rate each (Hz)."""

    def __init__(self, rates: dict[str, float]) -> None:
        for name, hz in rates.items():
            if not hz > 0:
                raise ValueError(f"rate of {name!r} must be positive, got {hz}")
        self._periods = {name: 1.0 / hz for name, hz in rates.items()}
        self._due = dict.fromkeys(rates, 0.0)

    def ready(self, now: float) -> list[str]:
        """Streams due at `now` (each at most once per call, never bunching up)."""
        names = [name for name, due in self._due.items() if now + 1e-9 >= due]
        for name in names:
            due = self._due[name] + self._periods[name]
            self._due[name] = due if due > now else now + self._periods[name]
        return names
