"""Skills (DESIGN.md §6) expanded into segments against a world model.

`expand_step` turns one validated PlanStep into trajectories, gripper moves,
waits and checks, and predicts the world after it; `validate_plan` folds that
over a whole plan, so a plan that cannot be carried out is rejected, with the
step and the reason, before anything moves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from embodied_stack.control import grasp
from embodied_stack.control.args import SkillArgs, parse_args
from embodied_stack.control.context import SkillContext
from embodied_stack.control.motion import MotionBuilder, SkillError
from embodied_stack.control.segments import CheckKind, CheckSegment, Segment, WaitSegment
from embodied_stack.control.world import (
    WorldModel,
    footprint_radius,
    grip_width,
    support_surface_z,
)
from embodied_stack.scene import CONTAINERS, ObjectKind
from embodied_stack.schemas import PerceivedObject, PlanStep, SkillName

__all__ = ["Expansion", "SkillError", "expand_step", "step_label", "validate_plan"]


@dataclass(frozen=True)
class Expansion:
    segments: list[Segment]
    world: WorldModel  # predicted world once the step is done


def step_label(index: int, step: PlanStep) -> str:
    skill = step.skill.value if isinstance(step.skill, SkillName) else str(step.skill)
    return f"step {index + 1} ({skill})"


def expand_step(step: PlanStep, world: WorldModel, ctx: SkillContext) -> Expansion:
    """Segments of one step; raises SkillError saying why it cannot be done."""
    args = parse_args(step)  # first: it also rejects unknown skills
    skill = SkillName(step.skill)
    if skill.value in ctx.config.forbidden_skills:
        raise SkillError(f"skill {skill.value!r} is forbidden by the red lines")
    return _SKILLS[skill](args, world, ctx)


def validate_plan(
    steps: Sequence[PlanStep], world: WorldModel, ctx: SkillContext
) -> tuple[list[Expansion], str | None]:
    """Expand every step on the predicted world; the first failure stops it."""
    expansions: list[Expansion] = []
    for i, step in enumerate(steps):
        try:
            expansion = expand_step(step, world, ctx)
        except SkillError as exc:
            return expansions, f"{step_label(i, step)}: {exc}"
        expansions.append(expansion)
        world = expansion.world
    return expansions, None


# ---- the skills --------------------------------------------------------------------------


def _pick(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    obj = _object(world, args.text("object"))
    if world.held is not None:
        raise SkillError(f"already holding {world.held}")
    if obj.kind.value in ctx.config.forbidden_objects:
        raise SkillError(f"{obj.kind.value} objects are forbidden by the red lines")
    problem = grasp.graspable_problem(obj, ctx.profile.gripper.max_opening)
    if problem:
        raise SkillError(problem)
    ctx.config.require_reachable_xy(obj.position[0], obj.position[1], obj.id)
    on_top = _objects_on(obj, world)
    if on_top:
        raise SkillError(f"{on_top[0].id} lies on top of {obj.id}")
    current = MotionBuilder(ctx, world).tool_yaw()
    reasons = []
    for yaw in grasp.grasp_yaws(obj, current):
        try:
            return _pick_at_yaw(obj, yaw, world, ctx)
        except SkillError as exc:
            reasons.append(f"yaw {math.degrees(yaw):.0f} deg: {exc}")
    raise SkillError(f"no grasp of {obj.id} works: " + "; ".join(reasons))


def _pick_at_yaw(
    obj: PerceivedObject, yaw: float, world: WorldModel, ctx: SkillContext
) -> Expansion:
    motion = MotionBuilder(ctx, world)
    x, y = obj.position[0], obj.position[1]
    grasp_z = grasp.grasp_height(obj)
    carry = ctx.config.carry_z(world.obstacles(), ctx.config.finger_reach)
    opening = grasp.approach_opening(obj, ctx.profile.gripper.max_opening)
    if world.gripper_opening < opening - 0.002:
        motion.gripper(opening, "open for the grasp")
    motion.transit(x, y, carry, yaw)
    motion.line(x, y, max(grasp_z + ctx.config.approach_height, grasp_z), yaw, "over the object")
    motion.line(x, y, grasp_z, yaw, "descend to grasp", slow=True)
    motion.gripper(grasp.close_target(obj), f"close on {obj.id}")
    held_offset = grasp_z - obj.bottom_z
    lifted_world = replace(world, held=obj.id, held_offset=held_offset)
    lift = ctx.config.carry_z(lifted_world.obstacles(), held_offset)
    motion.line(x, y, lift, yaw, f"lift {obj.id}")
    motion.segments.append(_holding_check(obj, f"check {obj.id} is held"))
    held = obj.model_copy(
        update={"position": (x, y, lift - held_offset + obj.size[2] / 2), "support": "held"}
    )
    after = replace(
        lifted_world,
        joints=motion.q,
        gripper_opening=grip_width(obj),
        objects={**world.objects, obj.id: held},
    )
    return Expansion(motion.segments, after)


def _place(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    held = _held(world)
    target = _object(world, args.text("target"))
    if target.id == held.id:
        raise SkillError(f"cannot place {held.id} on itself")
    problem = grasp.support_problem(target)
    if problem:
        raise SkillError(problem)
    others = [o for o in world.obstacles(besides=(target.id,))]
    current = MotionBuilder(ctx, world).tool_yaw()
    if target.kind in CONTAINERS:
        spot = grasp.container_spot(target, held, grasp.contents(target, others))
        if isinstance(spot, str):
            raise SkillError(spot)
        # a cube is held lined up with the tool: line it up with the container too
        cube = held.kind is ObjectKind.CUBE
        yaws = grasp.aligned_yaws(target.yaw, current) if cube else [current]
    else:
        on_top = _objects_on(target, world)
        if on_top:
            raise SkillError(f"{on_top[0].id} already lies on top of {target.id}")
        spot = (target.position[0], target.position[1])
        yaws = (
            grasp.aligned_yaws(target.yaw, current) if held.kind is ObjectKind.CUBE else [current]
        )
    inside = target.kind is ObjectKind.TRAY
    return _put_down(held, spot, support_surface_z(target), target.id, inside, yaws, world, ctx)


def _place_at(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    held = _held(world)
    x, y = args.number("x"), args.number("y")
    ctx.config.require_reachable_xy(x, y, "the placement point")
    radius = footprint_radius(held)
    for other in world.obstacles():
        gap = math.hypot(other.position[0] - x, other.position[1] - y)
        if gap < radius + footprint_radius(other):
            raise SkillError(f"({x:.3f}, {y:.3f}) is occupied by {other.id}")
    yaw = MotionBuilder(ctx, world).tool_yaw()
    return _put_down(held, (x, y), 0.0, "table", False, [yaw], world, ctx)


def _put_down(
    held: PerceivedObject,
    spot: tuple[float, float],
    surface_z: float,
    support: str,
    inside: bool,
    yaws: list[float],
    world: WorldModel,
    ctx: SkillContext,
) -> Expansion:
    reasons = []
    for yaw in yaws:
        try:
            return _put_down_at_yaw(held, spot, surface_z, support, inside, yaw, world, ctx)
        except SkillError as exc:
            reasons.append(str(exc))
    raise SkillError("; ".join(reasons))


def _put_down_at_yaw(
    held: PerceivedObject,
    spot: tuple[float, float],
    surface_z: float,
    support: str,
    inside: bool,
    yaw: float,
    world: WorldModel,
    ctx: SkillContext,
) -> Expansion:
    motion = MotionBuilder(ctx, world)
    x, y = spot
    release_z = surface_z + world.held_offset + ctx.config.release_gap
    carry = ctx.config.carry_z(world.obstacles(), world.held_offset)
    motion.transit(x, y, carry, yaw)
    motion.segments.append(_holding_check(held, f"check {held.id} is still held"))
    motion.line(x, y, release_z + ctx.config.approach_height, yaw, "over the spot")
    motion.line(x, y, release_z, yaw, "lower to release", slow=True)
    motion.gripper(grasp.approach_opening(held, ctx.profile.gripper.max_opening), "release")
    motion.segments.append(_released_check(held))
    placed = held.model_copy(
        update={
            "position": (x, y, surface_z + held.size[2] / 2),
            "support": support,
            "inside": inside,
        }
    )
    released = replace(
        world, held=None, held_offset=0.0, objects={**world.objects, held.id: placed}
    )
    retreat = ctx.config.carry_z(released.obstacles(), ctx.config.finger_reach)
    motion.line(x, y, max(retreat, release_z + ctx.config.approach_height), yaw, "retreat")
    motion.segments.append(
        CheckSegment(
            f"check {held.id} was left on {support}",
            CheckKind.LEFT,
            held.id,
            grip_width(held),
            rest_bottom_z=surface_z,
        )
    )
    after = replace(released, joints=motion.q, gripper_opening=motion.opening)
    return Expansion(motion.segments, after)


def _move_to(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    x, y, z = args.number("x"), args.number("y"), args.number("z")
    ctx.config.require_in_workspace(x, y, z)
    motion = MotionBuilder(ctx, world)
    offset = world.held_offset if world.held else ctx.config.finger_reach
    for obj in _objects_under(x, y, world):
        surface = support_surface_z(obj)  # a container's floor, anything else's top
        if z - offset < surface:
            raise SkillError(
                f"({x:.3f}, {y:.3f}, {z:.3f}) would push the gripper into {obj.id} "
                f"(its surface is at {surface:.3f} m)"
            )
    carry = ctx.config.carry_z(world.obstacles(), offset)
    _x0, _y0, z0 = motion.tcp_position()
    yaw = motion.tool_yaw()
    if math.hypot(x - _x0, y - _y0) > 0.03 and min(z, z0) < carry:
        motion.transit(x, y, max(carry, z), yaw)
    motion.line(x, y, z, yaw, "move to the point")
    return Expansion(motion.segments, _moved(world, motion))


def _go_home(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    motion = MotionBuilder(ctx, world)
    offset = world.held_offset if world.held else ctx.config.finger_reach
    carry = ctx.config.carry_z(world.obstacles(), offset)
    x, y, z = motion.tcp_position()
    if z < carry:
        motion.line(x, y, carry, motion.tool_yaw(), "lift clear")
    motion.joint_to(ctx.home, "go home")
    return Expansion(motion.segments, _moved(world, motion))


def _open_gripper(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    motion = MotionBuilder(ctx, world)
    if world.held is None:
        motion.gripper(ctx.profile.gripper.max_opening, "open")
        return Expansion(motion.segments, replace(world, gripper_opening=motion.opening))
    held = _held(world)
    x, y, z = motion.tcp_position()
    below = max((support_surface_z(o) for o in _objects_under(x, y, world)), default=0.0)
    drop = z - world.held_offset - below
    if drop > ctx.config.max_release_height:
        raise SkillError(
            f"opening would drop {held.id} from {drop:.2f} m "
            f"(red line {ctx.config.max_release_height:.2f} m)"
        )
    motion.gripper(ctx.profile.gripper.max_opening, f"release {held.id}")
    motion.segments.append(_released_check(held))
    placed = held.model_copy(
        update={"position": (x, y, below + held.size[2] / 2), "support": "table"}
    )
    return Expansion(
        motion.segments,
        replace(
            world,
            held=None,
            held_offset=0.0,
            gripper_opening=motion.opening,
            objects={**world.objects, held.id: placed},
        ),
    )


def _close_gripper(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    """Close the fingers: on nothing they shut (a later pick opens them again first);
    on a held object they stop at its width."""
    motion = MotionBuilder(ctx, world)
    motion.gripper(0.0, "close")
    closed = grip_width(_held(world)) if world.held is not None else 0.0
    return Expansion(motion.segments, replace(world, gripper_opening=closed))


def _set_speed(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    scale = args.number("scale")
    if not 0 < scale <= 1:
        raise SkillError(f"scale must be in (0, 1], got {scale}")
    return Expansion([], replace(world, speed_scale=scale))


def _wait(args: SkillArgs, world: WorldModel, ctx: SkillContext) -> Expansion:
    seconds = args.number("seconds")
    if not 0 <= seconds <= ctx.config.max_wait_s:
        raise SkillError(f"seconds must be in [0, {ctx.config.max_wait_s:g}], got {seconds}")
    return Expansion([WaitSegment(f"wait {seconds:g} s", seconds)], world)


_SKILLS: dict[SkillName, Callable[[SkillArgs, WorldModel, SkillContext], Expansion]] = {
    SkillName.PICK: _pick,
    SkillName.PLACE: _place,
    SkillName.PLACE_AT: _place_at,
    SkillName.MOVE_TO: _move_to,
    SkillName.OPEN_GRIPPER: _open_gripper,
    SkillName.CLOSE_GRIPPER: _close_gripper,
    SkillName.GO_HOME: _go_home,
    SkillName.SET_SPEED: _set_speed,
    SkillName.WAIT: _wait,
}


# ---- helpers -----------------------------------------------------------------------------


def _object(world: WorldModel, object_id: str) -> PerceivedObject:
    obj = world.objects.get(object_id)
    if obj is None:
        known = ", ".join(sorted(world.objects)) or "none"
        raise SkillError(f"unknown object {object_id!r} (perceived: {known})")
    return obj


def _held(world: WorldModel) -> PerceivedObject:
    if world.held is None:
        raise SkillError("not holding anything")
    return _object(world, world.held)


def _objects_on(obj: PerceivedObject, world: WorldModel) -> list[PerceivedObject]:
    """Objects resting on top of `obj` (containers' contents are not "on top")."""
    if obj.kind in CONTAINERS:
        return []
    found = []
    for other in world.obstacles(besides=(obj.id,)):
        over = math.hypot(other.position[0] - obj.position[0], other.position[1] - obj.position[1])
        if other.support == obj.id or (
            over < footprint_radius(obj) and abs(other.bottom_z - obj.top_z) < 0.01
        ):
            found.append(other)
    return found


def _holding_check(obj: PerceivedObject, label: str) -> CheckSegment:
    return CheckSegment(label, CheckKind.HOLDING, obj.id, grip_width(obj), grasp.close_target(obj))


def _released_check(obj: PerceivedObject) -> CheckSegment:
    return CheckSegment(f"check {obj.id} was released", CheckKind.RELEASED, obj.id, grip_width(obj))


def _objects_under(x: float, y: float, world: WorldModel) -> list[PerceivedObject]:
    return [
        o
        for o in world.obstacles()
        if math.hypot(o.position[0] - x, o.position[1] - y) < footprint_radius(o)
    ]


def _moved(world: WorldModel, motion: MotionBuilder) -> WorldModel:
    objects = dict(world.objects)
    if world.held is not None and world.held in objects:
        x, y, z = motion.tcp_position()
        held = objects[world.held]
        objects[world.held] = held.model_copy(
            update={"position": (x, y, z - world.held_offset + held.size[2] / 2)}
        )
    return replace(world, joints=motion.q, gripper_opening=motion.opening, objects=objects)
