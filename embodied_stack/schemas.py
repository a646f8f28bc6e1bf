"""The one message schema module: versioned JSON carried in std_msgs/String.

Every structured message of the stack is a pydantic model here. Senders call
``to_json``; receivers call ``from_json``, which raises SchemaError naming the
field, so a malformed message is rejected, never half-used.
"""

from __future__ import annotations

import math
import time
import uuid
from enum import Enum, IntEnum
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from embodied_stack.config import describe_validation_error
from embodied_stack.errors import SchemaError
from embodied_stack.scene import Color, ObjectKind, Scene

SCHEMA_VERSION: Literal[1] = 1
Vec3 = tuple[float, float, float]
MsgT = TypeVar("MsgT", bound="Message")


class Message(BaseModel):
    """Base of every JSON message: strict about unknown fields, versioned."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = SCHEMA_VERSION


def to_json(msg: Message) -> str:
    return msg.model_dump_json()


def from_json(model: type[MsgT], text: str) -> MsgT:
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise SchemaError(describe_validation_error(exc, model.__name__)) from exc


def _all_finite(values: tuple[float, ...]) -> tuple[float, ...]:
    if not all(math.isfinite(v) for v in values):
        raise ValueError("values must be finite")
    return values


# ---- perception ---------------------------------------------------------------------------


class PerceivedObject(BaseModel):
    """An object as perception sees it, in the world frame (REP-103)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: ObjectKind
    color: Color | None = None
    position: Vec3  # centre of the object, m
    yaw: float = 0.0  # rad, about +z; meaningful for cubes, knives, trays
    size: Vec3  # extent along the object's own x, y, z, m
    support: str = "table"  # "table", "floor", "held", or the id of the object below
    inside: bool = False  # True when resting inside a container (support names it)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    stale: bool = False  # last confident estimate, not seen in the latest frame
    stamp: float = 0.0  # s, time of the last observation

    _finite = field_validator("position", "size")(_all_finite)

    @property
    def top_z(self) -> float:
        return self.position[2] + self.size[2] / 2

    @property
    def bottom_z(self) -> float:
        return self.position[2] - self.size[2] / 2


class ObjectsMessage(Message):
    """`perception/objects`."""

    stamp: float
    frame_id: str = "world"
    objects: list[PerceivedObject] = Field(default_factory=list)


# ---- plans --------------------------------------------------------------------------------


class SkillName(str, Enum):
    PICK = "pick"
    PLACE = "place"
    PLACE_AT = "place_at"
    MOVE_TO = "move_to"
    OPEN_GRIPPER = "open_gripper"
    CLOSE_GRIPPER = "close_gripper"
    GO_HOME = "go_home"
    SET_SPEED = "set_speed"
    WAIT = "wait"


class PlanStep(BaseModel):
    """One step. In a validated plan, `object`/`target` args are perceived object ids."""

    model_config = ConfigDict(extra="forbid")

    skill: SkillName
    args: dict[str, float | str] = Field(default_factory=dict)


class PlannerKind(str, Enum):
    OFFLINE = "offline"
    LLM = "llm"
    OPERATOR = "operator"  # a plan typed or built by a person (jog, console)


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    planner: PlannerKind
    model: str  # registered model name ("offline-grammar-1" for the built-in planner)
    endpoint: str | None = None
    prompt_sha256: str | None = None
    created: float = Field(default_factory=time.time)
    latency_ms: float | None = None


