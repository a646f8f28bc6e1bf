"""Clause intents of the offline planner and the steps each one drafts.

`intent_of` reads what a clause asks (put, stack, pick, sort, move to a point,
home, ...); `build_clause` resolves its references against the perceived scene
and appends the steps to the draft, or raises Refusal saying what is missing.
"""

from __future__ import annotations

import math
from typing import Any

from embodied_stack.planning.draft import DraftBuilder
from embodied_stack.planning.freespace import beside, free_spot
from embodied_stack.planning.grammar import Clause
from embodied_stack.planning.references import (
    Reference,
    Role,
    describe_objects,
    resolve,
    resolve_one,
)
from embodied_stack.planning.refusal import Refusal
from embodied_stack.scene import CONTAINERS, GRASPABLE
from embodied_stack.schemas import PerceivedObject

DEFAULT_MOVE_Z = 0.20  # m: "move to x, y" without a height hovers here
DEFAULT_WAIT_S = 1.0
BESIDE = {"near": "near", "left_of": "left_of", "right_of": "right_of"}
BESIDE |= {"nearest_to": "near", "away_from": "away_from"}
# Named spots on the table (robot's view: x forward, +y left), for "the middle of the table".
TABLE_SPOTS = {"middle": (0.50, 0.0), "left": (0.50, 0.25), "right": (0.50, -0.25)}
TABLE_SPOTS |= {"nearest": (0.35, 0.0), "farthest": (0.65, 0.0)}
_TABLE_SIDE = {"middle_of": "middle", "left_of": "left", "right_of": "right"}
_TABLE_SIDE |= {"nearest_to": "nearest", "farthest_from": "farthest"}
HOVER_M = 0.15  # "go to the tray": this high above its top
SLOW_SCALE = 0.5


def intent_of(clause: Clause, previous_verb: str | None) -> str | None:
    if clause.negated or _only_a_remark(clause):
        return "constraint"
    verb = clause.verb
    has_objects = bool(clause.themes or clause.dest)
    if verb is None and has_objects:
        complete = clause.dest is not None and bool(clause.themes)
        verb = previous_verb or ("put" if complete else None)
    if verb in ("open", "close", "wait", "slow"):
        return verb
    if clause.by_color and verb in ("put", "move", "stack", "sort"):
        return "sort"
    if verb == "sort" and (clause.dest is None or clause.dest.many):
        return "sort"
    if clause.numbers or clause.offsets:
        if verb in ("wait", "slow"):
            return verb
        return "place_at" if clause.themes else "move_to"
    if clause.dest is not None and verb is not None:
        return "stack" if verb == "stack" else "put"
    if clause.home or (verb == "home" and not has_objects):
        return "home"
    if clause.source is not None or verb == "remove":
        return "remove"
    if verb == "pick" and clause.themes:
        return "pick"
    if verb == "stack" and clause.themes:
        return "tower"
    if verb == "set_down":
        return "set_down"
    if clause.on_top and clause.themes and verb in ("put", "move", "stack"):
        return "on_top"
    if verb in ("put", "move") and clause.themes:
        return "missing_destination"
    if verb is None and clause.themes and not clause.unknown:
        return "topic"  # "the blue cube, put it on the red cube"
    return None


def _only_a_remark(clause: Clause) -> bool:
    """ "stay away from the person", "there is a person nearby": no object to act on."""
    if clause.verb not in (None, "wait") or clause.numbers:
        return False
    refs = clause.references()
    avoiding = clause.dest_rel == "away_from" and not clause.themes
    return bool(refs) and (avoiding or all(r.is_person for r in refs))


def build_clause(b: DraftBuilder, clause: Clause) -> bool:
    intent = intent_of(clause, b.verb)
    if intent is None:
        return False
    b.verb = clause.verb or b.verb
    if clause.speed is not None and intent not in ("constraint", "slow"):
        b.emit("set_speed", scale=1.0 if clause.speed == "max" else float(clause.speed))
    _HANDLERS[intent](b, clause)
    return True


# ---- intents -------------------------------------------------------------------------------


def _themes(b: DraftBuilder, clause: Clause, *, many: bool) -> list[PerceivedObject]:
    refs = clause.themes
    if not refs or all(r.pronoun and not (r.colors or r.kinds) for r in refs):
        if not b.last:
            raise Refusal("missing_object", f"which object do you mean in '{clause.text}'?")
        return [b.obj(i) for i in b.last]
    found: list[PerceivedObject] = []
    for ref in refs:
        found += resolve(ref, b.objects, Role.THEME, allow_many=many)
    unique = list({o.id: o for o in found}.values())
    return sorted(unique, key=lambda o: -o.position[2]) if len(unique) > 1 else unique


def _dest(b: DraftBuilder, clause: Clause) -> PerceivedObject:
    dest = clause.dest
    assert dest is not None
    if dest.pronoun and not (dest.colors or dest.kinds):
        mentioned = [t.relation.other for t in clause.themes if t.relation is not None]
        if mentioned:  # "move the cube closest to the tray into it": it = the tray
            return resolve_one(mentioned[0], b.objects, Role.DEST)
        if b.last:
            return b.obj(b.last[-1])
    return resolve_one(dest, b.objects, Role.DEST)


