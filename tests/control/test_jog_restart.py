"""Jog press/release sequences at any timing never command faster than the jog speed.

The simulator's follower starts a new trajectory from its own setpoint, as
joint_trajectory_controller does, not from the point the jog planned from. These
tests drive the real follower and physics with press/release/reverse sequences,
a simulator slower than the wall clock and joint states that lag, and check the
commanded setpoint itself at every physics step: TCP speed, joint speeds, joint limits.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from embodied_stack.control.context import SkillContext
from embodied_stack.control.jog import JogController, JogSettings
from embodied_stack.control.world import world_from_state
from embodied_stack.motion_types import JointStateSample
from embodied_stack.robot import RobotProfile
from embodied_stack.scene import Scene
from embodied_stack.schemas import JogAxis, JogCommand
from embodied_stack.sim.world import SimWorld
from tests.control.test_jog import DT, send

STATE_HZ = 50.0  # joint states per second of sim time, as sim_node publishes them
SPEED_MARGIN = 1.1  # spline sampling and rounding; a rush from a wrong start is 3x-30x


@dataclass
class Peaks:
    tcp: float = 0.0  # m/s, commanded setpoint
    joint_ratio: float = 0.0  # largest |qd| / jog joint-speed limit, commanded
    measured_tcp: float = 0.0  # m/s, the simulated arm
    outside_limits: bool = False


class Rig:
    """The sim at `pace` of the wall clock, its joint states `lag` samples late."""

    def __init__(self, sim: SimWorld, ctx: SkillContext, pace: float, lag: int) -> None:
        self.sim, self.ctx, self.pace = sim, ctx, pace
        self.ctrl = JogController(ctx, JogSettings())
        self.states: deque[JointStateSample] = deque([sim.joint_state()], maxlen=lag + 1)
        self.wall, self.seq, self.peaks = 0.0, 0, Peaks()
        scale = min(1.0, JogSettings().speed / ctx.limits.max_tcp_speed)
        self.joint_limit = ctx.limits.max_velocity * scale

    def hold_for(self, axis: JogAxis, direction: int | None, seconds: float) -> None:
        """Send `direction` (None: nothing, the console went quiet) every DT for `seconds`."""
        for _ in range(max(1, round(seconds / DT))):
            state = self.states[0]  # the oldest kept: `lag` samples behind
            world = world_from_state(state, [], self.sim.robot)
            if direction is not None:
                self.seq += 1
                message = JogCommand(  # type: ignore[arg-type]
                    operator="alice", axis=axis, direction=direction, seq=self.seq
                )
                send(self.sim, self.ctrl.on_jog(message, self.wall, world, state))
            send(self.sim, self.ctrl.on_tick(self.wall, world, state))
            self.advance(DT * self.pace)
            self.wall += DT

    def advance(self, seconds: float) -> None:
        sim = self.sim
        next_state = self.states[-1].stamp + 1.0 / STATE_HZ
        for _ in range(round(seconds * sim.physics_hz)):
            sim.step()
            self.observe()
            if sim.sim_time >= next_state - 1e-9:
                self.states.append(sim.joint_state())
                next_state += 1.0 / STATE_HZ

    def observe(self) -> None:
        q, qd = self.sim.follower.sample(self.sim.sim_time)
        jac, _tcp = self.ctx.chain.jacobian(q)
        peaks = self.peaks
        peaks.tcp = max(peaks.tcp, float(np.linalg.norm(jac[:3] @ qd)))
        peaks.joint_ratio = max(peaks.joint_ratio, float(np.max(np.abs(qd) / self.joint_limit)))
        peaks.measured_tcp = max(peaks.measured_tcp, self.sim.ground_truth().tcp_speed)
        peaks.outside_limits |= not self.ctx.chain.within_limits(q, tol=1e-6)


def check(peaks: Peaks) -> None:
    speed = JogSettings().speed
    assert peaks.tcp < speed * SPEED_MARGIN, f"commanded TCP speed {peaks.tcp:.3f} m/s"
    assert peaks.joint_ratio < SPEED_MARGIN, f"commanded joint speed x{peaks.joint_ratio:.2f}"
    assert peaks.measured_tcp < speed * 1.5, f"measured TCP speed {peaks.measured_tcp:.3f}"
    assert not peaks.outside_limits


PRESS = st.tuples(
    st.sampled_from([1, -1, 0, None]),  # +, -, released, silence (deadman)
    st.sampled_from([0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1.0]),  # s
)


@settings(max_examples=20, deadline=None)
# Found by hypothesis: a restart planned from a joint state older than the step the
# release cut short (first), from one taken as the arm crept off at a step's start, and
# from one seen after the motion of the step before the cut one (last).
@example(
    axis=JogAxis.X,
    presses=[(0, 0.6), (-1, 0.25), (1, 0.25), (1, 0.25), (-1, 0.15)],
    pace=1.0,
    lag=22,
)
@example(axis=JogAxis.Y, presses=[(1, 1.0), (0, 1.0), (1, 0.05)], pace=0.3, lag=19)
@example(
    axis=JogAxis.Y,
    presses=[(0, 0.6), (1, 0.25), (-1, 0.05), (1, 0.25), (-1, 0.4)],
    pace=1.0,
    lag=18,
)
@given(
    axis=st.sampled_from([JogAxis.X, JogAxis.Y, JogAxis.Z]),
    presses=st.lists(PRESS, min_size=2, max_size=8),
    pace=st.sampled_from([1.0, 0.5, 0.3]),
    lag=st.integers(min_value=0, max_value=25),  # up to 0.5 s late,
)
def test_press_release_sequences_never_command_faster_than_the_jog(
    ctx: SkillContext,
    profile: RobotProfile,
    axis: JogAxis,
    presses: list[tuple[int | None, float]],
    pace: float,
    lag: int,
) -> None:
    with SimWorld(scene=Scene(), robot=profile) as sim:
        rig = Rig(sim, ctx, pace, lag)
        for direction, seconds in presses:
            rig.hold_for(axis, direction, seconds)
        rig.hold_for(axis, 0, 0.5)  # released at the end: the arm comes to rest
        check(rig.peaks)


def test_a_reversal_and_a_quick_restart_with_lagging_states(
    ctx: SkillContext, profile: RobotProfile
) -> None:
    """The pattern that tripped the simulator's red lines: moving, reversed at once,
    released and pressed again within a few messages, the joint states 80 ms late.
    Planned from such a state, the follower rushed back from where it held."""
    with SimWorld(scene=Scene(), robot=profile) as sim:
        rig = Rig(sim, ctx, pace=1.0, lag=4)
        rig.hold_for(JogAxis.Z, -1, 0.6)
        rig.hold_for(JogAxis.Z, 1, 0.4)  # reversed without a release
        rig.hold_for(JogAxis.Z, 0, 0.05)
        before, _ = sim.tcp_pose()
        rig.hold_for(JogAxis.Z, 1, 1.2)  # pressed again at once
        rig.hold_for(JogAxis.Z, 0, 0.5)
        after, _ = sim.tcp_pose()
        check(rig.peaks)
        assert after[2] - before[2] > 0.01  # and the restart still moves
        assert not rig.ctrl.active


def test_a_restart_with_states_older_than_the_pause_between_steps(
    ctx: SkillContext, profile: RobotProfile
) -> None:
    """Joint states 0.3 s late: released just after the second step began, the arm is
    seen standing still at that step's start (the pause between steps) although the
    follower holds further on. A restart from there needs a lead-in, not a rush."""
    with SimWorld(scene=Scene(), robot=profile) as sim:
        rig = Rig(sim, ctx, pace=1.0, lag=15)
        rig.hold_for(JogAxis.Z, -1, 1.6)
        rig.hold_for(JogAxis.Z, 0, 0.05)
        rig.hold_for(JogAxis.Z, -1, 1.0)
        rig.hold_for(JogAxis.Z, 0, 0.5)
        check(rig.peaks)
