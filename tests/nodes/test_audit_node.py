"""audit_node over DDS: events in, a verifiable chain on disk, head and acks out,
drops detected, and no durable ack when the log cannot be written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import String

from embodied_stack.audit.log import verify
from embodied_stack.audit.record import log_file_name, read_records
from embodied_stack.audit.registry import UNREGISTERED_ROBOT_ID
from embodied_stack.cli import main as cli_main
from embodied_stack.nodes import qos
from embodied_stack.nodes.audit_client import AuditClient
from embodied_stack.nodes.audit_node import AuditNode
from embodied_stack.nodes.ros_conversions import json_from_ros, json_to_ros
from embodied_stack.schemas import AuditEvent, AuditHead, ModelProvenance

pytestmark = pytest.mark.ros
BURST = 3000  # events published back to back (QoS depth 10000 must hold them all)


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False


@dataclass
class Rig:
    node: Node
    client: AuditClient
    raw: object  # a bare publisher on audit/events
    heads: list[AuditHead] = field(default_factory=list)

    def last_head(self) -> AuditHead | None:
        return self.heads[-1] if self.heads else None


@contextmanager
def running(log_dir: Path | None, *params: Parameter) -> Iterator[Rig]:
    """audit_node (unless log_dir is None; `params` its own) and a probe node on a
    private context."""
    context = Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(context=context)
    nodes: list[Node] = []
    if log_dir is not None:
        own = [Parameter("log_dir", value=str(log_dir)), Parameter("rotate_bytes", value=8192)]
        nodes.append(AuditNode(context=context, parameter_overrides=[*own, *params]))
    probe = Node("motion_node", context=context)
    nodes.append(probe)
    rig = Rig(
        probe,
        AuditClient(probe, "motion_node", "sim-panda-01", durable=True),
        probe.create_publisher(String, "audit/events", qos.AUDIT),
    )
    probe.create_subscription(
        String, "audit/head", lambda m: rig.heads.append(json_from_ros(AuditHead, m)), qos.LATCHED
    )
    for node in nodes:
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield rig
    finally:
        rig.client.close()
        executor.shutdown(timeout_sec=5.0)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
        thread.join(timeout=5.0)


def test_events_are_chained_acked_and_the_head_is_published(tmp_path: Path) -> None:
    model = ModelProvenance(name="offline-grammar-1", endpoint="builtin")
    with running(tmp_path) as rig:
        for i in range(BURST):
            rig.client.emit("plan", "planner_node", {"i": i}, model=model, ai_generated=True)
        assert rig.client.emit_durable("motion_start", "alice", {"plan": "p1"}, timeout_s=10.0)
        assert rig.client.last_error is None
        # restart record + the burst + 1, all before the durable one's ack
        assert wait_until(lambda: (h := rig.last_head()) is not None and h.length >= BURST + 2)
    report = verify(tmp_path)
    assert report.ok, report.summary()
    assert len(report.files) > 1  # rotated with the chain carried over
    head = rig.last_head()
    assert head is not None and head.head_hash == report.head_hash and head.dropped == 0
    mine = [r for r in read_records(tmp_path) if r.source == "motion_node"]
    assert [r.source_seq for r in mine] == list(range(BURST + 1))  # nothing dropped
    assert mine[0].ai_generated and mine[0].model == model.model_dump()
    assert mine[-1].kind == "motion_start" and mine[-1].actor == "alice"


def test_dropped_events_are_detected_and_chained_as_a_gap(tmp_path: Path) -> None:
    with running(tmp_path) as rig:
        assert wait_until(lambda: rig.raw.get_subscription_count() > 0)  # type: ignore[attr-defined]
        for seq in (0, 1, 5):
            event = AuditEvent(
                source="planner_node",
                source_seq=seq,
                kind="instruction",
                actor="bob",
                robot_id="sim-panda-01",
            )
            rig.raw.publish(json_to_ros(event))  # type: ignore[attr-defined]
        assert wait_until(lambda: (h := rig.last_head()) is not None and h.dropped == 3)
    gaps = [r for r in read_records(tmp_path) if r.kind == "gap"]
    assert len(gaps) == 1
    assert gaps[0].payload["from_source"] == "planner_node" and gaps[0].payload["missing"] == 3
    assert verify(tmp_path).ok


def test_full_disk_means_no_durable_ack(tmp_path: Path) -> None:
    (tmp_path / log_file_name(1)).symlink_to("/dev/full")
    with running(tmp_path) as rig:
        assert not rig.client.emit_durable("motion_start", "alice", timeout_s=10.0)
        assert "No space left on device" in (rig.client.last_error or "")


def test_without_a_valid_registry_its_own_records_say_unregistered(tmp_path: Path) -> None:
    missing = Parameter("registry", value=str(tmp_path / "no-registry.yaml"))
    with running(tmp_path / "audit", missing) as rig:
        assert rig.client.emit_durable("motion_start", "alice", timeout_s=10.0)
    restart = next(r for r in read_records(tmp_path / "audit") if r.kind == "restart")
    assert restart.robot_id == UNREGISTERED_ROBOT_ID


def test_no_audit_node_means_no_durable_ack() -> None:
    with running(None) as rig:
        assert not rig.client.emit_durable("motion_start", "alice", timeout_s=0.5)
        assert "not reachable" in (rig.client.last_error or "")


def test_durable_emit_from_a_callback_on_the_shared_executor(tmp_path: Path) -> None:
    """One-process mode: the waiting callback and audit_node share one executor."""
    results: list[bool] = []
    with running(tmp_path) as rig:

        def act() -> None:
            timer.cancel()
            results.append(rig.client.emit_durable("motion_start", "alice", timeout_s=10.0))

        timer = rig.node.create_timer(0.05, act)
        assert wait_until(lambda: bool(results))
    assert results == [True]


def test_bench_measures_events_end_to_end(tmp_path: Path) -> None:
    """`bench audit`'s end-to-end figures: events through DDS into audit_node, on disk."""
    out = tmp_path / "audit.json"
    argv = ["bench", "audit", "--json", str(out), "--dir", str(tmp_path)]
    argv += ["--appends", "2", "--events", "10", "--end-to-end", "300", "--acks", "5"]
    assert cli_main(argv) == 0
    figures = json.loads(out.read_text())
    assert figures["events_per_s_end_to_end"] > 0 and figures["ack_p99_ms"] > 0
    assert figures["end_to_end_dropped"] == 0
    assert figures["end_to_end_records"] == 1 + 5 + 300  # the restart record, acks, events


