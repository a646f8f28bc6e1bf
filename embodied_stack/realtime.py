"""Real-time scheduling for the threads a stop depends on, where the system allows it.

On a robot the safety services run with CAP_SYS_NICE (or as root): e-stop input
readers, the kill switch's heartbeat and the listeners' safety inputs then run
SCHED_FIFO, ahead of rendering, perception and planning, so a loaded machine
delays neither a press nor a beat. Elsewhere they run at normal priority, and the
caller says so. The priorities, highest first:
"""

from __future__ import annotations

import contextlib
import os

HEARTBEAT_PRIORITY = 50  # the kill switch's beat
INPUT_PRIORITY = 48  # e-stop input readers (serial, GPIO, HID)
BEACON_PRIORITY = 45  # motion_node's own beat to the actuator side
LISTENER_PRIORITY = 40  # safety inputs of motion, sim and the driver bridge
KILLSWITCH_PRIORITY = 30  # every other thread of the kill switch process
# The simulator's physics thread, which stands in for the arm's own controller. Paced
# and light (its renders go to a worker): at normal priority the scheduler parked it
# while it held the interpreter lock, and its process's safety callbacks waited.
PHYSICS_PRIORITY = 20
# sys.setswitchinterval of safety processes: CPython's default (5 ms) is how long a
# woken thread waits before it asks the thread holding the interpreter lock to let go.
SAFETY_SWITCH_INTERVAL_S = 1e-4


def realtime_priority(priority: int, threads: set[int] | None = None) -> str | None:
    """SCHED_FIFO for `threads` (default: the calling one); None, or why not allowed."""
    try:
        for tid in threads if threads is not None else {0}:
            with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
                os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        return str(exc)
    return None
