"""Dry run: execute a plan in a private, headless PyBullet twin of the perceived scene.

The twin is built from what perception reports (not from the simulator's truth),
with the arm at its measured joints and the red lines' keep-out boxes. The plan
runs through the real PlanExecutor with the red-line gate, as fast as the CPU
allows, while the runtime monitor checks the twin's measured state every few
physics steps. The first red line crossed ends the run and rejects the plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pybullet as pb

from embodied_stack.control.context import SkillContext
from embodied_stack.control.sim_driver import run_plan
from embodied_stack.control.truth import perceived_objects
from embodied_stack.robot import RobotProfile, load_robot
from embodied_stack.safety.gate import RedLineGate
from embodied_stack.safety.monitor import RuntimeMonitor
from embodied_stack.safety.redlines import RedLines
from embodied_stack.safety.trajectory_check import check_release
from embodied_stack.scene import ObjectKind, Scene, SceneObject
from embodied_stack.schemas import DryRunResult, MotionState, PerceivedObject, Plan, Violation
from embodied_stack.sim.world import SimWorld

SOURCE = "dry_run"
CHECK_EVERY = 4  # physics steps between monitor checks (60 Hz at 240 Hz physics)
LIFTED = 0.02  # m above its perceived rest height: a knife counts as held
HELD_RADIUS = 0.05  # m from the TCP: the object between the fingers


class _BreachError(Exception):
    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(violations[0].describe())
        self.violations = violations


def scene_from_perception(objects: Sequence[PerceivedObject], redlines: RedLines) -> Scene:
    """A suite scene of what perception sees (held objects left out)."""
    ids = {o.id for o in objects}
    scene_objects = [_scene_object(o, ids) for o in objects if o.support != "held"]
    return Scene(objects=scene_objects, keep_out=list(redlines.keep_out))


def _scene_object(obj: PerceivedObject, ids: set[str]) -> SceneObject:
    sx, sy, sz = obj.size
    sizes: dict[ObjectKind, float | tuple[float, ...] | None] = {
        ObjectKind.CUBE: sx,
        ObjectKind.BALL: sx / 2,
        ObjectKind.CYLINDER: (sx / 2, sz),
        ObjectKind.HUMAN: None,
    }
    size = sizes.get(obj.kind, (sx, sy, sz))
    on = obj.support if obj.support in ids else None
    return SceneObject(
        id=obj.id,
        kind=obj.kind,
        color=obj.color,
        size=size,
        xy=(obj.position[0], obj.position[1]),
        yaw=obj.yaw,
        on=on,
    )


def dry_run(
    plan: Plan,
    objects: Sequence[PerceivedObject],
    redlines: RedLines,
    *,
    joints: Sequence[float] | None = None,
    robot: RobotProfile | None = None,
    timeout_s: float = 120.0,
) -> DryRunResult:
    """Run `plan` in a twin; ok only if it completes without crossing a red line."""
    profile = robot or load_robot("panda")
    wall_start = time.perf_counter()
    scene = scene_from_perception(objects, redlines)
    with SimWorld(scene=scene, robot=profile, visuals=False) as twin:  # never rendered
        if joints is not None:
            _place_arm(twin, joints)
        gate = RedLineGate(redlines, robot=profile.name, source=SOURCE)
        monitor = RuntimeMonitor(redlines=redlines, source=SOURCE, robot=profile.name)
        twin.listeners.append(_watch(monitor, objects))
        ctx = SkillContext.from_redlines(profile, redlines)
        try:
            figures = run_plan(twin, plan, ctx, timeout_s=timeout_s, gate=gate)
        except _BreachError as breach:
            return _result(False, twin.sim_time, wall_start, breach.violations, str(breach))
        violations = gate.violations
        status = figures.status
        done = status is not None and status.state is MotionState.DONE
        error = None if done else (status.error if status else "no status")
        return _result(done and not violations, twin.sim_time, wall_start, violations, error)


def _result(
    ok: bool, sim_s: float, wall_start: float, violations: list[Violation], error: str | None
) -> DryRunResult:
    wall = time.perf_counter() - wall_start
    return DryRunResult(ok=ok, sim_s=sim_s, wall_s=wall, violations=violations, error=error)


def _place_arm(twin: SimWorld, joints: Sequence[float]) -> None:
    for index, value in zip(twin.arm.arm_joints, joints, strict=True):
        pb.resetJointState(twin.arm.body, index, float(value), physicsClientId=twin.client)
    twin.follower.hold(np.asarray(joints, dtype=float), twin.sim_time)


def _watch(
    monitor: RuntimeMonitor, objects: Sequence[PerceivedObject]
) -> Callable[[SimWorld], None]:
    rest = {o.id: o.position[2] for o in objects if o.kind is ObjectKind.KNIFE}
    steps = [0]
    opening = [-1.0]

    def listener(world: SimWorld) -> None:
        if world.gripper_target > opening[0] + 1e-4 and opening[0] >= 0:
            _check_release(world, monitor.context.redlines)
        opening[0] = world.gripper_target
        steps[0] += 1
        if steps[0] % CHECK_EVERY:
            return
        truth = world.ground_truth()
        lifted = [
            k
            for k, z in rest.items()
            if k in truth.objects and truth.objects[k].position[2] > z + LIFTED
        ]
        monitor.update_scene(objects, holding=lifted[0] if lifted else None)
        found = monitor.check(world.joint_state())
        if found:
            raise _BreachError(found)

    return listener


def _check_release(world: SimWorld, redlines: RedLines) -> None:
    """The gripper opens: whatever it holds may fall at most max_release_height."""
    tcp = world.tcp_pose()[0]
    seen = perceived_objects(world.ground_truth(), world.scene)
    held = [
        o
        for o in seen
        if o.kind is not ObjectKind.HUMAN
        and float(np.linalg.norm(np.asarray(o.position) - tcp)) < HELD_RADIUS
    ]
    if held:
        found = check_release(tcp.tolist(), held[0], seen, redlines, source=SOURCE)
        if found:
            raise _BreachError(found)
