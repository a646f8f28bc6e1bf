"""Red-line check of a joint trajectory before it is sent.

Every robot link's collision geometry is checked along the whole path, sampled
densely with the follower's own interpolation (see sampling.py); distances get
a margin of half the sample spacing so the swept volume between samples is
covered. Rules: workspace (TCP), below_table, keep_out, protective_distance,
reduced_speed, tcp_speed, joint_speed, knife_near_person, release_height.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embodied_stack.motion_types import JointTrajectoryCommand
from embodied_stack.safety.geometry import (
    RobotGeometry,
    floor_box,
    geometry_for,
    point_box_distance,
)
from embodied_stack.safety.redlines import RedLines
from embodied_stack.safety.sampling import MAX_LINK_STEP, Sample, dense_samples
from embodied_stack.safety.violations import Collector, object_box
from embodied_stack.scene import KeepOutBox, ObjectKind
from embodied_stack.schemas import PerceivedObject, Violation

SWEEP_MARGIN = MAX_LINK_STEP / 2
SPEED_TOLERANCE = 1e-3  # relative: numerical noise, not a breach
_JUMP_TOLERANCE = 1e-3  # rad: a first point at t = 0 must be where the arm is


@dataclass(frozen=True)
class CheckContext:
    """What a trajectory is checked against."""

    redlines: RedLines
    people: tuple[KeepOutBox, ...] = ()  # each person as a box
    holding: PerceivedObject | None = None  # the object in the gripper
    start: tuple[float, ...] | None = None  # measured joint positions (profile order)
    robot: str = "panda"
    step: int | None = None  # plan step this trajectory belongs to
    label: str = ""  # e.g. "step 2 (move_to)"
    source: str = "plan_check"

    @classmethod
    def from_objects(
        cls,
        redlines: RedLines,
        objects: Sequence[PerceivedObject],
        *,
        holding: str | None = None,
        **kwargs: object,
    ) -> CheckContext:
        """People from perceived objects; `holding` is the id of the held object."""
        people = tuple(object_box(o) for o in objects if o.kind is ObjectKind.HUMAN)
        held = next((o for o in objects if o.id == holding), None)
        return cls(redlines=redlines, people=people, holding=held, **kwargs)  # type: ignore[arg-type]


def check_trajectory(
    cmd: JointTrajectoryCommand, ctx: CheckContext, geometry: RobotGeometry | None = None
) -> list[Violation]:
    """Every red line this trajectory would cross (empty: it may be sent)."""
    geometry = geometry or geometry_for(ctx.robot)
    with geometry.lock:
        return _check_locked(cmd, ctx, geometry)


def _check_locked(
    cmd: JointTrajectoryCommand, ctx: CheckContext, geometry: RobotGeometry
) -> list[Violation]:
    collector = Collector(source=ctx.source, step=ctx.step, label=ctx.label)
    if cmd.is_hold:
        return []
    start = ctx.start if ctx.start is not None else _first_point(cmd, geometry)
    if _start_problems(cmd, start, geometry, collector):
        return collector.violations()
    try:
        samples = dense_samples(cmd, geometry, start)
    except ValueError as exc:
        collector.add("malformed_trajectory", f"{exc}", 1.0, 0.0)
        return collector.violations()
    limits = np.array(ctx.redlines.joint_speed_limits(geometry.profile))
    for sample in samples:
        check_sample(sample, ctx, geometry, collector, limits)
    return collector.violations()


def check_sample(
    sample: Sample,
    ctx: CheckContext,
    geometry: RobotGeometry,
    collector: Collector,
    joint_limits: np.ndarray,
    *,
    margin: float = SWEEP_MARGIN,
    clearance: float = 0.0,
    speed_tolerance: float = SPEED_TOLERANCE,
) -> None:
    """All rules at one joint state (also used by the runtime monitor).

    `margin` shrinks every distance (the swept volume between samples);
    `clearance` shrinks distances to keep-out boxes and people only (time to stop)."""
    red = ctx.redlines
    at = f"t={sample.t:.2f} s"
    geometry.set_joints(sample.q)
    tcp = geometry.tcp_position()
    tcp_speed = float(np.linalg.norm(geometry.tcp_velocity(sample.qd)))
    _workspace(tcp, red, collector, at)
    floor = geometry.closest(floor_box(red.min_link_z), margin + 0.05)
    if floor is not None and floor.distance < margin:
        lowest = red.min_link_z + floor.distance - margin
        collector.add("below_table", f"{floor.link} at {at}", lowest, red.min_link_z)
    for i, box in enumerate(red.keep_out):
        hit = geometry.closest(box, margin + clearance + 1e-3)
        if hit is not None and hit.distance < margin + clearance:
            where = f"{hit.link} in keep_out[{i}] at {at}"
            collector.add("keep_out", where, hit.distance - margin - clearance, 0.0)
    _people(tcp, tcp_speed, ctx, geometry, collector, at, margin + clearance, speed_tolerance)
    if tcp_speed > red.max_tcp_speed * (1 + speed_tolerance):
        collector.add("tcp_speed", f"tcp at {at}", tcp_speed, red.max_tcp_speed)
    for name, speed, limit in zip(
        geometry.profile.joints, np.abs(sample.qd), joint_limits, strict=True
    ):
        if speed > limit * (1 + speed_tolerance):
            collector.add("joint_speed", f"{name} at {at}", float(speed), float(limit))


def _workspace(tcp: np.ndarray, red: RedLines, collector: Collector, at: str) -> None:
    for axis, name in enumerate("xyz"):
        lo, hi = red.workspace.min[axis], red.workspace.max[axis]
        if tcp[axis] < lo - 1e-4:
            collector.add("workspace", f"tcp {name} at {at}", float(tcp[axis]), lo)
        elif tcp[axis] > hi + 1e-4:
            collector.add("workspace", f"tcp {name} at {at}", float(tcp[axis]), hi)


def _people(
    tcp: np.ndarray,
    tcp_speed: float,
    ctx: CheckContext,
    geometry: RobotGeometry,
    collector: Collector,
    at: str,
    margin: float,
    speed_tolerance: float,
) -> None:
    red = ctx.redlines
    for i, person in enumerate(ctx.people):
        near = geometry.closest(person, red.reduced_speed_distance + margin)
        if near is not None:
            distance = near.distance - margin
            if distance < red.protective_distance:
                where = f"{near.link} near person[{i}] at {at}"
                collector.add("protective_distance", where, distance, red.protective_distance)
            if distance < red.reduced_speed_distance and tcp_speed > red.reduced_tcp_speed * (
                1 + speed_tolerance
            ):
                where = f"tcp near person[{i}] ({distance:.2f} m) at {at}"
                collector.add("reduced_speed", where, tcp_speed, red.reduced_tcp_speed)
        held = ctx.holding
        if held is not None and held.kind is ObjectKind.KNIFE:
            reach = max(held.size) / 2  # the blade may point any way around the TCP
            distance = point_box_distance(tcp, person) - reach - margin
            if distance < red.knife_person_distance:
                where = f"knife {held.id} near person[{i}] at {at}"
                collector.add("knife_near_person", where, distance, red.knife_person_distance)


def _start_problems(
    cmd: JointTrajectoryCommand,
    start: Sequence[float],
    geometry: RobotGeometry,
    collector: Collector,
) -> bool:
    """Points in the past, or a first point at t = 0 away from the start (a jump)."""
    first = cmd.points[0]
    if any(pt.time_from_start < 0 for pt in cmd.points):
        collector.add("malformed_trajectory", "time_from_start < 0", first.time_from_start, 0.0)
        return True
    if first.time_from_start > 1e-6 or len(first.positions) != len(cmd.joint_names):
        return False
    here = dict(zip(geometry.profile.joints, start, strict=True))
    jump = max(
        (
            abs(q - here[j])
            for j, q in zip(cmd.joint_names, first.positions, strict=True)
            if j in here
        ),
        default=0.0,
    )
    if jump > _JUMP_TOLERANCE:
        collector.add("start_jump", "first point at t=0 away from the start", jump, _JUMP_TOLERANCE)
    return False


def _first_point(cmd: JointTrajectoryCommand, geometry: RobotGeometry) -> tuple[float, ...]:
    """Without a measured start, the trajectory starts at its own first point."""
    profile = geometry.profile
    by_name = dict(zip(cmd.joint_names, cmd.points[0].positions, strict=False))
    return tuple(by_name.get(j, h) for j, h in zip(profile.joints, profile.home, strict=True))


def check_release(
    tcp: Sequence[float],
    held: PerceivedObject | None,
    objects: Sequence[PerceivedObject],
    redlines: RedLines,
    *,
    step: int | None = None,
    label: str = "",
    source: str = "plan_check",
) -> list[Violation]:
    """Opening the gripper at `tcp`: the held object may fall at most max_release_height."""
    if held is None:
        return []
    bottom = float(tcp[2]) - held.size[2] / 2
    surface, below = 0.0, "table"
    for obj in objects:
        if obj.id == held.id or obj.kind is ObjectKind.HUMAN or obj.support == "held":
            continue
        if _over_footprint(tcp, obj) and obj.top_z > surface and obj.top_z <= bottom + 1e-3:
            surface, below = obj.top_z, obj.id
    drop = bottom - surface
    collector = Collector(source=source, step=step, label=label)
    if drop > redlines.max_release_height:
        where = f"{held.id} released {drop:.3f} m above {below}"
        collector.add("release_height", where, drop, redlines.max_release_height)
    return collector.violations()


def _over_footprint(tcp: Sequence[float], obj: PerceivedObject) -> bool:
    c, s = np.cos(-obj.yaw), np.sin(-obj.yaw)
    dx, dy = float(tcp[0]) - obj.position[0], float(tcp[1]) - obj.position[1]
    lx, ly = c * dx - s * dy, s * dx + c * dy
    return bool(abs(lx) <= obj.size[0] / 2 and abs(ly) <= obj.size[1] / 2)
