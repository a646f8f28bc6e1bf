"""Red-line checks on hand-made trajectories, against the real Panda geometry."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Chain
from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.robot import load_robot
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.safety.trajectory_check import CheckContext, check_release, check_trajectory
from embodied_stack.scene import HUMAN_SIZE, KeepOutBox, ObjectKind
from embodied_stack.schemas import PerceivedObject, Violation

PROFILE = load_robot("panda")
HOME = np.array(PROFILE.home)
SOLVER = IkSolver(Chain(PROFILE))
RED = load_redlines()


def q_at(x: float, y: float, z: float) -> np.ndarray:
    result = SOLVER.solve_down(np.array([x, y, z]), 0.0, HOME)
    assert result.ok, result
    return result.q


def through(*targets: tuple[float, float, float], seconds: float = 2.0) -> JointTrajectoryCommand:
    points = tuple(
        TrajectoryPoint(positions=tuple(q_at(*t)), time_from_start=seconds * (i + 1))
        for i, t in enumerate(targets)
    )
    return JointTrajectoryCommand(joint_names=tuple(PROFILE.joints), points=points)


def person_at(x: float, y: float) -> PerceivedObject:
    return PerceivedObject(
        id="person",
        kind=ObjectKind.HUMAN,
        position=(x, y, -0.75 + HUMAN_SIZE[2] / 2),
        size=HUMAN_SIZE,
    )


def knife() -> PerceivedObject:
    return PerceivedObject(
        id="knife",
        kind=ObjectKind.KNIFE,
        position=(0.5, -0.15, 0.2),
        size=(0.2, 0.025, 0.015),
        support="held",
    )


def rules(violations: list[Violation]) -> set[str]:
    return {v.rule for v in violations}


def ctx(**kwargs: object) -> CheckContext:
    kwargs.setdefault("start", tuple(HOME))
    kwargs.setdefault("redlines", RED)
    return CheckContext(**kwargs)  # type: ignore[arg-type]


def test_benign_move_passes() -> None:
    assert check_trajectory(through((0.5, 0.0, 0.2), (0.5, 0.0, 0.05)), ctx()) == []


def test_through_the_table_names_link_time_and_depth() -> None:
    found = check_trajectory(through((0.5, 0.0, 0.2), (0.5, 0.0, -0.05)), ctx(label="step 1"))
    table = next(v for v in found if v.rule == "below_table")
    assert "finger" in table.where and "step 1" in table.where and "t=" in table.where
    assert table.value < RED.min_link_z and table.limit == RED.min_link_z


def test_keep_out_box_is_checked_between_points() -> None:
    # Both end points are clear of the box; the straight path between them is not.
    box = KeepOutBox(min=(0.45, -0.05, 0.0), max=(0.55, 0.05, 0.30))
    red = RED.tightened({"keep_out": [box.model_dump()]})
    cmd = through((0.5, -0.25, 0.15), (0.5, 0.25, 0.15), seconds=3.0)
    found = check_trajectory(cmd, ctx(redlines=red, start=tuple(cmd.points[0].positions)))
    assert rules(found) == {"keep_out"}
    assert found[0].value < 0


def test_moving_at_a_person_breaks_protective_distance() -> None:
    person = person_at(0.35, 0.75)
    context = CheckContext.from_objects(RED, [person], start=tuple(HOME))
    found = check_trajectory(through((0.35, 0.45, 0.20), seconds=4.0), context)
    assert "protective_distance" in rules(found)
    assert all(v.value < RED.protective_distance for v in found if v.rule == "protective_distance")


def test_fast_near_a_person_breaks_reduced_speed_only() -> None:
    person = person_at(0.35, 0.75)
    context = CheckContext.from_objects(RED, [person], start=tuple(HOME))
    found = check_trajectory(through((0.45, 0.2, 0.3), seconds=0.9), context)
    assert "reduced_speed" in rules(found) and "protective_distance" not in rules(found)
    assert check_trajectory(through((0.45, 0.2, 0.3), seconds=6.0), context) == []


def test_overspeed_tcp_and_joints() -> None:
    found = check_trajectory(through((0.5, 0.0, 0.2), seconds=0.3), ctx())
    assert {"tcp_speed", "joint_speed"} <= rules(found)
    tcp = next(v for v in found if v.rule == "tcp_speed")
    assert tcp.value > tcp.limit == RED.max_tcp_speed


def test_workspace_box_for_the_tcp() -> None:
    found = check_trajectory(through((0.5, 0.0, 0.2), (0.5, 0.55, 0.2), seconds=3.0), ctx())
    assert "workspace" in rules(found)


def test_knife_near_a_person_only_when_held() -> None:
    person = person_at(0.40, 0.80)
    objects = [person, knife()]
    cmd = through((0.45, 0.25, 0.10), seconds=4.0)
    held = CheckContext.from_objects(RED, objects, holding="knife", start=tuple(HOME))
    assert "knife_near_person" in rules(check_trajectory(cmd, held))
    empty = CheckContext.from_objects(RED, objects, start=tuple(HOME))
    assert "knife_near_person" not in rules(check_trajectory(cmd, empty))


def test_malformed_trajectory_is_a_violation() -> None:
    bad = JointTrajectoryCommand(
        joint_names=tuple(PROFILE.joints),
        points=(TrajectoryPoint(positions=(0.0,) * 7, time_from_start=-1.0),),
    )
    found = check_trajectory(bad, ctx())
    assert rules(found) == {"malformed_trajectory"}


def test_hold_is_always_allowed() -> None:
    assert check_trajectory(JointTrajectoryCommand(joint_names=tuple(PROFILE.joints)), ctx()) == []


@pytest.mark.parametrize(("tcp_z", "breach"), [(0.06, False), (0.25, True)])
def test_release_height(tcp_z: float, breach: bool) -> None:
    cube = PerceivedObject(
        id="cube",
        kind=ObjectKind.CUBE,
        position=(0.6, 0.25, tcp_z),
        size=(0.04,) * 3,
        support="held",
    )
    tray = PerceivedObject(
        id="tray", kind=ObjectKind.TRAY, position=(0.6, 0.25, 0.015), size=(0.18, 0.18, 0.03)
    )
    found = check_release((0.6, 0.25, tcp_z), cube, [cube, tray], RED, step=3)
    assert bool(found) is breach
    if breach:
        assert found[0].rule == "release_height" and "tray" in found[0].where
        assert found[0].step == 3


def test_first_point_at_time_zero_away_from_start_is_a_jump() -> None:
    q = q_at(0.5, 0.0, 0.2)
    cmd = JointTrajectoryCommand(
        joint_names=tuple(PROFILE.joints),
        points=(TrajectoryPoint(positions=tuple(q), time_from_start=0.0),),
    )
    assert "start_jump" in rules(check_trajectory(cmd, ctx()))


def test_thin_wall_between_samples_is_still_caught() -> None:
    # A 1 mm wall across the path: only the swept volume between samples meets it.
    wall = KeepOutBox(min=(0.40, -0.0005, 0.10), max=(0.60, 0.0005, 0.30))
    red = RED.tightened({"keep_out": [wall.model_dump()]})
    cmd = through((0.5, -0.2, 0.2), (0.5, 0.2, 0.2), seconds=3.0)
    found = check_trajectory(cmd, ctx(redlines=red, start=tuple(cmd.points[0].positions)))
    assert "keep_out" in rules(found)
