"""The dry run in a process of its own.

Building a PyBullet twin (loading the robot's meshes) and stepping it hold the
interpreter; in a node's process that would stall its heartbeats and its
callbacks. One warm worker process runs dry runs one at a time; a run that
does not finish in time, or a worker that dies, is a failed dry run: the plan
is rejected, never let through unchecked.

The worker dies with its parent: a planner killed with SIGKILL must not leave a
PyBullet process behind (its memory, its CPU, a dry run nobody waits for). On
Linux the kernel tells it (PR_SET_PDEATHSIG); everywhere a thread also watches
the parent pid, and a changed parent (re-parented to init or a subreaper) ends it.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from embodied_stack.robot import RobotProfile
from embodied_stack.safety.redlines import RedLines
from embodied_stack.schemas import DryRunResult, PerceivedObject, Plan

DEFAULT_TIMEOUT_S = 120.0
PARENT_POLL_S = 0.5  # the portable fallback: the longest an orphan outlives its parent
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Not SIGTERM (the pool's own terminate() must still work) and not SIGKILL: the kernel
# sends it when the *thread* that spawned the worker ends, too, so the handler checks
# that the parent process is really gone.
PARENT_DEATH_SIGNAL = signal.SIGUSR1
ORPHAN_EXIT_CODE = 1


def _die_with_parent(parent_pid: int) -> None:
    """Pool initializer: runs first in each worker. Never raises (a broken initializer
    would break the pool); without prctl the watch thread alone does the job."""
    # Ctrl-C at a terminal goes to the whole process group: the parent decides when a
    # worker ends (it shuts the pool down), not the keyboard.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _arm_parent_death_signal(parent_pid)
    watch = threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True
    )
    watch.start()
    if os.getppid() != parent_pid:  # the parent died before any of this was armed
        os._exit(ORPHAN_EXIT_CODE)


def _arm_parent_death_signal(parent_pid: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        if os.getppid() != parent_pid:
            os._exit(ORPHAN_EXIT_CODE)

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        signal.signal(PARENT_DEATH_SIGNAL, on_signal)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(PARENT_DEATH_SIGNAL), 0, 0, 0) == 0)
    except (OSError, AttributeError, ValueError):
        return False


def _watch_parent(parent_pid: int) -> None:
    """os._exit from this thread ends the process even while the main thread is busy
    inside PyBullet (a signal handler would wait for it to come back to Python)."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(ORPHAN_EXIT_CODE)


def _warm() -> bool:
    import embodied_stack.safety.dry_run  # noqa: F401 - imports PyBullet and the sim once

    return True


def _run(
    plan: Plan,
    objects: list[PerceivedObject],
    redlines: RedLines,
    joints: list[float] | None,
    robot: RobotProfile | None,
) -> DryRunResult:
    from embodied_stack.safety.dry_run import dry_run

    return dry_run(plan, objects, redlines, joints=joints, robot=robot)


class DryRunWorker:
    """`run(...)` blocks the caller (not the caller's interpreter) until the twin is done."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._pool = self._start()

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")  # no forked copy of a ROS process
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
        pool.submit(_warm)
        return pool

    def run(
        self,
        plan: Plan,
        objects: Sequence[PerceivedObject],
        redlines: RedLines,
        *,
        joints: Sequence[float] | None = None,
        robot: RobotProfile | None = None,
    ) -> DryRunResult:
        started = time.perf_counter()
        args = (plan, list(objects), redlines, list(joints) if joints else None, robot)
        try:
            future = self._pool.submit(_run, *args)
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            error = f"dry run did not finish within {self.timeout_s:.0f} s"
            self._restart()
        except concurrent.futures.process.BrokenProcessPool:
            error = "dry-run worker process died"
            self._restart()
        wall = time.perf_counter() - started
        return DryRunResult(ok=False, sim_s=0.0, wall_s=wall, error=error)

    def _restart(self) -> None:
        self.close()
        self._pool = self._start()

    def close(self) -> None:
        """Stop the worker at once (a run in flight is abandoned)."""
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.kill()
