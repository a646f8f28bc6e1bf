"""Risk tiers of a plan from its skills, the objects it touches and the scene.

LOW: ordinary motion among ordinary objects. MEDIUM: people in the scene,
speed raised, or motion inside a person's reduced-speed zone. HIGH: a knife
handled, or motion aimed within NEAR_MARGIN of a person's protective distance.
FORBIDDEN: a forbidden skill or object, a person as the object or target, a
target that certainly crosses a red line (outside the workspace, below the table, inside a
keep-out box or a person's protective distance), a speed scale outside (0, 1].
Tiers at or above `redlines.approval_tier` wait for an operator; FORBIDDEN
never runs. Every reason names the step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from embodied_stack.safety.geometry import point_box_distance
from embodied_stack.safety.redlines import RedLines
from embodied_stack.safety.violations import object_box
from embodied_stack.scene import KeepOutBox, ObjectKind
from embodied_stack.schemas import PerceivedObject, PlanStep, RiskTier, SkillName

RAISED_SPEED = 0.5  # set_speed scale above this raises the tier to MEDIUM
# Aimed within this of the protective distance: HIGH; farther (inside the
# reduced-speed zone, where the red lines already cap speed): MEDIUM.
NEAR_MARGIN = 0.10
_POSITION_SKILLS = (SkillName.MOVE_TO, SkillName.PLACE_AT)
_PLACE_AT_HEIGHT = 0.05  # m: where place_at carries the object (for the distance test)


class _Assessment:
    def __init__(self) -> None:
        self.tier = RiskTier.LOW
        self.reasons: list[str] = []

    def raise_to(self, tier: RiskTier, reason: str) -> None:
        self.tier = max(self.tier, tier)
        if reason not in self.reasons:
            self.reasons.append(reason)


def assess_risk(
    steps: Sequence[PlanStep], objects: Sequence[PerceivedObject], redlines: RedLines
) -> tuple[RiskTier, list[str]]:
    """The plan's tier and the reasons for it (most severe first)."""
    risk = _Assessment()
    people = [object_box(o) for o in objects if o.kind is ObjectKind.HUMAN]
    if people:
        risk.raise_to(RiskTier.MEDIUM, f"{len(people)} person(s) in the scene")
    holding: PerceivedObject | None = None
    for index, step in enumerate(steps):
        name = f"step {index + 1} ({step.skill.value})"
        if step.skill.value in redlines.forbidden_skills:
            risk.raise_to(RiskTier.FORBIDDEN, f"{name}: skill {step.skill.value} is forbidden")
        _check_args(step, name, risk)
        if step.skill is SkillName.PICK:
            holding = _resolve(step.args.get("object"), objects)
            _assess_pick(holding, name, people, redlines, risk)
        elif step.skill is SkillName.PLACE:
            _assess_place(
                _resolve(step.args.get("target"), objects), holding, name, people, redlines, risk
            )
            holding = None
        elif step.skill in _POSITION_SKILLS:
            _assess_position(step, holding, name, people, redlines, risk)
            if step.skill is SkillName.PLACE_AT:
                holding = None
        elif step.skill is SkillName.SET_SPEED:
            _assess_speed(step, name, risk)
    order = sorted(range(len(risk.reasons)), key=lambda i: -_severity(risk.reasons[i]))
    return risk.tier, [risk.reasons[i] for i in order]


def _severity(reason: str) -> int:
    return 1 if "forbidden" in reason or "red line" in reason else 0


def _check_args(step: PlanStep, name: str, risk: _Assessment) -> None:
    for key, value in step.args.items():
        if isinstance(value, float) and not math.isfinite(value):
            risk.raise_to(RiskTier.FORBIDDEN, f"{name}: argument {key} is not finite (forbidden)")


def _resolve(ref: float | str | None, objects: Sequence[PerceivedObject]) -> PerceivedObject | None:
    """An object by id, else by a description naming its kind (and colour)."""
    if not isinstance(ref, str):
        return None
    for obj in objects:
        if obj.id == ref:
            return obj
    words = ref.lower().replace("_", " ").split()
    matches = [
        o
        for o in objects
        if o.kind.value in words or (o.kind is ObjectKind.HUMAN and "person" in words)
    ]
    colored = [o for o in matches if o.color is not None and o.color.value in words]
    found = colored or matches
    return found[0] if len(found) == 1 else None


def _near_person(point: Sequence[float], people: list[KeepOutBox], distance: float) -> float | None:
    nearest = min((point_box_distance(point, p) for p in people), default=math.inf)
    return nearest if nearest < distance else None


