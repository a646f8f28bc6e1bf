"""Publish times of several streams on the sim clock, and the sim clock's pace."""

from __future__ import annotations

import time
from collections.abc import Callable


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


class Pacer:
    """Keeps sim time to at most `max_rtf` sim seconds per wall second (0: unbounded).

    An unbounded simulator takes every cycle the machine has, and the stack's
    safety paths (heartbeat deadlines, hold commands) then wait for the CPU. Behind
    schedule (a stall, a slow frame) the pacer starts over from now rather than
    racing to catch up: a burst of sim time would be a burst of motion.
    """

    def __init__(
        self,
        max_rtf: float,
        *,
        slack_s: float = 0.05,
        min_sleep_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not max_rtf >= 0:
            raise ValueError(f"max_rtf must be >= 0 (0 = unbounded), got {max_rtf}")
        self.max_rtf = max_rtf
        self._slack_s = slack_s
        self._min_sleep_s = min_sleep_s  # a real-time stepper must leave the core sometimes
        self._clock, self._sleep = clock, sleep
        self._anchor: tuple[float, float] | None = None  # (sim, wall) of the last start

    def __call__(self, sim_now: float) -> None:
        """After each physics step: wait until `sim_now` is due (yields the CPU anyway)."""
        if self.max_rtf == 0:
            self._sleep(0)  # still let the other threads have the interpreter
            return
        wall = self._clock()
        if self._anchor is None or sim_now < self._anchor[0]:  # first step, or a reset world
            self._anchor = (sim_now, wall)
        ahead = (sim_now - self._anchor[0]) / self.max_rtf - (wall - self._anchor[1])
        if ahead < -self._slack_s:
            self._anchor = (sim_now, wall)
        self._sleep(max(ahead, self._min_sleep_s))

    def describe(self) -> str:
        if self.max_rtf == 0:
            return "as fast as possible"
        return "real time" if self.max_rtf == 1 else f"at most {self.max_rtf:g}x real time"
