"""When motion must stop: the e-stop state and the kill switch's heartbeat.

The heartbeat is judged by the age of the last one on a monotonic (wall) clock,
never by its stamp. Before the first e-stop state or heartbeat arrives, nothing
may start: silence is a stop.
"""

from __future__ import annotations

import threading


class SafetyGuard:
    """Thread-safe: the e-stop and heartbeat callbacks write, everyone reads."""

    def __init__(self, heartbeat_timeout_s: float) -> None:
        if not heartbeat_timeout_s > 0:
            raise ValueError(f"heartbeat_timeout_s must be positive, got {heartbeat_timeout_s}")
        self.timeout_s = heartbeat_timeout_s
        self._lock = threading.Lock()
        self._estop: bool | None = None
        self._last_beat: float | None = None

    def set_estop(self, pressed: bool) -> None:
        with self._lock:
            self._estop = pressed

    def beat(self, monotonic_now: float) -> None:
        with self._lock:
            self._last_beat = monotonic_now

    def stop_reason(self, monotonic_now: float) -> str | None:
        """Why motion must not run now; None when it may."""
        with self._lock:
            estop, last = self._estop, self._last_beat
        if estop is None:
            return "no e-stop state received yet"
        if estop:
            return "e-stop pressed"
        if last is None:
            return "no heartbeat received yet"
        age = monotonic_now - last
        if age > self.timeout_s:
            return f"kill-switch heartbeat stale ({age:.3f} s > {self.timeout_s:.3f} s)"
        return None
