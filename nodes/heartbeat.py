"""Watching the kill switch's heartbeat from a thread of its own.

A heartbeat judged on a busy shared executor arrives late when other callbacks
queue ahead of it, and a late beat reads as a dead kill switch. The watch runs
a private node on its own single-threaded executor, so each beat is stamped
(by the monotonic wall clock) the moment it arrives.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Header

from embodied_stack.nodes import qos

TOPIC = "safety/heartbeat"
_ids = itertools.count()


class HeartbeatWatch:
    """Age of the last heartbeat, by the monotonic clock; None until the first."""

    def __init__(
        self,
        owner: Node,
        timeout_s: float,
        *,
        on_beat: Callable[[], None] | None = None,
        topic: str = TOPIC,
    ) -> None:
        self.timeout_s = timeout_s
        self._last: float | None = None
        self._on_beat = on_beat
        name = f"{owner.get_name()}_heartbeat_{next(_ids)}"
        self._node = Node(
            name,
            namespace=owner.get_namespace(),
            context=owner.context,
            start_parameter_services=False,
            enable_rosout=False,
        )
        self._node.create_subscription(Header, topic, self._beat, qos.heartbeat(timeout_s))
        self._executor = SingleThreadedExecutor(context=owner.context)
        self._executor.add_node(self._node)
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _beat(self, _msg: Header) -> None:
        self._last = time.monotonic()
        if self._on_beat is not None:
            self._on_beat()

    def _spin(self) -> None:
        with contextlib.suppress(ExternalShutdownException, RuntimeError):  # shutting down
            self._executor.spin()

    @property
    def last(self) -> float | None:
        """Monotonic time of the last beat."""
        return self._last

    def age(self) -> float | None:
        return None if self._last is None else time.monotonic() - self._last

    def stale_reason(self) -> str | None:
        age = self.age()
        if age is None:
            return "no heartbeat received yet"
        if age > self.timeout_s:
            return f"heartbeat stale ({age:.3f} s > {self.timeout_s:.3f} s)"
        return None

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=1.0)
        self._node.destroy_node()
        self._thread.join(timeout=1.0)
