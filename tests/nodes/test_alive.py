"""The death of a node process is seen by DDS liveliness (nodes/alive.py): a kill -9
is a death, a clean exit is not, and a crash on an exception trips the stop itself.
Real node processes (spin_node, as every node's main), a watcher in this one."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest
from rclpy.context import Context
from rclpy.node import Node
from std_msgs.msg import String

from embodied_stack.nodes import qos
from embodied_stack.nodes.alive import ALIVE_LEASE_S, DeathWatch
from embodied_stack.nodes.ros_conversions import json_from_ros
from embodied_stack.schemas import Trip
from tests.ros_rig import spinning

pytestmark = pytest.mark.ros

# A node process the way every node's main() runs one; with "crash", its timer raises.
CHILD = textwrap.dedent(
    """
    import sys
    from rclpy.node import Node
    from embodied_stack.nodes.spin import spin_node

    class Victim(Node):
        def __init__(self):
            super().__init__(sys.argv[1])
            if sys.argv[2] == "crash":
                self.create_timer(2.0, self.boom)

        def boom(self):
            raise ValueError("boom")

    spin_node(Victim)
    """
)


class Watcher(Node):
    def __init__(self, context: Context, names: list[str]) -> None:
        super().__init__("watcher", context=context)
        self.deaths: list[tuple[str, str]] = []
        self.trips: list[Trip] = []
        self.watch = DeathWatch(self, names, lambda who, why: self.deaths.append((who, why)))
        self.create_subscription(
            String, "safety/trip", lambda m: self.trips.append(json_from_ros(Trip, m)), qos.COMMAND
        )


def start(name: str, mode: str = "run") -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, name, mode], stderr=subprocess.PIPE)


def wait_until(check: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def watcher() -> Iterator[Watcher]:
    names = ["victim_kill", "victim_clean", "victim_crash"]
    with spinning(lambda c: Watcher(c, names)) as (node,):
        assert isinstance(node, Watcher)
        yield node


def matched(watcher: Watcher, name: str) -> bool:
    return watcher.count_publishers(f"safety/alive/{name}") > 0


def test_a_killed_process_is_a_death_and_a_clean_exit_is_not(watcher: Watcher) -> None:
    killed, clean = start("victim_kill"), start("victim_clean")
    try:
        assert wait_until(lambda: matched(watcher, "victim_kill"), 30.0)
        assert wait_until(lambda: matched(watcher, "victim_clean"), 30.0)
        time.sleep(0.5)  # both writers alive at the watcher
        clean.send_signal(signal.SIGTERM)
        assert clean.wait(timeout=10.0) == 0
        killed.kill()
        killed.wait(timeout=10.0)
        assert wait_until(lambda: watcher.deaths, 3 * ALIVE_LEASE_S + 2.0)
        time.sleep(ALIVE_LEASE_S + 0.5)  # time for a wrong report of the clean exit too
        assert [who for who, _ in watcher.deaths] == ["victim_kill"]
        assert "liveliness was lost" in watcher.deaths[0][1]
    finally:
        for proc in (killed, clean):
            proc.kill()
            proc.wait()


def test_a_crash_on_an_exception_trips_the_stop(watcher: Watcher) -> None:
    crashing = start("victim_crash", "crash")
    try:
        assert crashing.wait(timeout=30.0) != 0
        stderr = crashing.stderr.read().decode() if crashing.stderr else ""
        assert "ValueError: boom" in stderr
        assert wait_until(lambda: watcher.trips, 5.0), stderr
        trip = watcher.trips[0]
        assert trip.who == "victim_crash" and "crashed: ValueError: boom" in trip.why
        assert watcher.deaths == []  # a clean exit as far as DDS can tell: the trip says it
    finally:
        crashing.kill()
        crashing.wait()
