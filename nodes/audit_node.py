"""audit_node: chains every `audit/events` message into the tamper-evident log.

Events are queued by the subscription and written by one writer thread in group
commits (one write + one fdatasync per batch), then each event is answered on
`audit/ack`: durable=True only after the sync; durable=False with the error when the
log cannot be written (nothing may act on it then). Per-source sequence numbers reveal
dropped events, which are logged and chained as `gap` records. `audit/head` (latched)
carries the chain length and head hash after every batch.

Incidents: once a trip, rejection, refusal or violation is durable, a bundle (audit
slice, plan, red-line policy version, violations, the last seconds of state as JSON and
as MCAP) is written under `incident_dir` by a worker thread (a slow disk never delays
the log), and an `incident` event names it. Identical incidents within
`incident_min_interval_s` make one bundle.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String

from embodied_stack.audit.emitter import AuditEmitter, SequenceTracker
from embodied_stack.audit.log import AuditLog, AuditLogError
from embodied_stack.audit.record import AuditRecord, audit_slice
from embodied_stack.audit.registry import load_registry
from embodied_stack.errors import ConfigError, SchemaError
from embodied_stack.safety.incidents import (
    INCIDENT_KINDS,
    IncidentWorker,
    PlanBook,
    StateHistory,
    incident_reason,
    payload_violations,
    plan_violations,
    write_incident,
)
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.schemas import (
    AuditAck,
    AuditEvent,
    AuditEventKind,
    AuditHead,
    Plan,
)

from . import qos
from .recorder import Recorder
from .ros_conversions import joint_state_from_ros, json_from_ros, json_to_ros

NODE_NAME = "audit_node"
UNREGISTERED_ROBOT = "unregistered"
UNKNOWN_POLICY = "unknown"
# State kept as JSON for bundles; the MCAP ring also has the raw messages of these.
STATE_JSON_TOPICS = ("motion/status", "safety/status", "perception/objects")
# Cameras are left out: ~60 MB/s of images would make the ring the heaviest part of
# the audit node. Add camera topics here to record them anyway.
MCAP_TOPICS = [
    "joint_states",
    *STATE_JSON_TOPICS,
    "safety/estop",
    "safety/trip",
    "safety/heartbeat",
    "planner/plan",
    "planner/approval",
    "joint_trajectory_controller/joint_trajectory",
    "gripper/command",
    "teleop/jog",
    "sim/ground_truth",
]
PLAN_WAIT_S = 1.0  # a plan named by an event may arrive on planner/plan just after it
RING_SLACK_S = 5.0  # the ring keeps this much more than the window: the worker may lag


def _descriptor(
    text: str, low: float | None = None, high: float | None = None
) -> ParameterDescriptor:
    if isinstance(low, float) or isinstance(high, float):
        span = FloatingPointRange(from_value=float(low or 0.0), to_value=float(high or 0.0))
        return ParameterDescriptor(description=text, floating_point_range=[span])
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
        self._init_incidents()
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

    def _param(self, name: str, default: Any, text: str, *bounds: float) -> Any:
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
        for event, record in zip(events, records, strict=True):
            self.incidents.submit(event, record.seq)  # durable now; never blocks

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
        """Write what is queued, then the bundles it caused and their events; close."""
        self._queue.put(None)
        self._writer.join(timeout=5.0)
        self.incidents.close()
        if not self._writer.is_alive():  # else it is stuck in a sync: leave it the queue
            self._queue.put(None)
            self._write_loop()  # the incident events queued by the last bundles
        if self.recorder is not None:
            self.recorder.close()
        if self._log is not None:
            self._log.close()
        super().destroy_node()

    # ---- incident bundles -----------------------------------------------------------------

    def _init_incidents(self) -> None:
        self.incident_dir = Path(
            str(self._param("incident_dir", "var/incidents", "incident bundles directory"))
        ).resolve()
        self.incident_window_s = float(
            self._param("incident_window_s", 10.0, "seconds of log and state", 0.5, 600.0)
        )
        repeat_s = float(
            self._param("incident_min_interval_s", 1.0, "one bundle per repeat", 0.0, 3600.0)
        )
        mcap = bool(self._param("incident_mcap", True, "add an MCAP of the last seconds"))
        mcap_topics = list(self._param("incident_mcap_topics", MCAP_TOPICS, "topics in it"))
        redlines = str(self._param("redlines", "redlines.yaml", "red-line policy file"))
        self.policy_version = self._policy_version(redlines)
        self.state_history = StateHistory(self.incident_window_s + RING_SLACK_S)
        self.plans = PlanBook()
        self.incidents = IncidentWorker(
            self._write_bundle, self._incident_error, min_interval_s=repeat_s
        )
        self.recorder: Recorder | None = None
        if mcap:
            ring_s = self.incident_window_s + RING_SLACK_S
            self.recorder = Recorder(self, None, mcap_topics, ring_s=ring_s)
        self._subscribe_state()

    def _policy_version(self, redlines: str) -> str:
        try:
            return load_redlines(redlines).policy_version
        except ConfigError as exc:
            self.get_logger().error(f"red lines unreadable, bundles say {UNKNOWN_POLICY!r}: {exc}")
            return UNKNOWN_POLICY

    def _subscribe_state(self) -> None:
        # Own group: state traffic never delays the audit/events subscription.
        group = MutuallyExclusiveCallbackGroup()
        history = self.state_history
        self.create_subscription(
            JointState,
            "joint_states",
            lambda m: history.add("joint_states", time.time(), joint_state_from_ros(m)),
            qos.STATE,
            callback_group=group,
        )
        self.create_subscription(
            Bool,
            "safety/estop",
            lambda m: history.add("safety/estop", time.time(), {"data": m.data}),
            qos.LATCHED,
            callback_group=group,
        )
        for topic in STATE_JSON_TOPICS:
            profile = qos.STATE if topic == "perception/objects" else qos.LATCHED
            self.create_subscription(
                String, topic, lambda m, t=topic: self._on_json(t, m), profile, callback_group=group
            )
        self.create_subscription(
            String, "planner/plan", self._on_plan, qos.LATCHED, callback_group=group
        )

    def _on_json(self, topic: str, msg: String) -> None:
        try:
            data = json.loads(msg.data)
        except json.JSONDecodeError:
            return  # the publisher's subscribers complain; a bundle just lacks it
        self.state_history.add(topic, time.time(), data)

    def _on_plan(self, msg: String) -> None:
        try:
            self.plans.remember(json_from_ros(Plan, msg))
        except SchemaError as exc:
            self.get_logger().warning(f"plan not kept for incidents: {exc}")

    def _write_bundle(self, event: AuditEvent, seq: int) -> None:
        """On the incident worker thread: write the bundle, then audit it."""
        now = time.time()
        since = min(event.stamp, now) - self.incident_window_s
        plan = self.plans.plan_for(event.payload, wait_s=PLAN_WAIT_S)
        violations = payload_violations(event.payload)
        if not violations and INCIDENT_KINDS[event.kind] == "denial":
            violations = plan_violations(plan)
        attachments = {"state.mcap": self._snapshot(now - since)} if self.recorder else None
        path = write_incident(
            self.incident_dir,
            kind=INCIDENT_KINDS[event.kind],
            reason=incident_reason(event),
            robot_id=event.robot_id or self.robot_id,
            policy_version=str(event.payload.get("policy_version") or self.policy_version),
            plan=plan,
            plan_id=_plan_id(event.payload),
            violations=violations,
            state=self.state_history.records(since=since),
            audit=audit_slice(Path(self.log_dir), since=since),
            event_kind=event.kind.value,
            audit_seq=seq,
            attachments=attachments,
        )
        self.get_logger().info(f"incident bundle {path} for {event.kind.value} (seq {seq})")
        payload = {
            "path": str(path),
            "for_seq": seq,
            "for_kind": event.kind.value,
            "plan_id": plan.plan_id if plan else _plan_id(event.payload),
        }
        self._enqueue_own(AuditEventKind.INCIDENT, payload)

    def _snapshot(self, seconds: float) -> Callable[[Path], None]:
        def write(path: Path) -> None:
            assert self.recorder is not None
            try:
                self.recorder.snapshot(path, seconds=seconds)
            except Exception as exc:  # whatever breaks the MCAP, the bundle goes out without it
                self.get_logger().error(f"incident MCAP {path} not written: {exc!r}")
                path.unlink(missing_ok=True)

        return write

    def _incident_error(self, text: str) -> None:
        self.get_logger().error(text, throttle_duration_sec=1.0)


def _plan_id(payload: dict[str, Any]) -> str | None:
    return str(payload["plan_id"]) if payload.get("plan_id") else None


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
