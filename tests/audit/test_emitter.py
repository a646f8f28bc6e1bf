"""Per-source numbering on the sender, drop and restart detection on the receiver."""

from __future__ import annotations

import threading

from embodied_stack.audit.emitter import AuditEmitter, SequenceTracker
from embodied_stack.audit.msgdef import field_types, full_definition
from embodied_stack.schemas import PlannerKind, Provenance


def test_emitter_numbers_events_without_gaps_across_threads() -> None:
    emitter = AuditEmitter(source="planner_node", robot_id="r")
    seqs: list[int] = []
    lock = threading.Lock()

    def burst() -> None:
        for _ in range(200):
            event = emitter.make("plan", "planner_node")
            with lock:
                seqs.append(event.source_seq)

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(800))


def test_plan_provenance_becomes_model_provenance() -> None:
    provenance = Provenance(
        planner=PlannerKind.LLM, model="qwen", endpoint="http://h/v1", prompt_sha256="ab" * 32
    )
    event = AuditEmitter(source="p", robot_id="r").make(
        "plan", "p", model=provenance, ai_generated=True
    )
    assert event.model is not None and event.model.name == "qwen"
    assert event.model.prompt_sha256 == "ab" * 32 and event.ai_generated


def test_tracker_finds_drops_restarts_and_repeats() -> None:
    tracker = SequenceTracker()
    assert tracker.observe("a", 0).ok
    assert tracker.observe("a", 1).ok
    dropped = tracker.observe("a", 4)
    assert (dropped.missing, dropped.first_missing) == (2, 2)
    assert tracker.observe("a", 4).duplicate
    assert tracker.observe("a", 0).restarted
    assert tracker.observe("a", 1).ok
    late = tracker.observe("b", 3)  # first heard at 3: 0..2 never arrived
    assert (late.missing, late.first_missing) == (3, 0)
    assert tracker.dropped == 5


def test_message_definitions_include_every_dependency_once() -> None:
    text = full_definition("sensor_msgs/msg/Image")
    assert text.count("MSG: std_msgs/Header") == 1
    assert text.count("MSG: builtin_interfaces/Time") == 1
    assert field_types("Header header\nuint8[] data\nint32 X=3\nfoo/Bar[<=4] b\n", "pkg") == [
        ("std_msgs", "Header"),
        ("foo", "Bar"),
    ]
