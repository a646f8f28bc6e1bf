"""The latch: set by any input, trip or fleet stop; reset only by a safety officer
with every input released; a reset never restarts anything by itself."""

from __future__ import annotations

from embodied_stack.safety.estop import FLEET_INPUT, STARTUP, EstopLatch


def armed(*inputs: str) -> EstopLatch:
    latch = EstopLatch(inputs=inputs)
    for name in inputs:
        latch.set_input(name, False)
    return latch


def test_boot_latched_until_every_input_reports_released() -> None:
    latch = EstopLatch(inputs=["serial", "gpio"])
    assert latch.latched and latch.status().tripped_by == STARTUP
    latch.set_input("serial", False)
    assert latch.latched, "gpio never heard from: must count as pressed"
    latch.set_input("gpio", False)
    assert not latch.latched


def test_boot_requiring_reset_stays_latched() -> None:
    latch = EstopLatch(inputs=["serial"], require_reset_at_start=True)
    latch.set_input("serial", False)
    assert latch.latched
    assert latch.reset("ada", "safety_officer").ok
    assert not latch.latched


def test_press_latches_and_release_does_not_clear() -> None:
    latch = armed("serial")
    assert latch.set_input("serial", True)
    latch.set_input("serial", False)
    status = latch.status()
    assert status.latched and status.tripped_by == "serial" and status.reset_allowed


def test_reset_refused_while_any_input_pressed() -> None:
    latch = armed("serial", "gpio")
    latch.set_input("gpio", True)
    result = latch.reset("ada", "safety_officer")
    assert not result.ok and "gpio" in result.reason
    assert latch.latched


def test_reset_refused_for_other_roles() -> None:
    latch = armed("serial")
    latch.trip("motion_node", "violation")
    for role in ("operator", "viewer", None):
        result = latch.reset("bob", role)
        assert not result.ok and "may not reset" in result.reason
    assert latch.latched


def test_fleet_stop_latches_and_blocks_reset_while_active() -> None:
    latch = armed()
    latch.fleet_stop(True)
    assert latch.latched and latch.status().inputs[FLEET_INPUT]
    assert not latch.reset("ada", "safety_officer").ok
    latch.fleet_stop(False)
    assert latch.latched
    assert latch.reset("ada", "safety_officer").ok


def test_first_trip_is_kept_and_reset_only_clears_the_latch() -> None:
    latch = armed("serial")
    latch.trip("planner", "red line")
    latch.trip("console", "second")
    assert latch.status().tripped_by == "planner"
    result = latch.reset("ada", "safety_officer")
    assert result.ok and not latch.latched
    # Nothing to resume: the status says a new approved plan is needed.
    assert "new plan" in (latch.status().reason or "")
    # A startup-style auto clear never happens after a real trip.
    latch.trip("x", "y")
    latch.set_input("serial", False)
    assert latch.latched and latch.trip_count == 2
