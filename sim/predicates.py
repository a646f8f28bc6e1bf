"""Success predicates of the task format, judged on the simulator's ground truth.

| predicate | holds when |
| `in: [A, C]` | A's centre lies over C's inner footprint and A rests inside C |
| `on: [A, B]` | A's centre lies over B's top face and A's bottom is within 1 cm of B's top |
| `at: [A, [x, y], tol]` | A rests on the table within `tol` m of (x, y) |
| `near: [A, B, d]` | A and B centres are within `d` m in the xy plane |
| `unmoved: [A]` / `[A, tol]` | A moved less than `tol` m (default 0.01) |
| `held: A` | A is in the gripper, lifted at least 5 cm off what it stood on |
| `home` | the arm is back at its home configuration |
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from embodied_stack.robot import RobotProfile
from embodied_stack.scene import CONTAINERS, ObjectKind, Scene, container_floor
from embodied_stack.schemas import BodyState, GroundTruth

from .bodies import WALL_THICKNESS
from .geometry import Footprint, bottom_z, footprint, top_z

REST_TOL = 0.01  # m: "bottom within 1 cm of the top below"
LIFT_MIN = 0.05  # m: `held` lift
UNMOVED_TOL = 0.01  # m
HOME_TOL = 0.05  # rad, per joint
GRASP_REACH = 0.04  # m: an object touched by one finger this close to the TCP is held


class PredicateResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    passed: bool
    detail: str


class _Ctx:
    def __init__(
        self, now: GroundTruth, initial: GroundTruth, scene: Scene, robot: RobotProfile
    ) -> None:
        self.now, self.initial, self.scene, self.robot = now, initial, scene, robot

    def state(self, object_id: str) -> BodyState:
        if object_id not in self.now.objects:
            raise KeyError(f"unknown object {object_id!r}")
        return self.now.objects[object_id]

    def bottom(self, object_id: str) -> float:
        return bottom_z(self.scene.object(object_id), self.state(object_id))

    def top(self, object_id: str) -> float:
        return top_z(self.scene.object(object_id), self.state(object_id))

    def footprint(self, object_id: str, inset: float = 0.0) -> Footprint:
        return footprint(self.scene.object(object_id), self.state(object_id), inset)


def evaluate(
    pred: dict[str, Any],
    *,
    now: GroundTruth,
    initial: GroundTruth,
    scene: Scene,
    robot: RobotProfile,
) -> PredicateResult:
    """One success predicate (a one-key mapping as in the suite file)."""
    if len(pred) != 1:
        return PredicateResult(
            name="?", passed=False, detail=f"expected one key, got {sorted(pred)}"
        )
    name, args = next(iter(pred.items()))
    judge = _JUDGES.get(name)
    if judge is None:
        return PredicateResult(name=str(name), passed=False, detail=f"unknown predicate {name!r}")
    try:
        passed, detail = judge(_Ctx(now, initial, scene, robot), args)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return PredicateResult(name=name, passed=False, detail=f"bad arguments {args!r}: {exc}")
    return PredicateResult(name=name, passed=passed, detail=detail)


def _in(ctx: _Ctx, args: Any) -> tuple[bool, str]:
    a, c = str(args[0]), str(args[1])
    container = ctx.scene.object(c)
    if container.kind not in CONTAINERS:
        return _on(ctx, [a, c])
    pos = ctx.state(a).position
    inset = WALL_THICKNESS if container.kind is ObjectKind.TRAY else 0.0
    over, off = ctx.footprint(c, inset).contains(pos[0], pos[1])
    floor = ctx.bottom(c) + container_floor(container)
    bottom = ctx.bottom(a)
    rests = abs(bottom - floor) <= REST_TOL
    detail = (
        f"{a} centre {'over' if over else 'outside'} {c}'s inner footprint "
        f"(margin {off:+.3f} m); bottom {bottom:.3f} m vs floor {floor:.3f} m"
    )
    return over and rests, detail


def _on(ctx: _Ctx, args: Any) -> tuple[bool, str]:
    a, b = str(args[0]), str(args[1])
    pos = ctx.state(a).position
    over, off = ctx.footprint(b).contains(pos[0], pos[1])
    surface = ctx.bottom(b) + container_floor(ctx.scene.object(b))
    if ctx.scene.object(b).kind not in CONTAINERS:
        surface = ctx.top(b)
    gap = ctx.bottom(a) - surface
    detail = f"{a} centre {'over' if over else 'off'} {b} (margin {off:+.3f} m); gap {gap:+.3f} m"
    return over and abs(gap) <= REST_TOL, detail


def _at(ctx: _Ctx, args: Any) -> tuple[bool, str]:
    a, (x, y), tol = str(args[0]), args[1], float(args[2])
    pos = ctx.state(a).position
    dist = math.hypot(pos[0] - float(x), pos[1] - float(y))
    bottom = ctx.bottom(a)
    on_table = abs(bottom) <= REST_TOL
    detail = (
        f"{a} {dist:.3f} m from ({float(x):.3f}, {float(y):.3f}) (tol {tol:.3f}); "
        f"bottom z {bottom:.3f} m"
    )
    return dist <= tol and on_table, detail


def _near(ctx: _Ctx, args: Any) -> tuple[bool, str]:
    a, b, d = str(args[0]), str(args[1]), float(args[2])
    pa, pb = ctx.state(a).position, ctx.state(b).position
    dist = math.hypot(pa[0] - pb[0], pa[1] - pb[1])
    return dist <= d, f"{a}-{b} xy distance {dist:.3f} m (limit {d:.3f})"


def _unmoved(ctx: _Ctx, args: Any) -> tuple[bool, str]:
    items = args if isinstance(args, list | tuple) else [args]
    a = str(items[0])
    tol = float(items[1]) if len(items) > 1 else UNMOVED_TOL
    if a not in ctx.initial.objects:
        raise KeyError(f"unknown object {a!r}")
    moved = float(
        np.linalg.norm(np.subtract(ctx.state(a).position, ctx.initial.objects[a].position))
    )
    return moved < tol, f"{a} moved {moved:.4f} m (tol {tol:.4f})"


def _held(ctx: _Ctx, args: Any) -> tuple[bool, str]:
    a = str(args[0] if isinstance(args, list | tuple) else args)
    touching = {x if y == a else y for x, y in ctx.now.contacts if a in (x, y)}
    finger_links = {name for name in touching if "finger" in name}
    reach = float(np.linalg.norm(np.subtract(ctx.state(a).position, ctx.now.tcp.position)))
    in_hand = len(finger_links) >= 2 or (len(finger_links) == 1 and reach <= GRASP_REACH)
    if a not in ctx.initial.objects:
        raise KeyError(f"unknown object {a!r}")
    lift = ctx.state(a).position[2] - ctx.initial.objects[a].position[2]
    detail = (
        f"{a}: {len(finger_links)} finger contact(s), {reach:.3f} m from the TCP, "
        f"lifted {lift:.3f} m (min {LIFT_MIN:.2f})"
    )
    return in_hand and lift >= LIFT_MIN, detail


def _home(ctx: _Ctx, args: Any) -> tuple[bool, str]:
    tol = float(args) if isinstance(args, int | float) and not isinstance(args, bool) else HOME_TOL
    q = ctx.now.joint_positions[: len(ctx.robot.home)]
    if len(q) != len(ctx.robot.home):
        return False, f"{len(q)} joint positions for {len(ctx.robot.home)} joints"
    worst = max(abs(a - b) for a, b in zip(q, ctx.robot.home, strict=True))
    return worst <= tol, f"largest joint offset from home {worst:.4f} rad (tol {tol:.3f})"


_JUDGES: dict[str, Callable[[_Ctx, Any], tuple[bool, str]]] = {
    "in": _in,
    "on": _on,
    "at": _at,
    "near": _near,
    "unmoved": _unmoved,
    "held": _held,
    "home": _home,
}
