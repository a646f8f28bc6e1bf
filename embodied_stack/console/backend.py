"""What the console web app needs from the robot: state, updates and actions.

The app never talks ROS. `nodes/console_node.py` implements `ConsoleBackend`
over the stack's topics; tests implement it with a recorder. Every action
returns an `ActionResult`, so a refusal reaches the operator as a message.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.safety.incidents import IncidentSummary
from embodied_stack.schemas import (
    AuditEventKind,
    AuditHead,
    JogCommand,
    MotionStatus,
    PerceivedObject,
    Plan,
    SafetyStatus,
    Vec3,
    Violation,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JointsView(_Model):
    names: list[str] = Field(default_factory=list)
    positions: list[float] = Field(default_factory=list)
    velocities: list[float] = Field(default_factory=list)
    stamp: float = 0.0


class TcpPose(_Model):
    position: Vec3
    orientation: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)  # x, y, z, w
    gripper_opening: float | None = None  # m


class ConsoleSnapshot(_Model):
    """Everything the console shows, at one instant."""

    robot_id: str = ""
    joints: JointsView | None = None
    tcp: TcpPose | None = None
    objects: list[PerceivedObject] = Field(default_factory=list)
    estop: bool | None = None  # `safety/estop`; None = never heard
    safety: SafetyStatus | None = None
    heartbeat_age_s: float | None = None  # None = no heartbeat ever received
    motion: MotionStatus | None = None
    plans: list[Plan] = Field(default_factory=list)  # recent, oldest first
    violations: list[Violation] = Field(default_factory=list)  # recent, oldest first
    audit_head: AuditHead | None = None


class UpdateKind(str, Enum):
    JOINTS = "joints"
    TCP = "tcp"
    OBJECTS = "objects"
    ESTOP = "estop"
    SAFETY = "safety"
    MOTION = "motion"
    PLAN = "plan"
    VIOLATION = "violation"
    AUDIT = "audit"
    AUDIT_HEAD = "audit_head"


# Kinds where only the newest value matters: a slow client gets the latest, not a backlog.
LATEST_ONLY = frozenset(
    {
        UpdateKind.JOINTS,
        UpdateKind.TCP,
        UpdateKind.OBJECTS,
        UpdateKind.ESTOP,
        UpdateKind.SAFETY,
        UpdateKind.MOTION,
        UpdateKind.AUDIT_HEAD,
    }
)


class ConsoleUpdate(_Model):
    kind: UpdateKind
    data: dict[str, Any]
    key: str = ""  # plans: plan_id, so a newer status replaces an older one in a queue


class ActionResult(_Model):
    ok: bool
    message: str = ""


class AuditQuery(_Model):
    kind: AuditEventKind | None = None
    actor: str | None = None
    text: str | None = None  # substring of the JSON line
    limit: int = Field(default=100, ge=1, le=1000)


class ChainStatus(_Model):
    ok: bool
    length: int = 0
    head_hash: str | None = None
    broken_at: int | None = None  # index of the first record that does not verify
    message: str = ""


class ConsoleListener(Protocol):
    """Receives updates from any thread; must not block."""

    def on_update(self, update: ConsoleUpdate) -> None: ...

    def on_frame(self, jpeg: bytes) -> None: ...


class ConsoleBackend(Protocol):
    """The robot as the console sees it."""

    def snapshot(self) -> ConsoleSnapshot: ...

    def heartbeat_age_s(self) -> float | None: ...

    def latest_frame(self) -> bytes | None: ...

    def subscribe(self, listener: ConsoleListener) -> Callable[[], None]:
        """Start delivering updates and annotated JPEG frames; returns the unsubscribe."""
        ...

    def send_instruction(self, text: str, operator: str) -> ActionResult: ...

    def decide(
        self, plan_id: str, approved: bool, operator: str, reason: str | None
    ) -> ActionResult: ...

    def jog(self, command: JogCommand) -> ActionResult: ...

    def trip(self, who: str, why: str) -> ActionResult: ...

    def reset(self, operator: str, password: str) -> ActionResult:
        """Ask the kill switch to clear the latch; it re-checks the operator's secret."""
        ...

    def audit_events(self, query: AuditQuery) -> list[dict[str, Any]]: ...

    def verify_chain(self) -> ChainStatus: ...

    def incidents(self) -> list[IncidentSummary]: ...

    def record(self, kind: AuditEventKind, actor: str, payload: dict[str, Any]) -> None:
        """An audit event from the console itself (login, jog start/stop, refused action)."""
        ...
