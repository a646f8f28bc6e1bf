"""Bad plans are rejected with the step and the reason before anything moves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embodied_stack.control.context import SkillConfig, SkillContext
from embodied_stack.control.executor import PlanExecutor, SendTrajectory
from embodied_stack.control.skills import validate_plan
from embodied_stack.motion_types import JointStateSample
from embodied_stack.robot import RobotProfile
from embodied_stack.safety.redlines import RedLines
from embodied_stack.scene import Scene, load_suite
from embodied_stack.schemas import MotionState, Plan, PlanStep
from tests.conftest import TASKS_PUBLIC
from tests.control.helpers import plan_of, scene_objects, world_for


@pytest.fixture(scope="module")
def scene() -> Scene:
    return load_suite(TASKS_PUBLIC).scenes["two_cubes_tray"]


def at_home(profile: RobotProfile) -> JointStateSample:
    names = (*profile.joints, *profile.gripper.joints)
    return JointStateSample(names=names, positions=(*profile.home, 0.04, 0.04))


def rejected(plan: Plan, scene: Scene, ctx: SkillContext, profile: RobotProfile) -> str:
    """Run the executor once; it must refuse without a single command."""
    executor = PlanExecutor(plan, world_for(scene, profile), ctx)
    commands = executor.tick(0.0, at_home(profile), scene_objects(scene))
    assert commands == []
    status = executor.status()
    assert status.state is MotionState.FAILED
    assert status.error is not None and status.error.startswith("rejected before moving: step ")
    return status.error


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([("pick", {})], "step 1 (pick): missing argument 'object'"),
        ([("pick", {"object": "purple_ball"})], "unknown object 'purple_ball'"),
        ([("pick", {"object": "tray"})], "cannot be grasped"),
        ([("place", {"target": "tray"})], "not holding anything"),
        ([("move_to", {"x": math.nan, "y": 0.0, "z": 0.2})], "argument 'x' must be finite"),
        ([("move_to", {"x": 0.5, "y": 0.0})], "missing argument 'z'"),
        ([("move_to", {"x": 0.5, "y": 0.0, "z": "high"})], "must be a number"),
        ([("move_to", {"x": 1.5, "y": 0.0, "z": 0.2})], "outside the workspace"),
        ([("move_to", {"x": 0.3, "y": 0.5, "z": 0.2})], "outside the workspace"),
        ([("move_to", {"x": 0.785, "y": 0.43, "z": 0.02})], "leaves the reachable space"),
        ([("move_to", {"x": 0.50, "y": -0.15, "z": 0.03})], "into red_cube"),
        (
            [("pick", {"object": "red_cube"}), ("place_at", {"x": 0.95, "y": 0.0})],
            "step 2 (place_at)",
        ),
        (
            [("pick", {"object": "red_cube"}), ("place_at", {"x": 0.45, "y": 0.10})],
            "occupied by blue_cube",
        ),
        (
            [("pick", {"object": "red_cube"}), ("pick", {"object": "blue_cube"})],
            "already holding red_cube",
        ),
        ([("pick", {"object": "red_cube"}), ("place", {"target": "red_cube"})], "on itself"),
        ([("set_speed", {"scale": 0.0})], "scale must be in (0, 1]"),
        ([("set_speed", {"scale": 1.5})], "scale must be in (0, 1]"),
        ([("wait", {"seconds": -1.0})], "seconds must be in"),
        ([("go_home", {"fast": 1.0})], "unexpected argument"),
        (
            [
                ("pick", {"object": "red_cube"}),
                ("move_to", {"x": 0.5, "y": 0.0, "z": 0.4}),
                ("open_gripper", {}),
            ],
            "would drop red_cube",
        ),
    ],
)
def test_bad_plans_are_rejected_before_anything_moves(
    steps: list[tuple[str, dict[str, float | str]]],
    reason: str,
    scene: Scene,
    ctx: SkillContext,
    profile: RobotProfile,
) -> None:
    plan = plan_of(*steps)
    error = rejected(plan, scene, ctx, profile)
    assert reason in error
    failing = int(error.removeprefix("rejected before moving: step ").split(" ")[0]) - 1
    status = PlanExecutor(plan, world_for(scene, profile), ctx).status()
    assert status.step_index == failing  # the step that failed, not the first one
    assert status.skill == plan.steps[failing].skill


def test_a_rejected_plan_reports_the_failing_step(
    scene: Scene, ctx: SkillContext, profile: RobotProfile
) -> None:
    plan = plan_of(
        ("pick", {"object": "red_cube"}),
        ("move_to", {"x": 0.5, "y": 0.0, "z": 0.3}),
        ("place_at", {"x": 0.95, "y": 0.0}),
    )
    status = PlanExecutor(plan, world_for(scene, profile), ctx).status()
    assert status.state is MotionState.FAILED
    assert (status.step_index, status.skill) == (2, "place_at")
    assert status.error is not None and "step 3 (place_at)" in status.error


def test_unknown_skill_is_rejected(scene: Scene, ctx: SkillContext, profile: RobotProfile) -> None:
    plan = plan_of(("go_home", {}))
    plan.steps.append(PlanStep.model_construct(skill="dance", args={}))  # past the schema
    error = rejected(plan, scene, ctx, profile)
    assert "step 2 (dance): unknown skill 'dance'" in error


def test_forbidden_skill_is_rejected(scene: Scene, profile: RobotProfile) -> None:
    red = RedLines(forbidden_skills=("move_to",))
    ctx = SkillContext.from_redlines(profile, red)
    error = rejected(plan_of(("move_to", {"x": 0.5, "y": 0.0, "z": 0.2})), scene, ctx, profile)
    assert "forbidden" in error


def test_a_good_plan_predicts_the_world_after_each_step(
    scene: Scene, ctx: SkillContext, profile: RobotProfile
) -> None:
    plan = plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "tray"}), ("go_home", {}))
    expansions, error = validate_plan(plan.steps, world_for(scene, profile), ctx)
    assert error is None
    after_pick, after_place, after_home = (e.world for e in expansions)
    assert after_pick.held == "red_cube"
    assert after_place.held is None
    assert after_place.objects["red_cube"].support == "tray"
    assert np.allclose(after_home.joints, profile.home)


def test_speed_limit_comes_from_the_red_lines(profile: RobotProfile) -> None:
    slow = SkillContext.from_redlines(profile, RedLines(max_tcp_speed=0.2, reduced_tcp_speed=0.1))
    assert slow.limits.max_tcp_speed <= 0.2
    assert SkillConfig.from_redlines(RedLines()).max_release_height == 0.10


def test_abort_holds_at_once_and_never_resumes(
    scene: Scene, ctx: SkillContext, profile: RobotProfile
) -> None:
    plan = plan_of(("move_to", {"x": 0.5, "y": 0.0, "z": 0.3}), ("go_home", {}))
    executor = PlanExecutor(plan, world_for(scene, profile), ctx)
    first = executor.tick(0.0, at_home(profile), scene_objects(scene))
    assert [type(c) for c in first] == [SendTrajectory]
    hold = executor.abort("e-stop pressed")
    assert len(hold) == 1 and isinstance(hold[0], SendTrajectory) and hold[0].command.is_hold
    for t in (1.0, 5.0, 30.0):
        assert executor.tick(t, at_home(profile), scene_objects(scene)) == []
    status = executor.status()
    assert status.state is MotionState.ABORTED and status.error == "e-stop pressed"


def test_every_planned_segment_stays_within_the_limits(
    scene: Scene, ctx: SkillContext, profile: RobotProfile
) -> None:
    """Skills produce only trajectories the follower can run inside every limit."""
    from embodied_stack.control.segments import TrajectorySegment
    from tests.control.test_trajectory import assert_within

    plan = plan_of(
        ("pick", {"object": "blue_cube"}),
        ("place", {"target": "tray"}),
        ("set_speed", {"scale": 0.5}),
        ("pick", {"object": "red_cube"}),
        ("place_at", {"x": 0.35, "y": -0.3}),
        ("go_home", {}),
    )
    expansions, error = validate_plan(plan.steps, world_for(scene, profile), ctx)
    assert error is None
    segments = [s for e in expansions for s in e.segments if isinstance(s, TrajectorySegment)]
    assert len(segments) > 10
    for segment in segments:
        assert_within(segment.command, segment.start, ctx.limits, ctx.chain, profile)


def test_a_pick_after_close_gripper_opens_the_fingers_before_descending(
    scene: Scene, ctx: SkillContext, profile: RobotProfile
) -> None:
    """close_gripper predicts shut fingers, so the pick that follows opens them first."""
    from embodied_stack.control.segments import GripperSegment, TrajectorySegment

    plan = plan_of(("close_gripper", {}), ("pick", {"object": "red_cube"}))
    expansions, error = validate_plan(plan.steps, world_for(scene, profile), ctx)
    assert error is None
    closed, picked = expansions
    assert closed.world.gripper_opening == 0.0
    kinds = [(type(s), s.label) for s in picked.segments]
    opening = kinds.index((GripperSegment, "open for the grasp"))
    descent = kinds.index((TrajectorySegment, "descend to grasp"))
    assert opening < descent
    first = picked.segments[opening]
    assert isinstance(first, GripperSegment) and first.opening > 0.04 + 0.01  # wider than the cube