def _on_top(b: DraftBuilder, clause: Clause) -> None:
    """ "... and the red one on top": onto what the last step stacked."""
    if not b.last:
        raise Refusal("missing_destination", f"on top of what, in '{clause.text}'?")
    target = b.obj(b.last[-1])
    for obj in _themes(b, clause, many=True):
        b.pick(obj)
        b.place(target)
        target = obj
    b.last = [target.id]


def _put(b: DraftBuilder, clause: Clause) -> None:
    if clause.dest is not None and clause.dest.table:
        _put_on_table(b, clause, clause.dest)
        return
    dest = _dest(b, clause)
    if not clause.themes and not b.last and clause.verb == "move":
        _hover(b, dest)  # "go to the tray": the gripper goes above it
        return
    themes = [o for o in _themes(b, clause, many=True) if o.id != dest.id]
    if not themes:
        raise Refusal("bad_target", f"nothing to put on {dest.id} itself")
    if clause.dest_rel in BESIDE:
        _put_beside(b, themes, dest, BESIDE[clause.dest_rel])
        return
    target = dest
    for ref in reversed(clause.chain):  # "stack red on green on blue": green goes first
        middle = resolve_one(ref, b.objects, Role.THEME)
        b.pick(middle)
        b.place(target)
        target = middle
    for obj in themes:
        b.pick(obj)
        b.place(target)
        if target.kind not in CONTAINERS:
            target = obj  # several things onto a block: build a tower
    b.last = [o.id for o in themes]


def _put_beside(
    b: DraftBuilder, themes: list[PerceivedObject], target: PerceivedObject, side: str
) -> None:
    for obj in themes:
        b.pick(obj)
        x, y = free_spot(b.scene(), obj, exclude={obj.id}, near=beside(target, obj, side))
        b.place_at(x, y)
    b.last = [o.id for o in themes]


def _put_on_table(b: DraftBuilder, clause: Clause, table: Reference) -> None:
    """Set things down on the table: where the words say, else near where they are."""
    side = next(iter(table.positions), _TABLE_SIDE.get(clause.dest_rel or ""))
    anchor = TABLE_SPOTS.get(side or "")
    for obj in _themes(b, clause, many=True) if clause.themes else _held_or_last(b, clause):
        b.pick(obj)
        x, y = free_spot(b.scene(), obj, exclude={obj.id}, near=anchor)
        b.place_at(x, y)
        b.last = [obj.id]


def _held_or_last(b: DraftBuilder, clause: Clause) -> list[PerceivedObject]:
    if not b.last:
        raise Refusal("missing_object", f"which object do you mean in '{clause.text}'?")
    return [b.obj(i) for i in b.last]


def _set_down(b: DraftBuilder, clause: Clause) -> None:
    """ "put the red cube down" / "放下": on the table, near where it is."""
    for obj in _themes(b, clause, many=True) if clause.themes else _held_or_last(b, clause):
        b.pick(obj)
        b.put_aside()


def _hover(b: DraftBuilder, target: PerceivedObject) -> None:
    x, y, _ = target.position
    b.emit("move_to", x=round(x, 4), y=round(y, 4), z=round(target.top_z + HOVER_M, 4))
    b.notes.append(f"hover {HOVER_M:.2f} m above {target.id}")


def _tower(b: DraftBuilder, clause: Clause) -> None:
    blocks = _themes(b, clause, many=True)
    if len(blocks) < 2:
        raise Refusal("missing_destination", f"what should I stack {blocks[0].id} on?")
    base, *rest = sorted(blocks, key=lambda o: (-o.size[0] * o.size[1], o.position[0]))
    target = base
    for obj in rest:
        b.pick(obj)
        b.place(target)
        target = obj
    b.last = [o.id for o in blocks]


def _pick(b: DraftBuilder, clause: Clause) -> None:
    found = _themes(b, clause, many=True)
    if len(found) > 1:
        raise Refusal(
            "one_at_a_time",
            f"I can hold one object at a time, and '{clause.text}' names {len(found)}: "
            f"{describe_objects(found)}",
        )
    b.pick(found[0])


def _remove(b: DraftBuilder, clause: Clause) -> None:
    obj = _single(b, clause)
    b.pick(obj)
    b.set_down = obj.id


def _place_at(b: DraftBuilder, clause: Clause) -> None:
    obj = _single(b, clause)
    x, y = _target_xy(clause, obj)
    b.pick(obj)
    b.place_at(x, y)
    b.last = [obj.id]


def _move_to(b: DraftBuilder, clause: Clause) -> None:
    coords = _coordinates(clause, ("x", "y", "z"))
    z = coords.get("z", DEFAULT_MOVE_Z)
    if "z" not in coords:
        b.notes.append(f"height {DEFAULT_MOVE_Z:.2f} m above the table")
    b.emit("move_to", x=coords["x"], y=coords["y"], z=z)


