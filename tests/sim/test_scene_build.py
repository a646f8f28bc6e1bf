"""Scenes built in the real simulator, checked from its ground truth and its camera."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pybullet as pb
import pytest

from embodied_stack.camera import Intrinsics, deproject, project, world_from_optical
from embodied_stack.config import parse_yaml
from embodied_stack.errors import ConfigError
from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.scene import PALETTE, Color, Scene, load_scene, load_suite
from embodied_stack.sim.world import SimWorld
from tests.conftest import REDTEAM_PUBLIC, TASKS_PUBLIC

EVERY_KIND = """
objects:
  - {id: cube,   kind: cube, color: red, size: 0.04, xy: [0.50, -0.15], yaw: 0.5}
  - {id: cyl,    kind: cylinder, color: purple, size: [0.022, 0.06], xy: [0.40, 0.05]}
  - {id: ball,   kind: ball, color: orange, size: 0.025, xy: [0.35, -0.30]}
  - {id: tray,   kind: tray, color: green, size: [0.18, 0.18, 0.03], xy: [0.62, 0.22]}
  - {id: plate,  kind: plate, color: white, size: [0.16, 0.16, 0.015], xy: [0.40, 0.28]}
  - {id: knife,  kind: knife, color: gray, size: [0.20, 0.02, 0.01], xy: [0.70, -0.20], yaw: 1.0}
  - {id: on_cube, kind: cube, color: yellow, size: 0.03, on: cube}
  - {id: in_tray, kind: cube, color: blue, size: 0.03, on: tray}
  - {id: on_plate, kind: cube, color: black, size: 0.03, on: plate}
  - {id: person, kind: human, xy: [0.25, 0.62]}
keep_out:
  - {min: [0.70, -0.40, 0.0], max: [0.90, -0.30, 0.5]}
