"""The offline planner's draft: steps so far and the scene as they will leave it.

Resolution reads the scene as perceived; the draft tracks where each object will
be after the steps so far, so what rests on an object is set aside before it is
picked, and set-down spots avoid objects already moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from embodied_stack.planning.freespace import free_spot
from embodied_stack.scene import CONTAINERS
from embodied_stack.schemas import PerceivedObject

Step = dict[str, Any]


@dataclass
class DraftBuilder:
    """The draft plan and the scene as it will be after the steps so far."""

    objects: Sequence[PerceivedObject]
    held: str | None = None
    steps: list[Step] = field(default_factory=list)
    last: list[str] = field(default_factory=list)  # what "it"/"them" mean now
    set_down: str | None = None  # lifted off something: set it down unless placed later
    notes: list[str] = field(default_factory=list)
    verb: str | None = None
    moved: dict[str, PerceivedObject] = field(default_factory=dict)  # where things will be

    def obj(self, object_id: str) -> PerceivedObject:
        return self.moved.get(object_id) or next(o for o in self.objects if o.id == object_id)

    def scene(self) -> list[PerceivedObject]:
        return [self.moved.get(o.id, o) for o in self.objects]

    def emit(self, skill: str, **args: Any) -> None:
        self.steps.append({"skill": skill, "args": args})

    def pick(self, obj: PerceivedObject) -> None:
        if self.held == obj.id:
            return
        if self.held is not None and self.held == self.set_down:
            self.put_aside()
        self.clear_top(obj)
        self.emit("pick", object=obj.id)
        self.held, self.last = obj.id, [obj.id]
        self._move(obj.id, support="held")

    def clear_top(self, obj: PerceivedObject) -> None:
        """Whatever rests on obj is set aside first (topmost first)."""
        for above in [o for o in self.scene() if o.support == obj.id and not o.inside]:
            self.pick(above)
            self.notes.append(f"moved {above.id} off {obj.id} first")
            self.put_aside()

    def place(self, target: PerceivedObject) -> None:
        assert self.held is not None
        x, y, _ = target.position
        self._move(self.held, support=target.id, xy=(x, y), inside=target.kind in CONTAINERS)
        self.emit("place", target=target.id)
        self.held = self.set_down = None

    def place_at(self, x: float, y: float) -> None:
        if self.held is not None:
            self._move(self.held, support="table", xy=(x, y))
        self.emit("place_at", x=round(x, 4), y=round(y, 4))
        self.held = self.set_down = None

    def put_aside(self) -> None:
        assert self.held is not None
        obj = self.obj(self.held)
        x, y = free_spot(self.scene(), obj, exclude={obj.id})
        self.notes.append(f"set {obj.id} down at x {x:.2f}, y {y:.2f}")
        self.place_at(x, y)

    def _move(
        self,
        object_id: str,
        *,
        support: str,
        xy: tuple[float, float] | None = None,
        inside: bool = False,
    ) -> None:
        obj = self.obj(object_id)
        position = obj.position if xy is None else (xy[0], xy[1], obj.position[2])
        update = {"support": support, "position": position, "inside": inside}
        self.moved[object_id] = obj.model_copy(update=update)
