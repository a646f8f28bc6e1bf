"""The task-suite format (../shared/tasks/README.md): scenes, tasks, red-team cases.

Every kind of the format is modelled here; the simulator, the runners and the
perception tests all read scenes through these models.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from embodied_stack.config import load_yaml, validate
from embodied_stack.errors import ConfigError

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]


class Color(str, Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    PURPLE = "purple"
    WHITE = "white"
    BLACK = "black"
    GRAY = "gray"


# RGB (0-255) used by the simulator, from the task-suite README.
PALETTE: dict[Color, tuple[int, int, int]] = {
    Color.RED: (220, 30, 30),
    Color.GREEN: (30, 170, 60),
    Color.BLUE: (30, 70, 220),
    Color.YELLOW: (230, 210, 30),
    Color.ORANGE: (240, 130, 20),
    Color.PURPLE: (140, 50, 180),
    Color.WHITE: (235, 235, 235),
    Color.BLACK: (25, 25, 25),
    Color.GRAY: (128, 128, 128),
}


class ObjectKind(str, Enum):
    CUBE = "cube"
    CYLINDER = "cylinder"
    BALL = "ball"
    TRAY = "tray"
    PLATE = "plate"
    KNIFE = "knife"
    HUMAN = "human"


CONTAINERS = frozenset({ObjectKind.TRAY, ObjectKind.PLATE})
GRASPABLE = frozenset({ObjectKind.CUBE, ObjectKind.CYLINDER, ObjectKind.BALL, ObjectKind.KNIFE})

# A person: a box 0.40 (x) by 0.25 (y) by 1.70 m, standing on the floor at z = -0.75.
HUMAN_SIZE: Vec3 = (0.40, 0.25, 1.70)
FLOOR_Z = -0.75


class SceneObject(BaseModel):
    """One object of a scene, as written in the suite file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    kind: ObjectKind
    color: Color | None = None
    size: float | tuple[float, ...] | None = None
    xy: Vec2 | None = None
    yaw: float = 0.0
    on: str | None = None

    @field_validator("xy", "size", "yaw")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        numbers = value if isinstance(value, tuple) else (value,)
        for v in numbers:
            if v is not None and not math.isfinite(v):
                raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _check_shape(self) -> SceneObject:
        if self.xy is None and self.on is None:
            raise ValueError("needs `xy` or `on`")
        if self.kind is ObjectKind.HUMAN:
            return self
        if self.size is None:
            raise ValueError(f"a {self.kind.value} needs `size`")
        expected = {
            ObjectKind.CUBE: 1,
            ObjectKind.BALL: 1,
            ObjectKind.CYLINDER: 2,
            ObjectKind.TRAY: 3,
            ObjectKind.PLATE: 3,
            ObjectKind.KNIFE: 3,
        }[self.kind]
        got = 1 if isinstance(self.size, float) else len(self.size)
        if got != expected:
            raise ValueError(
                f"a {self.kind.value} needs `size` with {expected} number(s), got {got}"
            )
        if any(v <= 0 for v in self.size_values()):
            raise ValueError("`size` values must be positive")
        return self

    def size_values(self) -> tuple[float, ...]:
        if self.size is None:
            return ()
        return (self.size,) if isinstance(self.size, float) else self.size

    def extent(self) -> Vec3:
        """Axis-aligned extent (x, y, z) in the object's own frame, metres."""
        s = self.size_values()
        if self.kind is ObjectKind.HUMAN:
            return HUMAN_SIZE
        if self.kind is ObjectKind.CUBE:
            return (s[0], s[0], s[0])
        if self.kind is ObjectKind.BALL:
            return (2 * s[0], 2 * s[0], 2 * s[0])
        if self.kind is ObjectKind.CYLINDER:
            return (2 * s[0], 2 * s[0], s[1])
        return (s[0], s[1], s[2])

    @property
    def height(self) -> float:
        return self.extent()[2]


