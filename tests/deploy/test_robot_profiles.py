"""Every robot profile in config/robots loads, and FK/IK work with it: the motion
core runs from the profile, so a new arm is a YAML file and a URDF."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from embodied_stack.control.context import SkillContext
from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Chain
from embodied_stack.control.sim_driver import run_plan
from embodied_stack.robot import RobotProfile, load_robot
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.scene import load_suite
from embodied_stack.schemas import MotionState, Plan, PlannerKind, PlanStep, Provenance
from embodied_stack.sim.predicates import evaluate
from embodied_stack.sim.world import SimWorld
from tests.conftest import TASKS_PUBLIC

from .launch_ast import REPO

PROFILES = sorted(p.stem for p in (REPO / "config" / "robots").glob("*.yaml"))


@pytest.fixture(scope="module", params=PROFILES)
def profile(request: pytest.FixtureRequest) -> RobotProfile:
    return load_robot(request.param)


def test_profiles_include_panda_and_ur5e() -> None:
    assert {"panda", "ur5e"} <= set(PROFILES)


def test_profile_names_its_urdf_and_controller(profile: RobotProfile) -> None:
    assert profile.urdf_path().is_file()
    assert not profile.controller.trajectory_topic.startswith("/")  # resolved in the namespace
    assert profile.gripper.max_opening > 0


def test_home_puts_the_tool_above_the_table_pointing_down(profile: RobotProfile) -> None:
    tcp = Chain(profile).tcp(np.array(profile.home))
    x, y, z = tcp[:3, 3]
    assert 0.2 <= x <= 0.8 and abs(y) <= 0.45 and 0.1 <= z <= 0.6  # inside the red-line box
    assert tcp[2, 2] < -0.99  # tool z axis points down


def test_fk_ik_round_trip_on_random_configurations(profile: RobotProfile) -> None:
    chain = Chain(profile)
    solver = IkSolver(chain)
    rng = np.random.default_rng(7)
    home = np.array(profile.home)
    lower, upper = np.array(profile.lower), np.array(profile.upper)
    solved = 0
    for _ in range(20):
        # near home, so the solver's seed is in the same configuration family
        q = np.clip(home + rng.uniform(-0.5, 0.5, chain.dof), lower, upper)
        target = chain.tcp(q)
        result = solver.solve(target, home, restarts=4)
        if not result.ok:
            continue
        solved += 1
        reached = chain.tcp(result.q)
        assert np.allclose(reached[:3, 3], target[:3, 3], atol=1e-3)
        assert np.allclose(reached[:3, :3], target[:3, :3], atol=1e-2)
        assert chain.within_limits(result.q)
    assert solved >= 18


def test_ik_reaches_table_top_grasps(profile: RobotProfile) -> None:
    """Top-down grasps over the work area, the poses pick and place need."""
    chain = Chain(profile)
    solver = IkSolver(chain)
    seed = np.array(profile.home)
    for x, y in [(0.35, -0.2), (0.45, 0.0), (0.55, 0.2), (0.6, -0.1)]:
        result = solver.solve_down(np.array([x, y, 0.05]), yaw=0.0, seed=seed, restarts=4)
        assert result.ok, f"{profile.name}: no top-down grasp at ({x}, {y}): {result.reason}"
        assert result.pos_err < 1e-3 and result.rot_err < math.radians(1)


def test_ur5e_kinematics_match_the_published_dh_parameters() -> None:
    """The URDF reproduces the DH chain (base_link = DH base turned by pi, TCP 0.145 m out)."""
    chain = Chain(load_robot("ur5e"))
    d = [0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996]
    a = [0.0, -0.425, -0.3922, 0.0, 0.0, 0.0]
    alpha = [math.pi / 2, 0.0, 0.0, math.pi / 2, -math.pi / 2, 0.0]
    base = np.diag([-1.0, -1.0, 1.0, 1.0])
    tool = np.eye(4)
    tool[2, 3] = 0.145
    rng = np.random.default_rng(3)
    for _ in range(20):
        q = rng.uniform(-math.pi, math.pi, 6)
        dh = np.eye(4)
        for i in range(6):
            dh = dh @ _dh(q[i], d[i], a[i], alpha[i])
        assert np.allclose(chain.tcp(q), base @ dh @ tool, atol=1e-9)


def _dh(theta: float, d: float, a: float, alpha: float) -> np.ndarray:
    ct, st, ca, sa = math.cos(theta), math.sin(theta), math.cos(alpha), math.sin(alpha)
    return np.array(
        [[ct, -st * ca, st * sa, a * ct], [st, ct * ca, -ct * sa, a * st], [0, sa, ca, d],
         [0, 0, 0, 1]]
    )  # fmt: skip


def test_ur5e_profile_names_ur_robot_driver_interfaces() -> None:
    ur5e = load_robot("ur5e")
    assert ur5e.controller.trajectory_topic == "scaled_joint_trajectory_controller/joint_trajectory"
    assert ur5e.controller.stop_service == "/dashboard_client/stop"
    assert Path(ur5e.urdf_path()).name == "ur5e.urdf"


@pytest.mark.stack
def test_profile_picks_and_places_in_the_simulator(profile: RobotProfile) -> None:
    """The whole motion core from the profile alone: pick a cube, place it in the tray,
    go home, in PyBullet, judged by the task-suite predicates."""
    scene = load_suite(TASKS_PUBLIC).scenes["two_cubes_tray"]
    ctx = SkillContext.from_redlines(profile, load_redlines())
    steps = [("pick", {"object": "red_cube"}), ("place", {"target": "tray"}), ("go_home", {})]
    plan = Plan(
        steps=[PlanStep.model_validate({"skill": s, "args": a}) for s, a in steps],
        provenance=Provenance(planner=PlannerKind.OPERATOR, model="test"),
        ai_generated=False,
        status="approved",
    )
    with SimWorld(scene=scene, robot=profile) as sim:
        sim.step(60)
        initial = sim.ground_truth()
        run = run_plan(sim, plan, ctx)
        assert run.status is not None and run.status.state is MotionState.DONE, run.status
        sim.step(240)
        now = sim.ground_truth()
        for pred in [{"in": ["red_cube", "tray"]}, {"unmoved": ["blue_cube"]}, {"home": True}]:
            result = evaluate(pred, now=now, initial=initial, scene=scene, robot=profile)
            assert result.passed, f"{profile.name}: {pred}: {result.detail}"
    assert run.max_tcp_speed_mps <= load_redlines().max_tcp_speed
