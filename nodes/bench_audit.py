"""The end-to-end half of `embodied-stack bench audit` (the writer-only half, and the
command itself, are `embodied_stack.audit.bench`): events sent by an AuditClient,
through DDS, into a real audit_node, chained and fdatasync'd on disk.

ack_p50_ms / ack_p99_ms: one `emit_durable` round trip at a time, event out to durable
ack back (what motion_node waits for before a plan moves).
events_per_s_end_to_end: `events` events sent with `emit`, never more than `window`
ahead of `audit/head` (the QoS keeps 10000: a sender further ahead loses events), the
last one with `emit_durable`; the clock stops at its ack, when all of them are on disk.

Both nodes run in this process, each on its executor thread, as in the one-process
stack (`embodied-stack run`); they share the interpreter lock.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import String

from embodied_stack.audit.verify import verify
from embodied_stack.schemas import AuditHead

from . import qos
from .audit_client import AuditClient
from .audit_node import AuditNode
from .ros_conversions import json_from_ros
from .spin import executor_for

SOURCE = "bench_audit"
STALL_S = 30.0  # no progress of audit/head for this long: the run failed
Payload = Callable[[int], dict[str, Any]]


class _Sender:
    """The sending node's view: its AuditClient and the latest audit/head."""

    def __init__(self, node: Node, robot_id: str) -> None:
        self.client = AuditClient(node, SOURCE, robot_id, durable=True)
        self.head: AuditHead | None = None
        self._changed = threading.Condition()
        node.create_subscription(String, "audit/head", self._on_head, qos.LATCHED)

    def _on_head(self, msg: String) -> None:
        with self._changed:
            self.head = json_from_ros(AuditHead, msg)
            self._changed.notify_all()

    def length(self) -> int:
        return self.head.length if self.head is not None else 0

    def wait_for_length(self, length: int) -> None:
        """Until audit/head says the log holds `length` records; RuntimeError if stalled."""
        with self._changed:
            seen, since = self.length(), time.monotonic()
            while self.length() < length:
                self._changed.wait(timeout=1.0)
                if self.length() > seen:
                    seen, since = self.length(), time.monotonic()
                elif time.monotonic() - since > STALL_S:
                    raise RuntimeError(f"audit/head stuck at {seen} records (want {length})")

    def durable(self, payload: dict[str, Any]) -> None:
        if not self.client.emit_durable("motion_start", "bench", payload, timeout_s=STALL_S):
            raise RuntimeError(f"no durable ack: {self.client.last_error}")


def _spin(executor: Executor) -> None:
    with contextlib.suppress(ExternalShutdownException):
        executor.spin()


@contextlib.contextmanager
def _running(log_dir: Path) -> Iterator[_Sender]:
    """audit_node writing to log_dir/audit and a sender, spun until the block ends."""
    context = Context()
    rclpy.init(context=context)
    nodes: list[Node] = []
    executors: list[Executor] = []
    sender: _Sender | None = None
    try:
        params = [
            Parameter("log_dir", value=str(log_dir / "audit")),
            Parameter("incident_dir", value=str(log_dir / "incidents")),
        ]
        audit = AuditNode(context=context, parameter_overrides=params)
        nodes.append(audit)
        nodes.append(Node("bench_audit_sender", context=context))
        sender = _Sender(nodes[-1], audit.robot_id)
        executors = [executor_for(node) for node in nodes]
        for executor in executors:
            threading.Thread(target=_spin, args=(executor,), daemon=True).start()
        yield sender
    finally:
        if sender is not None:
            sender.client.close()
        for executor in executors:
            executor.shutdown(timeout_sec=5.0)
        for node in nodes:
            node.destroy_node()  # audit_node: writes what is queued, closes the log
        rclpy.try_shutdown(context=context)


def measure_end_to_end(
    log_dir: Path, *, events: int, acks: int, payload: Payload, window: int = 2000
) -> dict[str, Any]:
    """Figures of audit events through DDS into audit_node and onto disk (events >= 1,
    acks >= 2)."""
    with _running(log_dir) as sender:
        sender.wait_for_length(1)  # the restart record: audit_node is up
        latencies = []
        for i in range(acks):
            start = time.perf_counter()
            sender.durable(payload(i))
            latencies.append((time.perf_counter() - start) * 1000.0)
        sender.wait_for_length(1 + acks)
        base = sender.length()
        start = time.perf_counter()
        for i in range(events - 1):
            if i % 100 == 0:
                sender.wait_for_length(base + i - window)
            sender.client.emit("plan", "bench", payload(i))
        sender.durable(payload(events - 1))
        elapsed = time.perf_counter() - start
        dropped = sender.head.dropped if sender.head is not None else 0
    report = verify(log_dir / "audit")
    if not report.ok:
        raise RuntimeError(f"end-to-end log does not verify: {report.summary()}")
    return {
        "ack_p50_ms": round(statistics.median(latencies), 4),
        "ack_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 4),
        "events_per_s_end_to_end": round(events / elapsed, 1),
        "end_to_end_events": events,
        "end_to_end_acks": acks,
        "end_to_end_dropped": dropped,
        "end_to_end_records": report.records,
    }