class KeepOutBox(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: Vec3
    max: Vec3

    @model_validator(mode="after")
    def _ordered(self) -> KeepOutBox:
        if any(lo >= hi for lo, hi in zip(self.min, self.max, strict=True)):
            raise ValueError("`min` must be below `max` on every axis")
        return self

    def contains(self, point: Vec3, margin: float = 0.0) -> bool:
        return all(
            lo - margin <= p <= hi + margin
            for p, lo, hi in zip(point, self.min, self.max, strict=True)
        )


class Scene(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    objects: list[SceneObject] = Field(default_factory=list)
    keep_out: list[KeepOutBox] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Scene:
        ids = [o.id for o in self.objects]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate object ids: {sorted(dupes)}")
        by_id = {o.id: o for o in self.objects}
        for obj in self.objects:
            seen = {obj.id}
            below = obj.on
            while below is not None:
                if below not in by_id:
                    raise ValueError(f"object {obj.id!r}: `on` names unknown object {below!r}")
                if below in seen:
                    raise ValueError(f"object {obj.id!r}: `on` chain forms a cycle")
                seen.add(below)
                below = by_id[below].on
        return self

    def object(self, object_id: str) -> SceneObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(object_id)

    def resting_pose(self, object_id: str) -> tuple[Vec3, float]:
        """Centre position and yaw of an object as placed (stacks resolved)."""
        obj = self.object(object_id)
        if obj.kind is ObjectKind.HUMAN:
            assert obj.xy is not None
            return (obj.xy[0], obj.xy[1], FLOOR_Z + HUMAN_SIZE[2] / 2), obj.yaw
        if obj.on is None:
            assert obj.xy is not None
            return (obj.xy[0], obj.xy[1], obj.height / 2), obj.yaw
        (bx, by, bz), _byaw = self.resting_pose(obj.on)
        below = self.object(obj.on)
        top = bz + below.height / 2
        if below.kind in CONTAINERS:
            top = bz - below.height / 2 + _container_floor(below)
        x, y = obj.xy if obj.xy is not None else (bx, by)
        return (x, y, top + obj.height / 2), obj.yaw


def _container_floor(container: SceneObject) -> float:
    """Height of a container's inner floor above its bottom (a plate is a slab: its top)."""
    if container.kind is ObjectKind.PLATE:
        return container.height
    return min(0.005, container.height / 3)


def container_floor(container: SceneObject) -> float:
    """Public name of `_container_floor` (the simulator builds trays with this floor)."""
    return _container_floor(container)


# ---- success predicates and expectations -------------------------------------------------


class TaskExpect(str, Enum):
    SUCCESS = "success"
    REFUSED = "refused"


class RedteamExpect(str, Enum):
    BLOCKED = "blocked"
    STOPPED = "stopped"
    SUCCESS = "success"


PREDICATE_NAMES = frozenset({"in", "on", "at", "near", "unmoved", "held", "home"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _ids_args(count: int) -> Callable[[Any], str | None]:
    """`[A, B, ...]`: exactly `count` object ids."""

    def check(args: Any) -> str | None:
        if isinstance(args, list | tuple) and len(args) == count and all(map(_is_id, args)):
            return None
        return f"expected [{', '.join('ABCD'[:count])}] ({count} object ids), got {args!r}"

    return check


def _at_args(args: Any) -> str | None:
    ok = isinstance(args, list | tuple) and len(args) == 3 and _is_id(args[0])
    xy = args[1] if ok else None
    ok = ok and isinstance(xy, list | tuple) and len(xy) == 2 and all(map(_is_number, xy))
    if ok and _is_number(args[2]) and args[2] >= 0:
        return None
    return f"expected [A, [x, y], tol] (tol >= 0), got {args!r}"


def _near_args(args: Any) -> str | None:
    ok = isinstance(args, list | tuple) and len(args) == 3 and _is_id(args[0]) and _is_id(args[1])
    if ok and _is_number(args[2]) and args[2] >= 0:
        return None
    return f"expected [A, B, d] (d >= 0), got {args!r}"


def _unmoved_args(args: Any) -> str | None:
    items = args if isinstance(args, list | tuple) else [args]
    tol_ok = len(items) == 1 or (len(items) == 2 and _is_number(items[1]) and items[1] >= 0)
    if 1 <= len(items) <= 2 and _is_id(items[0]) and tol_ok:
        return None
    return f"expected [A] or [A, tol] (tol >= 0), got {args!r}"


def _held_args(args: Any) -> str | None:
    items = args if isinstance(args, list | tuple) else [args]
    return None if len(items) == 1 and _is_id(items[0]) else f"expected A, got {args!r}"


def _home_args(args: Any) -> str | None:
    if args is None or args is True or args == [] or (_is_number(args) and args >= 0):
        return None
    return f"expected no arguments (or a tolerance in rad), got {args!r}"


_ARGUMENTS: dict[str, Callable[[Any], str | None]] = {
    "in": _ids_args(2),
    "on": _ids_args(2),
    "at": _at_args,
    "near": _near_args,
    "unmoved": _unmoved_args,
    "held": _held_args,
    "home": _home_args,
}


def _predicate(value: Any) -> Any:
    """One success predicate: a one-key mapping, or a bare name (`- home`) for one
    that takes no arguments; its arguments checked against the predicate's arity."""
    if isinstance(value, str):
        value = {value: None}
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in _ARGUMENTS:
        got = sorted(value) if isinstance(value, dict) else repr(value)
        raise PydanticCustomError(
            "predicate", f"expected one of {sorted(PREDICATE_NAMES)}, got {got}"
        )
    name, args = next(iter(value.items()))
    problem = _ARGUMENTS[name](args)
    if problem is not None:
        raise PydanticCustomError("predicate_arguments", f"{name}: {problem}")
    return value


# A success predicate as judged (sim/predicates.py): {name: arguments}.
Predicate = Annotated[dict[str, Any], BeforeValidator(_predicate)]


def predicate_objects(pred: dict[str, Any]) -> list[str]:
    """The object ids a (validated) predicate names."""
    name, args = next(iter(pred.items()))
    items = args if isinstance(args, list | tuple) else [args]
    count = {"in": 2, "on": 2, "near": 2, "at": 1, "unmoved": 1, "held": 1}.get(name, 0)
    return [str(v) for v in items[:count]]


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    scene: str
    instruction: str
    expect: TaskExpect = TaskExpect.SUCCESS
    success: list[Predicate] = Field(default_factory=list)
    llm_response: dict[str, Any] | None = None


class EstopEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0)
    estop: Literal["press", "release"]


class KillEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0)
    kill: str


class MoveEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0)
    move: str
    xy: Vec2


class InstructionEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0)
    instruction: str


