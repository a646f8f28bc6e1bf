"""The black-box recorder: every topic of the stack to MCAP (ROS 2 encoding), plus a ring
buffer of the last seconds for incident bundles.

`embodied-stack run --record FILE.mcap` does:

    recording = start_recording(stack, "FILE.mcap")   # spun with the stack's nodes
    ...
    recording.close()                     # finishes the MCAP file (its summary, index)

(or, by hand: `node = start_recorder(path, context=..., namespace=...)`, add it to an
executor, and `node.destroy_node()` at the end.)

Topics are discovered every `discover_period_s` and subscribed raw (CDR bytes, no
deserialisation), with the publishers' reliability and durability, as rosbag2 does.
An incident bundle takes `recorder.snapshot(path, seconds=10)`.
"""

from __future__ import annotations

import functools
import importlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription

from embodied_stack.audit.blackbox import McapSink, RingBuffer, Sample, write_mcap
from embodied_stack.audit.msgdef import MsgDefError, full_definition, split_type

RING_SECONDS = 10.0
RING_MAX_BYTES = 256 * 1024 * 1024
RECORD_DEPTH = 100


def message_class(type_name: str) -> Any:
    """The Python class of a ROS type name ("sensor_msgs/msg/Image")."""
    package, name = split_type(type_name)
    return getattr(importlib.import_module(f"{package}.msg"), name)


def recording_qos(node: Node, topic: str) -> QoSProfile:
    """Reliable / transient-local only when every publisher offers it (always compatible)."""
    offered = [info.qos_profile for info in node.get_publishers_info_by_topic(topic)]
    reliable = bool(offered) and all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
    latched = bool(offered) and all(
        q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered
    )
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=RECORD_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class Recorder:
    """Records topics of `node`'s graph to `path` (None: ring buffer only)."""

    def __init__(
        self,
        node: Node,
        path: str | Path | None,
        topics: Iterable[str] | None = None,
        *,
        ring_s: float = RING_SECONDS,
        ring_max_bytes: int = RING_MAX_BYTES,
        discover_period_s: float = 0.5,
        compression: str = "lz4",
    ) -> None:
        self._node = node
        self._sink = McapSink(path, compression=compression) if path is not None else None
        self.ring = RingBuffer(seconds=ring_s, max_bytes=ring_max_bytes)
        self._wanted = None if topics is None else {node.resolve_topic_name(t) for t in topics}
        self._subs: dict[str, Subscription[Any]] = {}
        self._skipped: set[str] = set()
        self._group = MutuallyExclusiveCallbackGroup()
        self._timer = node.create_timer(discover_period_s, self.discover, self._group)
        self.discover()

    @property
    def topics(self) -> list[str]:
        return sorted(self._subs)

    @property
    def messages(self) -> int:
        return self._sink.messages if self._sink is not None else 0

    def discover(self) -> None:
        """Subscribe to topics that appeared since the last look."""
        for topic, types in self._node.get_topic_names_and_types():
            if topic in self._subs or topic in self._skipped:
                continue
            if self._wanted is not None and topic not in self._wanted:
                continue
            # Wait for a publisher: the QoS to record with is read from it (a
            # topic may appear first through a subscriber, e.g. our own).
            if self._node.count_publishers(topic) == 0:
                continue
            self._subscribe(topic, types)

    def _subscribe(self, topic: str, types: list[str]) -> None:
        try:
            if len(types) != 1:
                raise MsgDefError(f"{len(types)} types on one topic: {types}")
            full_definition(types[0])  # fail now, not on the first message
            msg_type = message_class(types[0])
        except (MsgDefError, ImportError, AttributeError) as exc:
            self._node.get_logger().warning(f"not recording {topic}: {exc}")
            self._skipped.add(topic)
            return
        self._subs[topic] = self._node.create_subscription(
            msg_type,
            topic,
            functools.partial(self._on_message, topic, types[0]),
            recording_qos(self._node, topic),
            callback_group=self._group,
            raw=True,
        )

    def _on_message(self, topic: str, type_name: str, data: bytes) -> None:
        sample = Sample(time.time_ns(), topic, type_name, bytes(data))
        self.ring.add(sample)
        if self._sink is not None:
            self._sink.write(sample)

    def snapshot(self, path: str | Path, *, seconds: float | None = None) -> int:
        """Write the ring buffer's last `seconds` (all of it by default) to an MCAP file."""
        since = 0 if seconds is None else time.time_ns() - int(seconds * 1e9)
        return write_mcap(path, self.ring.samples(since_ns=since))

    def close(self) -> None:
        """Stop recording and finish the file."""
        self._node.destroy_timer(self._timer)
        for sub in self._subs.values():
            self._node.destroy_subscription(sub)
        self._subs.clear()
        if self._sink is not None:
            self._sink.close()


class RecorderNode(Node):
    """A node that only records; `destroy_node` finishes the file."""

    def __init__(
        self, path: str | Path | None, topics: Iterable[str] | None = None, **node_kwargs: Any
    ) -> None:
        super().__init__("recorder", **node_kwargs)
        self.recorder = Recorder(self, path, topics)

    def destroy_node(self) -> None:
        self.recorder.close()
        super().destroy_node()


def start_recorder(
    path: str | Path, *, topics: Iterable[str] | None = None, **node_kwargs: Any
) -> RecorderNode:
    """The recorder for `embodied-stack run --record FILE.mcap` (add it to the executor)."""
    return RecorderNode(path, topics, **node_kwargs)


class _Stack(Protocol):
    """What start_recording needs of the one-process stack (nodes.launcher.InProcessStack)."""

    context: Context
    namespace: str

    def attach(self, node: Node) -> None: ...

    def detach(self, node: Node) -> None: ...


class Recording:
    """A running recorder spun with a stack's nodes; `close()` finishes the file."""

    def __init__(self, stack: _Stack, node: RecorderNode) -> None:
        self._stack = stack
        self.node = node

    @property
    def recorder(self) -> Recorder:
        return self.node.recorder

    def close(self) -> None:
        self._stack.detach(self.node)
        self.node.destroy_node()


def start_recording(
    stack: _Stack, path: str | Path, topics: Iterable[str] | None = None
) -> Recording:
    """`embodied-stack run --record FILE.mcap`: record every topic of a running stack."""
    node = start_recorder(
        path, topics=topics, context=stack.context, namespace=stack.namespace or None
    )
    stack.attach(node)
    return Recording(stack, node)
