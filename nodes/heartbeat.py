"""Watching the kill switch's heartbeat, judged by DDS itself.

The heartbeat topic carries a deadline QoS (qos.heartbeat): DDS's own threads,
which never wait for the Python interpreter, raise "requested deadline missed"
when no beat came within the timeout. The watch holds on that event, and on
"no beat yet", so a Python process busy elsewhere cannot mistake a healthy
kill switch for a dead one, while a dead or silent kill switch is reported
as soon as the deadline passes.

The watch has a DDS participant of its own (a private rclpy context) whose
receive and event threads carry nothing but heartbeats and discovery, so they
can run at real-time priority where allowed (root or CAP_SYS_NICE, as on a
robot): a machine busy with rendering or perception then delays neither the
beats nor the deadline bookkeeping, and a missed deadline means a silent kill
switch, not a starved listener. Its own single-threaded executor handles beats
and events, so no queue of other callbacks delays them.
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

TOPIC = "safety/heartbeat"
MOTION_HEARTBEAT = "motion/heartbeat"  # motion_node's liveliness, for the actuator side
BEACON_HZ = 50.0
# SCHED_FIFO priorities: the kill switch's beat (50) above the beacon and the
# watches' DDS and executor threads, all above every normal thread.
WATCH_RT_PRIORITY = 40
BEACON_RT_PRIORITY = 45
_ids = itertools.count()


def _dds_threads() -> set[int]:
    """Thread ids of this process's DDS threads (Fast DDS names them dds.*)."""
    found = set()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/comm") as comm:
            if comm.read().startswith("dds."):
                found.add(int(task))
    return found


def realtime_priority(priority: int, threads: set[int] | None = None) -> str | None:
    """SCHED_FIFO for `threads` (default: the calling one); why not, when not allowed."""
    try:
        for tid in threads if threads is not None else {0}:
            with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
                os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        return str(exc)
    return None


class HeartbeatWatch:
    """Whether the kill switch's heartbeat is alive; `on_change(stale_reason)` on changes."""

    def __init__(
        self,
        owner: Node,
        timeout_s: float,
        *,
        on_change: Callable[[str | None], None] | None = None,
        topic: str = TOPIC,
    ) -> None:
        self.timeout_s = timeout_s
        self.last_beat: float | None = None  # monotonic time of the last beat
        self.missed = 0  # deadline misses reported by DDS
        self._reason: str | None = "no heartbeat received yet"
        self._on_change = on_change
        self._lock = threading.Lock()
        name = f"{owner.get_name()}_heartbeat_{next(_ids)}"
        self._context = Context()
        self._context.init(domain_id=owner.context.get_domain_id())
        before = _dds_threads()
        self._node = Node(  # the first node of a context creates its DDS participant
            name,
            namespace=owner.get_namespace(),
            context=self._context,
            start_parameter_services=False,
            enable_rosout=False,
        )
        self._dds_threads = _dds_threads() - before
        events = SubscriptionEventCallbacks(deadline=self._deadline_missed)
        self._node.create_subscription(
            Header, topic, self._beat, qos.heartbeat(timeout_s), event_callbacks=events
        )
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _set(self, reason: str | None) -> None:
        with self._lock:
            changed, self._reason = reason != self._reason, reason
        if changed and self._on_change is not None:
            try:
                self._on_change(reason)
            except Exception:  # the watch must outlive a faulty listener, and say so
                self._node.get_logger().error(
                    f"heartbeat listener failed on {reason or 'alive'}:\n{traceback.format_exc()}"
                )

    def _beat(self, _msg: Header) -> None:
        self.last_beat = time.monotonic()
        self._set(None)

    def _deadline_missed(self, info: QoSRequestedDeadlineMissedInfo) -> None:
        self.missed = int(info.total_count)
        self._set(f"heartbeat missed its {self.timeout_s:.3f} s deadline")

    def _spin(self) -> None:
        refused = realtime_priority(WATCH_RT_PRIORITY, self._dds_threads | {0})
        if refused is not None:
            self._node.get_logger().info(f"heartbeat watch at normal priority ({refused})")
        with contextlib.suppress(ExternalShutdownException, RuntimeError):  # shutting down
            self._executor.spin()

    def stale_reason(self) -> str | None:
        """Why the heartbeat counts as dead, or None while it is alive."""
        return self._reason

    def age(self) -> float | None:
        """Seconds since the last beat was handled (for display, not for the decision)."""
        return None if self.last_beat is None else time.monotonic() - self.last_beat

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=1.0)  # no wait set may use the node once it is destroyed
        self._node.destroy_node()
        self._context.try_shutdown()


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
        refused = realtime_priority(BEACON_RT_PRIORITY)
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
