"""A ConsoleBackend for server tests: records every call, serves a settable state.

The only stand-in in the console tests; the browser tests use console_node on
the real stack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from embodied_stack.console.backend import (
    ActionResult,
    AuditQuery,
    ChainStatus,
    ConsoleListener,
    ConsoleSnapshot,
    ConsoleUpdate,
)
from embodied_stack.safety.incidents import IncidentSummary
from embodied_stack.schemas import AuditEventKind, JogCommand


class RecordingBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.state = ConsoleSnapshot(robot_id="test-robot")
        self.frame: bytes | None = None
        self._listeners: list[ConsoleListener] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)

    # ---- what tests look at -----------------------------------------------------------

    def called(self, name: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [args for call, args in self.calls if call == name]

    def jogs(self) -> list[JogCommand]:
        return [args[0] for args in self.called("jog")]

    def audit_kinds(self) -> list[AuditEventKind]:
        return [args[0] for args in self.called("record")]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout_s)

    def push(self, update: ConsoleUpdate) -> None:
        for listener in list(self._listeners):
            listener.on_update(update)

    def push_frame(self, jpeg: bytes) -> None:
        self.frame = jpeg
        for listener in list(self._listeners):
            listener.on_frame(jpeg)

    def _record(self, name: str, *args: Any) -> None:
        with self._changed:
            self.calls.append((name, args))
            self._changed.notify_all()

    # ---- ConsoleBackend ---------------------------------------------------------------

    def snapshot(self) -> ConsoleSnapshot:
        return self.state

    def heartbeat_age_s(self) -> float | None:
        return 0.01

    def latest_frame(self) -> bytes | None:
        return self.frame

    def subscribe(self, listener: ConsoleListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def send_instruction(self, text: str, operator: str) -> ActionResult:
        self._record("send_instruction", text, operator)
        return ActionResult(ok=True, message="sent to the planner")

    def decide(
        self, plan_id: str, approved: bool, operator: str, reason: str | None
    ) -> ActionResult:
        self._record("decide", plan_id, approved, operator, reason)
        return ActionResult(ok=True, message="decision sent")

    def jog(self, command: JogCommand) -> ActionResult:
        self._record("jog", command)
        return ActionResult(ok=True)

    def trip(self, who: str, why: str) -> ActionResult:
        self._record("trip", who, why)
        return ActionResult(ok=True, message="e-stop tripped")

    def reset(self, operator: str, password: str) -> ActionResult:
        self._record("reset", operator, password)
        return ActionResult(ok=True, message="reset")

    def audit_events(self, query: AuditQuery) -> list[dict[str, Any]]:
        self._record("audit_events", query)
        return [{"seq": 0, "time": 1.0, "kind": "login", "actor": "x", "payload": {}}]

    def verify_chain(self) -> ChainStatus:
        self._record("verify_chain")
        return ChainStatus(ok=True, length=1, head_hash="ab" * 32)

    def incidents(self) -> list[IncidentSummary]:
        self._record("incidents")
        return [
            IncidentSummary(
                incident_id="i1", kind="trip", reason="test", robot_id="r", policy_version="1"
            )
        ]

    def record(self, kind: AuditEventKind, actor: str, payload: dict[str, Any]) -> None:
        self._record("record", kind, actor, payload)
