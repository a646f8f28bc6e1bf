"""The motion core's world model: perceived objects, joints, gripper, what is held."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from embodied_stack.control.kinematics import Array
from embodied_stack.motion_types import JointStateSample
from embodied_stack.robot import RobotProfile
from embodied_stack.scene import ObjectKind
from embodied_stack.schemas import PerceivedObject


@dataclass(frozen=True)
class WorldModel:
    """What skills are expanded against. `joints` is in profile order."""

    joints: Array
    gripper_opening: float
    objects: dict[str, PerceivedObject] = field(default_factory=dict)
    held: str | None = None
    held_offset: float = 0.0  # TCP height above the held object's bottom, m
    speed_scale: float = 1.0

    def obstacles(self, *, besides: tuple[str, ...] = ()) -> list[PerceivedObject]:
        """Objects on the table the arm must clear (people stand beside it)."""
        return [
            o
            for o in self.objects.values()
            if o.kind is not ObjectKind.HUMAN and o.id not in besides and o.id != self.held
        ]


def arm_positions(sample: JointStateSample, profile: RobotProfile) -> Array:
    """Arm joints of a joint-state sample in profile order (KeyError names a missing one)."""
    by_name = sample.as_dict()
    missing = [n for n in profile.joints if n not in by_name]
    if missing:
        raise KeyError(f"joint state lacks {missing}")
    return np.array([by_name[n] for n in profile.joints])


def gripper_opening(sample: JointStateSample, profile: RobotProfile) -> float | None:
    """Finger opening (m) from the finger joints of a sample; None when they are absent.

    A parallel gripper's finger joints each measure one finger's travel, so the
    opening is their sum."""
    by_name = sample.as_dict()
    fingers = profile.gripper.joints
    if not fingers or any(n not in by_name for n in fingers):
        return None
    return float(sum(by_name[n] for n in fingers))


def gripper_effort(sample: JointStateSample, profile: RobotProfile) -> float | None:
    """Mean absolute effort of the finger joints (N): large while they squeeze
    something, near zero once they stopped in free air. None when not measured."""
    fingers = profile.gripper.joints
    if not fingers or len(sample.efforts) != len(sample.names):
        return None
    by_name = dict(zip(sample.names, sample.efforts, strict=True))
    if any(n not in by_name for n in fingers):
        return None
    return sum(abs(by_name[n]) for n in fingers) / len(fingers)


def support_surface_z(obj: PerceivedObject) -> float:
    """Height at which something placed into or onto `obj` rests."""
    if obj.kind is ObjectKind.TRAY:
        return obj.bottom_z + min(0.005, obj.size[2] / 3)
    return obj.top_z  # plates are slabs; cubes and cylinders are stacked on their top


def footprint_radius(obj: PerceivedObject) -> float:
    """Radius of a circle around the object's footprint (any yaw)."""
    return 0.5 * math.hypot(obj.size[0], obj.size[1])


def grip_width(obj: PerceivedObject) -> float:
    """Distance between the faces the fingers close on."""
    if obj.kind is ObjectKind.KNIFE:
        return obj.size[1]
    return min(obj.size[0], obj.size[1])


def world_from_state(
    joints: JointStateSample, objects: list[PerceivedObject], profile: RobotProfile
) -> WorldModel:
    """A fresh world: measured joints and fingers (open when unmeasured), perceived objects."""
    opening = gripper_opening(joints, profile)
    return WorldModel(
        joints=arm_positions(joints, profile),
        gripper_opening=profile.gripper.max_opening if opening is None else opening,
        objects={o.id: o for o in objects},
    )
