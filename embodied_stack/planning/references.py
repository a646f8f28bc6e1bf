"""Object references ("the red cube on the left", "all the cubes", "托盘里的方块") and
their resolution against what perception sees.

A reference that matches nothing, or more than one object where one is meant,
raises Refusal naming the objects that matched, so the operator can say which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from embodied_stack.planning.refusal import Refusal
from embodied_stack.scene import CONTAINERS, GRASPABLE, Color, ObjectKind
from embodied_stack.schemas import PerceivedObject

TIE_M = 0.02  # two objects closer than this along a position word are a tie
NEAR_M = 0.15  # "the cubes near the tray": centres within this distance


class Role(str, Enum):
    THEME = "theme"  # the object acted on: prefer graspable things
    DEST = "dest"  # where it goes: prefer containers
    ANY = "any"


@dataclass
class Relation:
    rel: str  # on, in, near, from, left_of, right_of, nearest_to
    other: Reference


@dataclass
class Reference:
    """An object description as parsed from an instruction or a model's step."""

    text: str = ""
    ids: list[str] = field(default_factory=list)
    colors: set[Color] = field(default_factory=set)
    kinds: frozenset[ObjectKind] | None = None  # None: any kind
    positions: list[str] = field(default_factory=list)
    plural: bool = False
    every: bool = False
    pronoun: bool = False
    matching: bool = False
    table: bool = False  # "the table": a place, never an object
    relation: Relation | None = None

    @property
    def many(self) -> bool:
        return self.plural or self.every

    @property
    def is_person(self) -> bool:
        return self.kinds is not None and ObjectKind.HUMAN in self.kinds

    def has_content(self) -> bool:
        return bool(self.ids or self.colors or self.kinds is not None or self.positions) or (
            self.pronoun or self.every or self.matching or self.table
        )

    def describe(self) -> str:
        return self.text.strip() or "that object"


def describe_object(obj: PerceivedObject) -> str:
    colour = f"{obj.color.value} " if obj.color is not None else ""
    x, y, _ = obj.position
    return f"{obj.id} ({colour}{obj.kind.value} at x {x:.2f}, y {y:.2f})"


def describe_objects(objects: Sequence[PerceivedObject]) -> str:
    return ", ".join(describe_object(o) for o in objects) or "nothing"


def resolve(
    ref: Reference, objects: Sequence[PerceivedObject], role: Role, *, allow_many: bool
) -> list[PerceivedObject]:
    """The perceived objects a reference names; Refusal when none or ambiguous."""
    if ref.ids:
        return _by_ids(ref, objects)
    if ref.table and ref.kinds is None:
        raise Refusal(
            "not_an_object",
            "the table is a place, not an object; give a point on it (x, y) or an object",
        )
    found = _filter(ref, objects, role)
    if not found:
        raise Refusal(
            "no_match",
            f"I do not see {_quoted(ref)}; I see {describe_objects(_visible(objects))}",
        )
    if ref.many and allow_many:
        return found
    if len(found) > 1:
        raise Refusal(
            "ambiguous_reference",
            f"{_quoted(ref)} could be {len(found)} objects: {describe_objects(found)}; "
            f"please say which one, {_hint(ref, found)}",
        )
    return found


def resolve_one(ref: Reference, objects: Sequence[PerceivedObject], role: Role) -> PerceivedObject:
    found = resolve(ref, objects, role, allow_many=False)
    if len(found) > 1:
        raise Refusal(
            "ambiguous_reference",
            f"{_quoted(ref)} names {len(found)} objects ({describe_objects(found)}) "
            "where one is needed",
        )
    return found[0]


def _hint(ref: Reference, found: list[PerceivedObject]) -> str:
    """A way to tell the matches apart: their colours if they differ, else left / right."""
    colours = {o.color for o in found}
    if len(colours) == len(found) and None not in colours:
        named = [f"'the {o.color.value} {o.kind.value}'" for o in found if o.color is not None]
        return "for example " + " or ".join(named)
    ordered = sorted(found, key=lambda o: o.position[1])
    right, left = ordered[0], ordered[-1]
    words = ref.describe()
    return f"for example '{words} on the left' ({left.id}) or '{words} on the right' ({right.id})"


def _quoted(ref: Reference) -> str:
    return f"'{ref.describe()}'"


def _visible(objects: Sequence[PerceivedObject]) -> list[PerceivedObject]:
    return [o for o in objects if o.kind is not ObjectKind.HUMAN]


def _by_ids(ref: Reference, objects: Sequence[PerceivedObject]) -> list[PerceivedObject]:
    by_id = {o.id: o for o in objects}
    missing = [i for i in ref.ids if i not in by_id]
    if missing:
        raise Refusal(
            "unknown_object",
            f"no perceived object has id {missing[0]!r}; I see {describe_objects(objects)}",
        )
    return [by_id[i] for i in ref.ids]


def _filter(
    ref: Reference, objects: Sequence[PerceivedObject], role: Role
) -> list[PerceivedObject]:
    found = [o for o in objects if _kind_matches(ref, o) and _colour_matches(ref, o)]
    found = _prefer_for_role(ref, found, role)
    if ref.relation is not None:
        found = _related(ref.relation, found, objects, singular=not ref.many)
    for word in ref.positions:
        found = _by_position(word, found, singular=not ref.many)
    return found


