"""Hold-to-move jogging of the TCP along x, y, z and of the gripper, with a deadman.

While jog messages keep coming, the TCP moves in short straight steps at a reduced
speed, each checked by the same red-line gate as plans. A message with direction 0,
a change of axis, or silence longer than the deadman period sends a hold at once; a
step never reaches further than `step_s` of motion, so even a lost hold stops soon.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from embodied_stack.control.context import SkillContext
from embodied_stack.control.executor import (
    Command,
    GateInfo,
    SendGripper,
    SendTrajectory,
    TrajectoryGate,
)
from embodied_stack.control.kinematics import Array, tool_yaw
from embodied_stack.control.motion import MotionBuilder, SkillError
from embodied_stack.control.segments import TrajectorySegment
from embodied_stack.control.world import WorldModel
from embodied_stack.motion_types import JointTrajectoryCommand
from embodied_stack.schemas import JogAxis, JogCommand

AXES = {JogAxis.X: 0, JogAxis.Y: 1, JogAxis.Z: 2}
ARRIVED_RAD = 0.003  # measured joints this close to a step's end: the step is over


@dataclass(frozen=True)
class JogSettings:
    speed: float = 0.05  # m/s, TCP
    step_s: float = 0.4  # s of motion per planned step
    deadman_s: float = 0.3  # s without a refresh: hold


class JogController:
    """One operator's jog at a time; `rejected` says why the last message moved nothing."""

    def __init__(
        self, ctx: SkillContext, settings: JogSettings, gate: TrajectoryGate | None = None
    ) -> None:
        self.ctx, self.settings, self.gate = ctx, settings, gate
        self._active: JogCommand | None = None
        self._last_refresh = 0.0
        self._step_ends = 0.0  # wall time the current step finishes
        self._end: Array | None = None  # joints at the end of the current step
        self.rejected: str | None = None

    @property
    def active(self) -> bool:
        return self._active is not None

    def on_jog(self, jog: JogCommand, now: float, world: WorldModel) -> list[Command]:
        """A jog message (repeated while held); returns the commands to send."""
        active = self._active
        if active is not None and (active.axis, active.direction) == (jog.axis, jog.direction):
            self._last_refresh = now  # held: keep going
            return self.on_tick(now, world)
        commands = self.stop()  # released, or another axis or direction
        if jog.direction == 0:
            return commands
        self._active, self._last_refresh = jog, now
        if jog.axis is JogAxis.GRIPPER:
            opening = self.ctx.profile.gripper.max_opening if jog.direction > 0 else 0.0
            return [*commands, SendGripper(opening)]
        return commands + self._step(now, world)

    def on_tick(self, now: float, world: WorldModel) -> list[Command]:
        """Deadman and continuation: call periodically (wall clock)."""
        if self._active is None:
            return []
        if now - self._last_refresh > self.settings.deadman_s:
            return self.stop()
        if self._active.axis is not JogAxis.GRIPPER and self._step_done(now, world):
            return self._step(now, world)
        return []

    def _step_done(self, now: float, world: WorldModel) -> bool:
        """The last step is over on the wall clock AND the measured arm reached its end:
        the simulator may run slower than the wall clock, and a step sent while the
        last is still under way would start from a point the arm has not reached."""
        if now < self._step_ends:
            return False
        if self._end is None:
            return True
        lag = np.abs(np.asarray(world.joints, dtype=float) - self._end)
        return float(lag.max()) < ARRIVED_RAD

    def stop(self) -> list[Command]:
        """End the jog: a hold when the arm was jogging."""
        was, self._active, self._end = self._active, None, None
        if was is None or was.axis is JogAxis.GRIPPER:
            return []
        return [SendTrajectory(JointTrajectoryCommand(tuple(self.ctx.profile.joints)), "hold")]

    def _step(self, now: float, world: WorldModel) -> list[Command]:
        assert self._active is not None
        jog = self._active
        if self._end is not None:  # continue from where the last step comes to rest
            world = replace(world, joints=self._end)
        motion = MotionBuilder(self.ctx, world)
        tcp = motion.tcp()
        target = tcp[:3, 3].copy()
        target[AXES[jog.axis]] += jog.direction * self.settings.speed * self.settings.step_s
        target = _inside(target, self.ctx)
        if float(np.linalg.norm(target - tcp[:3, 3])) < 1e-3:
            self.rejected = f"jog {jog.axis.value}{jog.direction:+d}: at the workspace boundary"
            return self.stop()
        motion.limits = motion.limits.scaled(
            min(1.0, self.settings.speed / motion.limits.max_tcp_speed)
        )
        try:
            x, y, z = (float(v) for v in target)
            motion.line(x, y, z, tool_yaw(tcp[:3, :3]), f"jog {jog.axis.value}")
        except SkillError as exc:
            self.rejected = f"jog {jog.axis.value}{jog.direction:+d}: {exc}"
            return self.stop()
        segment = motion.segments[-1]
        assert isinstance(segment, TrajectorySegment)
        violations = self._gate(segment, world, jog)
        if violations:
            self.rejected = "red line: " + "; ".join(violations[:3])
            return self.stop()
        self.rejected = None
        # The next step starts when this one has come to rest (the follower at rest at
        # its end), so no step ever starts from a velocity it was not planned for.
        self._step_ends = now + segment.command.duration
        self._end = segment.end
        return [SendTrajectory(segment.command, f"jog {jog.axis.value}{jog.direction:+d}")]

    def _gate(self, segment: TrajectorySegment, world: WorldModel, jog: JogCommand) -> list[str]:
        if self.gate is None:
            return []
        info = GateInfo(
            step_index=-1,
            label=f"jog {jog.axis.value}{jog.direction:+d} by {jog.operator}",
            start=tuple(float(v) for v in segment.start),
            objects=tuple(world.objects.values()),
            holding=world.held,
        )
        return [v.describe() for v in self.gate(segment.command, info)]


def _inside(target: Array, ctx: SkillContext) -> Array:
    box, margin = ctx.config.workspace, ctx.config.workspace_margin + 1e-3
    lo = np.array(box.min) + margin
    hi = np.array(box.max) - margin
    return np.clip(target, lo, hi)
