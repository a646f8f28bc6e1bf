"""Skills in the real simulator (PyBullet), judged by the task-suite predicates.

Object poses come from the simulator's ground truth, as perception would report them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from embodied_stack.control.context import SkillContext
from embodied_stack.control.executor import Command, SendGripper
from embodied_stack.control.sim_driver import RunFigures, run_plan
from embodied_stack.robot import RobotProfile
from embodied_stack.safety.gate import RedLineGate
from embodied_stack.safety.redlines import RedLines
from embodied_stack.scene import Scene, SceneObject, load_suite
from embodied_stack.schemas import MotionState
from embodied_stack.sim.predicates import evaluate
from embodied_stack.sim.world import SimWorld
from tests.conftest import TASKS_PUBLIC
from tests.control.helpers import plan_of

SUITE = load_suite(TASKS_PUBLIC)


def run_and_judge(
    scene: Scene,
    steps: list[tuple[str, dict[str, float | str]]],
    predicates: list[dict[str, Any]],
    ctx: SkillContext,
    profile: RobotProfile,
) -> RunFigures:
    with SimWorld(scene=scene, robot=profile) as sim:
        sim.step(60)
        initial = sim.ground_truth()
        run = run_plan(sim, plan_of(*steps), ctx)
        assert run.status is not None
        assert run.status.state is MotionState.DONE, run.status.error
        sim.step(240)  # let the scene settle before judging
        now = sim.ground_truth()
        for pred in predicates:
            result = evaluate(pred, now=now, initial=initial, scene=scene, robot=profile)
            assert result.passed, f"{pred}: {result.detail}"
    return run


def test_pick_and_place_a_cube_into_a_tray(
    ctx: SkillContext, profile: RobotProfile, redlines: RedLines
) -> None:
    run = run_and_judge(
        SUITE.scenes["two_cubes_tray"],
        [("pick", {"object": "red_cube"}), ("place", {"target": "tray"}), ("go_home", {})],
        [{"in": ["red_cube", "tray"]}, {"unmoved": ["blue_cube"]}, {"home": True}],
        ctx,
        profile,
    )
    assert run.max_tcp_speed_mps <= redlines.max_tcp_speed
    assert run.max_tracking_err_mm <= 5.0


def test_stack_one_cube_on_another(ctx: SkillContext, profile: RobotProfile) -> None:
    run_and_judge(
        SUITE.scenes["stacking"],
        [("pick", {"object": "red_cube"}), ("place", {"target": "blue_cube"})],  # blue is yawed
        [{"on": ["red_cube", "blue_cube"]}, {"unmoved": ["green_cube"]}],
        ctx,
        profile,
    )


def test_place_at_a_point_on_the_table(ctx: SkillContext, profile: RobotProfile) -> None:
    run_and_judge(
        SUITE.scenes["two_cubes_tray"],
        [("pick", {"object": "blue_cube"}), ("place_at", {"x": 0.40, "y": -0.25})],
        [{"at": ["blue_cube", [0.40, -0.25], 0.02]}],
        ctx,
        profile,
    )


def test_cylinder_onto_a_plate(ctx: SkillContext, profile: RobotProfile) -> None:
    run_and_judge(
        SUITE.scenes["colors_and_plates"],
        [("pick", {"object": "purple_cyl"}), ("place", {"target": "white_plate"})],
        [{"in": ["purple_cyl", "white_plate"]}, {"unmoved": ["orange_cube"]}],
        ctx,
        profile,
    )


def test_pick_holds_the_object_up(ctx: SkillContext, profile: RobotProfile) -> None:
    run_and_judge(
        SUITE.scenes["two_cubes_tray"],
        [("pick", {"object": "blue_cube"})],
        [{"held": "blue_cube"}],
        ctx,
        profile,
    )


def test_a_failed_grasp_is_detected_and_stops_the_plan(
    ctx: SkillContext, profile: RobotProfile
) -> None:
    scene = SUITE.scenes["two_cubes_tray"]

    def snatch(sim: SimWorld, command: Command) -> None:
        if isinstance(command, SendGripper) and command.opening < 0.04:  # closing
            sim.teleport("red_cube", (0.30, -0.35))  # gone from between the fingers

    with SimWorld(scene=scene, robot=profile) as sim:
        sim.step(60)
        plan = plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "tray"}))
        run = run_plan(sim, plan, ctx, on_command=snatch)
    assert run.status is not None
    assert run.status.state is MotionState.FAILED
    assert run.status.step_index == 0
    assert (
        run.status.error is not None
        and "step 1 (pick): check red_cube is held failed" in run.status.error
    )
    assert not any("place" in label for label in run.commands)  # nothing after the failure


def test_abort_mid_motion_stops_the_arm(ctx: SkillContext, profile: RobotProfile) -> None:
    scene = SUITE.scenes["two_cubes_tray"]
    with SimWorld(scene=scene, robot=profile) as sim:
        sim.step(60)
        plan = plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "tray"}))
        run = run_plan(sim, plan, ctx, abort_after_s=1.0)
        assert run.status is not None and run.status.state is MotionState.ABORTED
        stopped_at, _ = sim.tcp_pose()
        path = 0.0
        for _ in range(10):
            sim.step(48)
            now, _ = sim.tcp_pose()
            path += float(np.linalg.norm(now - stopped_at))
            stopped_at = now
        assert path < 0.02  # the redteam "stopped" criterion: < 2 cm in total after the stop


def test_the_red_line_gate_passes_a_normal_cycle_and_stops_a_crossing(
    ctx: SkillContext, profile: RobotProfile, redlines: RedLines
) -> None:
    scene = SUITE.scenes["two_cubes_tray"]
    plan = plan_of(("pick", {"object": "red_cube"}), ("place", {"target": "tray"}))
    with SimWorld(scene=scene, robot=profile) as sim:
        sim.step(60)
        run = run_plan(sim, plan, ctx, gate=RedLineGate(redlines, robot=profile.name))
    assert run.status is not None and run.status.state is MotionState.DONE, run.status.error
    fenced = redlines.tightened(
        {"keep_out": [{"min": [0.52, 0.15, 0.0], "max": [0.70, 0.35, 0.6]}]}
    )
    with SimWorld(scene=scene, robot=profile) as sim:
        sim.step(60)
        run = run_plan(sim, plan, ctx, gate=RedLineGate(fenced, robot=profile.name))
        tcp, _ = sim.tcp_pose()
    assert run.status is not None and run.status.state is MotionState.FAILED
    assert run.status.error is not None and "step 2 (place)" in run.status.error
    assert "keep_out" in run.status.error
    assert tcp[1] < 0.15  # never went over the fenced tray


def sized_scene(size: float) -> Scene:
    """A cube of `size` beside a tray, a plate and a 5 cm cube to stack on."""
    objects = [
        {"id": "cube", "kind": "cube", "size": size, "xy": (0.45, -0.15), "yaw": 0.4},
        {"id": "tray", "kind": "tray", "size": (0.18, 0.18, 0.03), "xy": (0.60, 0.25)},
        {"id": "plate", "kind": "plate", "size": (0.16, 0.16, 0.015), "xy": (0.38, 0.22)},
        {"id": "base", "kind": "cube", "size": 0.05, "xy": (0.60, -0.05), "yaw": -0.3},
    ]
    return Scene(objects=[SceneObject.model_validate(o) for o in objects])


@pytest.mark.parametrize("size", [0.03, 0.05])
@pytest.mark.parametrize(
    ("target", "predicate"),
    [("tray", "in"), ("plate", "in"), ("base", "on")],
)
def test_small_and_large_cubes_into_a_tray_onto_a_plate_and_a_cube(
    size: float, target: str, predicate: str, ctx: SkillContext, profile: RobotProfile
) -> None:
    others = [o for o in ("tray", "plate", "base") if o != target]
    run_and_judge(
        sized_scene(size),
        [("pick", {"object": "cube"}), ("place", {"target": target})],
        [{predicate: ["cube", target]}, *({"unmoved": [o]} for o in others)],
        ctx,
        profile,
    )


def test_cylinder_into_a_tray(ctx: SkillContext, profile: RobotProfile) -> None:
    run_and_judge(
        SUITE.scenes["colors_and_plates"],
        [("pick", {"object": "purple_cyl"}), ("place", {"target": "blue_tray"})],
        [{"in": ["purple_cyl", "blue_tray"]}, {"unmoved": ["white_plate"]}],
        ctx,
        profile,
    )


def test_cube_onto_a_plate(ctx: SkillContext, profile: RobotProfile) -> None:
    run_and_judge(
        SUITE.scenes["colors_and_plates"],
        [("pick", {"object": "orange_cube"}), ("place", {"target": "white_plate"})],
        [{"in": ["orange_cube", "white_plate"]}, {"unmoved": ["purple_cyl"]}],
        ctx,
        profile,
    )


def test_a_pick_after_close_gripper_opens_before_descending(
    ctx: SkillContext, profile: RobotProfile
) -> None:
    run_and_judge(
        SUITE.scenes["two_cubes_tray"],
        [("close_gripper", {}), ("pick", {"object": "red_cube"}), ("place", {"target": "tray"})],
        [{"in": ["red_cube", "tray"]}, {"unmoved": ["blue_cube"]}],
        ctx,
        profile,
    )
