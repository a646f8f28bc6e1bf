"""The actuator side's own hold decision, on a fake monotonic clock."""

from __future__ import annotations

import pytest

from embodied_stack.sim.hold_guard import HoldGuard, RateSchedule


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_holds_until_both_estop_state_and_heartbeat_arrive() -> None:
    clock = FakeClock()
    guard = HoldGuard(heartbeat_timeout_s=0.1, clock=clock)
    assert guard.reason() == "no e-stop state received yet"
    guard.estop(False)
    assert guard.reason() == "no heartbeat received yet"
    guard.heartbeat()
    assert guard.reason() is None


def test_estop_and_stale_heartbeat_each_hold() -> None:
    clock = FakeClock()
    guard = HoldGuard(heartbeat_timeout_s=0.1, clock=clock)
    guard.estop(False)
    guard.heartbeat()
    guard.estop(True)
    assert guard.reason() == "e-stop pressed"
    guard.estop(False)
    clock.t += 0.099
    assert guard.reason() is None
    clock.t += 0.01
    assert (guard.reason() or "").startswith("heartbeat stale (0.109 s > 0.100 s)")
    guard.heartbeat()
    assert guard.reason() is None


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
    with pytest.raises(ValueError, match="heartbeat_timeout_s"):
        HoldGuard(heartbeat_timeout_s=0.0)
    with pytest.raises(ValueError, match="'clock'"):
        RateSchedule({"clock": 0.0})
