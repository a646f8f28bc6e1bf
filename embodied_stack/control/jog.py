"""Hold-to-move jogging of the TCP along x, y, z and of the gripper, with a deadman.

While jog messages keep coming, the TCP moves in short straight steps at a reduced
speed, each checked by the same red-line gate as plans. A message with direction 0,
a change of axis, or silence longer than the deadman period sends a hold at once; a
step never reaches further than `step_s` of motion, so even a lost hold stops soon.

Every step is planned from rest at a known point, because the follower starts a new
trajectory from its own setpoint, not from the point the plan assumed: planned from a
measured state taken while the arm still moved (decelerating, a stale joint state, a
reversal), the follower would rush from where it holds to that point in the first few
tens of milliseconds. So a step continues from the last step's end once the measured
arm stands there, and a (re)start after a hold waits until the arm has been seen
standing still for `settle_s` of measured (sample) time after the hold. Standing
still, the arm may be where the hold left it, or (joint states late enough) where it
stood before the cut step was sent, or creeping off at the very start of that step.
It counts as where the follower holds only when it was seen moving after the hold and
stands away from everywhere it stood before the cut step; otherwise the new step
begins with a lead-in to the measured point, long enough to cover, at the jog speed,
the farthest the follower can be from it: anywhere it stood before the cut step, or
got along that step (the wall time it had, plus `LATENCY_S`; a simulator never runs
faster). Where it stood before is the cut step's start when that step continued a jog
or started plainly, and anywhere it may have held before when that step itself began
with a lead-in (late joint states may show the motion and the rest before it, too).
"""

from __future__ import annotations

import itertools
import math
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
from embodied_stack.control.segments import Segment, TrajectorySegment
from embodied_stack.control.trajectory import MotionLimits
from embodied_stack.control.world import WorldModel
from embodied_stack.motion_types import JointStateSample, JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.schemas import JogAxis, JogCommand

AXES = {JogAxis.X: 0, JogAxis.Y: 1, JogAxis.Z: 2}
ARRIVED_RAD = 0.003  # measured joints this close to a step's end: the step is over
REST_RAD_S = 0.01  # measured joint speeds below this (and no drift): the arm stands still
LATENCY_S = 0.1  # a hold may reach the follower this much later than its step did
LEAD_IN_MARGIN = 1.8  # a rest-to-rest cubic peaks at 1.5x its mean speed; 20% on top


@dataclass(frozen=True)
class JogSettings:
    speed: float = 0.05  # m/s, TCP
    step_s: float = 0.4  # s of motion per planned step
    deadman_s: float = 0.3  # s without a refresh: hold
    settle_s: float = 0.1  # s of measured stillness after a hold before a jog (re)starts