def _sort(b: DraftBuilder, clause: Clause) -> None:
    containers = _sort_containers(b, clause)
    for ref in clause.themes:
        ref.every = True  # "sort the cube(s)": Chinese nouns carry no plural
    if clause.themes:
        items = _themes(b, clause, many=True)
    else:
        items = [o for o in b.objects if o.kind in GRASPABLE]
    moved = 0
    for obj in items:
        same = [c for c in containers if c.color is not None and c.color == obj.color]
        if len(same) > 1:
            raise Refusal(
                "ambiguous_reference",
                f"{obj.id} matches {len(same)} containers of its colour: {describe_objects(same)}",
            )
        if not same or obj.support == same[0].id:
            b.notes.append(f"{obj.id} left where it is")
            continue
        b.pick(obj)
        b.place(same[0])
        moved += 1
    if moved == 0:
        raise Refusal(
            "nothing_to_sort",
            f"no object has a container of its colour to go in: {describe_objects(items)} "
            f"and {describe_objects(containers)}",
        )


def _sort_containers(b: DraftBuilder, clause: Clause) -> list[PerceivedObject]:
    if clause.dest is not None:
        dest = clause.dest
        ref = Reference(text=dest.text, kinds=dest.kinds, colors=dest.colors, plural=True)
        found = resolve(ref, b.objects, Role.DEST, allow_many=True)
    else:
        found = [o for o in b.objects if o.kind in CONTAINERS]
    containers = [o for o in found if o.kind in CONTAINERS]
    if not containers:
        raise Refusal("no_match", "I see no tray or plate to sort into")
    return containers


def _single(b: DraftBuilder, clause: Clause) -> PerceivedObject:
    found = _themes(b, clause, many=False)
    return found[0]


def _target_xy(clause: Clause, obj: PerceivedObject) -> tuple[float, float]:
    if clause.offsets:
        x, y = obj.position[0], obj.position[1]
        for direction, metres in clause.offsets:
            dx, dy = _DIRECTIONS.get(direction, (math.nan, math.nan))
            if math.isnan(dx):
                raise Refusal("bad_direction", f"cannot move '{direction}' by a distance")
            x, y = x + dx * metres, y + dy * metres
        return x, y
    coords = _coordinates(clause, ("x", "y"))
    return coords["x"], coords["y"]


_DIRECTIONS = {"left": (0.0, 1.0), "right": (0.0, -1.0), "farthest": (1.0, 0.0)}
_DIRECTIONS["nearest"] = (-1.0, 0.0)


def _coordinates(clause: Clause, axes: tuple[str, ...]) -> dict[str, float]:
    labelled = {axis: v for axis, v in clause.numbers if axis in ("x", "y", "z")}
    unlabelled = [v for axis, v in clause.numbers if axis is None]
    free_axes = [a for a in ("x", "y", "z") if a not in labelled]
    coords = labelled | dict(zip(free_axes, unlabelled, strict=False))
    missing = [a for a in axes[:2] if a not in coords]
    if missing:
        raise Refusal(
            "missing_coordinates", f"'{clause.text}' needs both x and y (missing {missing})"
        )
    return coords


def _missing_destination(b: DraftBuilder, clause: Clause) -> None:
    names = ", ".join(r.describe() for r in clause.themes)
    raise Refusal(
        "missing_destination", f"where should I put '{names}'? Name a container, an object or x, y"
    )


def _simple(skill: str) -> Any:
    def handler(b: DraftBuilder, clause: Clause) -> None:
        b.emit(skill)
        if skill == "open_gripper":
            b.held = None

    return handler


def _wait(b: DraftBuilder, clause: Clause) -> None:
    seconds = next((v for _axis, v in clause.numbers), DEFAULT_WAIT_S)
    b.emit("wait", seconds=seconds)


def _slow(b: DraftBuilder, clause: Clause) -> None:
    value = next((v for _axis, v in clause.numbers), SLOW_SCALE)
    b.emit("set_speed", scale=value / 100 if value > 1 else value)


def _topic(b: DraftBuilder, clause: Clause) -> None:
    b.last = [o.id for o in _themes(b, clause, many=True)]


def _constraint(b: DraftBuilder, clause: Clause) -> None:
    b.notes.append(f"noted: '{clause.text}'")


_HANDLERS: dict[str, Any] = {
    "put": _put,
    "stack": _put,
    "tower": _tower,
    "pick": _pick,
    "remove": _remove,
    "place_at": _place_at,
    "move_to": _move_to,
    "sort": _sort,
    "home": _simple("go_home"),
    "open": _simple("open_gripper"),
    "close": _simple("close_gripper"),
    "wait": _wait,
    "slow": _slow,
    "constraint": _constraint,
    "topic": _topic,
    "set_down": _set_down,
    "on_top": _on_top,
    "missing_destination": _missing_destination,
}
