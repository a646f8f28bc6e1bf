"""PlanExecutor: runs a validated plan, one segment at a time, driven by ticks.

The node (or a benchmark, or a test) calls ``tick`` with the time, the measured
joint state and the perceived objects, and sends the commands it returns. The
whole plan is expanded on the predicted world before the first command, so a
plan that cannot be done fails with the step and the reason before anything
moves. Each step is expanded again, on fresh perception, when it starts. Every
segment's result is checked (the arm reached its goal, the fingers stopped on
the object, then opened past it and left it behind); the first failure ends the
plan, and nothing resumes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from embodied_stack.control.context import SkillContext
from embodied_stack.control.kinematics import Array
from embodied_stack.control.segments import (
    CheckKind,
    CheckSegment,
    GripperSegment,
    Segment,
    TrajectorySegment,
    WaitSegment,
)
from embodied_stack.control.skills import SkillError, expand_step, step_label, validate_plan
from embodied_stack.control.trajectory import knots_of
from embodied_stack.control.world import (
    WorldModel,
    arm_positions,
    gripper_effort,
    gripper_opening,
)
from embodied_stack.motion_types import JointStateSample, JointTrajectoryCommand
from embodied_stack.schemas import (
    MotionState,
    MotionStatus,
    PerceivedObject,
    Plan,
    SkillName,
    Violation,
)


@dataclass(frozen=True)
class SendTrajectory:
    command: JointTrajectoryCommand
    label: str


@dataclass(frozen=True)
class SendGripper:
    opening: float  # m


Command = SendTrajectory | SendGripper


@dataclass(frozen=True)
class GateInfo:
    """What the red-line gate needs to judge a trajectory before it is sent."""

    step_index: int
    label: str  # e.g. "step 2 (place): lower to release"
    start: tuple[float, ...]  # planned start (the follower's setpoint), profile order
    objects: tuple[PerceivedObject, ...]
    holding: str | None


# The one place a trajectory is judged before it is sent: the red lines it would cross.
TrajectoryGate = Callable[[JointTrajectoryCommand, GateInfo], list[Violation]]


PATH_SAMPLES_PER_PIECE = 4


@dataclass(frozen=True)
class Tolerances:
    reach: float = 0.02  # rad: the arm has reached a trajectory's end
    tracking: float = 0.1  # rad: measured this far off the commanded path = blocked
    settle_s: float = 2.0  # s allowed after a trajectory's end to reach it
    gripper_min_s: float = 0.25
    gripper_max_s: float = 2.0
    gripper_still: float = 2e-4  # m per 0.1 s: the fingers have stopped
    closed: float = 0.003  # m: at or below this the fingers closed on nothing
    grip_effort: float = 1.0  # N, mean finger effort: above it they squeeze something
    grip_short: float = 0.0015  # m short of the close target (without efforts): blocked
    release_margin: float = 0.003  # m: released = the fingers opened this far past the object
    left_rise: float = 0.03  # m: an object this far above where it was put rose with the gripper
    left_wait_s: float = 1.0  # s: how long the check waits for a view of it after the retreat


class PlanExecutor:
    """Executes one plan against measured state; never restarts after a failure or abort."""

    def __init__(
        self,
        plan: Plan,
        world: WorldModel,
        ctx: SkillContext,
        *,
        gate: TrajectoryGate | None = None,
        tolerances: Tolerances | None = None,
    ) -> None:
        self.plan = plan
        self.ctx = ctx
        self.gate = gate
        self.tol = tolerances or Tolerances()
        self.world = world
        self.setpoint: Array = np.array(world.joints, dtype=float)
        self.state = MotionState.EXECUTING
        self.error: str | None = None
        self.step_index = 0
        self._segments: list[Segment] | None = None
        self._after: WorldModel | None = None
        self._seg = 0
        self._seg_start: float | None = None
        self._path: Array | None = None  # dense joint positions of the active trajectory
        self._finger_log: list[tuple[float, float]] = []
        self._measured_opening: float | None = None
        self._measured_effort: float | None = None
        self._grip_from: float | None = None  # measured opening when the gripper move began
        self._seen: dict[str, PerceivedObject] = {}  # latest perception of each object
        self._moved = False  # a trajectory or gripper command went out
        self.violations: list[Violation] = []  # what the gate refused, for the audit log
        expansions, error = validate_plan(plan.steps, world, ctx)
        if error is not None:
            self.step_index = len(expansions)  # the step that failed
            self._finish(MotionState.FAILED, f"rejected before moving: {error}")
        elif not plan.steps:
            self._finish(MotionState.DONE, None)

    # ---- public -----------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state is not MotionState.EXECUTING

    def tick(
        self, now: float, joints: JointStateSample, objects: list[PerceivedObject]
    ) -> list[Command]:
        """Advance as far as the measured state allows; returns commands to send now."""
        if self.finished:
            return []
        try:
            measured = arm_positions(joints, self.ctx.profile)
        except KeyError as exc:
            return self._fail(f"{exc.args[0]}")
        self._measured_opening = gripper_opening(joints, self.ctx.profile)
        self._measured_effort = gripper_effort(joints, self.ctx.profile)
        if self._measured_opening is not None:
            self._finger_log = [*self._finger_log[-50:], (now, self._measured_opening)]
        self._seen.update((o.id, o) for o in objects)
        self.world = _merge_objects(self.world, objects)
        commands: list[Command] = []
        while not self.finished:
            if self._segments is None and not self._begin_step():
                break
            assert self._segments is not None
            if self._seg >= len(self._segments):
                self._end_step()
                continue
            segment = self._segments[self._seg]
            if self._seg_start is None:
                commands += self._start(segment, now)
                if self.finished:
                    break
            if not self._segment_done(segment, now, measured):
                break
            self._seg += 1
            self._seg_start = None
        if self.state is MotionState.FAILED and self._moved:
            commands.append(self._hold())  # stop where it is, whatever was under way
        return commands

    def abort(self, reason: str) -> list[Command]:
        """Stop for good: a hold (an empty trajectory) to send at once."""
        if not self.finished:
            self._finish(MotionState.ABORTED, reason)
        return [self._hold()]

    def _hold(self) -> SendTrajectory:
        return SendTrajectory(JointTrajectoryCommand(tuple(self.ctx.profile.joints)), "hold")

    def status(self, stamp: float = 0.0) -> MotionStatus:
        index = min(self.step_index, len(self.plan.steps) - 1) if self.plan.steps else None
        skill = self.plan.steps[index].skill if index is not None else None
        return MotionStatus(
            plan_id=self.plan.plan_id,
            state=self.state,
            step_index=index,
            step_count=len(self.plan.steps),
            skill=skill if isinstance(skill, SkillName) else None,
            error=self.error,
            stamp=stamp,
        )

    # ---- steps ------------------------------------------------------------------------

    def _label(self) -> str:
        return step_label(self.step_index, self.plan.steps[self.step_index])

    def _begin_step(self) -> bool:
        world = replace(self.world, joints=self.setpoint)
        try:
            expansion = expand_step(self.plan.steps[self.step_index], world, self.ctx)
        except SkillError as exc:
            self._fail(f"{self._label()}: {exc}")
            return False
        self._segments, self._after, self._seg = expansion.segments, expansion.world, 0
        return True

    def _end_step(self) -> None:
        assert self._after is not None
        self.world = replace(self._after, joints=self.setpoint)
        self._segments, self._after = None, None
        self.step_index += 1
        if self.step_index >= len(self.plan.steps):
            self.step_index = len(self.plan.steps) - 1
            self._finish(MotionState.DONE, None)

    # ---- segments ---------------------------------------------------------------------

    def _start(self, segment: Segment, now: float) -> list[Command]:
        self._seg_start = now
        if isinstance(segment, TrajectorySegment):
            violations = self._gate(segment)
            if violations:
                self.violations = violations
                reasons = "; ".join(v.describe() for v in violations[:3])
                return self._fail(f"{self._label()}: {segment.label}: red line: {reasons}")
            knots = knots_of(segment.command, segment.start)
            self._path = knots.sample(knots.dense_times(PATH_SAMPLES_PER_PIECE))[0]
            self.setpoint = np.array(segment.end, dtype=float)
            self._moved = True
            return [SendTrajectory(segment.command, f"{self._label()}: {segment.label}")]
        if isinstance(segment, GripperSegment):
            self.world = replace(self.world, gripper_opening=segment.opening)
            self._grip_from = self._measured_opening
            self._moved = True
            return [SendGripper(segment.opening)]
        return []

    def _gate(self, segment: TrajectorySegment) -> list[Violation]:
        if self.gate is None:
            return []
        info = GateInfo(
            step_index=self.step_index,
            label=f"{self._label()}: {segment.label}",
            start=tuple(float(v) for v in segment.start),
            objects=tuple(self.world.objects.values()),
            holding=self.world.held,
        )
        return self.gate(segment.command, info)

    def _segment_done(self, segment: Segment, now: float, measured: Array) -> bool:
        assert self._seg_start is not None
        elapsed = now - self._seg_start
        if isinstance(segment, TrajectorySegment):
            return self._trajectory_done(segment, elapsed, measured)
        if isinstance(segment, GripperSegment):
            return self._gripper_done(segment, elapsed, now)
        if isinstance(segment, WaitSegment):
            return elapsed >= segment.seconds
        return self._check(segment, self._seg_start, elapsed)

    def _trajectory_done(self, segment: TrajectorySegment, elapsed: float, q: Array) -> bool:
        assert self._path is not None
        # Off the commanded path (wherever along it: commands reach the arm with some
        # latency), by more than the tolerance: something blocks the arm.
        off = np.abs(self._path - q).max(axis=1)
        nearest = int(np.argmin(off))
        if off[nearest] > self.tol.tracking:
            worst = int(np.argmax(np.abs(self._path[nearest] - q)))
            joint = self.ctx.profile.joints[worst]
            self._fail(
                f"{self._label()}: {segment.label}: {joint} is {off[nearest]:.3f} rad off the "
                f"commanded path (limit {self.tol.tracking:.2f}): blocked or collided"
            )
            return False
        duration = segment.command.duration
        if elapsed < duration:
            return False
        miss = float(np.max(np.abs(q - segment.end)))
        if miss <= self.tol.reach:
            return True
        if elapsed > duration + self.tol.settle_s:
            self._fail(
                f"{self._label()}: {segment.label}: the arm stopped {miss:.3f} rad from its goal "
                f"(tolerance {self.tol.reach:.3f})"
            )
        return False

    def _gripper_done(self, segment: GripperSegment, elapsed: float, now: float) -> bool:
        """The fingers got there, or moved towards it and stopped (on an object: the
        checks that follow judge that). Fingers that never moved fail the step.
        Unmeasured fingers get the whole time (the checks then cannot verify)."""
        opening = self._measured_opening
        if opening is None:
            return elapsed >= self.tol.gripper_max_s
        if elapsed < self.tol.gripper_min_s:
            return False
        if abs(opening - segment.opening) < 2 * self.tol.gripper_still:
            return True
        start = opening if self._grip_from is None else self._grip_from
        toward = (opening - start) * (segment.opening - start) > 0
        moved = toward and abs(opening - start) > 10 * self.tol.gripper_still
        earlier = [o for t, o in self._finger_log if t <= now - 0.1]
        still = bool(earlier) and abs(earlier[-1] - opening) < self.tol.gripper_still
        if moved and (still or elapsed >= self.tol.gripper_max_s):
            return True
        if elapsed >= self.tol.gripper_max_s:
            self._fail(
                f"{self._label()}: {segment.label}: the fingers did not move in "
                f"{self.tol.gripper_max_s:g} s (at {opening * 1000:.1f} mm, commanded "
                f"{segment.opening * 1000:.1f} mm)"
            )
        return False

    def _check(self, segment: CheckSegment, started: float, elapsed: float) -> bool:
        if segment.kind is CheckKind.RELEASED:
            return self._check_released(segment)
        if segment.kind is CheckKind.LEFT:
            return self._check_left(segment, started, elapsed)
        return self._check_holding(segment)

    def _check_holding(self, segment: CheckSegment) -> bool:
        """Holding: the fingers stopped on something, neither closed nor wide open."""
        opening = self._measured_opening
        if opening is None:
            self._fail(f"{self._label()}: cannot verify the grasp: no finger joints measured")
            return False
        max_opening = self.ctx.profile.gripper.max_opening
        if self._measured_effort is not None:
            blocked = self._measured_effort > self.tol.grip_effort
        else:
            blocked = opening > segment.close_target + self.tol.grip_short
        if blocked and self.tol.closed < opening < max_opening - self.tol.closed:
            return True
        effort = "" if self._measured_effort is None else f", effort {self._measured_effort:.1f} N"
        self._fail(
            f"{self._label()}: {segment.label} failed: the fingers are at {opening * 1000:.1f} mm"
            f"{effort} (expected to stop on about {segment.expected_width * 1000:.0f} mm)"
        )
        return False

    def _check_released(self, segment: CheckSegment) -> bool:
        """Released: the fingers opened past the object's width (so they hold nothing;
        their effort says little here: the fingers hold their opening with a few N)."""
        opening = self._measured_opening
        if opening is None:
            self._fail(f"{self._label()}: cannot verify the release: no finger joints measured")
            return False
        need = segment.expected_width + self.tol.release_margin
        if opening >= need:
            return True
        self._fail(
            f"{self._label()}: {segment.label} failed: the fingers are at {opening * 1000:.1f} mm"
            f" (they must open past {need * 1000:.0f} mm to let go of {segment.object_id})"
        )
        return False

    def _check_left(self, segment: CheckSegment, started: float, elapsed: float) -> bool:
        """Left behind: a view of the object taken after the retreat does not show it up
        with the gripper. Views from before (perception lags the arm by a frame or two,
        and keeps a held object where the hand was) and stale estimates say nothing: the
        check waits up to `left_wait_s` for a fresh one (none: nothing says it rose)."""
        seen = self._seen.get(segment.object_id)
        if seen is None or seen.stale or seen.stamp < started:
            return elapsed >= self.tol.left_wait_s
        if seen.bottom_z <= segment.rest_bottom_z + self.tol.left_rise:
            return True
        self._fail(
            f"{self._label()}: {segment.label} failed: {segment.object_id} is seen "
            f"{(seen.bottom_z - segment.rest_bottom_z) * 100:.0f} cm above where it was put "
            "down: it went up with the gripper"
        )
        return False

    # ---- ending -----------------------------------------------------------------------

    def _fail(self, reason: str) -> list[Command]:
        self._finish(MotionState.FAILED, reason)
        return []

    def _finish(self, state: MotionState, error: str | None) -> None:
        self.state = state
        self.error = error


def _merge_objects(world: WorldModel, objects: list[PerceivedObject]) -> WorldModel:
    """Fresh perception over what we knew; the held object stays our own account."""
    merged = {**world.objects, **{o.id: o for o in objects}}
    if world.held is not None and world.held in world.objects:
        merged[world.held] = world.objects[world.held]
    return replace(world, objects=merged)
