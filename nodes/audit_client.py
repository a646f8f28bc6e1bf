"""Sending audit events from any node, with write-ahead support for motion.

    audit = AuditClient(node, "motion_node", robot_id, durable=True)
    audit.emit("trip", actor="killswitch_node", payload={...})
    if not audit.emit_durable("motion_start", actor=op, payload={...}, timeout_s=1.0):
        refuse(audit.last_error)           # no record on disk -> no motion

`emit` publishes on `audit/events` (qos.AUDIT). Events published before audit_node
is matched are kept (bounded) and flushed once it is, so start-up events are not lost.

`emit_durable` waits for audit_node's `audit/ack` saying the record is fsync'd. The
acks are received by a private listener node spun by its own executor thread, so
waiting never needs the caller's executor: it is safe to call from a callback of a
single- or multi-threaded executor. The caller must only make sure audit_node itself
is spun by some executor thread that this wait does not block (in one-process mode:
not a single-threaded executor shared with the waiting node). Call `close()` before
destroying the node.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import threading
import time
from typing import Any

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String

from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.errors import SchemaError
from embodied_stack.schemas import (
    AuditAck,
    AuditEvent,
    AuditEventKind,
    ModelProvenance,
    Provenance,
)

from . import qos
from .ros_conversions import json_from_ros, json_to_ros

EVENTS_TOPIC = "audit/events"
ACK_TOPIC = "audit/ack"
BACKLOG_MAX = 10000
_FLUSH_PERIOD_S = 0.05
_listener_ids = itertools.count()


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.ack: AuditAck | None = None


class _AckListener:
    """A private node on its own thread that resolves pending durable events."""

    def __init__(self, node: Node, source: str, on_ack: Any) -> None:
        name = f"{node.get_name()}_audit_ack_{next(_listener_ids)}"
        self.node = Node(
            name,
            namespace=node.get_namespace(),
            context=node.context,
            start_parameter_services=False,
            enable_rosout=False,
        )
        self._source = source
        self._on_ack = on_ack
        self.sub = self.node.create_subscription(String, ACK_TOPIC, self._receive, qos.AUDIT)
        self._executor = SingleThreadedExecutor(context=node.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        with contextlib.suppress(ExternalShutdownException):
            self._executor.spin()

    def _receive(self, msg: String) -> None:
        try:
            ack = json_from_ros(AuditAck, msg)
        except SchemaError as exc:
            self.node.get_logger().error(f"malformed audit ack ignored: {exc}")
            return
        if ack.source == self._source:
            self._on_ack(ack)

    def matched(self) -> bool:
        return self.sub.get_publisher_count() > 0

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()


class AuditClient:
    """Publishes one source's audit events; optionally waits for them to be durable."""

    def __init__(self, node: Node, source: str, robot_id: str, *, durable: bool = False) -> None:
        self._node = node
        self._emitter = AuditEmitter(source=source, robot_id=robot_id)
        self._pub = node.create_publisher(String, EVENTS_TOPIC, qos.AUDIT)
        self._lock = threading.Lock()
        self._backlog: collections.deque[AuditEvent] = collections.deque(maxlen=BACKLOG_MAX)
        self._pending: dict[int, _Pending] = {}
        self._listener: _AckListener | None = None
        self._flush_timer = node.create_timer(_FLUSH_PERIOD_S, self._flush)
        self.last_error: str | None = None
        if durable:
            self._ensure_listener()

    @property
    def source(self) -> str:
        return self._emitter.source

    def emit(
        self,
        kind: AuditEventKind | str,
        actor: str,
        payload: dict[str, Any] | None = None,
        *,
        model: ModelProvenance | Provenance | None = None,
        ai_generated: bool = False,
    ) -> AuditEvent:
        """Publish one event (fire and forget; drops are detected by audit_node)."""
        with self._lock:
            event = self._emitter.make(kind, actor, payload, model=model, ai_generated=ai_generated)
            self._send_locked(event)
        return event

    def emit_durable(
        self,
        kind: AuditEventKind | str,
        actor: str,
        payload: dict[str, Any] | None = None,
        *,
        model: ModelProvenance | Provenance | None = None,
        ai_generated: bool = False,
        timeout_s: float = 1.0,
    ) -> bool:
        """Publish one event and wait until audit_node says it is fsync'd.

        False (with `last_error` set) when audit_node is absent, the log is not
        writable, or no answer came within timeout_s: the caller must not act.
        """
        deadline = time.monotonic() + timeout_s
        listener = self._ensure_listener()
        if not _wait_until(lambda: listener.matched() and self._matched(), deadline):
            self.last_error = f"audit_node not reachable on {ACK_TOPIC} within {timeout_s:.2f} s"
            return False
        pending = _Pending()
        with self._lock:
            event = self._emitter.make(kind, actor, payload, model=model, ai_generated=ai_generated)
            event.want_ack = True
            self._pending[event.source_seq] = pending
            self._send_locked(event)
        answered = pending.done.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._pending.pop(event.source_seq, None)
        return self._judge(event, pending.ack if answered else None, timeout_s)

    def _judge(self, event: AuditEvent, ack: AuditAck | None, timeout_s: float) -> bool:
        if ack is None:
            self.last_error = (
                f"audit event {event.kind.value} #{event.source_seq} not acknowledged "
                f"as durable within {timeout_s:.2f} s"
            )
            return False
        if not ack.durable:
            self.last_error = f"audit log not writable: {ack.error or 'no reason given'}"
            return False
        self.last_error = None
        return True

    def _on_ack(self, ack: AuditAck) -> None:
        with self._lock:
            pending = self._pending.get(ack.source_seq)
        if pending is not None:
            pending.ack = ack
            pending.done.set()

    def _matched(self) -> bool:
        return self._pub.get_subscription_count() > 0

    def _send_locked(self, event: AuditEvent) -> None:
        # Called with self._lock held, so events leave in source_seq order.
        self._backlog.append(event)
        if self._matched():
            self._publish_backlog_locked()
        elif self._flush_timer.is_canceled():
            self._flush_timer.reset()

    def _publish_backlog_locked(self) -> None:
        while self._backlog:
            self._pub.publish(json_to_ros(self._backlog.popleft()))

    def _flush(self) -> None:
        """Timer: publish what waited for audit_node to be matched, then sleep."""
        with self._lock:
            if self._matched():
                self._publish_backlog_locked()
            if not self._backlog:
                self._flush_timer.cancel()

    def _ensure_listener(self) -> _AckListener:
        with self._lock:
            if self._listener is None:
                self._listener = _AckListener(self._node, self.source, self._on_ack)
            return self._listener

    def close(self) -> None:
        """Stop the ack listener and the flush timer (call before destroying the node)."""
        self._node.destroy_timer(self._flush_timer)
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()


def _wait_until(condition: Any, deadline: float) -> bool:
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True