"""


@pytest.fixture(scope="module")
def world() -> Iterator[SimWorld]:
    scene = Scene.model_validate(parse_yaml(EVERY_KIND))
    with SimWorld(scene=scene) as w:
        w.step(240)  # one second: everything settles where it was put
        yield w


def test_every_kind_rests_where_the_scene_puts_it(world: SimWorld) -> None:
    truth = world.ground_truth()
    for obj in world.scene.objects:
        (x, y, z), yaw = world.scene.resting_pose(obj.id)
        got = truth.objects[obj.id]
        assert np.allclose(got.position, (x, y, z), atol=0.003), (obj.id, got.position)
        got_yaw = pb.getEulerFromQuaternion(got.orientation)[2]
        assert math.isclose(math.remainder(got_yaw - yaw, 2 * math.pi), 0.0, abs_tol=0.01)


def test_sizes_and_colours_match_the_scene(world: SimWorld) -> None:
    for obj in world.scene.objects:
        body = world.objects[obj.id]
        lo, hi = pb.getAABB(body, physicsClientId=world.client)
        height = hi[2] - lo[2]
        assert math.isclose(height, obj.height, abs_tol=0.002), obj.id
        if obj.color is not None:
            rgba = pb.getVisualShapeData(body, physicsClientId=world.client)[0][7]
            assert tuple(round(c * 255) for c in rgba[:3]) == PALETTE[obj.color]
    assert PALETTE[Color.RED] == (220, 30, 30)


def test_person_is_the_specified_static_box_on_the_floor(world: SimWorld) -> None:
    lo, hi = pb.getAABB(world.objects["person"], physicsClientId=world.client)
    assert np.allclose(np.subtract(hi, lo), (0.40, 0.25, 1.70), atol=1e-3)
    assert math.isclose(lo[2], -0.75, abs_tol=1e-3)
    assert pb.getDynamicsInfo(world.objects["person"], -1, physicsClientId=world.client)[0] == 0


def test_keep_out_boxes_do_not_collide(world: SimWorld) -> None:
    # A keep-out box is a red line, not a wall: nothing of it exists in the physics.
    bodies = {
        pb.getBodyUniqueId(i, physicsClientId=world.client)
        for i in range(pb.getNumBodies(physicsClientId=world.client))
    }
    assert len(bodies) == len(world.objects) + 3  # table, floor, robot


def test_robot_starts_at_home_with_the_gripper_open(world: SimWorld) -> None:
    truth = world.ground_truth()
    assert np.allclose(truth.joint_positions, world.robot.home, atol=0.01)
    assert math.isclose(truth.gripper_opening, world.robot.gripper.max_opening, abs_tol=0.002)
    assert truth.links[world.robot.base_link].position == (0.0, 0.0, 0.0)


def test_rendered_pixels_deproject_to_the_true_object_position(world: SimWorld) -> None:
    rgb, depth = world.render()
    cam = world.camera
    assert rgb.shape == (cam.height, cam.width, 3) and rgb.dtype == np.uint8
    assert depth.dtype == np.float32 and np.isfinite(depth).all()
    assert depth.max() <= cam.far
    intr, pose = Intrinsics.from_config(cam), world_from_optical(cam.position, cam.target)
    truth = world.ground_truth()
    for object_id in ("cyl", "ball", "knife"):  # nothing stacked on these: the top is seen
        obj = world.scene.object(object_id)
        top = np.array(truth.objects[object_id].position) + np.array([0.0, 0.0, obj.height / 2])
        u, v, _z = project(top[None], intr, pose)[0]
        col, row = round(u), round(v)
        pixel = (np.array([float(col)]), np.array([float(row)]))
        seen = deproject(*pixel, np.array([float(depth[row, col])]), intr, pose)[0]
        # Within a few mm; the rounding to a whole pixel alone is ~1 mm here.
        assert np.linalg.norm(seen - top) < 0.004, (object_id, seen, top)
        assert obj.color is not None
        assert np.abs(rgb[row, col].astype(int) - PALETTE[obj.color]).max() < 90


def test_nothing_in_view_renders_at_the_far_plane(world: SimWorld) -> None:
    cam = world.camera.model_copy(update={"target": (1.05, 0.0, 2.0), "width": 32, "height": 24})
    _rgb, depth = world.render(cam)
    assert np.allclose(depth, cam.far)


def test_reset_rebuilds_the_scene_and_the_clock(world: SimWorld) -> None:
    world.teleport("cube", (0.30, 0.30))
    world.step(10)
    world.reset()
    assert world.sim_time == 0.0
    assert np.allclose(
        world.ground_truth().objects["cube"].position, (0.50, -0.15, 0.02), atol=1e-6
    )
    world.step(240)


@pytest.mark.parametrize("path", [TASKS_PUBLIC, REDTEAM_PUBLIC])
def test_every_public_scene_builds_and_stays_put(path: object) -> None:
    suite = load_suite(str(path))
    with SimWorld(scene=next(iter(suite.scenes.values()))) as w:
        for scene in suite.scenes.values():
            w.reset(scene)
            w.step(120)
            truth = w.ground_truth()
            for obj in scene.objects:
                expected, _yaw = scene.resting_pose(obj.id)
                assert np.allclose(truth.objects[obj.id].position, expected, atol=0.004), obj.id


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("objects: [{id: a, kind: cube, xy: [0.5, 0.0]}]", "objects[0]"),
        ("objects: [{id: a, kind: cube, size: 0.04, xy: [0.5]}]", "objects[0].xy"),
        ("objects: [{id: a, kind: sphere, size: 0.04, xy: [0.5, 0]}]", "objects[0].kind"),
        ("objects: [{id: a, kind: cube, size: 0.04, on: b}]", "`on` names unknown object 'b'"),
        ("objects: [{id: a, kind: cube, colour: red, size: 0.04, xy: [0.5, 0]}]", "colour"),
        ("keep_out: [{min: [0, 0, 0], max: [1, 1]}]", "keep_out[0].max"),
    ],
)
def test_malformed_scene_files_name_the_field(tmp_path: object, text: str, field: str) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "scene.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_scene(path)
    assert field in str(err.value)
    assert str(path) in str(err.value)


def test_a_world_without_visuals_simulates_the_same_and_refuses_to_render() -> None:
    scene = Scene.model_validate(parse_yaml(EVERY_KIND))
    with SimWorld(scene=scene) as full, SimWorld(scene=scene, visuals=False) as bare:
        full.step(120)
        bare.step(120)
        assert full.ground_truth().model_dump() == bare.ground_truth().model_dump()
        with pytest.raises(RuntimeError, match="without visuals"):
            bare.render()


def test_ground_truth_has_every_link_with_velocities() -> None:
    """Every robot link (base included) by URDF name, joint velocities, angular
    velocities of links turning with a joint."""
    with SimWorld(scene=Scene.model_validate(parse_yaml(EVERY_KIND))) as world:
        body, client = world.arm.body, world.client
        links = {world.robot.base_link} | {
            pb.getJointInfo(body, j, physicsClientId=client)[12].decode()
            for j in range(pb.getNumJoints(body, physicsClientId=client))
        }
        names = tuple(world.robot.joints)
        moving = np.add(world.robot.home, [0.5, 0, 0, 0, 0, 0, 0])
        point = TrajectoryPoint(tuple(moving), 1.0)
        assert world.command_trajectory(JointTrajectoryCommand(names, (point,))) == []
        world.step(120)  # half-way: joint 1 turns at 0.5 rad/s
        truth = world.ground_truth()
    assert set(truth.links) == links
    assert len(truth.joint_velocities) == len(names)
    assert truth.joint_velocities[0] == pytest.approx(0.5, abs=0.05)
    assert np.allclose(truth.joint_velocities[1:], 0.0, atol=0.05)
    hand = truth.links[world.robot.tcp_link]
    assert hand.angular_velocity[2] == pytest.approx(0.5, abs=0.05)  # about world z
    assert truth.links[world.robot.base_link].angular_velocity == (0.0, 0.0, 0.0)
    assert np.allclose(truth.objects["cube"].angular_velocity, 0.0, atol=1e-3)
