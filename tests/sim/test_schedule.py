"""The sim clock schedule of published streams."""

from __future__ import annotations

import pytest

from embodied_stack.sim.schedule import RateSchedule


def test_schedule_keeps_each_rate_without_bunching() -> None:
    schedule = RateSchedule({"fast": 100.0, "slow": 10.0})
    fired = {"fast": 0, "slow": 0}
    for step in range(240):  # one second at 240 Hz
        for name in schedule.ready(step / 240.0):
            fired[name] += 1
    assert fired == {"fast": 100, "slow": 10}
    assert schedule.ready(5.0) == ["fast", "slow"]  # after a pause: once, not 400 times
    assert schedule.ready(5.001) == []


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="'clock'"):
        RateSchedule({"clock": 0.0})
