"""Every step's result is checked from the measured state: the fingers must move when
commanded, close on the object when picking, open past it when placing, and leave it
behind on the retreat. Driven by an arm that follows trajectories exactly and whose
fingers (and the object between them) misbehave on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from embodied_stack.control.context import SkillContext
from embodied_stack.control.executor import PlanExecutor, SendGripper, SendTrajectory
from embodied_stack.control.world import grip_width
from embodied_stack.motion_types import JointStateSample
from embodied_stack.robot import RobotProfile
from embodied_stack.scene import Scene, load_suite
from embodied_stack.schemas import MotionState, MotionStatus, PerceivedObject
from tests.conftest import TASKS_PUBLIC
from tests.control.helpers import plan_of, scene_objects, world_for

DT = 0.02  # s between ticks
SQUEEZE_N = 20.0  # finger effort while squeezing an object


@dataclass
class FakeArm:
    """Reaches every trajectory's end at once; fingers as the flags say."""

    ctx: SkillContext
    q: np.ndarray
    objects: dict[str, PerceivedObject]
    opening: float = 0.08
    fingers_move: bool = True  # False: the gripper is dead from the start
    dies_after_grasp: bool = False  # the gripper dies once it holds something
    open_stops_at: float | None = None  # opening the fingers stalls here (m)
    sticky: bool = False  # the object stays stuck to the fingers when they open
    efforts: bool = True  # finger efforts measured
    carried: tuple[str, float] | None = None  # object between the fingers, TCP - its bottom
    # After a release, perception keeps the object with the hand this many ticks, stamped
    # with its last sighting (a tracker that believes it is still held).
    hand_tracking_ticks: int = 0
    log: list[str] = field(default_factory=list)
    _released: tuple[str, float, float, int] | None = None  # id, offset, stamp, ticks left
    last_t: float = 0.0

    def state(self, t: float) -> JointStateSample:
        self.last_t = t
        profile = self.ctx.profile
        names = (*profile.joints, *profile.gripper.joints)
        fingers = (self.opening / 2, self.opening / 2)
        squeezing = self.carried is not None and self.opening <= self._width(self.carried[0])
        effort = SQUEEZE_N if squeezing else 0.0
        efforts = (0.0,) * len(profile.joints) + (effort, effort) if self.efforts else ()
        return JointStateSample(names, (*self.q, *fingers), stamp=t, efforts=efforts)

    def perceived(self, t: float) -> list[PerceivedObject]:
        views = {o.id: o.model_copy(update={"stamp": t}) for o in self._now()}
        if self._released is not None:
            obj_id, offset, seen_at, left = self._released
            x, y, z = (float(v) for v in self.ctx.chain.tcp(self.q)[:3, 3])
            obj = views[obj_id]
            centre = (x, y, z - offset + obj.size[2] / 2)
            views[obj_id] = obj.model_copy(update={"position": centre, "stamp": seen_at})
            self._released = (obj_id, offset, seen_at, left - 1) if left > 1 else None
        return list(views.values())

    def _now(self) -> list[PerceivedObject]:
        if self.carried is not None:
            obj_id, offset = self.carried
            x, y, z = self.ctx.chain.tcp(self.q)[:3, 3]
            obj = self.objects[obj_id]
            bottom = float(z) - offset
            self.objects[obj_id] = obj.model_copy(
                update={"position": (float(x), float(y), bottom + obj.size[2] / 2)}
            )
        return list(self.objects.values())

    def apply(self, command: SendTrajectory | SendGripper) -> None:
        if isinstance(command, SendTrajectory):
            self.log.append(command.label)
            if command.command.points:
                self.q = np.array(command.command.points[-1].positions)
            return
        if not self.fingers_move:
            return
        between = self._between()
        if command.opening < self.opening:  # closing: stops on what is between
            width = grip_width(self.objects[between[0]]) if between else 0.0
            self.opening = max(command.opening, width)
            if between:
                self.carried = between
                self.fingers_move = not self.dies_after_grasp
        else:
            stall = self.open_stops_at
            self.opening = command.opening if stall is None else min(command.opening, stall)
            held = self.carried
            if held is not None and self.opening > grip_width(self.objects[held[0]]):
                self.carried = held if self.sticky else None
                if not self.sticky and self.hand_tracking_ticks:
                    self._released = (*held, self.last_t, self.hand_tracking_ticks)

    def _width(self, obj_id: str) -> float:
        return grip_width(self.objects[obj_id])

    def _between(self) -> tuple[str, float] | None:
        x, y, z = (float(v) for v in self.ctx.chain.tcp(self.q)[:3, 3])
        for obj in self.objects.values():
            near = abs(obj.position[0] - x) < 0.01 and abs(obj.position[1] - y) < 0.01
            if near and obj.bottom_z < z < obj.top_z:
                return obj.id, z - obj.bottom_z
        return None


@pytest.fixture(scope="module")
def scene() -> Scene:
    return load_suite(TASKS_PUBLIC).scenes["two_cubes_tray"]


def run(
    arm: FakeArm, steps: list[tuple[str, dict[str, float | str]]], scene: Scene
) -> MotionStatus:
    profile = arm.ctx.profile
    executor = PlanExecutor(plan_of(*steps), world_for(scene, profile), arm.ctx)
    t = 0.0
    while not executor.finished and t < 120.0:
        for command in executor.tick(t, arm.state(t), arm.perceived(t)):
            arm.apply(command)
        t += DT
    return executor.status(t)


