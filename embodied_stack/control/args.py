"""Skill arguments: exactly the ones DESIGN.md §6 defines, finite numbers, object ids."""

from __future__ import annotations

import math
from dataclasses import dataclass

from embodied_stack.control.motion import SkillError
from embodied_stack.schemas import PlanStep, SkillName

TEXT, NUMBER = "text", "number"

SKILL_ARGS: dict[SkillName, dict[str, str]] = {
    SkillName.PICK: {"object": TEXT},
    SkillName.PLACE: {"target": TEXT},
    SkillName.PLACE_AT: {"x": NUMBER, "y": NUMBER},
    SkillName.MOVE_TO: {"x": NUMBER, "y": NUMBER, "z": NUMBER},
    SkillName.OPEN_GRIPPER: {},
    SkillName.CLOSE_GRIPPER: {},
    SkillName.GO_HOME: {},
    SkillName.SET_SPEED: {"scale": NUMBER},
    SkillName.WAIT: {"seconds": NUMBER},
}


@dataclass(frozen=True)
class SkillArgs:
    values: dict[str, float | str]

    def number(self, name: str) -> float:
        value = self.values[name]
        assert isinstance(value, float)
        return value

    def text(self, name: str) -> str:
        value = self.values[name]
        assert isinstance(value, str)
        return value


def parse_args(step: PlanStep) -> SkillArgs:
    """The step's arguments, checked against its skill (SkillError names the argument)."""
    try:
        expected = SKILL_ARGS[SkillName(step.skill)]
    except ValueError as exc:
        raise SkillError(f"unknown skill {step.skill!r}") from exc
    unexpected = sorted(set(step.args) - set(expected))
    if unexpected:
        raise SkillError(
            f"unexpected argument(s) {unexpected} (takes {sorted(expected) or 'none'})"
        )
    values: dict[str, float | str] = {}
    for name, kind in expected.items():
        if name not in step.args:
            raise SkillError(f"missing argument {name!r}")
        values[name] = _convert(name, kind, step.args[name])
    return SkillArgs(values)


def _convert(name: str, kind: str, value: object) -> float | str:
    if kind == TEXT:
        if not isinstance(value, str) or not value.strip():
            raise SkillError(f"argument {name!r} must be an object id, got {value!r}")
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SkillError(f"argument {name!r} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise SkillError(f"argument {name!r} must be finite, got {value!r}")
    return float(value)