class RestWatch:
    """Whether the measured arm stands still, and since when (in sample time).

    Sample stamps, not the wall clock: joint states may lag, and a simulator may run
    slower than the wall clock. Stillness counts only from samples newer than the last
    hold (`restart`), so a stale sample from before it never passes for the arm at rest.
    """

    def __init__(self, settle_s: float, joint_names: list[str]) -> None:
        self.settle_s, self.joint_names = settle_s, joint_names
        self._last_stamp = -math.inf
        self._after = -math.inf  # stillness must begin after this sample time
        self._still: tuple[float, Array] | None = None  # since when, and where
        self._first_after: Array | None = None  # the first position sampled after `_after`
        self._moved = False  # seen more than ARRIVED_RAD from it since

    def observe(self, state: JointStateSample, joints: Array, now: float) -> None:
        """`now` (the caller's clock) stands in for the stamp of an unstamped sample."""
        stamp = state.stamp if state.stamp > 0 else now
        if stamp <= self._last_stamp:
            return  # seen already (or older)
        self._last_stamp = stamp
        q = np.asarray(joints, dtype=float)
        if stamp > self._after:
            if self._first_after is None:
                self._first_after = q
            self._moved = self._moved or float(np.abs(q - self._first_after).max()) > ARRIVED_RAD
        moving = self._fastest(state) > REST_RAD_S
        if self._still is not None:
            moving = moving or float(np.abs(q - self._still[1]).max()) > ARRIVED_RAD
        if moving or stamp <= self._after:
            self._still = None
        elif self._still is None:
            self._still = (stamp, q)

    def _fastest(self, state: JointStateSample) -> float:
        """The fastest arm joint's measured speed (0 when speeds are not measured)."""
        if len(state.velocities) != len(state.names):
            return 0.0  # positions alone: drift from where the stillness began tells
        speeds = dict(zip(state.names, state.velocities, strict=True))
        return max((abs(speeds[n]) for n in self.joint_names if n in speeds), default=0.0)

    def restart(self) -> None:
        """A hold was sent: only samples after it can show the arm at rest."""
        self._after, self._still = self._last_stamp, None
        self._first_after, self._moved = None, False

    @property
    def moved(self) -> bool:
        """The arm was seen moving (by more than ARRIVED_RAD) since the last hold."""
        return self._moved

    @property
    def still(self) -> bool:
        return self._still is not None

    @property
    def settled(self) -> bool:
        return self._still is not None and self._last_stamp - self._still[0] >= self.settle_s


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
        self._rest = RestWatch(settings.settle_s, ctx.profile.joints)
        # The last step: when it was sent, and where the follower may have rested then.
        self._sent: tuple[float, TrajectorySegment, Array] | None = None
        # After a hold: where the follower may have stood before the cut step (joint
        # points, read as a path), and every point where it may hold now.
        self._may_hold: tuple[Array, Array] | None = None
        self.rejected: str | None = None

    @property
    def active(self) -> bool:
        return self._active is not None

    def on_jog(
        self, jog: JogCommand, now: float, world: WorldModel, state: JointStateSample
    ) -> list[Command]:
        """A jog message (repeated while held); returns the commands to send.

        `world` holds the measured joints of `state`, the sample they came from."""
        active = self._active
        if active is not None and (active.axis, active.direction) == (jog.axis, jog.direction):
            self._last_refresh = now  # held: keep going
            return self.on_tick(now, world, state)
        commands = self.stop(now)  # released, or another axis or direction
        if jog.direction == 0:
            return commands
        self._active, self._last_refresh = jog, now
        if jog.axis is JogAxis.GRIPPER:
            opening = self.ctx.profile.gripper.max_opening if jog.direction > 0 else 0.0
            return [*commands, SendGripper(opening)]
        return commands + self.on_tick(now, world, state)

    def on_tick(self, now: float, world: WorldModel, state: JointStateSample) -> list[Command]:
        """Deadman and continuation: call periodically (wall clock) with the latest state."""
        self._rest.observe(state, world.joints, now)
        if self._active is None:
            return []
        if now - self._last_refresh > self.settings.deadman_s:
            return self.stop(now)
        if self._active.axis is not JogAxis.GRIPPER and self._ready(now, world):
            return self._step(now, world)
        return []

    def _ready(self, now: float, world: WorldModel) -> bool:
        """A step may start: the follower is at rest where the step will be planned from.

        Continuing: the last step is over on the wall clock AND the measured arm stands
        at its end (the simulator may run slower than the wall clock). Starting: the arm
        has stood still for `settle_s` since the last hold; the measured position is then
        where the follower holds."""
        if self._end is None:
            return self._rest.settled
        if now < self._step_ends or not self._rest.still:
            return False
        lag = np.abs(np.asarray(world.joints, dtype=float) - self._end)
        return float(lag.max()) < ARRIVED_RAD

    def stop(self, now: float | None = None) -> list[Command]:
        """End the jog: a hold when the arm was jogging. Without `now` (the clock of
        `on_jog`), the follower is taken to have had all of its last step."""
        was, self._active, self._end = self._active, None, None
        if was is None or was.axis is JogAxis.GRIPPER:
            return []
        self._rest.restart()
        if self._sent is not None:  # where along its last step the follower may stop
            sent_at, segment, rested = self._sent
            reach = math.inf if now is None else now - sent_at + LATENCY_S
            self._may_hold = (rested, np.vstack((rested, _reachable(segment.command, reach))))
        self._sent = None
        return [SendTrajectory(JointTrajectoryCommand(tuple(self.ctx.profile.joints)), "hold")]

    def _step(self, now: float, world: WorldModel) -> list[Command]:
        assert self._active is not None
        jog = self._active
        if self._end is not None:  # continue from where the last step comes to rest
            world = replace(world, joints=self._end)
        motion = MotionBuilder(self.ctx, world)
        tcp = motion.tcp()
        target = _inside(tcp[:3, 3] + self._offset(jog), self.ctx)
        if float(np.linalg.norm(target - tcp[:3, 3])) < 1e-3:
            self.rejected = f"jog {jog.axis.value}{jog.direction:+d}: at the workspace boundary"
            return self.stop(now)
        motion.limits = motion.limits.scaled(
            min(1.0, self.settings.speed / motion.limits.max_tcp_speed)
        )
        try:
            x, y, z = (float(v) for v in target)
            motion.line(x, y, z, tool_yaw(tcp[:3, :3]), f"jog {jog.axis.value}")
        except SkillError as exc:
            self.rejected = f"jog {jog.axis.value}{jog.direction:+d}: {exc}"
            return self.stop(now)
        segment, rested = self._with_lead_in(motion.segments[-1], motion.limits)
        violations = self._gate(segment, world, jog)
        if violations:
            self.rejected = "red line: " + "; ".join(violations[:3])
            return self.stop(now)
        self.rejected = None
        # The next step starts when this one has come to rest (the follower at rest at
        # its end), so no step ever starts from a velocity it was not planned for.
        self._step_ends = now + segment.command.duration
        self._end, self._sent, self._may_hold = segment.end, (now, segment, rested), None
        return [SendTrajectory(segment.command, f"jog {jog.axis.value}{jog.direction:+d}")]

    def _offset(self, jog: JogCommand) -> Array:
        """One step's TCP displacement."""
        offset = np.zeros(3)
        offset[AXES[jog.axis]] = jog.direction * self.settings.speed * self.settings.step_s
        return offset

    def _with_lead_in(
        self, segment: Segment, limits: MotionLimits
    ) -> tuple[TrajectorySegment, Array]:
        """`segment`, first brought from wherever the follower may hold to its start;
        and where the follower may stand at rest as the segment is sent."""
        assert isinstance(segment, TrajectorySegment)
        here = np.asarray(segment.start, dtype=float)[None, :]
        if self._end is not None or self._may_hold is None:
            return segment, here  # continuing from the last end, or nothing was cut short
        rested, may_hold = self._may_hold
        if self._rest.moved and _distance_to_path(segment.start, rested) >= ARRIVED_RAD:
            return segment, here  # seen moving, then still somewhere new: where it held
        chain = self.ctx.chain
        offsets = may_hold - segment.start
        tcp_reach = max(
            float(np.linalg.norm(chain.tcp(q)[:3, 3] - chain.tcp(segment.start)[:3, 3]))
            for q in may_hold
        )
        seconds = LEAD_IN_MARGIN * max(
            tcp_reach / limits.max_tcp_speed,
            float(np.max(np.abs(offsets) / limits.max_velocity)),
        )
        delayed = replace(segment, command=_delayed(segment.command, segment.start, seconds))
        return delayed, np.vstack((may_hold, here))

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


