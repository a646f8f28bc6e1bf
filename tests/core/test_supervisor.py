"""The process supervisor respawns with back-off and reports each restart."""

from __future__ import annotations

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
