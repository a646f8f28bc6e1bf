"""The process supervisor respawns with back-off and reports each restart."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

from embodied_stack.supervisor import RestartPolicy, Supervisor


def _wait(cond: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_killed_child_is_respawned_and_reported() -> None:
    restarts: list[tuple[str, int, int]] = []
    sup = Supervisor(on_restart=lambda n, c, k: restarts.append((n, c, k)))
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup.add("a", sleeper, RestartPolicy(initial_backoff_s=0.05))
    sup.start_all()
    try:
        first = sup.pid("a")
        assert first is not None
        sup.kill("a")

        def respawned() -> bool:
            sup.poll()
            pid = sup.pid("a")
            return pid is not None and pid != first

        assert _wait(respawned)
        assert restarts == [("a", -9, 1)]
    finally:
        sup.stop_all()
    assert sup.pid("a") is None


def test_no_respawn_policy_leaves_it_dead() -> None:
    sup = Supervisor()
    sup.add("b", [sys.executable, "-c", "raise SystemExit(3)"], RestartPolicy(respawn=False))
    sup.start_all()

    def exited() -> bool:
        sup.poll()
        return sup.children["b"].exit_codes == [3]

    assert _wait(exited)
    time.sleep(0.2)
    sup.poll()
    assert sup.pid("b") is None and sup.children["b"].restarts == 0


SUPERVISOR = """
import sys, time
from embodied_stack.supervisor import Supervisor
child = "from embodied_stack.supervisor import exit_with_parent; exit_with_parent(0.05); " \\
    "import time; time.sleep(60)"
sup = Supervisor()
sup.add("orphan", [sys.executable, "-c", child])
sup.start_all()
print(sup.pid("orphan"), flush=True)
time.sleep(60)
"""


def test_a_child_ends_when_its_supervisor_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", SUPERVISOR], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    parent.kill()  # SIGKILL: no goodbye to the children
    parent.wait()

    def alive() -> bool:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + 10.0
    while alive() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child_pid, os.WNOHANG)  # reaped by init, not us: harmless
        time.sleep(0.05)
    assert not alive()
