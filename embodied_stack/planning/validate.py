"""Validation of untrusted plan steps (a model's reply, a console request, the offline
planner's own draft): schema, numbers, references, and what the gripper holds.

Input is whatever JSON decoding produced; output is a list of PlanStep whose
object arguments are perceived ids, or a Refusal naming the step, the argument
and the value. Nothing here raises anything else, whatever the input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from embodied_stack.planning.grammar import parse_clause
from embodied_stack.planning.lexer import tokenize
from embodied_stack.planning.references import Reference, Role, resolve_one
from embodied_stack.planning.refusal import Refusal
from embodied_stack.planning.skills import (
    DEFAULT_LIMITS,
    SKILL_NAMES,
    ArgSpec,
    ArgType,
    PlanLimits,
    skill_args,
)
from embodied_stack.planning.vocab import W
from embodied_stack.scene import CONTAINERS, GRASPABLE, ObjectKind
from embodied_stack.schemas import PerceivedObject, PlanStep, SkillName

PLACE_TARGETS = CONTAINERS | {ObjectKind.CUBE, ObjectKind.CYLINDER}


def validate_steps(
    raw: Any,
    objects: Sequence[PerceivedObject],
    *,
    holding: str | None = None,
    limits: PlanLimits = DEFAULT_LIMITS,
) -> list[PlanStep]:
    """Untrusted steps -> validated steps with resolved ids, or Refusal."""
    if not isinstance(raw, list):
        raise Refusal("malformed_plan", f"`steps` must be a list, got {_type(raw)}")
    if not raw:
        raise Refusal("empty_plan", "the plan has no steps")
    if len(raw) > limits.max_steps:
        raise Refusal("too_many_steps", f"{len(raw)} steps, at most {limits.max_steps}")
    steps = [_step(i + 1, item, objects, limits) for i, item in enumerate(raw)]
    check_gripper_sequence(steps, objects, holding=holding)
    return steps


def _step(n: int, item: Any, objects: Sequence[PerceivedObject], limits: PlanLimits) -> PlanStep:
    if not isinstance(item, Mapping):
        raise Refusal("malformed_step", f"step {n} must be an object, got {_type(item)}")
    extra = sorted(str(k) for k in item if k not in ("skill", "args"))
    if extra:
        raise Refusal("malformed_step", f"step {n}: unexpected field(s) {extra}")
    name = item.get("skill")
    if not isinstance(name, str) or name not in SKILL_NAMES:
        raise Refusal(
            "unknown_skill",
            f"step {n}: unknown skill {_short(name)} (allowed: {', '.join(SKILL_NAMES)})",
        )
    skill = SkillName(name)
    args = item.get("args")
    args = {} if args is None else args
    if not isinstance(args, Mapping):
        raise Refusal("malformed_step", f"step {n} ({name}): `args` must be an object")
    return PlanStep(skill=skill, args=_args(n, skill, args, objects, limits))


def _args(
    n: int,
    skill: SkillName,
    args: Mapping[Any, Any],
    objects: Sequence[PerceivedObject],
    limits: PlanLimits,
) -> dict[str, float | str]:
    specs = skill_args(skill, limits)
    names = {s.name for s in specs}
    extra = sorted(str(k) for k in args if k not in names)
    if extra:
        raise Refusal("bad_argument", f"step {n} ({skill.value}): unexpected argument(s) {extra}")
    missing = [s.name for s in specs if s.name not in args]
    if missing:
        raise Refusal("bad_argument", f"step {n} ({skill.value}): missing argument(s) {missing}")
    out: dict[str, float | str] = {}
    for spec in specs:
        where = f"step {n} ({skill.value}) argument `{spec.name}`"
        value = args[spec.name]
        if spec.type is ArgType.NUMBER:
            out[spec.name] = _number(where, spec, value)
        else:
            out[spec.name] = _object_id(where, value, objects, skill, limits)
    return out


def _number(where: str, spec: ArgSpec, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refusal("bad_number", f"{where} must be a number, got {_short(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise Refusal("non_finite_number", f"{where} is {number}, not a finite number")
    too_low = number <= spec.low if spec.low_open else number < spec.low
    if too_low or number > spec.high:
        raise Refusal(
            "out_of_range", f"{where} is {number:g}, outside {spec.range_text()}{spec.unit}"
        )
    return number


def _object_id(
    where: str,
    value: Any,
    objects: Sequence[PerceivedObject],
    skill: SkillName,
    limits: PlanLimits,
) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Refusal("bad_reference", f"{where} must name an object, got {_short(value)}")
    if len(value) > limits.max_reference_chars:
        raise Refusal("bad_reference", f"{where} is {len(value)} characters long")
    ref = parse_reference(value, objects)
    if ref is None:
        raise Refusal("bad_reference", f"{where}: {_short(value)} does not describe an object")
    role = Role.THEME if skill is SkillName.PICK else Role.DEST
    try:
        return resolve_one(ref, objects, role).id
    except Refusal as exc:
        raise Refusal(exc.rule, f"{where}: {exc.detail}") from exc


def parse_reference(text: str, objects: Sequence[PerceivedObject]) -> Reference | None:
    """An id, or a description read by the offline grammar ("the red cube on the left")."""
    ids = {o.id for o in objects}
    if text in ids:
        return Reference(text=text, ids=[text])
    tokens = [t for t in tokenize(text, ids) if t.cls is not W.FILLER]
    clause = parse_clause(tokens)
    refs = clause.themes or ([clause.dest] if clause.dest is not None else [])
    return refs[0] if refs and refs[0].has_content() else None


def check_gripper_sequence(
    steps: Sequence[PlanStep], objects: Sequence[PerceivedObject], *, holding: str | None
) -> None:
    """Pick only with an empty gripper, only graspable things with nothing resting on them;
    place only what is held, and only into or onto something that can take it."""
    kinds = {o.id: o.kind for o in objects}
    on_top = _stacked_on(objects)
    held = holding
    for n, step in enumerate(steps, start=1):
        where = f"step {n} ({step.skill.value})"
        if step.skill is SkillName.PICK:
            held = _check_pick(where, str(step.args["object"]), held, kinds, on_top)
        elif step.skill in (SkillName.PLACE, SkillName.PLACE_AT):
            if held is None:
                raise Refusal("nothing_held", f"{where}: the gripper holds nothing to put down")
            if step.skill is SkillName.PLACE:
                target = str(step.args["target"])
                _check_place_target(where, target, held, kinds)
                if kinds[target] not in CONTAINERS:
                    on_top.setdefault(target, set()).add(held)
            held = None
        elif step.skill is SkillName.OPEN_GRIPPER:
            held = None


def _check_pick(
    where: str,
    target: str,
    held: str | None,
    kinds: dict[str, ObjectKind],
    on_top: dict[str, set[str]],
) -> str:
    """The object now held, or Refusal."""
    if held is not None:
        raise Refusal("gripper_busy", f"{where}: the gripper already holds {held}")
    if kinds[target] not in GRASPABLE:
        raise Refusal(
            "not_graspable", f"{where}: {target} is a {kinds[target].value}, not graspable"
        )
    blocking = sorted(on_top.get(target, set()))
    if blocking:
        raise Refusal(
            "object_underneath",
            f"{where}: {', '.join(blocking)} rests on {target}; move it off first",
        )
    for above in on_top.values():
        above.discard(target)
    return target


def _stacked_on(objects: Sequence[PerceivedObject]) -> dict[str, set[str]]:
    """id -> ids of the objects resting on it (not inside: a tray can be carried full)."""
    above: dict[str, set[str]] = {}
    for obj in objects:
        if obj.support not in ("table", "floor", "held") and not obj.inside:
            above.setdefault(obj.support, set()).add(obj.id)
    return above


def _check_place_target(where: str, target: str, held: str, kinds: dict[str, ObjectKind]) -> None:
    if target == held:
        raise Refusal("bad_target", f"{where}: cannot put {held} on itself")
    if kinds[target] not in PLACE_TARGETS:
        raise Refusal(
            "bad_target", f"{where}: cannot put things on a {kinds[target].value} ({target})"
        )


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
