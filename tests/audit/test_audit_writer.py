"""The writer behind audit_node, without ROS: group commits, acks, gap records, and
carrying on across a restart from what the log holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from embodied_stack.audit.log import AuditLog, verify
from embodied_stack.audit.record import AuditRecord, log_file_name, read_records
from embodied_stack.audit.sources import chained_marks
from embodied_stack.audit.writer import AuditWriter, WriterConfig
from embodied_stack.schemas import AuditAck, AuditEvent, AuditEventKind, AuditHead

WRITER = "audit_node"


class Outputs:
    """What audit_node would publish, kept for the test (the wire form is JSON bytes)."""

    def __init__(self) -> None:
        self.acks: list[AuditAck] = []
        self.heads: list[AuditHead] = []
        self.lines: list[tuple[str, str]] = []
        self.changed = threading.Condition()

    def parse(self, raw: bytes) -> AuditEvent:
        return AuditEvent.model_validate_json(raw)

    def answer(self, ack: AuditAck) -> None:
        with self.changed:
            self.acks.append(ack)
            self.changed.notify_all()

    def committed(self, head: AuditHead, appended: list[tuple[AuditEvent, AuditRecord]]) -> None:
        with self.changed:
            self.heads.append(head)
            self.changed.notify_all()

    def report(self, level: str, text: str, *, repeated: bool = False) -> None:
        self.lines.append((level, text))

    def wait(self, condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(condition, timeout_s)


@contextmanager
def writing(log_dir: Path) -> Iterator[tuple[AuditWriter, Outputs]]:
    out = Outputs()
    writer = AuditWriter(
        WriterConfig(log_dir=log_dir, robot_id="robot-t", source=WRITER, rotate_bytes=4096), out
    )
    try:
        yield writer, out
    finally:
        assert writer.stop()
        writer.finish()


def send(writer: AuditWriter, source: str, seqs: range | list[int], **fields: object) -> None:
    """Events as they come off the network (JSON here), numbered as given."""
    for seq in seqs:
        base: dict[str, object] = {"kind": "jog", "actor": "dave", "robot_id": "robot-t"}
        event = AuditEvent.model_validate({**base, **fields, "source": source, "source_seq": seq})
        writer.put(event.model_dump_json().encode())


def gaps(log_dir: Path) -> list[AuditRecord]:
    return [r for r in read_records(log_dir) if r.kind == "gap"]


def test_events_are_chained_in_order_and_waiting_ones_acked(tmp_path: Path) -> None:
    with writing(tmp_path) as (writer, out):
        send(writer, "planner_node", range(300))
        send(writer, "motion_node", [0], want_ack=True)
        assert out.wait(lambda: bool(out.acks))
    (ack,) = out.acks  # fire-and-forget events get no ack
    assert ack.durable and ack.source == "motion_node" and ack.seq == 301  # after restart + 300
    records = list(read_records(tmp_path))
    assert records[0].kind == "restart" and records[0].payload["sources"] == {}
    assert [r.source_seq for r in records[1:301]] == list(range(300))
    assert out.heads[-1].length == 302 and out.heads[-1].dropped == 0
    assert verify(tmp_path).ok


def test_a_restarted_writer_carries_on_where_the_log_ends(tmp_path: Path) -> None:
    with writing(tmp_path) as (writer, out):
        send(writer, "planner_node", range(5))
        send(writer, "console_node", range(3))
        assert out.wait(lambda: bool(out.heads) and out.heads[-1].length == 9)
    with writing(tmp_path) as (writer, out):  # the sources counted on meanwhile
        send(writer, "planner_node", range(5, 8))
        send(writer, "console_node", [3], want_ack=True)
        assert out.wait(lambda: bool(out.acks))
        assert out.heads[-1].dropped == 0
    assert gaps(tmp_path) == []
    restart = [r for r in read_records(tmp_path) if r.kind == "restart"][-1]
    assert {k: v["seq"] for k, v in restart.payload["sources"].items()} == {
        "planner_node": 4,
        "console_node": 2,
    }
    assert verify(tmp_path).ok


def test_losses_while_the_writer_was_down_are_still_found(tmp_path: Path) -> None:
    with writing(tmp_path) as (writer, out):
        send(writer, "planner_node", range(5))
        assert out.wait(lambda: bool(out.heads) and out.heads[-1].length == 6)
    with writing(tmp_path) as (writer, out):
        send(writer, "planner_node", [8], want_ack=True)  # 5..7 went to a dead node
        assert out.wait(lambda: bool(out.acks))
        assert out.heads[-1].dropped == 3
    (gap,) = gaps(tmp_path)
    assert gap.payload["from_source"] == "planner_node" and gap.payload["missing"] == 3


def test_a_source_restarted_meanwhile_is_no_loss_from_zero_but_is_one_from_higher(
    tmp_path: Path,
) -> None:
    before = time.time()
    with writing(tmp_path) as (writer, out):
        send(writer, "planner_node", range(10), stamp=before)
        send(writer, "motion_node", range(10), stamp=before)
        assert out.wait(lambda: bool(out.heads) and out.heads[-1].length == 21)
    with writing(tmp_path) as (writer, out):
        send(writer, "planner_node", range(3), stamp=before + 1)  # restarted, all arrived
        send(writer, "motion_node", [4], stamp=before + 1, want_ack=True)  # restarted, 0..3 lost
        assert out.wait(lambda: bool(out.acks))
    (gap,) = gaps(tmp_path)
    assert gap.payload["from_source"] == "motion_node" and gap.payload["missing"] == 4


def test_checkpoints_keep_sources_not_heard_since(tmp_path: Path) -> None:
    with writing(tmp_path) as (writer, out):
        send(writer, "console_node", range(2))  # a source that is then quiet for a long time
        assert out.wait(lambda: bool(out.heads) and out.heads[-1].length == 3)
    for _ in range(2):
        with writing(tmp_path) as (writer, out):
            send(writer, "planner_node", range(40))
            assert out.wait(lambda: bool(out.heads) and out.heads[-1].length > 40)
    marks = chained_marks(tmp_path, checkpointer=WRITER)
    assert marks["console_node"].seq == 1 and marks["planner_node"].seq == 39
    with writing(tmp_path) as (writer, out):
        send(writer, "console_node", [2], want_ack=True)
        assert out.wait(lambda: bool(out.acks))
    assert gaps(tmp_path) == []  # planner_node restarted from 0; console_node counted on


def test_no_event_from_the_network_may_speak_for_the_writer(tmp_path: Path) -> None:
    with writing(tmp_path) as (writer, out):
        send(writer, WRITER, [0], kind="restart", payload={"sources": {}}, want_ack=True)
        assert out.wait(lambda: bool(out.acks))
    assert not out.acks[0].durable and "reserved" in (out.acks[0].error or "")
    assert [r.source for r in read_records(tmp_path)] == [WRITER]  # its own restart only


def test_events_that_could_not_be_written_are_reported_lost_once_the_log_takes_more(
    tmp_path: Path,
) -> None:
    first = tmp_path / log_file_name(1)
    first.symlink_to("/dev/full")
    with writing(tmp_path) as (writer, out):
        send(writer, "motion_node", range(2))
        send(writer, "motion_node", [2], want_ack=True)
        assert out.wait(lambda: bool(out.acks))
        assert not out.acks[0].durable and "No space left" in (out.acks[0].error or "")
        first.unlink()  # the disk has room again
        send(writer, "motion_node", [3], want_ack=True)
        assert out.wait(lambda: len(out.acks) == 2)
    assert out.acks[1].durable
    mine = [r.source_seq for r in read_records(tmp_path) if r.source == "motion_node"]
    assert mine == [3]
    (gap,) = gaps(tmp_path)
    assert gap.payload["missing"] == 3  # 0..2 never reached the log
    assert verify(tmp_path).ok


def test_a_log_that_cannot_be_opened_fails_every_waiting_event(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    with writing(blocker) as (writer, out):
        send(writer, "motion_node", [0], want_ack=True)
        assert out.wait(lambda: bool(out.acks))
    assert not out.acks[0].durable and writer.head() is None
    assert any(level == "error" for level, _ in out.lines)


def test_own_events_are_chained_without_being_counted(tmp_path: Path) -> None:
    with writing(tmp_path) as (writer, out):
        writer.put_own(AuditEventKind.INCIDENT, {"path": "somewhere"})
        assert out.wait(lambda: bool(out.heads) and out.heads[-1].length >= 2)
    kinds = [(r.source, r.kind) for r in read_records(tmp_path)]
    assert kinds == [(WRITER, "restart"), (WRITER, "incident")]
    AuditLog(tmp_path, robot_id="robot-t").close()  # the log opens again cleanly
