"""The death of any process of the stack is a stop (DESIGN.md §5, ISO 13850).

Every node process owns a writer on `safety/alive/<node>` (`AliveBeacon`) whose
liveliness DDS asserts by itself (AUTOMATIC, lease `ALIVE_LEASE_S`): no Python
thread has to run for it, so a busy process stays alive, while a process that
dies (SIGKILL, a segfault, the OOM killer) loses its liveliness within the lease.
The kill switch watches the writers of the stack's nodes (`DeathWatch`) and
latches on a loss, so the arm stays stopped until an operator resets it. A clean
exit deletes the writer instead, which DDS reports differently (alive count
down, not-alive count unchanged): a stack shut down on purpose latches nothing.
A node that crashes on a Python exception ends cleanly as far as DDS can tell;
`spin_node` trips the stop itself before it exits (`AliveBeacon.crashed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rclpy.duration import Duration
from rclpy.event_handler import QoSLivelinessChangedInfo, SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from embodied_stack.nodes import qos
from embodied_stack.nodes.ros_conversions import json_to_ros
from embodied_stack.schemas import Trip

PREFIX = "safety/alive/"
# Longer than any stall of a DDS thread on a loaded machine (no false stops), short
# enough that the latch is set long before anyone could reach a dead node's arm.
ALIVE_LEASE_S = 1.0
# How long a crashing node waits for the kill switch to match its trip (discovery).
CRASH_MATCH_WAIT_S = 3.0
# The nodes a kill switch watches by default (every node of the stack but itself).
STACK_NODES = (
    "sim_node",
    "driver_bridge_node",
    "motion_node",
    "perception_node",
    "planner_node",
    "audit_node",
    "console_node",
)

ALIVE = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
    liveliness=LivelinessPolicy.AUTOMATIC,
    liveliness_lease_duration=Duration(seconds=ALIVE_LEASE_S),
)


class AliveBeacon:
    """This process's node is alive, for as long as its DDS participant is."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._pub = node.create_publisher(String, PREFIX + node.get_name(), ALIVE)
        self._pub.publish(String(data=node.get_fully_qualified_name()))
        # Made now, so it has matched the kill switch by the time it is needed.
        self._trip = node.create_publisher(String, "safety/trip", qos.COMMAND)

    def crashed(self, error: BaseException) -> None:
        """Latch the stop for a node ending on an exception (DDS sees a clean exit)."""
        name = self._node.get_name()
        why = f"{name} crashed: {type(error).__name__}: {error}"
        try:
            deadline = time.monotonic() + CRASH_MATCH_WAIT_S  # a crash early in start-up
            while self._trip.get_subscription_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            self._trip.publish(json_to_ros(Trip(who=name, why=why)))
            delivered = self._trip.wait_for_all_acked(Duration(seconds=1.0))
        except Exception:  # the context went down with it: so does its liveliness
            delivered = False
        if not delivered:
            self._node.get_logger().error(f"{why}; the stop may not have been delivered")


class DeathWatch:
    """Calls `on_death(node, why)` when a watched node's process dies."""

    def __init__(
        self, node: Node, names: Iterable[str], on_death: Callable[[str, str], None]
    ) -> None:
        self.names = tuple(names)
        self._on_death = on_death
        for name in self.names:
            events = SubscriptionEventCallbacks(liveliness=self._changed(name))
            node.create_subscription(
                String, PREFIX + name, lambda _msg: None, ALIVE, event_callbacks=events
            )

    def _changed(self, name: str) -> Callable[[QoSLivelinessChangedInfo], None]:
        def changed(info: QoSLivelinessChangedInfo) -> None:
            if info.not_alive_count_change > 0:  # lost, not deleted: the process died
                self._on_death(name, f"{name} died (its DDS liveliness was lost)")

        return changed