# ---- audit_node killed with SIGKILL and started again (`embodied-stack run --processes`) --


def _spawn_audit_node(log_dir: Path) -> subprocess.Popen[bytes]:
    args = [f"log_dir:={log_dir}", f"incident_dir:={log_dir.parent / 'incidents'}"]
    params = [arg for a in args for arg in ("-p", a)]
    cmd = [sys.executable, "-m", "embodied_stack.nodes.audit_node", "--ros-args", *params]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _event_readers(rig: Rig) -> set[bytes]:
    infos = rig.node.get_subscriptions_info_by_topic("/audit/events")
    return {bytes(info.endpoint_gid) for info in infos}


def _raw_event(rig: Rig, source: str, seq: int) -> None:
    event = AuditEvent(source=source, source_seq=seq, kind="jog", actor="bob", robot_id="r")
    rig.raw.publish(json_to_ros(event))  # type: ignore[attr-defined]


def _head_at(rig: Rig, length: int) -> bool:
    return wait_until(lambda: (h := rig.last_head()) is not None and h.length == length, 30.0)


def test_a_restarted_audit_node_claims_only_losses_it_can_know(tmp_path: Path) -> None:
    log_dir = tmp_path / "audit"
    procs = [_spawn_audit_node(log_dir)]
    try:
        with running(None) as rig:
            assert wait_until(lambda: bool(_event_readers(rig)), 60.0)
            for i in range(5):  # motion_node 0..4
                rig.client.emit("plan", "planner_node", {"i": i})
            for seq in range(3):  # planner_node 0..2
                _raw_event(rig, "planner_node", seq)
            assert _head_at(rig, 1 + 5 + 3)  # its restart record, then the events
            before = _event_readers(rig)
            os.kill(procs[0].pid, signal.SIGKILL)
            procs[0].wait(timeout=10)
            procs.append(_spawn_audit_node(log_dir))
            assert wait_until(lambda: bool(_event_readers(rig) - before), 60.0)
            assert _head_at(rig, 10)  # the new restart record: the events reach it now
            for i in range(3):  # motion_node counts on: 5..7
                rig.client.emit("plan", "planner_node", {"i": i})
            _raw_event(rig, "planner_node", 3)  # counts on
            _raw_event(rig, "planner_node", 6)  # 4 and 5 were lost: a real drop
            assert rig.client.emit_durable("motion_start", "alice", timeout_s=20.0)  # 8
            assert _head_at(rig, 10 + 3 + 1 + 1 + 1 + 1)  # ... + the gap record
            head = rig.last_head()
            assert head is not None and head.dropped == 2
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    records = list(read_records(log_dir))
    (gap,) = [r for r in records if r.kind == "gap"]
    assert (gap.payload["from_source"], gap.payload["missing"]) == ("planner_node", 2)
    mine = [r.source_seq for r in records if r.source == "motion_node"]
    assert mine == list(range(9))
    restarts = [r for r in records if r.kind == "restart"]
    assert {k: v["seq"] for k, v in restarts[1].payload["sources"].items()} == {
        "motion_node": 4,
        "planner_node": 2,
    }
    assert verify(log_dir).ok
