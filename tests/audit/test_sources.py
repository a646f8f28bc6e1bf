"""What the log holds of each source: read back to the newest checkpoint only."""

from __future__ import annotations

from pathlib import Path

from embodied_stack.audit.emitter import AuditEmitter, SequenceTracker, SourceMark
from embodied_stack.audit.log import AuditLog
from embodied_stack.audit.record import log_files
from embodied_stack.audit.sources import chained_marks, checkpoint_payload

WRITER = "audit_node"


def _log(log_dir: Path, events: list[tuple[str, int]], checkpoint: dict[str, int] | None) -> None:
    """Append events (source, seq), after a writer restart record when `checkpoint`."""
    log = AuditLog(log_dir, robot_id="r", rotate_bytes=4096)
    if checkpoint is not None:
        marks = {name: SourceMark(seq=seq) for name, seq in checkpoint.items()}
        own = AuditEmitter(source=WRITER, robot_id="r")
        log.append(own.make("restart", WRITER, checkpoint_payload(marks)))
    for source, seq in events:
        event = AuditEmitter(source=source, robot_id="r").make("jog", "dave", {"i": seq})
        log.append(event.model_copy(update={"source_seq": seq}))
    log.close()


def _seqs(log_dir: Path) -> dict[str, int]:
    marks = chained_marks(log_dir, checkpointer=WRITER, ignored={"audit_log"})
    return {name: mark.seq for name, mark in marks.items()}


def test_no_log_knows_no_source(tmp_path: Path) -> None:
    assert _seqs(tmp_path / "nothing") == {}


def test_a_log_without_checkpoints_is_read_whole(tmp_path: Path) -> None:
    _log(tmp_path, [("a", i) for i in range(60)] + [("b", 0), ("a", 60)], None)
    assert len(log_files(tmp_path)) > 1  # the scan crosses files
    assert _seqs(tmp_path) == {"a": 60, "b": 0}


def test_the_last_event_counts_not_the_highest(tmp_path: Path) -> None:
    _log(tmp_path, [("a", 7), ("a", 0)], None)  # a restarted source
    assert _seqs(tmp_path) == {"a": 0}


def test_reading_stops_at_the_newest_checkpoint(tmp_path: Path) -> None:
    _log(tmp_path, [("old", 3)], None)
    _log(tmp_path, [("a", 5)], {"a": 4, "quiet": 9})
    _log(tmp_path, [("a", 6)], {"a": 5, "quiet": 9})
    # "old" is only before the first checkpoint, which the newest one does not name:
    # the scan never got there (the newest checkpoint is the whole truth up to it).
    assert _seqs(tmp_path) == {"a": 6, "quiet": 9}


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    _log(tmp_path, [("a", 0), ("a", 1)], None)
    with log_files(tmp_path)[-1].open("ab") as handle:
        handle.write(b'{"seq": 2, "source": "a", "source_seq": 2')  # no newline: torn
    assert _seqs(tmp_path) == {"a": 1}


def test_a_seeded_tracker_expects_the_next_number() -> None:
    tracker = SequenceTracker({"a": SourceMark(seq=4, stamp=100.0)})
    assert tracker.observe("a", 5, 101.0).ok
    late = tracker.observe("a", 9, 102.0)
    assert (late.missing, late.first_missing) == (3, 6)
    assert tracker.observe("a", 9, 102.0).duplicate  # the same event again
    restarted = tracker.observe("a", 2, 200.0)  # lower, but stamped later: restarted
    assert restarted.restarted and (restarted.missing, restarted.first_missing) == (2, 0)
    assert tracker.dropped == 5
    assert tracker.marks()["a"] == SourceMark(seq=2, stamp=200.0)


def test_a_tracker_copy_is_independent() -> None:
    tracker = SequenceTracker()
    tracker.observe("a", 0)
    twin = tracker.copy()
    tracker.observe("a", 5)
    assert twin.last_seen("a") == 0 and twin.dropped == 0 and tracker.dropped == 4