def _kind_matches(ref: Reference, obj: PerceivedObject) -> bool:
    if ref.kinds is None:
        return obj.kind is not ObjectKind.HUMAN
    return obj.kind in ref.kinds


def _colour_matches(ref: Reference, obj: PerceivedObject) -> bool:
    return not ref.colors or obj.color in ref.colors


def _prefer_for_role(
    ref: Reference, found: list[PerceivedObject], role: Role
) -> list[PerceivedObject]:
    """A word that allows several kinds ("box", "thing") means the kind its role needs."""
    single_kind = ref.kinds is not None and len(ref.kinds) == 1
    if single_kind or role is Role.ANY:
        return found
    wanted = GRASPABLE if role is Role.THEME else CONTAINERS
    preferred = [o for o in found if o.kind in wanted]
    return preferred or found


def _related(
    relation: Relation,
    found: list[PerceivedObject],
    objects: Sequence[PerceivedObject],
    *,
    singular: bool,
) -> list[PerceivedObject]:
    rel = relation.rel
    if relation.other.table:  # "the cube on the table": not on or in anything else
        return [o for o in found if o.support == "table"]
    others = resolve(relation.other, objects, Role.ANY, allow_many=True)
    if rel in ("near", "nearest_to", "farthest_from"):
        return _nearest_to(found, others, singular=singular, farthest=rel == "farthest_from")
    if rel in ("left_of", "right_of"):
        sign = 1.0 if rel == "left_of" else -1.0
        return [o for o in found if any(sign * (o.position[1] - b.position[1]) > 0 for b in others)]
    if rel == "under":
        return [o for o in found if any(_rests_on(b, o) for b in others if b.id != o.id)]
    return [o for o in found if any(_rests_on(o, b) for b in others if b.id != o.id)]


def _rests_on(obj: PerceivedObject, below: PerceivedObject) -> bool:
    """obj stands on or in `below`: perception says so, or the geometry does."""
    if obj.support == below.id:
        return True
    dx, dy = obj.position[0] - below.position[0], obj.position[1] - below.position[1]
    over = abs(dx) <= below.size[0] / 2 and abs(dy) <= below.size[1] / 2
    return over and abs(obj.bottom_z - below.top_z) <= 0.03 and obj.bottom_z > below.bottom_z


def _nearest_to(
    found: list[PerceivedObject],
    others: list[PerceivedObject],
    *,
    singular: bool,
    farthest: bool = False,
) -> list[PerceivedObject]:
    def gap(o: PerceivedObject) -> float:
        return min(_xy_distance(o, b) for b in others if b.id != o.id) if others else math.inf

    candidates = [o for o in found if o.id not in {b.id for b in others}]
    if not singular:
        return [o for o in candidates if gap(o) <= NEAR_M]
    return _best(candidates, key=gap, lowest=not farthest)


def _xy_distance(a: PerceivedObject, b: PerceivedObject) -> float:
    return math.hypot(a.position[0] - b.position[0], a.position[1] - b.position[1])


def _reach(o: PerceivedObject) -> float:
    return math.hypot(o.position[0], o.position[1])


# word -> (key, lowest first?) for a single object; the robot looks along +x, +y is its left
_SUPERLATIVE: dict[str, tuple[Callable[[PerceivedObject], float], bool]] = {
    "left": (lambda o: o.position[1], False),
    "right": (lambda o: o.position[1], True),
    "nearest": (_reach, True),
    "farthest": (_reach, False),
    "top": (lambda o: o.position[2], False),
    "bottom": (lambda o: o.position[2], True),
    "smallest": (lambda o: max(o.size), True),
    "largest": (lambda o: max(o.size), False),
}
_TIE = {"smallest": 0.004, "largest": 0.004}  # sizes closer than this are the same size

# word -> test for plurals ("the cubes on the left")
_HALF: dict[str, Callable[[PerceivedObject], bool]] = {
    "left": lambda o: o.position[1] > 0.0,
    "right": lambda o: o.position[1] < 0.0,
    "middle": lambda o: abs(o.position[1]) <= 0.10,
}


def _by_position(
    word: str, found: list[PerceivedObject], *, singular: bool
) -> list[PerceivedObject]:
    if not singular:
        test = _HALF.get(word)
        return [o for o in found if test(o)] if test is not None else found
    if len(found) <= 1:
        return found
    if word == "middle":
        return _middle(found)
    key, lowest = _SUPERLATIVE[word]
    return _best(found, key=key, lowest=lowest, tie=_TIE.get(word, TIE_M))


def _middle(found: list[PerceivedObject]) -> list[PerceivedObject]:
    ordered = sorted(found, key=lambda o: o.position[1])
    if len(ordered) % 2 == 0:
        return ordered  # two objects have no middle one: stays ambiguous
    return [ordered[len(ordered) // 2]]


def _best(
    found: list[PerceivedObject],
    *,
    key: Callable[[PerceivedObject], float],
    lowest: bool,
    tie: float = TIE_M,
) -> list[PerceivedObject]:
    ordered = sorted(found, key=key, reverse=not lowest)
    if len(ordered) >= 2 and abs(key(ordered[0]) - key(ordered[1])) < tie:
        return ordered[:2]  # a tie stays ambiguous
    return ordered[:1]
