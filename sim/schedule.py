"""Publish times of several streams on the sim clock."""

from __future__ import annotations


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
