"""Drive a PlanExecutor against a SimWorld in one process (benchmarks and tests).

Object poses come from the simulator's ground truth (standing in for
perception), exactly as PerceivedObject messages would carry them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from embodied_stack.control.context import SkillContext
from embodied_stack.control.executor import (
    Command,
    PlanExecutor,
    SendGripper,
    SendTrajectory,
    TrajectoryGate,
)
from embodied_stack.control.truth import perceived_objects
from embodied_stack.control.world import WorldModel, world_from_state
from embodied_stack.schemas import (
    MotionStatus,
    PerceivedObject,
    Plan,
    PlannerKind,
    PlanStatus,
    PlanStep,
    Provenance,
)
from embodied_stack.sim.world import SimWorld

TICK_STEPS = 4  # physics steps per executor tick (60 Hz at 240 Hz physics)
PERCEPTION_STEPS = 16  # physics steps per object update (15 Hz)


@dataclass
class RunFigures:
    sim_s: float = 0.0
    wall_s: float = 0.0
    max_tracking_err_mm: float = 0.0  # commanded vs measured TCP
    max_tcp_speed_mps: float = 0.0
    status: MotionStatus | None = None
    commands: list[str] = field(default_factory=list)


def operator_plan(steps: list[tuple[str, dict[str, float | str]]]) -> Plan:
    """An approved plan typed by a person (tests and benchmarks)."""
    return Plan(
        steps=[PlanStep.model_validate({"skill": s, "args": a}) for s, a in steps],
        provenance=Provenance(planner=PlannerKind.OPERATOR, model="operator"),
        ai_generated=False,
        status=PlanStatus.APPROVED,
    )


def world_from_sim(sim: SimWorld) -> tuple[WorldModel, list[PerceivedObject]]:
    objects = perceived_objects(sim.ground_truth(), sim.scene)
    return world_from_state(sim.joint_state(), objects, sim.robot), objects


def run_plan(
    sim: SimWorld,
    plan: Plan,
    ctx: SkillContext,
    *,
    timeout_s: float = 60.0,
    gate: TrajectoryGate | None = None,
    on_command: Callable[[SimWorld, Command], None] | None = None,
    abort_after_s: float | None = None,
) -> RunFigures:
    """Execute `plan` in `sim` until it ends (or `timeout_s` of sim time pass).

    `on_command` sees every command before the simulator does (tests disturb the
    world there); `abort_after_s` aborts the plan then, as an e-stop would."""
    figures = RunFigures()
    world, objects = world_from_sim(sim)
    executor = PlanExecutor(plan, world, ctx, gate=gate)
    start_sim, start_wall = sim.sim_time, time.perf_counter()
    steps = 0
    while not executor.finished and sim.sim_time - start_sim < timeout_s:
        if steps % PERCEPTION_STEPS == 0:
            objects = perceived_objects(sim.ground_truth(), sim.scene)
        commands = executor.tick(sim.sim_time, sim.joint_state(), objects)
        if abort_after_s is not None and sim.sim_time - start_sim >= abort_after_s:
            commands = executor.abort("e-stop")
        for command in commands:
            if on_command is not None:
                on_command(sim, command)
            if isinstance(command, SendTrajectory):
                figures.commands.append(command.label)
                problems = sim.command_trajectory(command.command)
                if problems:
                    executor.abort(f"simulator rejected {command.label}: {problems}")
            elif isinstance(command, SendGripper):
                sim.set_gripper(command.opening)
        for _ in range(TICK_STEPS):
            sim.step(1)
            _measure(sim, ctx, figures)
        steps += TICK_STEPS
    if not executor.finished:
        sim.hold()
        executor.abort(f"timed out after {timeout_s:.0f} s of sim time")
    figures.sim_s = sim.sim_time - start_sim
    figures.wall_s = time.perf_counter() - start_wall
    figures.status = executor.status(sim.sim_time)
    return figures


def _measure(sim: SimWorld, ctx: SkillContext, figures: RunFigures) -> None:
    commanded_q, _qd = sim.follower.sample(sim.sim_time)
    commanded = ctx.chain.tcp(commanded_q)[:3, 3]
    position, _orn, velocity = sim.arm.link_pose(sim.arm.tcp_link)
    error = float(np.linalg.norm(np.asarray(position) - commanded)) * 1000
    speed = float(np.linalg.norm(velocity))
    if math.isfinite(error):
        figures.max_tracking_err_mm = max(figures.max_tracking_err_mm, error)
    figures.max_tcp_speed_mps = max(figures.max_tcp_speed_mps, speed)
