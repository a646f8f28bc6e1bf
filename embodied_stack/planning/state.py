"""What the planner knows about the robot itself when it plans."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

Vec3 = tuple[float, float, float]


class RobotState(BaseModel):
    """The arm as measured (joint_states) and what its gripper holds, if known."""

    model_config = ConfigDict(extra="forbid")

    joint_names: list[str] = Field(default_factory=list)
    joint_positions: list[float] = Field(default_factory=list)  # rad (m for finger joints)
    gripper_opening: float | None = None  # m between the fingers
    holding: str | None = None  # perceived id of the object in the gripper
    tcp_position: Vec3 | None = None  # world frame, m
    stamp: float = 0.0

    @field_validator("joint_positions")
    @classmethod
    def _finite(cls, values: list[float]) -> list[float]:
        if not all(math.isfinite(v) for v in values):
            raise ValueError("joint positions must be finite")
        return values

    @classmethod
    def from_joints(
        cls,
        names: Sequence[str],
        positions: Sequence[float],
        *,
        gripper_joints: Collection[str],
        stamp: float = 0.0,
    ) -> RobotState:
        """From a joint_states sample; the opening is the sum of the finger joints."""
        fingers = [q for n, q in zip(names, positions, strict=True) if n in gripper_joints]
        return cls(
            joint_names=list(names),
            joint_positions=list(positions),
            gripper_opening=sum(fingers) if fingers else None,
            stamp=stamp,
        )

    def summary(self) -> dict[str, object]:
        """A compact form for the model's prompt."""
        return {
            "joints": {
                n: round(p, 3) for n, p in zip(self.joint_names, self.joint_positions, strict=False)
            },
            "gripper_opening_m": None
            if self.gripper_opening is None
            else round(self.gripper_opening, 3),
            "holding": self.holding,
            "tcp_position_m": None
            if self.tcp_position is None
            else [round(v, 3) for v in self.tcp_position],
        }
