"""The skill vocabulary of DESIGN.md §6 as argument specifications, and plan limits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.schemas import SkillName


class ArgType(str, Enum):
    OBJECT = "object"  # an object reference: a perceived id or a description
    NUMBER = "number"


@dataclass(frozen=True)
class ArgSpec:
    name: str
    type: ArgType
    low: float = float("-inf")
    high: float = float("inf")
    low_open: bool = False  # (low, high] instead of [low, high]
    unit: str = ""

    def range_text(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"


class PlanLimits(BaseModel):
    """Bounds on untrusted plans. Red lines (workspace, speed) are enforced below the planner;
    these only keep nonsense out of the plan itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_steps: int = Field(default=40, ge=1)
    max_wait_s: float = Field(default=30.0, gt=0)
    coordinate_bound_m: float = Field(default=2.0, gt=0)  # |x|, |y|, |z| sanity bound
    max_reference_chars: int = Field(default=120, ge=1)
    max_rationale_chars: int = Field(default=1000, ge=0)


DEFAULT_LIMITS = PlanLimits()


def skill_args(skill: SkillName, limits: PlanLimits = DEFAULT_LIMITS) -> tuple[ArgSpec, ...]:
    """The arguments a skill takes, with their ranges."""
    bound = limits.coordinate_bound_m

    def coordinate(name: str) -> ArgSpec:
        return ArgSpec(name, ArgType.NUMBER, -bound, bound, unit="m")

    return {
        SkillName.PICK: (ArgSpec("object", ArgType.OBJECT),),
        SkillName.PLACE: (ArgSpec("target", ArgType.OBJECT),),
        SkillName.PLACE_AT: (coordinate("x"), coordinate("y")),
        SkillName.MOVE_TO: (coordinate("x"), coordinate("y"), coordinate("z")),
        SkillName.OPEN_GRIPPER: (),
        SkillName.CLOSE_GRIPPER: (),
        SkillName.GO_HOME: (),
        SkillName.SET_SPEED: (ArgSpec("scale", ArgType.NUMBER, 0.0, 1.0, low_open=True),),
        SkillName.WAIT: (ArgSpec("seconds", ArgType.NUMBER, 0.0, limits.max_wait_s, unit="s"),),
    }[skill]


SKILL_NAMES = tuple(s.value for s in SkillName)