def _reachable(command: JointTrajectoryCommand, seconds: float) -> Array:
    """The points of `command` up to `seconds` in, and the first one after (joints)."""
    times = np.array([p.time_from_start for p in command.points])
    count = int(np.searchsorted(times, seconds)) + 1
    return np.array([p.positions for p in command.points[:count]])


def _distance_to_path(q: Array, path: Array) -> float:
    """Largest joint offset (rad) of `q` from the nearest point of the polyline `path`."""
    q = np.asarray(q, dtype=float)
    best = float(np.abs(path - q).max(axis=1).min())
    for a, b in itertools.pairwise(path):
        span = b - a
        length = float(span @ span)
        if length < 1e-18:
            continue
        t = min(1.0, max(0.0, float((q - a) @ span) / length))
        best = min(best, float(np.abs(a + t * span - q).max()))
    return best


def _delayed(
    command: JointTrajectoryCommand, start: Array, seconds: float
) -> JointTrajectoryCommand:
    """`command` after `seconds` of going to rest at `start` (nothing when that is 0)."""
    if seconds < 1e-3:
        return command
    rest = (0.0,) * len(start)
    first = TrajectoryPoint(tuple(float(v) for v in start), seconds, rest)
    later = tuple(replace(p, time_from_start=p.time_from_start + seconds) for p in command.points)
    return replace(command, points=(first, *later))


def _inside(target: Array, ctx: SkillContext) -> Array:
    box, margin = ctx.config.workspace, ctx.config.workspace_margin + 1e-3
    lo = np.array(box.min) + margin
    hi = np.array(box.max) - margin
    return np.clip(target, lo, hi)
