"""Nodes of a test spun the way node processes spin them: each on its own executor
(`embodied_stack.nodes.spin.executor_for`) in a thread, in a context of the test's own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rclpy
from rclpy.context import Context
from rclpy.node import Node
from rclpy.publisher import Publisher
from std_msgs.msg import Header

from embodied_stack.nodes.spin import executor_for


class NodeSpinner:
    """Spins one node on its own executor in a daemon thread until `stop()`."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.executor = executor_for(node)
        self._stopping = False
        self._thread = threading.Thread(
            target=self._spin, name=f"spin:{node.get_name()}", daemon=True
        )
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # a shutdown race ends the spin; anything else is a bug
            if self.node.context.ok() and not self._stopping:
                raise

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop spinning (the node stays; destroying it is the owner's call)."""
        self._stopping = True
        self.executor.shutdown(timeout_sec=timeout_s)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout_s)
        self.executor.remove_node(self.node)


@contextmanager
def spinning(*factories: Callable[[Context], Node]) -> Iterator[list[Node]]:
    """Make each node in a fresh context, spin them all, tear everything down after."""
    context = Context()
    rclpy.init(context=context)
    nodes: list[Node] = []
    spinners: list[NodeSpinner] = []
    try:
        for make in factories:
            nodes.append(make(context))
            spinners.append(NodeSpinner(nodes[-1]))
        yield nodes
    finally:
        for spinner in spinners:
            spinner.stop()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


@contextmanager
def beating(heartbeat: Publisher, enabled: threading.Event) -> Iterator[None]:
    """A kill switch's heartbeat stand-in: beats at 100 Hz on `heartbeat` while
    `enabled` is set (clear it to let the heartbeat go stale)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            if enabled.is_set():
                heartbeat.publish(Header())
            time.sleep(0.01)

    heart = threading.Thread(target=beat, name="test-heartbeat", daemon=True)
    heart.start()
    try:
        yield
    finally:
        stop.set()
        heart.join()
