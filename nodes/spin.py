"""The one `main()` body of every node: init, spin on a MultiThreadedExecutor,
shut down cleanly on Ctrl-C or an external shutdown."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

from embodied_stack.supervisor import exit_with_parent


def spin_node(make_node: Callable[[], Node], args: list[str] | None = None) -> None:
    exit_with_parent()  # supervised: no orphan outlives `embodied-stack run --processes`
    rclpy.init(args=args)
    node = make_node()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:  # a signal's shutdown raced the executor's next wait set
        if rclpy.ok():
            raise
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
