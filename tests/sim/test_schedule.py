"""The sim clock schedule of published streams."""

from __future__ import annotations

import pytest

from embodied_stack.sim.schedule import Pacer, RateSchedule


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


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_holds_sim_time_to_the_rate_limit() -> None:
    wall = FakeClock()
    pace = Pacer(2.0, clock=wall, sleep=wall.sleep)
    for step in range(481):  # 2 s of sim time, stepping instantly
        pace(step / 240.0)
    assert abs(wall.now - 1.0) < 1e-9  # 2 s of sim took 1 s of wall: 2x, not faster


def test_pacer_starts_over_instead_of_racing_after_a_stall() -> None:
    wall = FakeClock()
    pace = Pacer(1.0, clock=wall, sleep=wall.sleep)
    pace(0.0)
    wall.now += 1.0  # the process was stalled for a second
    pace(0.01)
    wall.slept.clear()
    for step in range(2, 102):
        pace(step / 100.0)
    assert abs(sum(wall.slept) - 1.0) < 1e-6  # the next second of sim is a second of wall


def test_unbounded_pacer_only_yields() -> None:
    wall = FakeClock()
    pace = Pacer(0.0, clock=wall, sleep=wall.sleep)
    for step in range(100):
        pace(step / 240.0)
    assert wall.now == 0.0 and wall.slept == [0] * 100
    with pytest.raises(ValueError, match="max_rtf"):
        Pacer(-1.0)
