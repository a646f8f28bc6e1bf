"""The actuator side's own hold decision."""

from __future__ import annotations

from embodied_stack.safety.hold import HoldGuard


def test_holds_until_both_estop_state_and_heartbeat_arrive() -> None:
    guard = HoldGuard()
    assert guard.reason() == "no e-stop state received yet"
    guard.estop(False)
    assert guard.reason() == "no heartbeat received yet"
    guard.heartbeat(None)
    assert guard.reason() is None


def test_estop_and_stale_heartbeat_each_hold() -> None:
    guard = HoldGuard()
    guard.estop(False)
    guard.heartbeat(None)
    guard.estop(True)
    assert guard.reason() == "e-stop pressed"
    guard.estop(False)
    assert guard.reason() is None
    guard.heartbeat("heartbeat missed its 0.100 s deadline")
    assert guard.reason() == "heartbeat missed its 0.100 s deadline"
    guard.heartbeat(None)
    assert guard.reason() is None


def test_a_red_line_holds_until_the_stop_latched_and_was_reset() -> None:
    guard = HoldGuard()
    guard.estop(False)
    guard.heartbeat(None)
    guard.red_line("workspace: tcp x 0.19 (limit 0.20)")
    assert (guard.reason() or "").startswith("red line: workspace")
    guard.estop(False)  # no latch seen yet: a stale "released" does not clear it
    assert guard.reason() is not None
    guard.estop(True)
    guard.estop(False)
    assert guard.reason() is None


def test_first_inputs_pending_until_both_an_estop_state_and_a_beat_arrive() -> None:
    guard = HoldGuard()
    assert guard.first_inputs_pending
    guard.estop(False)
    assert guard.first_inputs_pending  # no beat yet
    guard.heartbeat(None)
    assert not guard.first_inputs_pending and guard.reason() is None
    guard.heartbeat("heartbeat missed its 0.100 s deadline")
    assert not guard.first_inputs_pending  # a dead heartbeat is not a start-up