class PlanStatus(str, Enum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"


class RiskTier(IntEnum):
    LOW = 0  # benign motion among ordinary objects
    MEDIUM = 1  # people present in the scene, or speed raised
    HIGH = 2  # hazardous objects (knives) handled, or moves near people
    FORBIDDEN = 3  # never executed


class Violation(BaseModel):
    """A red line crossed or about to be crossed: which rule, where, how much."""

    model_config = ConfigDict(extra="forbid")

    rule: str  # e.g. "workspace", "keep_out", "tcp_speed", "protective_distance"
    where: str  # e.g. "step 2 (move_to), panda_link7 at t=1.20 s"
    value: float
    limit: float
    source: str  # "plan_check", "dry_run", "motion_node", "sim_node", "driver_bridge"
    step: int | None = None
    stamp: float = Field(default_factory=time.time)

    def describe(self) -> str:
        return f"{self.rule} at {self.where}: {self.value:.3f} (limit {self.limit:.3f})"


class DryRunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    sim_s: float
    wall_s: float
    violations: list[Violation] = Field(default_factory=list)
    error: str | None = None


class Plan(Message):
    """`planner/plan`: what a planner proposed, how risky it is, and its fate."""

    plan_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    robot_id: str = ""
    instruction: str = ""
    steps: list[PlanStep] = Field(default_factory=list)
    rationale: str = ""
    provenance: Provenance
    ai_generated: bool = True
    risk_tier: RiskTier = RiskTier.LOW
    risk_reasons: list[str] = Field(default_factory=list)
    status: PlanStatus = PlanStatus.PROPOSED
    reason: str | None = None  # why refused / rejected / failed
    approved_by: str | None = None
    approved_at: float | None = None  # unix time of the approval (a motion node started
    # later never executes an approval it did not witness: no restart resumes motion)
    dry_run: DryRunResult | None = None
    findings: list[Violation] = Field(default_factory=list)


class Approval(Message):
    """`planner/approval`: an operator's decision on a waiting plan."""

    plan_id: str
    approved: bool
    operator: str
    reason: str | None = None
    stamp: float = Field(default_factory=time.time)


# ---- motion -------------------------------------------------------------------------------


class MotionState(str, Enum):
    IDLE = "idle"
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"
    ABORTED = "aborted"  # stopped by an e-stop, a stale heartbeat or a violation: never resumed


class MotionStatus(Message):
    """`motion/status`."""

    plan_id: str | None = None
    state: MotionState
    step_index: int | None = None
    step_count: int = 0
    skill: SkillName | None = None
    error: str | None = None
    stamp: float = 0.0


class JogAxis(str, Enum):
    X = "x"
    Y = "y"
    Z = "z"
    GRIPPER = "gripper"


class JogCommand(Message):
    """`teleop/jog`: hold-to-move. A jog stops unless refreshed within the deadman period."""

    operator: str
    axis: JogAxis
    direction: Literal[-1, 0, 1]  # 0 = stop; gripper: +1 open, -1 close
    seq: int = Field(ge=0)
    stamp: float = Field(default_factory=time.time)


# ---- safety -------------------------------------------------------------------------------


class Trip(Message):
    """`safety/trip`: a software stop request: who asked and why."""

    who: str = Field(min_length=1)
    why: str = Field(min_length=1)
    stamp: float = Field(default_factory=time.time)


class SafetyStatus(Message):
    """`safety/status`: the latch and each input, for the console and the logs."""

    latched: bool
    inputs: dict[str, bool] = Field(default_factory=dict)  # input name -> pressed
    tripped_by: str | None = None
    reason: str | None = None
    reset_allowed: bool = False
    stamp: float = Field(default_factory=time.time)


class HoldStatus(Message):
    """`sim/hold`: the actuator side entered or left a hold (benchmarks, the console).

    `monotonic_s` is CLOCK_MONOTONIC (system-wide on Linux) when the hold was
    commanded, so another process can time a stop from its own monotonic stamps.
    """

    holding: bool
    reason: str | None = None
    hold_count: int = Field(ge=0)  # holds entered so far: none missed between messages
    monotonic_s: float
    sim_time: float


class ResetRequest(Message):
    """`safety/reset_request`: an operator asks to clear the e-stop latch.

    `token` is the operator's secret, checked against the registry's hash; only
    roles allowed to reset (safety_officer) succeed, and only with every input released.
    """

    operator: str = Field(min_length=1)
    token: str = Field(min_length=1, repr=False)
    stamp: float = Field(default_factory=time.time)


class ResetOutcome(Message):
    """`safety/reset_result`: what became of a reset request."""

    operator: str
    ok: bool
    reason: str
    stamp: float = Field(default_factory=time.time)


# ---- audit --------------------------------------------------------------------------------


class AuditEventKind(str, Enum):
    INSTRUCTION = "instruction"
    PLAN = "plan"
    REFUSAL = "refusal"
    APPROVAL = "approval"
    REJECTION = "rejection"
    DRY_RUN = "dry_run"
    MOTION_START = "motion_start"
    MOTION_END = "motion_end"
    TRIP = "trip"
    RESET = "reset"
    VIOLATION = "violation"
    JOG = "jog"
    LOGIN = "login"
    RESTART = "restart"
    GAP = "gap"
    INCIDENT = "incident"


class ModelProvenance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    endpoint: str | None = None
    prompt_sha256: str | None = None


class AuditEvent(Message):
    """`audit/events`: what a component reports; audit_node chains it into the log."""

    source: str  # emitting component, e.g. "planner_node"
    source_seq: int = Field(ge=0)  # per-source counter: gaps reveal drops
    kind: AuditEventKind
    actor: str  # the accountable operator, or the component acting on its own
    robot_id: str
    model: ModelProvenance | None = None
    ai_generated: bool = False
    payload: dict[str, Any] = Field(default_factory=dict)
    stamp: float = Field(default_factory=time.time)
    want_ack: bool = False  # the sender waits for an `audit/ack` (write-ahead for motion)


class AuditHead(Message):
    """`audit/head`."""

    length: int
    head_hash: str
    file: str
    dropped: int = 0


class AuditAck(Message):
    """`audit/ack`: audit_node's answer to one event. `durable` is True only once the
    record is fsync'd; otherwise `error` says why it is not (read-only dir, disk full)."""

    source: str
    source_seq: int = Field(ge=0)
    durable: bool
    seq: int | None = None  # the record's sequence number in the log
    hash: str | None = None
    error: str | None = None


# ---- simulator ground truth (judges only: the planner never reads it) ---------------------


class BodyState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Vec3
    orientation: tuple[float, float, float, float]  # quaternion x, y, z, w
    linear_velocity: Vec3 = (0.0, 0.0, 0.0)
    angular_velocity: Vec3 = (0.0, 0.0, 0.0)  # rad/s, world frame


class GroundTruth(Message):
    """`sim/ground_truth`."""

    sim_time: float
    objects: dict[str, BodyState] = Field(default_factory=dict)
    links: dict[str, BodyState] = Field(default_factory=dict)
    tcp: BodyState
    tcp_speed: float
    joint_positions: list[float] = Field(default_factory=list)
    joint_velocities: list[float] = Field(default_factory=list)  # arm joints, rad/s
    gripper_opening: float = 0.0
    contacts: list[tuple[str, str]] = Field(default_factory=list)


class SimControlOp(str, Enum):
    RESET = "reset"  # rebuild the scene (a new one if given), arm home, sim time 0
    MOVE = "move"  # teleport an object to xy (a person stepping in)


class SimControl(Message):
    """`sim/control`: what the task and red-team runners ask of the simulator."""

    op: SimControlOp
    scene: Scene | None = None  # reset: the scene to build (None: the current one)
    object_id: str | None = None  # move
    xy: tuple[float, float] | None = None  # move, world frame, m

    @model_validator(mode="after")
    def _complete(self) -> SimControl:
        if self.op is SimControlOp.MOVE and (self.object_id is None or self.xy is None):
            raise ValueError("`move` needs `object_id` and `xy`")
        if self.xy is not None and not all(math.isfinite(v) for v in self.xy):
            raise ValueError("`xy` must be finite")
        return self
