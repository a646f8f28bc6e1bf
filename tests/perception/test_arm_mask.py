"""The arm reaching over the table is not an object; what it hides stays known."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from embodied_stack.control.ik import IkSolver
from embodied_stack.control.kinematics import Chain
from embodied_stack.perception.arm_mask import ArmModel
from embodied_stack.perception.evaluate import false_positives, match_scene
from embodied_stack.robot import load_robot
from embodied_stack.schemas import PerceivedObject
from embodied_stack.sim.world import SimWorld
from tests.perception.helpers import CAMERA, detector, suite_scene


def _pose_arm(world: SimWorld, names: list[str], q: np.ndarray) -> None:
    """Teleport the simulated arm (test set-up only)."""
    index = {
        pb.getJointInfo(world.arm.body, j, physicsClientId=world.client)[1].decode(): j
        for j in range(pb.getNumJoints(world.arm.body, physicsClientId=world.client))
    }
    for name, value in zip(names, q, strict=True):
        pb.resetJointState(world.arm.body, index[name], float(value), physicsClientId=world.client)


@pytest.mark.parametrize("tcp", [(0.5, -0.15, 0.10), (0.45, 0.10, 0.06), (0.6, 0.25, 0.12)])
def test_arm_over_objects_is_masked_by_its_joint_state(tcp: tuple[float, float, float]) -> None:
    profile = load_robot("panda")
    solution = IkSolver(Chain(profile)).solve_down(np.array(tcp), 0.0, np.array(profile.home))
    assert solution.ok
    scene = suite_scene("tasks", "two_cubes_tray")
    with SimWorld(scene=scene, camera=CAMERA) as world:
        _pose_arm(world, profile.joints, solution.q)
        rgb, depth = world.render()
        truth = world.ground_truth()
        joints = world.joint_state()
    arm = ArmModel(profile)
    arm.set_joints(dict(zip(joints.names, joints.positions, strict=True)))
    assert arm.tcp() == pytest.approx(tcp, abs=1e-3)
    detections = detector().detect(rgb, depth, exclude=arm.contains)
    clear = [d for d in detections if not d.occluded]
    matches = match_scene(scene, truth, clear)
    assert not false_positives(matches, clear), [d.label() for d in clear]  # no arm parts
    for m in matches:  # each object seen whole, or glimpsed next to the arm (occluded)
        glimpsed = any(
            d.occluded and d.color == scene.object(m.object_id).color for d in detections
        )
        assert m.detection is not None or glimpsed, m.object_id


def test_open_gripper_is_not_grasping() -> None:
    arm = ArmModel(load_robot("panda"))
    arm.set_joints({"panda_finger_joint1": 0.04, "panda_finger_joint2": 0.04})
    assert not arm.grasping()
    arm.set_joints({"panda_finger_joint1": 0.02, "panda_finger_joint2": 0.02})
    assert arm.grasping()
    arm.set_joints({"panda_finger_joint1": 0.0, "panda_finger_joint2": 0.0})
    assert not arm.grasping()


def test_an_empty_place_is_seen_empty_but_a_hidden_one_is_not() -> None:
    from embodied_stack.perception.tracker import ObjectTracker

    profile = load_robot("panda")
    scene = suite_scene("tasks", "two_cubes_tray")
    tracker = ObjectTracker()
    with SimWorld(scene=scene, camera=CAMERA) as world:
        rgb, depth = world.render()
        objects = {o.id: o for o in tracker.update(detector().detect(rgb, depth), 0.0)}
        red, blue = objects["red_cube_1"], objects["blue_cube_1"]
        assert not detector().seen_empty(red) and not detector().seen_empty(blue)
        world.teleport("red_cube", (0.35, -0.30))  # taken away
        solution = IkSolver(Chain(profile)).solve_down(
            np.add(blue.position, (0.0, 0.0, 0.06)), 0.0, np.array(profile.home)
        )
        _pose_arm(world, profile.joints, solution.q)  # the hand right above the blue cube
        rgb, depth = world.render()
        joints = world.joint_state()
    arm = ArmModel(profile)
    arm.set_joints(dict(zip(joints.names, joints.positions, strict=True)))
    detector().detect(rgb, depth, exclude=arm.contains)
    assert detector().seen_empty(red)
    assert not detector().seen_empty(blue)


@pytest.mark.parametrize(
    "tcp", [(0.55, -0.15, 0.10), (0.53, -0.15, 0.08)], ids=["hidden", "glimpsed_beside_the_hand"]
)
def test_a_cube_under_the_hand_keeps_its_last_position_marked_stale(
    tcp: tuple[float, float, float],
) -> None:
    from embodied_stack.perception.tracker import ObjectTracker, TrackerConfig

    profile = load_robot("panda")
    arm = ArmModel(profile)  # at home, as the simulator starts
    tracker = ObjectTracker(TrackerConfig(stale_after_s=0.5))

    def look(world: SimWorld, stamp: float) -> dict[str, PerceivedObject]:
        rgb, depth = world.render()
        detections = detector().detect(rgb, depth, exclude=arm.contains)
        return {o.id: o for o in tracker.update(detections, stamp, detector().seen_empty)}

    with SimWorld(scene=suite_scene("tasks", "two_cubes_tray"), camera=CAMERA) as world:
        first = look(world, 0.0)
        assert set(first) == {"red_cube_1", "blue_cube_1", "green_tray_1"}
        solution = IkSolver(Chain(profile)).solve_down(np.array(tcp), 0.0, np.array(profile.home))
        assert solution.ok
        _pose_arm(world, profile.joints, solution.q)  # the hand between the camera and the cube
        joints = world.joint_state()
        arm.set_joints(dict(zip(joints.names, joints.positions, strict=True)))
        frames = [look(world, 0.2 * step) for step in range(1, 8)]  # 1.4 s under the hand
    for objects in frames:
        assert set(objects) == set(first)  # nothing forgotten, no arm part, no glimpse as new
        assert objects["red_cube_1"].position == first["red_cube_1"].position
        assert not objects["blue_cube_1"].stale and not objects["green_tray_1"].stale
    assert not frames[0]["red_cube_1"].stale  # 0.2 s: not yet
    assert frames[-1]["red_cube_1"].stale and frames[-1]["red_cube_1"].stamp == 0.0
