"""Nodes of a test spun the way the stack spins them: one executor thread per node
(`embodied_stack.nodes.spin.NodeSpinner`), in a context of the test's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rclpy
from rclpy.context import Context
from rclpy.node import Node

from embodied_stack.nodes.spin import NodeSpinner


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
