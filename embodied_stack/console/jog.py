"""Server half of the jog deadman: a jog not refreshed in time is stopped here too.

The browser streams a jog message every ~50 ms while a button or key is held.
`JogGuard` forwards each one and sends an explicit stop (direction 0) when the
operator releases, the stream goes quiet, or the WebSocket closes. The motion
node has its own deadman on `teleop/jog`; this one makes the stop immediate.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from embodied_stack.console.auth import Clock
from embodied_stack.console.backend import ActionResult, ConsoleBackend
from embodied_stack.schemas import AuditEventKind, JogAxis, JogCommand


@dataclass
class JogGuard:
    backend: ConsoleBackend
    operator: str
    deadman_s: float
    clock: Clock = time.monotonic
    _axis: JogAxis | None = None
    _direction: int = 0
    _last: float = 0.0
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def active(self) -> bool:
        return self._axis is not None

    def command(self, axis: JogAxis, direction: int) -> ActionResult:
        if direction == 0:
            self.stop("released")
            return ActionResult(ok=True, message="stopped")
        if self._axis is not None and (axis, direction) != (self._axis, self._direction):
            self.stop("changed axis")
        if self._axis is None:
            self.backend.record(
                AuditEventKind.JOG,
                self.operator,
                {"event": "start", "axis": axis.value, "direction": direction},
            )
        self._axis, self._direction, self._last = axis, direction, self.clock()
        return self._send(axis, direction)

    def check_deadman(self) -> None:
        if self._axis is not None and self.clock() - self._last > self.deadman_s:
            self.stop("deadman: no refresh")

    def stop(self, reason: str) -> None:
        if self._axis is None:
            return
        axis, self._axis, self._direction = self._axis, None, 0
        self._send(axis, 0)
        self.backend.record(
            AuditEventKind.JOG,
            self.operator,
            {"event": "stop", "axis": axis.value, "reason": reason},
        )

    def _send(self, axis: JogAxis, direction: int) -> ActionResult:
        command = JogCommand(
            operator=self.operator,
            axis=axis,
            direction=direction,  # type: ignore[arg-type]  # checked by the caller
            seq=next(self._seq),
        )
        return self.backend.jog(command)
