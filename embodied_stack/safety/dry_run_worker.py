"""The dry run in a process of its own.

Building a PyBullet twin (loading the robot's meshes) and stepping it hold the
interpreter; in a node's process that would stall its heartbeats and its
callbacks. One warm worker process runs dry runs one at a time; a run that
does not finish in time, or a worker that dies, is a failed dry run: the plan
is rejected, never let through unchecked.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from collections.abc import Sequence

from embodied_stack.robot import RobotProfile
from embodied_stack.safety.redlines import RedLines
from embodied_stack.schemas import DryRunResult, PerceivedObject, Plan

DEFAULT_TIMEOUT_S = 120.0


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
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context)
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
