"""Watching the kill switch's heartbeat, judged by DDS itself.

The heartbeat topic carries a deadline QoS (qos.heartbeat): DDS's own threads,
which never wait for the Python interpreter, raise "requested deadline missed"
when no beat came within the timeout. The watch holds on that event, and on
"no beat yet", so a Python process busy elsewhere cannot mistake a healthy
kill switch for a dead one, while a dead or silent kill switch is reported
as soon as the deadline passes.

Each node's watches and its e-stop subscription share a SafetyParticipant: a
DDS participant of its own whose threads run at real-time priority where
allowed (root or CAP_SYS_NICE, as on a robot), so a machine busy with
rendering or perception delays neither the beats nor the deadline bookkeeping:
a missed deadline means a silent sender, not a starved listener.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import traceback
from collections.abc import Callable

from rclpy.context import Context
from rclpy.event_handler import QoSRequestedDeadlineMissedInfo, SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Header

from embodied_stack.nodes import qos
from embodied_stack.realtime import BEACON_PRIORITY, LISTENER_PRIORITY, realtime_priority

TOPIC = "safety/heartbeat"
MOTION_HEARTBEAT = "motion/heartbeat"  # motion_node's liveliness, for the actuator side
BEACON_HZ = 50.0
_ids = itertools.count()


def _dds_threads() -> set[int]:
    """Thread ids of this process's DDS threads (Fast DDS names them dds.*)."""
    found = set()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/comm") as comm:
            if comm.read().startswith("dds."):
                found.add(int(task))
    return found


class SafetyParticipant:
    """A node's safety inputs (heartbeats, e-stop) on a DDS participant of its own.

    A private rclpy context: its receive and event threads carry nothing but these
    few topics and discovery, so they, and the one executor thread that runs the
    callbacks, can take real-time priority without starving anything. Subscribe on
    `node`; callbacks run on that thread, never behind the owner's queue.
    """

    def __init__(self, owner: Node, label: str = "safety") -> None:
        name = f"{owner.get_name()}_{label}_{next(_ids)}"
        self.context = Context()
        self.context.init(domain_id=owner.context.get_domain_id())
        before = _dds_threads()
        self.node = Node(  # the first node of a context creates its DDS participant
            name,
            namespace=owner.get_namespace(),
            context=self.context,
            start_parameter_services=False,
            enable_rosout=False,
        )
        self._dds_threads = _dds_threads() - before
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        refused = realtime_priority(LISTENER_PRIORITY, self._dds_threads | {0})
        if refused is not None:
            self.node.get_logger().info(f"safety inputs at normal priority ({refused})")
        with contextlib.suppress(ExternalShutdownException, RuntimeError):  # shutting down
            self._executor.spin()

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=1.0)  # no wait set may use the node once it is destroyed
        self.node.destroy_node()
        self.context.try_shutdown()


class HeartbeatWatch:
    """Whether a heartbeat is alive; `on_change(stale_reason)` on changes."""

    def __init__(
        self,
        safety: SafetyParticipant,
        timeout_s: float,
        *,
        on_change: Callable[[str | None], None] | None = None,
        topic: str = TOPIC,
    ) -> None:
        self.timeout_s = timeout_s
        self.last_beat: float | None = None  # monotonic time of the last beat
        self.first_beat: float | None = None
        self.missed = 0  # deadline misses reported by DDS
        self._reason: str | None = "no heartbeat received yet"
        self._on_change = on_change
        self._lock = threading.Lock()
        self._logger = safety.node.get_logger()
        events = SubscriptionEventCallbacks(deadline=self._deadline_missed)
        safety.node.create_subscription(
            Header, topic, self._beat, qos.heartbeat(timeout_s), event_callbacks=events
        )

    def _set(self, reason: str | None) -> None:
        with self._lock:
            changed, self._reason = reason != self._reason, reason
        if changed and self._on_change is not None:
            try:
                self._on_change(reason)
            except Exception:  # the watch must outlive a faulty listener, and say so
                self._logger.error(
                    f"heartbeat listener failed on {reason or 'alive'}:\n{traceback.format_exc()}"
                )

    def _beat(self, _msg: Header) -> None:
        self.last_beat = time.monotonic()
        if self.first_beat is None:
            self.first_beat = self.last_beat
        self._set(None)

    def _deadline_missed(self, info: QoSRequestedDeadlineMissedInfo) -> None:
        self.missed = int(info.total_count)
        first = self.first_beat
        if first is not None and time.monotonic() - first < self.timeout_s:
            # Within a deadline of the very first beat: the timer DDS armed at matching
            # fired just after that beat arrived (seen after discovery). Only this start-up
            # window is excused; every later miss holds.
            return
        self._set(f"heartbeat missed its {self.timeout_s:.3f} s deadline")

    def stale_reason(self) -> str | None:
        """Why the heartbeat counts as dead, or None while it is alive."""
        return self._reason

    def age(self) -> float | None:
        """Seconds since the last beat was handled (for display, not for the decision)."""
        return None if self.last_beat is None else time.monotonic() - self.last_beat


class HeartbeatBeacon:
    """Publishes a heartbeat (std_msgs/Header) from a thread of its own at `hz`."""

    def __init__(self, node: Node, topic: str, hz: float, timeout_s: float) -> None:
        self._node = node
        self._pub = node.create_publisher(Header, topic, qos.heartbeat(timeout_s))
        self._period = 1.0 / hz
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"beacon:{topic}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        refused = realtime_priority(BEACON_PRIORITY)
        if refused is not None:
            self._node.get_logger().info(f"heartbeat beacon at normal priority ({refused})")
        while not self._stop.wait(self._period):
            try:
                self._pub.publish(Header(frame_id=self._node.get_name()))
            except Exception:  # the context ended under us: the beat ends with the node
                if self._node.context.ok():
                    raise
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
