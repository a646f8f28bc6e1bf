"""audit_node: chains every `audit/events` message into the tamper-evident log.

Events are queued by the subscription and written by one writer thread in group
commits (one write + one fdatasync per batch), then each event is answered on
`audit/ack`: durable=True only after the sync; durable=False with the error when the
log cannot be written (nothing may act on it then). Per-source sequence numbers reveal
dropped events, which are logged and chained as `gap` records. `audit/head` (latched)
carries the chain length and head hash after every batch.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

import rclpy
from rcl_interfaces.msg import IntegerRange, ParameterDescriptor
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from std_msgs.msg import String

from embodied_stack.audit.emitter import AuditEmitter, SequenceTracker
from embodied_stack.audit.log import AuditLog, AuditLogError
from embodied_stack.audit.record import AuditRecord
from embodied_stack.audit.registry import load_registry
from embodied_stack.errors import ConfigError, SchemaError
from embodied_stack.schemas import (
    AuditAck,
    AuditEvent,
    AuditEventKind,
    AuditHead,
)

from . import qos
from .ros_conversions import json_from_ros, json_to_ros

NODE_NAME = "audit_node"
UNREGISTERED_ROBOT = "unregistered"


def _descriptor(text: str, low: int | None = None, high: int | None = None) -> ParameterDescriptor:
    ranges = [IntegerRange(from_value=low, to_value=high, step=1)] if low is not None else []
    return ParameterDescriptor(description=text, integer_range=ranges)


class AuditNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        self.log_dir = str(self._param("log_dir", "var/audit", "audit log directory"))
        self.rotate_bytes = int(
            self._param("rotate_bytes", 10_000_000, "rotate at this file size", 4096, 2**40)
        )
        self.batch_max = int(self._param("batch_max", 512, "events per group commit", 1, 100000))
        registry = str(self._param("registry", "registry.yaml", "deployment registry file"))
        self.robot_id = self._robot_id(registry)
        self.tracker = SequenceTracker()
        self._own = AuditEmitter(source=NODE_NAME, robot_id=self.robot_id)
        self._queue: queue.Queue[bytes | AuditEvent | None] = queue.Queue()
        self._log: AuditLog | None = None
        self._ack_pub = self.create_publisher(String, "audit/ack", qos.AUDIT)
        self._head_pub = self.create_publisher(String, "audit/head", qos.LATCHED)
        self.create_subscription(String, "audit/events", self._receive, qos.AUDIT, raw=True)
        self._open_log()
        self._enqueue_own(AuditEventKind.RESTART, {"pid": os.getpid(), "log_dir": self.log_dir})
        self._writer = threading.Thread(target=self._write_loop, name="audit_writer", daemon=True)
        self._writer.start()

    def _param(self, name: str, default: Any, text: str, *bounds: int) -> Any:
        return self.declare_parameter(name, default, _descriptor(text, *bounds)).value

    def _robot_id(self, registry: str) -> str:
        try:
            return load_registry(registry).robot_id
        except ConfigError as exc:
            self.get_logger().error(f"registry invalid, logging as {UNREGISTERED_ROBOT!r}: {exc}")
            return UNREGISTERED_ROBOT

    # ---- log ------------------------------------------------------------------------------

    def _open_log(self) -> bool:
        try:
            self._log = AuditLog(
                self.log_dir, robot_id=self.robot_id, rotate_bytes=self.rotate_bytes
            )
        except (AuditLogError, ValueError) as exc:  # ValueError: an event that cannot be sealed
            self.get_logger().error(f"AUDIT LOG NOT WRITABLE, no event will be acked: {exc}")
            return False
        torn = self._log.opened.torn_tail
        if torn is not None:
            self.get_logger().warning(
                f"audit log ended in a torn record ({torn.length} bytes in {torn.file} at "
                f"offset {torn.offset}); chained on after gap record {self._log.opened.gap_seq}"
            )
        self.get_logger().info(f"audit log {self._log.current_file}, next seq {self._log.next_seq}")
        return True

    def _receive(self, raw: bytes) -> None:
        # Only enqueue the CDR bytes: the DDS reader queue must be drained fast under
        # bursts; the writer thread deserialises and parses.
        self._queue.put(raw)

    def _enqueue_own(self, kind: AuditEventKind, payload: dict[str, Any]) -> None:
        self._queue.put(self._own.make(kind, NODE_NAME, payload))

    def _write_loop(self) -> None:
        while True:
            batch: list[AuditEvent] = []
            item = self._queue.get()
            while item is not None:
                self._parse_into(batch, item)
                if len(batch) >= self.batch_max:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
            if item is None:
                return

    def _parse_into(self, batch: list[AuditEvent], item: bytes | AuditEvent) -> None:
        if isinstance(item, AuditEvent):
            batch.append(item)
            return
        try:
            batch.append(json_from_ros(AuditEvent, deserialize_message(item, String)))
        except SchemaError as exc:
            self.get_logger().error(f"malformed audit event refused: {exc}")

    def _with_drop_records(self, batch: list[AuditEvent]) -> list[AuditEvent]:
        out: list[AuditEvent] = []
        for event in batch:
            if event.source != NODE_NAME:
                obs = self.tracker.observe(event.source, event.source_seq)
                if obs.missing:
                    text = (
                        f"{obs.missing} audit event(s) from {obs.source} lost before seq {obs.seq}"
                    )
                    self.get_logger().error(text)
                    payload = {"reason": text, "from_source": obs.source, "missing": obs.missing}
                    out.append(self._own.make(AuditEventKind.GAP, NODE_NAME, payload))
            out.append(event)
        return out

    def _commit(self, batch: list[AuditEvent]) -> None:
        """Append a batch with one fsync, then answer every event of it."""
        events = self._with_drop_records(batch)
        try:
            records = self._append(events)
        except (AuditLogError, ValueError) as exc:  # ValueError: an event that cannot be sealed
            self.get_logger().error(
                f"AUDIT LOG NOT WRITABLE, {len(events)} event(s) unacked: {exc}",
                throttle_duration_sec=1.0,
            )
            for event in batch:
                if event.want_ack:
                    self._answer(event, durable=False, error=str(exc))
            return
        for event, record in zip(events, records, strict=True):
            if event.want_ack:
                self._answer(event, durable=True, seq=record.seq, hash=record.hash)
        self._publish_head()

    def _append(self, events: list[AuditEvent]) -> list[AuditRecord]:
        if self._log is None and not self._open_log():
            raise AuditLogError(f"audit log {self.log_dir} cannot be opened")
        if self._log is None:  # for the type checker: _open_log set it
            raise AuditLogError(f"audit log {self.log_dir} is not open")
        return self._log.append_batch(events)

    def _answer(self, event: AuditEvent, **result: Any) -> None:
        if self.context.ok():  # the writer may drain the queue after a Ctrl-C shutdown
            ack = AuditAck(source=event.source, source_seq=event.source_seq, **result)
            self._ack_pub.publish(json_to_ros(ack))

    def _publish_head(self) -> None:
        if self._log is None or not self.context.ok():
            return
        head = AuditHead(
            length=self._log.next_seq,
            head_hash=self._log.head_hash,
            file=str(self._log.current_file),
            dropped=self.tracker.dropped,
        )
        self._head_pub.publish(json_to_ros(head))

    def destroy_node(self) -> None:
        """Write what is queued, stop the writer, close the log."""
        self._queue.put(None)
        self._writer.join(timeout=5.0)
        if self._log is not None:
            self._log.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = AuditNode()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
