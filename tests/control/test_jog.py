"""Jogging in the simulator: moves while refreshed, stops on release or silence."""

from __future__ import annotations

import numpy as np

from embodied_stack.control.context import SkillContext
from embodied_stack.control.executor import Command, SendGripper, SendTrajectory
from embodied_stack.control.jog import JogController, JogSettings
from embodied_stack.control.world import world_from_state
from embodied_stack.robot import RobotProfile
from embodied_stack.scene import Scene
from embodied_stack.schemas import JogAxis, JogCommand
from embodied_stack.sim.world import SimWorld

DT = 0.05  # s between jog messages, as the console streams them


def send(sim: SimWorld, commands: list[Command]) -> None:
    for command in commands:
        if isinstance(command, SendTrajectory):
            assert sim.command_trajectory(command.command) == []
        elif isinstance(command, SendGripper):
            sim.set_gripper(command.opening)


def jog(axis: JogAxis, direction: int, seq: int) -> JogCommand:
    return JogCommand(operator="alice", axis=axis, direction=direction, seq=seq)  # type: ignore[arg-type]


def run(sim: SimWorld, ctrl: JogController, seconds: float, message: JogCommand | None) -> None:
    """Step the sim for `seconds`, sending `message` every DT (None: silence)."""
    for _ in range(round(seconds / DT)):
        state = sim.joint_state()
        world = world_from_state(state, [], sim.robot)
        if message is not None:
            send(sim, ctrl.on_jog(message, sim.sim_time, world, state))
        send(sim, ctrl.on_tick(sim.sim_time, world, state))
        sim.step(round(DT * sim.physics_hz))


def test_jog_moves_while_held_and_stops_on_release(
    ctx: SkillContext, profile: RobotProfile
) -> None:
    settings = JogSettings()
    with SimWorld(scene=Scene(), robot=profile) as sim:
        ctrl = JogController(ctx, settings)
        start, _ = sim.tcp_pose()
        run(sim, ctrl, 1.5, jog(JogAxis.Z, -1, 1))
        moved, _ = sim.tcp_pose()
        assert 0.02 < start[2] - moved[2] < settings.speed * 1.5 + 0.005  # down, at jog speed
        assert np.allclose(moved[:2], start[:2], atol=0.003)  # only along z
        run(sim, ctrl, 0.1, jog(JogAxis.Z, 0, 2))  # released
        stopped, _ = sim.tcp_pose()
        run(sim, ctrl, 1.0, None)
        after, _ = sim.tcp_pose()
        assert np.linalg.norm(after - stopped) < 0.01
        assert not ctrl.active


def test_silence_is_a_release(ctx: SkillContext, profile: RobotProfile) -> None:
    with SimWorld(scene=Scene(), robot=profile) as sim:
        ctrl = JogController(ctx, JogSettings())
        run(sim, ctrl, 0.6, jog(JogAxis.Y, 1, 1))
        run(sim, ctrl, 0.5, None)  # the console went quiet: the deadman stops the jog
        assert not ctrl.active
        stopped, _ = sim.tcp_pose()
        run(sim, ctrl, 1.0, None)
        after, _ = sim.tcp_pose()
        assert np.linalg.norm(after - stopped) < 0.005


def test_jog_stops_at_the_workspace_boundary(ctx: SkillContext, profile: RobotProfile) -> None:
    with SimWorld(scene=Scene(), robot=profile) as sim:
        ctrl = JogController(ctx, JogSettings(speed=0.2))
        run(sim, ctrl, 3.0, jog(JogAxis.Z, 1, 1))  # home is near the top of the box
        tcp, _ = sim.tcp_pose()
        assert tcp[2] <= ctx.config.workspace.max[2]
        assert ctrl.rejected is not None and "workspace" in ctrl.rejected


def test_gripper_jog(ctx: SkillContext, profile: RobotProfile) -> None:
    with SimWorld(scene=Scene(), robot=profile) as sim:
        ctrl = JogController(ctx, JogSettings())
        run(sim, ctrl, 1.0, jog(JogAxis.GRIPPER, -1, 1))
        assert sim.gripper_target == 0.0
        run(sim, ctrl, 1.0, jog(JogAxis.GRIPPER, 1, 2))
        assert sim.gripper_target == profile.gripper.max_opening


def test_a_simulator_slower_than_the_wall_clock_never_makes_the_jog_jump(
    ctx: SkillContext, profile: RobotProfile
) -> None:
    """Jog messages come on the wall clock; here the simulator advances at a third of
    that pace. A step must not be sent before the arm reached the last one's end, or
    the follower would rush to a start it never reached (seen as TCP speed spikes)."""
    with SimWorld(scene=Scene(), robot=profile) as sim:
        ctrl = JogController(ctx, JogSettings())
        message = jog(JogAxis.X, 1, 1)
        peak, wall = 0.0, 0.0
        for _ in range(60):
            state = sim.joint_state()
            world = world_from_state(state, [], sim.robot)
            send(sim, ctrl.on_jog(message, wall, world, state))
            for _ in range(round(DT * sim.physics_hz / 3)):  # one third of the wall time
                sim.step()
                peak = max(peak, sim.ground_truth().tcp_speed)
            wall += DT
        assert peak < JogSettings().speed * 1.5  # jog speed, never a rush