CaseEvent = Annotated[
    EstopEvent | KillEvent | MoveEvent | InstructionEvent, Field(union_mode="left_to_right")
]


class RedteamCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    scene: str
    instruction: str
    expect: RedteamExpect
    llm_response: dict[str, Any] | None = None
    events: list[CaseEvent] = Field(default_factory=list)
    success: list[Predicate] = Field(default_factory=list)


class Suite(BaseModel):
    """A task file (``tasks``) or a red-team file (``cases``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    scenes: dict[str, Scene]
    tasks: list[Task] = Field(default_factory=list)
    cases: list[RedteamCase] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Suite:
        """Each task's scene exists, and so does every object its predicates (and a
        case's `move` events) name, in that scene."""
        items: list[tuple[str, Task | RedteamCase]] = [
            *((f"tasks[{i}]", t) for i, t in enumerate(self.tasks)),
            *((f"cases[{i}]", c) for i, c in enumerate(self.cases)),
        ]
        for where, item in items:
            if item.scene not in self.scenes:
                raise ValueError(f"{where} ({item.id}): unknown scene {item.scene!r}")
            problem = _unknown_object(item, self.scenes[item.scene])
            if problem is not None:
                raise ValueError(f"{where} ({item.id}).{problem}")
        return self


def _unknown_object(item: Task | RedteamCase, scene: Scene) -> str | None:
    """`field: ...` naming the first object id that is not in `scene`, or None."""
    known = {o.id for o in scene.objects}
    refs = [
        (f"success[{i}].{next(iter(pred))}", object_id)
        for i, pred in enumerate(item.success)
        for object_id in predicate_objects(pred)
    ]
    if isinstance(item, RedteamCase):
        refs += [
            (f"events[{i}].move", e.move)
            for i, e in enumerate(item.events)
            if isinstance(e, MoveEvent)
        ]
    for field, object_id in refs:
        if object_id not in known:
            return (
                f"{field}: unknown object {object_id!r} (scene {item.scene!r} has {sorted(known)})"
            )
    return None


def load_suite(path: str | Path) -> Suite:
    return validate(Suite, load_yaml(path), str(path))


def load_scene(path: str | Path) -> Scene:
    """A single scene file: either a bare scene or a mapping with one `scenes` entry."""
    data = load_yaml(path)
    if "scenes" in data:
        scenes = data["scenes"]
        if not isinstance(scenes, dict) or len(scenes) != 1:
            raise ConfigError(f"{path}: `scenes` must hold exactly one scene")
        data = next(iter(scenes.values()))
    return validate(Scene, data, str(path))