def _assess_pick(
    obj: PerceivedObject | None,
    name: str,
    people: list[KeepOutBox],
    redlines: RedLines,
    risk: _Assessment,
) -> None:
    if obj is None:
        return
    if obj.kind is ObjectKind.HUMAN:
        risk.raise_to(RiskTier.FORBIDDEN, f"{name}: grasping a person is forbidden")
    if obj.kind in redlines.forbidden_objects:
        risk.raise_to(RiskTier.FORBIDDEN, f"{name}: grasping a {obj.kind.value} is forbidden")
    if obj.kind is ObjectKind.KNIFE:
        risk.raise_to(RiskTier.HIGH, f"{name}: handles a knife ({obj.id})")
        if people:
            risk.raise_to(RiskTier.HIGH, f"{name}: a knife handled with people present")
    _assess_point(obj.position, None, name, people, redlines, risk)


def _assess_place(
    target: PerceivedObject | None,
    held: PerceivedObject | None,
    name: str,
    people: list[KeepOutBox],
    redlines: RedLines,
    risk: _Assessment,
) -> None:
    if target is None:
        return
    if target.kind is ObjectKind.HUMAN:
        risk.raise_to(RiskTier.FORBIDDEN, f"{name}: handing or placing onto a person is forbidden")
        return
    point = (*target.position[:2], target.top_z + 0.05)
    _assess_point(point, held, name, people, redlines, risk)


def _assess_position(
    step: PlanStep,
    held: PerceivedObject | None,
    name: str,
    people: list[KeepOutBox],
    redlines: RedLines,
    risk: _Assessment,
) -> None:
    coords = [step.args.get(axis) for axis in ("x", "y", "z")]
    if step.skill is SkillName.PLACE_AT:
        coords[2] = _PLACE_AT_HEIGHT
    numbers = [float(c) for c in coords if isinstance(c, float | int)]
    if len(numbers) != 3 or not all(math.isfinite(c) for c in numbers):
        return  # the plan validator rejects it; _check_args flagged non-finite values
    point = (numbers[0], numbers[1], numbers[2])
    box = redlines.workspace
    if not box.contains(point):
        risk.raise_to(
            RiskTier.FORBIDDEN, f"{name}: target {point} outside the workspace (red line)"
        )
    if point[2] < redlines.min_link_z:
        risk.raise_to(RiskTier.FORBIDDEN, f"{name}: target below the table (red line)")
    for i, zone in enumerate(redlines.keep_out):
        if zone.contains(point):
            risk.raise_to(RiskTier.FORBIDDEN, f"{name}: target inside keep_out[{i}] (red line)")
    _assess_point(point, held, name, people, redlines, risk)


def _assess_point(
    point: Sequence[float],
    held: PerceivedObject | None,
    name: str,
    people: list[KeepOutBox],
    redlines: RedLines,
    risk: _Assessment,
) -> None:
    near = _near_person(point, people, redlines.reduced_speed_distance)
    if near is None:
        pass
    elif near < redlines.protective_distance:
        risk.raise_to(
            RiskTier.FORBIDDEN,
            f"{name}: target {near:.2f} m from a person, inside the protective distance "
            f"{redlines.protective_distance:.2f} m (red line)",
        )
    elif near < redlines.protective_distance + NEAR_MARGIN:
        risk.raise_to(RiskTier.HIGH, f"{name}: motion {near:.2f} m from a person")
    else:
        risk.raise_to(RiskTier.MEDIUM, f"{name}: motion {near:.2f} m from a person (slowed)")
    if held is not None and held.kind is ObjectKind.KNIFE:
        reach = max(held.size) / 2
        gap = _near_person(point, people, redlines.knife_person_distance + reach)
        if gap is not None:
            risk.raise_to(
                RiskTier.FORBIDDEN,
                f"{name}: knife brought {gap - reach:.2f} m from a person (red line)",
            )


def _assess_speed(step: PlanStep, name: str, risk: _Assessment) -> None:
    scale = step.args.get("scale")
    if not isinstance(scale, float | int) or not math.isfinite(scale) or not 0 < scale <= 1:
        risk.raise_to(RiskTier.FORBIDDEN, f"{name}: speed scale {scale} outside (0, 1] (forbidden)")
    elif scale > RAISED_SPEED:
        risk.raise_to(RiskTier.MEDIUM, f"{name}: speed raised to {scale:.2f} of the maximum")
