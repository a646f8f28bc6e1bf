"""Ground truth for the judges: what is really where in the simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pybullet as pb

from embodied_stack.schemas import BodyState, GroundTruth

if TYPE_CHECKING:
    from .world import SimWorld


def _vec3(values: object) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in values)  # type: ignore[attr-defined]
    return (x, y, z)


def _quat(values: object) -> tuple[float, float, float, float]:
    x, y, z, w = (float(v) for v in values)  # type: ignore[attr-defined]
    return (x, y, z, w)


def object_states(world: SimWorld) -> dict[str, BodyState]:
    states = {}
    for object_id, body in world.objects.items():
        pos, orn = pb.getBasePositionAndOrientation(body, physicsClientId=world.client)
        lin, ang = pb.getBaseVelocity(body, physicsClientId=world.client)
        states[object_id] = BodyState(
            position=_vec3(pos),
            orientation=_quat(orn),
            linear_velocity=_vec3(lin),
            angular_velocity=_vec3(ang),
        )
    return states


def link_states(world: SimWorld) -> dict[str, BodyState]:
    """Every link of the robot (the base included), by URDF link name."""
    arm = world.arm
    states = {}
    for index, name in arm.link_names.items():
        pos, orn, linear, angular = arm.link_state(index)
        states[name] = BodyState(
            position=_vec3(pos),
            orientation=_quat(orn),
            linear_velocity=_vec3(linear),
            angular_velocity=_vec3(angular),
        )
    return states


def body_name(world: SimWorld, body: int, link: int) -> str:
    """Scene id of an object, robot link name, or "table"/"floor"."""
    if body == world.arm.body:
        return world.arm.link_names.get(link, f"link{link}")
    for object_id, b in world.objects.items():
        if b == body:
            return object_id
    return world.fixtures.get(body, f"body{body}")


def contact_pairs(world: SimWorld) -> list[tuple[str, str]]:
    """Distinct touching pairs (sorted names), robot self-contacts left out."""
    pairs: set[tuple[str, str]] = set()
    for c in pb.getContactPoints(physicsClientId=world.client):
        body_a, body_b, link_a, link_b = c[1], c[2], c[3], c[4]
        if body_a == body_b:
            continue
        a, b = body_name(world, body_a, link_a), body_name(world, body_b, link_b)
        pairs.add((min(a, b), max(a, b)))
    return sorted(pairs)


def read_ground_truth(world: SimWorld) -> GroundTruth:
    links = link_states(world)
    tcp = links[world.robot.tcp_link]
    q, qd, _e = world.arm.joint_arrays(world.arm.arm_joints)
    return GroundTruth(
        sim_time=world.sim_time,
        objects=object_states(world),
        links=links,
        tcp=tcp,
        tcp_speed=float(np.linalg.norm(tcp.linear_velocity)),
        joint_positions=[float(v) for v in q],
        joint_velocities=[float(v) for v in qd],
        gripper_opening=world.arm.gripper_opening(),
        contacts=contact_pairs(world),
    )
