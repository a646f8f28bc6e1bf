"""How a node is spun: on an executor of its own, sized by its callback groups
(`executor_for`), and the one `main()` body of every node (`spin_node`).

Why sized: rclpy rebuilds an executor's wait set in Python for every message, and
the MultiThreadedExecutor does so two or three times per message, busy-waiting
while a worker takes it. A node with one callback group gains nothing from threads:
measured with sim_node and a test probe on one process, the simulator's physics
thread, waiting for the interpreter lock behind that loop, ran at 0.37x real time
on a MultiThreadedExecutor and at 1.0x on a SingleThreadedExecutor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import rclpy
from rclpy.callback_groups import CallbackGroup
from rclpy.executors import (
    Executor,
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rclpy.node import Node

from embodied_stack.nodes.alive import AliveBeacon
from embodied_stack.supervisor import exit_with_parent


def callback_groups(node: Node) -> set[CallbackGroup]:
    """The callback groups `node`'s entities are in (rclpy keeps no list of them)."""
    entities: Iterable[Any] = chain(
        node.subscriptions, node.timers, node.clients, node.services, node.guards, node.waitables
    )
    return {node.default_callback_group} | {e.callback_group for e in entities}


def executor_for(node: Node) -> Executor:
    """An executor with one thread per callback group of `node` (groups are what lets
    its callbacks run side by side), spinning `node` only."""
    groups = len(callback_groups(node))
    executor: Executor = (
        SingleThreadedExecutor(context=node.context)
        if groups <= 1
        else MultiThreadedExecutor(num_threads=groups, context=node.context)
    )
    executor.add_node(node)
    return executor


def spin_node(make_node: Callable[[], Node], args: list[str] | None = None) -> None:
    exit_with_parent()  # supervised: no orphan outlives `embodied-stack run --processes`
    rclpy.init(args=args)
    node = make_node()
    beacon = AliveBeacon(node)  # its death is a stop (nodes/alive.py)
    executor = executor_for(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as error:
        if rclpy.ok():  # not a signal's shutdown racing the executor's next wait set
            beacon.crashed(error)
            raise
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
