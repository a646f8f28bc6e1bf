"""Process supervision for `embodied-stack run --processes`: one process per
node, respawned with exponential back-off per a restart policy.

ROS-free: the caller is told about each restart (and records it in the audit
log); the supervisor only starts, watches and stops processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


class RestartPolicy(BaseModel):
    """Per node: respawn or not, and how patiently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    respawn: bool = True
    initial_backoff_s: float = Field(default=0.5, gt=0)
    max_backoff_s: float = Field(default=10.0, gt=0)
    max_restarts: int = Field(default=20, ge=0)


@dataclass
class Child:
    name: str
    argv: list[str]
    policy: RestartPolicy
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    backoff_s: float = 0.0
    exit_codes: list[int] = field(default_factory=list)


RestartHook = Callable[[str, int, int], None]  # name, exit code, restart count
# Set for each child: the supervisor's pid. A child whose supervisor is gone ends
# itself (`exit_with_parent`): an orphaned kill switch would go on beating for a
# stack that no longer exists.
PARENT_PID_ENV = "EMBODIED_STACK_PARENT_PID"


def exit_with_parent(poll_s: float = 0.5) -> None:
    """In a supervised child: SIGTERM to itself once its supervisor has gone (the
    parent pid changes when a process is orphaned). Nothing outside a supervisor."""
    parent = os.environ.get(PARENT_PID_ENV)
    if parent is None or not parent.isdigit():
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def node_argv(name: str, ros_args: Sequence[str]) -> list[str]:
    """Run a node's main() with ROS arguments in a fresh interpreter."""
    code = f"import sys; from embodied_stack.nodes.{name} import main; main(sys.argv[1:])"
    return [sys.executable, "-c", code, *ros_args]


class Supervisor:
    def __init__(
        self, *, on_restart: RestartHook | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.children: dict[str, Child] = {}
        self._on_restart = on_restart
        self._env = {**os.environ, **env} if env else None  # e.g. the DDS domain

    def add(self, name: str, argv: list[str], policy: RestartPolicy | None = None) -> None:
        policy = policy or RestartPolicy()
        self.children[name] = Child(name, argv, policy, backoff_s=policy.initial_backoff_s)

    def start_all(self) -> None:
        for child in self.children.values():
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        # Own process group, so Ctrl-C reaches the supervisor first and it
        # shuts the children down in order.
        env = {**(self._env or os.environ), PARENT_PID_ENV: str(os.getpid())}
        child.process = subprocess.Popen(child.argv, start_new_session=True, env=env)

    def pid(self, name: str) -> int | None:
        proc = self.children[name].process
        return proc.pid if proc is not None and proc.poll() is None else None

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Fault injection: signal a child (it is respawned per its policy)."""
        proc = self.children[name].process
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, sig)

    def poll(self) -> None:
        """Respawn children that died, honouring back-off. Call periodically."""
        now = time.monotonic()
        for child in self.children.values():
            proc = child.process
            if proc is None:
                if child.next_start and now >= child.next_start:
                    child.next_start = 0.0
                    self._spawn(child)
                continue
            code = proc.poll()
            if code is None:
                continue
            child.exit_codes.append(code)
            child.process = None
            if not child.policy.respawn or child.restarts >= child.policy.max_restarts:
                continue
            child.restarts += 1
            child.next_start = now + child.backoff_s
            child.backoff_s = min(child.backoff_s * 2, child.policy.max_backoff_s)
            if self._on_restart is not None:
                self._on_restart(child.name, code, child.restarts)

    def stop_all(self, timeout_s: float = 5.0) -> None:
        for child in self.children.values():
            child.next_start = 0.0
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for child in self.children.values():
            proc = child.process
            if proc is None:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            child.process = None
