"""audit_node: chains every `audit/events` message into the tamper-evident log.

The subscription only queues CDR bytes; the writer (`embodied_stack.audit.writer`)
commits them in groups (one write + one fdatasync per batch) and answers each event
that waits on `audit/ack`: durable=True only after the sync; durable=False with the
error when the log cannot be written (nothing may act on it then). Per-source sequence
numbers reveal dropped events, chained as `gap` records; a restarted node carries on
from what the log holds. `audit/head` (latched) carries the chain length and head hash
after every batch.

Incidents: once a trip, rejection, refusal or violation is durable, a bundle
(`embodied_stack.audit.bundler`) is written under `incident_dir` by a worker thread (a
slow disk never delays the log), and an `incident` event names it. Identical incidents
within `incident_min_interval_s` make one bundle.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.exceptions import InvalidHandle
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String

from embodied_stack.audit.bundler import BundleConfig, IncidentBundler
from embodied_stack.audit.record import AuditRecord
from embodied_stack.audit.registry import UNREGISTERED_ROBOT_ID, load_registry
from embodied_stack.audit.writer import AuditWriter, WriterConfig
from embodied_stack.errors import ConfigError, SchemaError
from embodied_stack.safety.incidents import IncidentWorker, PlanBook, StateHistory
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.schemas import AuditAck, AuditEvent, AuditHead, Plan

from . import qos
from .recorder import Recorder
from .ros_conversions import joint_state_from_ros, json_from_ros, json_to_ros
from .spin import spin_node

NODE_NAME = "audit_node"
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
RING_SLACK_S = 5.0  # the ring keeps this much more than the window: the worker may lag
# Events taken per executor callback. One executor round per message (~1 ms of Python
# on a loaded 2-core machine, more with the state subscriptions in the wait set) is
# slower than a burst arrives: the writer then got a few events per fsync and a
# motion_start behind a 3000-event burst waited more than 10 s for its ack.
TAKE_MAX = 10000


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
        config = WriterConfig(
            log_dir=Path(self.log_dir),
            robot_id=self._robot_id(),
            source=NODE_NAME,
            rotate_bytes=self._param(
                "rotate_bytes", 10_000_000, "rotate at this file size", 4096, 2**40
            ),
            batch_max=self._param("batch_max", 512, "events per group commit", 1, 100000),
        )
        self.robot_id = config.robot_id
        self._init_incidents()
        self._ack_pub = self.create_publisher(String, "audit/ack", qos.AUDIT)
        self._head_pub = self.create_publisher(String, "audit/head", qos.LATCHED)
        self.writer = AuditWriter(config, self)  # its thread answers through the above
        self._events = self.create_subscription(
            String, "audit/events", self._receive, qos.AUDIT, raw=True
        )

    def _param(self, name: str, default: Any, text: str, *bounds: float) -> Any:
        return self.declare_parameter(name, default, _descriptor(text, *bounds)).value

    def _robot_id(self) -> str:
        registry = str(self._param("registry", "registry.yaml", "deployment registry file"))
        try:
            return load_registry(registry).robot_id
        except ConfigError as exc:
            fallback = UNREGISTERED_ROBOT_ID
            self.get_logger().error(f"registry invalid, logging as {fallback!r}: {exc}")
            return fallback

    # ---- events in ------------------------------------------------------------------------

    def _receive(self, raw: bytes) -> None:
        # Only queue CDR bytes (the writer parses), and take what else is waiting now:
        # the DDS reader queue must be drained fast under bursts.
        self.writer.put(raw)
        for _ in range(TAKE_MAX):
            more = self._take_waiting()
            if more is None:
                return
            self.writer.put(more)

    def _take_waiting(self) -> bytes | None:
        # What rclpy's executor does per message (Executor._take_subscription).
        try:
            with self._events.handle:
                taken = self._events.handle.take_message(String, True)
        except InvalidHandle:  # destroyed while shutting down
            return None
        return None if taken is None else bytes(taken[0])  # type: ignore[arg-type]

    # ---- WriterOutput: called on the writer thread -----------------------------------------

    def parse(self, raw: bytes) -> AuditEvent:
        return json_from_ros(AuditEvent, deserialize_message(raw, String))

    def answer(self, ack: AuditAck) -> None:
        if self.context.ok():  # the writer may drain the queue after a Ctrl-C shutdown
            self._ack_pub.publish(json_to_ros(ack))

    def committed(self, head: AuditHead, appended: list[tuple[AuditEvent, AuditRecord]]) -> None:
        if self.context.ok():
            self._head_pub.publish(json_to_ros(head))
        for event, record in appended:
            self.incidents.submit(event, record.seq)  # durable now; never blocks

    def report(self, level: str, text: str, *, repeated: bool = False) -> None:
        logger = self.get_logger()
        if level == "error" and repeated:
            logger.error(text, throttle_duration_sec=1.0)
        elif level == "error":
            logger.error(text)
        elif level == "warning":
            logger.warning(text)
        else:
            logger.info(text)

    def destroy_node(self) -> None:
        """Write what is queued, then the bundles it caused and their events; close."""
        self.writer.stop(timeout_s=5.0)
        self.incidents.close()
        self.writer.finish()  # the incident events queued by the last bundles
        if self.recorder is not None:
            self.recorder.close()
        super().destroy_node()

    # ---- incident bundles -----------------------------------------------------------------

    def _init_incidents(self) -> None:
        incident_dir = str(
            self._param("incident_dir", "var/incidents", "incident bundles directory")
        )
        window_s = float(
            self._param("incident_window_s", 10.0, "seconds of log and state", 0.5, 600.0)
        )
        repeat_s = float(
            self._param("incident_min_interval_s", 1.0, "one bundle per repeat", 0.0, 3600.0)
        )
        mcap = bool(self._param("incident_mcap", True, "add an MCAP of the last seconds"))
        mcap_topics = list(self._param("incident_mcap_topics", MCAP_TOPICS, "topics in it"))
        config = BundleConfig(
            incident_dir=Path(incident_dir).resolve(),
            log_dir=Path(self.log_dir),
            window_s=window_s,
            robot_id=self.robot_id,
            policy_version=self._policy_version(),
        )
        self.state_history = StateHistory(window_s + RING_SLACK_S)
        self.plans = PlanBook()
        ring_s = window_s + RING_SLACK_S
        self.recorder = Recorder(self, None, mcap_topics, ring_s=ring_s) if mcap else None
        bundler = IncidentBundler(
            config,
            plans=self.plans,
            history=self.state_history,
            snapshot=self._snapshot if self.recorder is not None else None,
            audit=lambda kind, payload: self.writer.put_own(kind, payload),
            report=self.report,
        )
        self.incidents = IncidentWorker(
            bundler.write, self._incident_error, min_interval_s=repeat_s
        )
        self._subscribe_state()

    def _policy_version(self) -> str:
        redlines = str(self._param("redlines", "redlines.yaml", "red-line policy file"))
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

    def _snapshot(self, path: Path, seconds: float) -> None:
        if self.recorder is not None:
            self.recorder.snapshot(path, seconds=seconds)

    def _incident_error(self, text: str) -> None:
        self.get_logger().error(text, throttle_duration_sec=1.0)


def main(args: list[str] | None = None) -> None:
    spin_node(AuditNode, args)


if __name__ == "__main__":
    main()
