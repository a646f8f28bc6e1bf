"""Robot profiles (config/robots/*.yaml): the motion core works from these,
never from Panda constants."""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from embodied_stack.config import config_path, load_model


class GripperProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = "parallel"
    joints: list[str] = Field(default_factory=list)
    max_opening: float = Field(gt=0)  # m, between the fingers
    command_topic: str = "gripper/command"  # std_msgs/Float64, opening in m
    max_force: float = Field(default=40.0, gt=0)  # N, grasp force


class ControllerProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    trajectory_topic: str = "joint_trajectory_controller/joint_trajectory"
    joint_states_topic: str = "joint_states"
    stop_service: str | None = None  # driver's own stop (std_srvs/Trigger), if it has one


class RobotProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    urdf: str  # a path, relative to config/robots, or "pybullet_data:<relative path>"
    base_link: str
    tcp_link: str
    joints: list[str] = Field(min_length=1)
    lower: list[float]
    upper: list[float]
    max_velocity: list[float]  # rad/s
    max_acceleration: list[float]  # rad/s^2
    home: list[float]
    gripper: GripperProfile
    controller: ControllerProfile = ControllerProfile()

    @model_validator(mode="after")
    def _lengths(self) -> RobotProfile:
        n = len(self.joints)
        for field in ("lower", "upper", "max_velocity", "max_acceleration", "home"):
            values = getattr(self, field)
            if len(values) != n:
                raise ValueError(f"`{field}` needs {n} values (one per joint), got {len(values)}")
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"`{field}` values must be finite")
        for i, (lo, hi, h) in enumerate(zip(self.lower, self.upper, self.home, strict=True)):
            if not lo < hi:
                raise ValueError(f"joint {self.joints[i]}: lower limit must be below upper")
            if not lo <= h <= hi:
                raise ValueError(f"joint {self.joints[i]}: home {h} is outside its limits")
        if any(v <= 0 for v in self.max_velocity + self.max_acceleration):
            raise ValueError("velocity and acceleration limits must be positive")
        return self

    def urdf_path(self) -> Path:
        if self.urdf.startswith("pybullet_data:"):
            import pybullet_data

            return Path(pybullet_data.getDataPath()) / self.urdf.split(":", 1)[1]
        return config_path(f"robots/{self.urdf}")


def load_robot(name_or_path: str = "panda") -> RobotProfile:
    """Load `config/robots/<name>.yaml`, or a profile at an explicit path."""
    path = name_or_path if name_or_path.endswith(".yaml") else f"robots/{name_or_path}.yaml"
    return load_model(RobotProfile, path)
