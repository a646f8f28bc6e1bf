"""The dry-run worker process dies with its parent: a planner killed with SIGKILL leaves
no PyBullet process behind. Real processes, real signals, judged on /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

REPO = Path(__file__).resolve().parents[2]

# The planner's situation: a warm worker, busy with a run nobody will wait for.
WITH_WORKER = """
import os, sys, time
from embodied_stack.safety.dry_run_worker import DryRunWorker
worker = DryRunWorker()
pid = worker._pool.submit(os.getpid).result(timeout=120)  # started and initialised
worker._pool.submit(time.sleep, 600)
print(pid, flush=True)
time.sleep(600)
"""

# The portable fallback alone (no prctl): a spawned child watching the parent pid.
WATCH_ONLY = """
import multiprocessing, os, time
from embodied_stack.safety.dry_run_worker import _watch_parent
if __name__ == "__main__":
    child = multiprocessing.get_context("spawn").Process(target=_watch_parent, args=(os.getpid(),))
    child.start()
    print(child.pid, flush=True)
    time.sleep(600)
"""


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, None when there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def children(pid: int) -> dict[int, int]:
    """pid -> start time of every process whose parent is `pid`."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := stat(int(entry.name))) and info[1] == pid:
            found[int(entry.name)] = info[2]
    return found


def alive(pid: int, started: int) -> bool:
    info = stat(pid)  # a zombie has exited (nobody may reap an orphan in a container)
    return info is not None and info[2] == started and info[0] not in ("Z", "X")


@pytest.fixture
def parent(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    code = textwrap.dedent(request.param)
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: whatever is left is killed at the end
    )
    yield proc
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def wait_gone(processes: dict[int, int], timeout_s: float = 30.0) -> dict[int, int]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        left = {pid: t for pid, t in processes.items() if alive(pid, t)}
        if not left:
            return left
        time.sleep(0.05)
    return {pid: t for pid, t in processes.items() if alive(pid, t)}


@pytest.mark.parametrize("parent", [WITH_WORKER, WATCH_ONLY], indirect=True, ids=["pool", "watch"])
def test_worker_exits_when_its_parent_is_killed(parent: subprocess.Popen[str]) -> None:
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line.strip().isdigit(), f"parent said {line!r}, exit {parent.poll()}"
    worker = int(line)
    spawned = children(parent.pid)  # the worker, and multiprocessing's resource tracker
    assert worker in spawned
    killed_at = time.monotonic()
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    left = wait_gone(spawned)
    print(f"orphans gone {time.monotonic() - killed_at:.3f} s after the parent's SIGKILL")
    assert not left, f"still running after the parent died: {sorted(left)}"
