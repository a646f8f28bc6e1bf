"""Perception in the loop of a real (simulated) pick and place: the cube keeps its
id, is held while carried, lands in the tray; the arm is never an object."""

from __future__ import annotations

import math

import numpy as np

from embodied_stack.perception.arm_mask import ArmModel
from embodied_stack.perception.tracker import ObjectTracker
from embodied_stack.schemas import PerceivedObject
from embodied_stack.sim.world import SimWorld
from tests.perception.helpers import CAMERA, detector, suite_scene
from tests.sim.helpers import duration_for, move_tcp

PERCEPTION_PERIOD_S = 0.25  # sim time between frames


class Eyes:
    """Renders, masks the arm and tracks objects every PERCEPTION_PERIOD_S of sim time."""

    def __init__(self, world: SimWorld) -> None:
        self.arm = ArmModel(world.robot)
        self.tracker = ObjectTracker()
        self.frames: list[tuple[float, dict[str, PerceivedObject], tuple[float, ...]]] = []
        self._next = 0.0
        world.listeners.append(self)

    def __call__(self, world: SimWorld) -> None:
        if world.sim_time + 1e-9 < self._next:
            return
        self._next = world.sim_time + PERCEPTION_PERIOD_S
        joints = world.joint_state()
        self.arm.set_joints(dict(zip(joints.names, joints.positions, strict=True)))
        self.tracker.set_gripper(self.arm.tcp(), self.arm.grasping())
        rgb, depth = world.render()
        detections = detector().detect(rgb, depth, exclude=self.arm.contains)
        found = self.tracker.update(detections, world.sim_time, detector().seen_empty)
        objects = {o.id: o for o in found}
        self.frames.append((world.sim_time, objects, self.arm.tcp()))


def test_cube_keeps_its_id_is_held_while_carried_and_lands_in_the_tray() -> None:
    scene = suite_scene("tasks", "two_cubes_tray")
    with SimWorld(scene=scene, camera=CAMERA) as world:
        eyes = Eyes(world)
        world.step(1)
        first = eyes.frames[0][1]
        assert set(first) == {"red_cube_1", "blue_cube_1", "green_tray_1"}
        red = np.array(first["red_cube_1"].position)

        def go(target: np.ndarray) -> None:
            move_tcp(world, target, duration_for(world, target, 0.4))

        go(red + np.array([0, 0, 0.12]))
        go(red)
        world.set_gripper(0.0)
        world.step(120)
        carry_start = len(eyes.frames)
        go(red + np.array([0, 0, 0.15]))
        tray = np.array(first["green_tray_1"].position)
        go(np.array([tray[0], tray[1], 0.17]))
        carry_end = len(eyes.frames)
        go(np.array([tray[0], tray[1], 0.07]))
        world.set_gripper(world.robot.gripper.max_opening)
        world.step(120)
        go(np.array([tray[0], tray[1], 0.30]))
        go(np.array([0.30, 0.0, 0.45]))
        world.step(60)
        truth = world.ground_truth()

    for _t, objects, _tcp in eyes.frames:  # never an arm part or a truncated view as an object
        assert set(objects) == {"red_cube_1", "blue_cube_1", "green_tray_1"}, sorted(objects)
    for _t, objects, tcp in eyes.frames[carry_start + 2 : carry_end]:
        cube = objects["red_cube_1"]
        assert cube.support == "held" and math.dist(cube.position, tcp) < 0.03
    final = eyes.frames[-1][1]
    cube = final["red_cube_1"]
    assert not cube.stale and cube.support == "green_tray_1" and cube.inside
    assert math.dist(cube.position, truth.objects["red_cube"].position) < 0.012
    blue = final["blue_cube_1"]
    assert math.dist(blue.position, truth.objects["blue_cube"].position) < 0.012
