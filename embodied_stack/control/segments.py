"""What a skill expands into: trajectories, gripper moves, waits and checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from embodied_stack.control.kinematics import Array
from embodied_stack.motion_types import JointTrajectoryCommand


@dataclass(frozen=True)
class TrajectorySegment:
    """Follow `command` from rest at `start` to rest at `end`."""

    label: str  # e.g. "descend to grasp"
    command: JointTrajectoryCommand
    start: Array
    end: Array


@dataclass(frozen=True)
class GripperSegment:
    label: str
    opening: float  # m; 0 closes (squeezing at the gripper's force limit)


@dataclass(frozen=True)
class WaitSegment:
    label: str
    seconds: float


class CheckKind(str, Enum):
    HOLDING = "holding"  # the fingers stopped on the object: neither closed nor open
    RELEASED = "released"  # the fingers opened wider than the object and squeeze nothing
    LEFT = "left"  # after the retreat the object was left where it was put, not carried up


@dataclass(frozen=True)
class CheckSegment:
    label: str
    kind: CheckKind
    object_id: str
    expected_width: float  # m, the object's width between the fingers
    close_target: float = 0.0  # m, the opening commanded: reaching it means nothing was in between
    rest_bottom_z: float = 0.0  # m (LEFT): the object's bottom once put down


Segment = TrajectorySegment | GripperSegment | WaitSegment | CheckSegment
