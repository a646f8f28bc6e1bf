"""The latch on disk: what a restarted kill switch may assume, and what it must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_stack.safety.estop import STARTUP, EstopLatch
from embodied_stack.safety.estop_state import (
    LatchRecord,
    LatchStore,
    OnDisk,
    boot_cause,
    read_latch,
    state_path,
    write_latch,
)

NODE = "/robot1/killswitch_node"


def store(tmp_path: Path) -> LatchStore:
    return LatchStore(path=tmp_path / "safety" / "estop_latch.json", node=NODE)


def cause_after(stored_store: LatchStore, **flags: bool) -> tuple[str, str] | None:
    options = {"require_reset_at_start": False, "release_at_first_start": False} | flags
    return boot_cause(stored_store.load(), **options)


def test_a_latched_record_keeps_the_latch_and_who_tripped_it(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.save(latched=True, tripped_by="serial", reason="input serial pressed") is None
    cause = cause_after(s, release_at_first_start=True)
    assert cause is not None and cause[0] == "serial" and "input serial pressed" in cause[1]
    latch = EstopLatch(inputs=["serial"], boot_cause=cause)
    latch.set_input("serial", False)  # released is not reset
    assert latch.latched and latch.needs_reset and latch.status().reset_allowed
    assert latch.reset("ada", "safety_officer").ok and not latch.latched


def test_a_released_record_lets_the_boot_latch_clear_on_released_inputs(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.save(latched=False, tripped_by=None, reason="reset by ada") is None
    assert cause_after(s) is None
    latch = EstopLatch(inputs=["serial"], boot_cause=None)
    assert latch.latched and not latch.needs_reset  # waiting for the chain, not for a reset
    latch.set_input("serial", False)
    assert not latch.latched


def test_an_unclean_exit_latches_until_a_reset_and_a_clean_one_does_not(
    tmp_path: Path,
) -> None:
    """The death of the kill switch is a stop: a record still marked running (the
    writer was killed, or crashed, maybe between announcing a stop and writing it)."""
    s = store(tmp_path)
    latch = EstopLatch(inputs=["serial"], boot_cause=None)
    latch.set_input("serial", False)
    assert s.sync(latch, "killswitch_node") is None  # released, and running
    record = s.load().record
    assert record is not None and record.running and not record.latched
    cause = cause_after(s)
    assert cause is not None and cause[0] == STARTUP and "without shutting down" in cause[1]
    assert s.close(latch) is None  # a clean exit
    assert cause_after(s) is None


def test_require_reset_at_start_wins_over_a_released_record(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.save(latched=False, tripped_by=None, reason=None)
    cause = cause_after(s, require_reset_at_start=True)
    assert cause is not None and cause[0] == STARTUP and "require_reset_at_start" in cause[1]


def test_a_missing_record_is_latched_unless_the_session_is_fresh(tmp_path: Path) -> None:
    s = store(tmp_path)
    cause = cause_after(s)
    assert cause is not None and "first start" in cause[1]
    assert cause_after(s, release_at_first_start=True) is None
    assert cause_after(s, release_at_first_start=True, require_reset_at_start=True) is not None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"version": 1, "node": "/robot1/killswitch_node", "latched": fals',
        b'{"version": 2, "node": "/robot1/killswitch_node", "latched": false, "stamp": 1}',
        b'{"version": 1, "node": "/robot1/killswitch_node", "stamp": 1}',
        b"\xff\xfe not text",
    ],
)
def test_a_corrupt_record_is_latched_even_in_a_fresh_session(
    tmp_path: Path, content: bytes
) -> None:
    s = store(tmp_path)
    s.path.parent.mkdir(parents=True)
    s.path.write_bytes(content)
    assert s.load().state is OnDisk.UNREADABLE
    cause = cause_after(s, release_at_first_start=True)
    assert cause is not None and cause[0] == STARTUP and str(s.path) in cause[1]


def test_a_record_of_another_kill_switch_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "latch.json"
    write_latch(path, LatchRecord(node="/robot2/killswitch_node", latched=False, stamp=1.0))
    stored = read_latch(path, NODE)
    assert stored.state is OnDisk.UNREADABLE and "/robot2/killswitch_node" in stored.detail


def test_write_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    s = store(tmp_path)
    for latched in (True, False, True):
        assert s.save(latched=latched, tripped_by="x", reason="y") is None
    assert s.load().state is OnDisk.LATCHED
    assert [p.name for p in s.path.parent.iterdir()] == [s.path.name]


def test_a_failed_write_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    s = LatchStore(path=blocker / "estop_latch.json", node=NODE)
    error = s.save(latched=False, tripped_by=None, reason=None)
    assert error is not None and "not written" in error


def test_each_namespace_has_its_own_file() -> None:
    assert state_path("var/safety/estop_latch.json", "/") == Path("var/safety/estop_latch.json")
    assert state_path("var/safety/l.json", "/fleet/robot1") == Path(
        "var/safety/fleet/robot1/l.json"
    )


def test_sync_writes_each_change_once_and_a_lost_release_latches_again(tmp_path: Path) -> None:
    s = store(tmp_path)
    latch = EstopLatch(inputs=["serial"], boot_cause=None)
    assert s.sync(latch, "killswitch_node") is None and s.load().state is OnDisk.RELEASED
    latch.set_input("serial", True)
    assert s.sync(latch, "killswitch_node") is None
    assert s.load().state is OnDisk.LATCHED
    s.path.unlink()
    assert s.sync(latch, "killswitch_node") is None  # unchanged: not written again
    assert not s.path.exists()
    latch.set_input("serial", False)
    assert latch.reset("ada", "safety_officer").ok
    s.path.parent.rmdir()
    s.path.parent.write_text("")  # nowhere to write the release
    error = s.sync(latch, "killswitch_node")
    assert error is not None and "not written" in error
    status = latch.status()
    assert (
        status.latched
        and status.tripped_by == "killswitch_node"
        and "not written" in (status.reason or "")
    )


def test_a_release_after_a_stop_that_was_not_written_is_written_or_refused(
    tmp_path: Path,
) -> None:
    """A stop announced, its write failed: the file still says released. The release
    that follows must not be skipped as "unchanged": it is written, or refused."""
    s = store(tmp_path)
    latch = EstopLatch(inputs=["serial"], boot_cause=None)
    latch.set_input("serial", False)
    assert s.sync(latch, "killswitch_node") is None  # released, on disk
    s.path.parent.rename(tmp_path / "moved")
    s.path.parent.write_text("")  # nowhere to write from now on
    latch.set_input("serial", True)
    assert s.sync(latch, "killswitch_node") is not None  # the stop: not written
    latch.set_input("serial", False)
    assert latch.reset("ada", "safety_officer").ok
    error = s.sync(latch, "killswitch_node")
    assert error is not None and "not written" in error
    assert latch.latched and latch.status().tripped_by == "killswitch_node"