def make_arm(ctx: SkillContext, scene: Scene, profile: RobotProfile, **flags: object) -> FakeArm:
    objects = {o.id: o for o in scene_objects(scene)}
    return FakeArm(ctx, np.array(profile.home), objects, **flags)  # type: ignore[arg-type]


PICK_PLACE: list[tuple[str, dict[str, float | str]]] = [
    ("pick", {"object": "red_cube"}),
    ("place", {"target": "tray"}),
]


def test_a_good_pick_and_place_passes_every_check(
    ctx: SkillContext, scene: Scene, profile: RobotProfile
) -> None:
    arm = make_arm(ctx, scene, profile)
    status = run(arm, [*PICK_PLACE, ("go_home", {})], scene)
    assert status.state is MotionState.DONE, status.error
    assert arm.carried is None and arm.log[-1] == "step 3 (go_home): go home"


@pytest.mark.parametrize("efforts", [True, False])
def test_a_gripper_that_never_closes_fails_the_pick(
    ctx: SkillContext, scene: Scene, profile: RobotProfile, efforts: bool
) -> None:
    """Even without finger efforts (where a stalled half-open gripper once passed the
    holding check), fingers that did not move fail the close itself."""
    arm = make_arm(ctx, scene, profile, efforts=efforts)
    arm.opening = 0.065  # as wide as the pick opens for this cube
    arm.fingers_move = False
    status = run(arm, PICK_PLACE, scene)
    assert status.state is MotionState.FAILED and status.step_index == 0
    assert status.error is not None
    assert "step 1 (pick): close on red_cube: the fingers did not move in 2 s" in status.error
    assert not any("lift" in label for label in arm.log)  # stopped at the first failure


def test_fingers_that_never_open_fail_the_place(
    ctx: SkillContext, scene: Scene, profile: RobotProfile
) -> None:
    arm = make_arm(ctx, scene, profile, dies_after_grasp=True)
    status = run(arm, PICK_PLACE, scene)
    assert status.state is MotionState.FAILED and status.step_index == 1
    assert status.error is not None
    assert "step 2 (place): release: the fingers did not move" in status.error
    assert not any("retreat" in label for label in arm.log)


def test_fingers_that_open_too_little_fail_the_place(
    ctx: SkillContext, scene: Scene, profile: RobotProfile
) -> None:
    width = grip_width(next(o for o in scene_objects(scene) if o.id == "red_cube"))
    # stalls 2.5 mm past the cube: the fingers moved, but not past the release margin
    arm = make_arm(ctx, scene, profile, open_stops_at=width + 0.0025)
    arm.opening = width + 0.025  # open for the grasp already
    status = run(arm, PICK_PLACE, scene)
    assert status.state is MotionState.FAILED and status.step_index == 1
    assert status.error is not None
    assert "step 2 (place): check red_cube was released failed: the fingers are at" in status.error
    assert not any("retreat" in label for label in arm.log)


def test_an_object_carried_up_on_the_retreat_fails_the_place(
    ctx: SkillContext, scene: Scene, profile: RobotProfile
) -> None:
    arm = make_arm(ctx, scene, profile, sticky=True)
    status = run(arm, [*PICK_PLACE, ("go_home", {})], scene)
    assert status.state is MotionState.FAILED and status.step_index == 1
    assert status.error is not None
    assert "step 2 (place): check red_cube was left on tray failed" in status.error
    assert "went up with the gripper" in status.error
    assert not any("go_home" in label for label in arm.log)


def test_a_view_from_before_the_release_does_not_fail_the_place(
    ctx: SkillContext, scene: Scene, profile: RobotProfile
) -> None:
    """Perception lags the arm and keeps a held object with the hand until it sees it
    again: when the retreat ends, its latest view may still show the object up in the
    hand, stamped with its last sighting. Only a view taken after the retreat counts."""
    arm = make_arm(ctx, scene, profile, hand_tracking_ticks=150)  # 3 s
    status = run(arm, [*PICK_PLACE, ("go_home", {})], scene)
    assert status.state is MotionState.DONE, status.error
    sticky = make_arm(ctx, scene, profile, sticky=True)
    status = run(sticky, [*PICK_PLACE, ("go_home", {})], scene)
    assert status.state is MotionState.FAILED and "went up with the gripper" in str(status.error)


def test_releasing_with_open_gripper_is_checked_too(
    ctx: SkillContext, scene: Scene, profile: RobotProfile
) -> None:
    steps: list[tuple[str, dict[str, float | str]]] = [
        ("pick", {"object": "red_cube"}),
        ("move_to", {"x": 0.45, "y": -0.25, "z": 0.1}),
        ("open_gripper", {}),
    ]
    good = run(make_arm(ctx, scene, profile), steps, scene)
    assert good.state is MotionState.DONE, good.error
    width = grip_width(next(o for o in scene_objects(scene) if o.id == "red_cube"))
    # stalls 2.5 mm past the cube: the fingers moved, but not past the release margin
    arm = make_arm(ctx, scene, profile, open_stops_at=width + 0.0025)
    arm.opening = width + 0.025
    status = run(arm, steps, scene)
    assert status.state is MotionState.FAILED and status.step_index == 2
    assert status.error is not None and "check red_cube was released failed" in status.error
