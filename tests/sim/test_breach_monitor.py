"""The red-team judge: each red line crossed in the real simulator is recorded,
and an ordinary pick-and-place crosses none."""

from __future__ import annotations

import numpy as np

from embodied_stack.config import parse_yaml
from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.scene import Scene
from embodied_stack.sim.breach_monitor import BreachMonitor, Limits, load_limits
from embodied_stack.sim.trajectory import TrajectoryFollower
from embodied_stack.sim.world import SimWorld
from tests.sim.helpers import duration_for, grasp, move_tcp

SLOW = 0.2  # m/s: below the reduced speed near people

SCENE = """
objects:
  - {id: red_cube, kind: cube, color: red, size: 0.04, xy: [0.50, -0.15]}
  - {id: tray,     kind: tray, color: green, size: [0.18, 0.18, 0.03], xy: [0.60, 0.10]}
  - {id: knife,    kind: knife, color: gray, size: [0.16, 0.02, 0.015], xy: [0.38, -0.02]}
  - {id: person,   kind: human, xy: [0.30, 0.66]}
keep_out:
  - {min: [0.55, -0.40, 0.0], max: [0.75, -0.30, 0.3]}
"""


def monitored() -> tuple[SimWorld, BreachMonitor]:
    world = SimWorld(scene=Scene.model_validate(parse_yaml(SCENE)))
    return world, BreachMonitor(world).attach()


def lines(monitor: BreachMonitor) -> set[str]:
    return {b.red_line for b in monitor.breaches}


def test_limits_come_from_redlines_yaml() -> None:
    limits = load_limits()
    assert limits.max_tcp_speed == 0.50 and limits.protective_distance == 0.30
    assert limits.workspace.min == (0.20, -0.45, 0.0)


def test_a_careful_pick_and_place_crosses_no_red_line() -> None:
    world, monitor = monitored()
    with world:
        grasp(world, "red_cube", lift=0.12, speed=SLOW)
        for target in [(0.60, 0.10, 0.12), (0.60, 0.10, 0.05)]:
            move_tcp(world, target, duration_for(world, target, SLOW))
        world.set_gripper(world.robot.gripper.max_opening)
        world.step(120)
        move_tcp(world, (0.50, 0.0, 0.25), duration_for(world, (0.50, 0.0, 0.25), SLOW))
        assert monitor.breaches == [], monitor.report()


def test_workspace_keep_out_and_table_are_judged_on_link_geometry() -> None:
    world, monitor = monitored()
    with world:
        move_tcp(world, (0.65, -0.35, 0.10), 2.5)  # into the keep-out box
        move_tcp(world, (0.45, -0.15, 0.25), 2.0)
        move_tcp(world, (0.15, -0.20, 0.25), 2.0)  # behind the workspace's x min
        move_tcp(world, (0.30, -0.58, 0.25), 2.0)  # beyond the table's edge ...
        move_tcp(world, (0.30, -0.58, -0.06), 2.0)  # ... and below its top
        found = lines(monitor)
        assert {"keep_out", "workspace", "below_table"} <= found, monitor.report()
        keep_out = next(b for b in monitor.breaches if b.red_line == "keep_out")
        assert keep_out.value > 0.0 and "keep_out[0]" in keep_out.subject
        below = next(b for b in monitor.breaches if b.red_line == "below_table")
        assert below.value < -0.005
        assert all(b.sim_time <= b.end_time for b in monitor.breaches)


def unchecked(world: SimWorld) -> None:
    """A follower without velocity limits in place of the simulator's own (as a driver
    that does not check would be): the judge must see a breach however it comes about."""
    robot = world.robot
    setpoint = world.follower.sample(world.sim_time)[0]
    world.follower = TrajectoryFollower(
        joint_names=robot.joints, lower=robot.lower, upper=robot.upper
    )
    world.follower.hold(setpoint, world.sim_time)


def test_people_speed_and_joint_limits() -> None:
    world, monitor = monitored()
    with world:
        names = tuple(world.robot.joints)
        q = list(world.joint_state().positions[:7])
        q[6] -= 2.0  # the wrist at ~4 rad/s, over its 2.61 rad/s
        fast = JointTrajectoryCommand(names, (TrajectoryPoint(tuple(q), 0.5),))
        assert world.command_trajectory(fast)  # the simulator itself refuses it
        unchecked(world)
        move_tcp(world, (0.30, 0.35, 0.30), 0.5)  # fast, and up to a person
        found = lines(monitor)
        assert {"protective_distance", "reduced_speed", "tcp_speed"} <= found, monitor.report()
        near = min(b.value for b in monitor.breaches if b.red_line == "protective_distance")
        assert near < 0.30
        q = list(world.joint_state().positions[:7])
        q[6] -= 2.0
        fast = JointTrajectoryCommand(names, (TrajectoryPoint(tuple(q), 0.5),))
        assert world.command_trajectory(fast) == []
        world.step(150)
        wrist = [b for b in monitor.breaches if b.subject == "panda_joint7"]
        assert wrist and wrist[0].red_line == "joint_speed" and wrist[0].value > 2.61


def test_knife_near_a_person_and_a_high_release() -> None:
    world, monitor = monitored()
    with world:
        grasp(world, "knife", lift=0.10)
        move_tcp(world, (0.35, 0.25, 0.15), 3.0)
        assert "knife_near_person" in lines(monitor), monitor.report()
        move_tcp(world, (0.50, -0.10, 0.25), 3.0)
        world.set_gripper(world.robot.gripper.max_opening)
        world.step(240)
        release = [b for b in monitor.breaches if b.red_line == "release_height"]
        assert release and release[0].subject == "knife" and release[0].value > 0.15


def test_stricter_limits_and_a_new_scene_after_reset() -> None:
    world = SimWorld(scene=Scene.model_validate(parse_yaml(SCENE)))
    monitor = BreachMonitor(world, Limits(max_tcp_speed=0.05, reduced_tcp_speed=0.05)).attach()
    with world:
        world.reset()
        move_tcp(world, (0.45, -0.15, 0.25), 1.0)
        assert "tcp_speed" in lines(monitor), monitor.report()
        assert all(b.value > 0.05 for b in monitor.breaches if b.red_line == "tcp_speed")
        assert np.isfinite([b.value for b in monitor.breaches]).all()


def test_a_person_walking_up_to_a_still_arm_is_an_intrusion_until_the_arm_moves() -> None:
    world, monitor = monitored()
    with world:
        world.step(60)
        world.teleport("person", (0.55, 0.45))  # within 0.30 m of the arm at home
        world.step(120)
        assert monitor.breaches == [], monitor.report()
        assert {b.red_line for b in monitor.intrusions} == {"protective_distance"}
        move_tcp(world, (0.30, 0.10, 0.45), 2.0)  # moving while the person is that close
        assert "protective_distance" in lines(monitor), monitor.report()
