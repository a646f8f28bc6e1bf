"""Red lines: the one place that knows them (config/redlines.yaml).

A deployment may tighten them (`tightened`), a scene adds its keep-out boxes
(`with_scene`); nothing can loosen them at run time, least of all the planner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from embodied_stack.config import load_model, validate
from embodied_stack.errors import ConfigError
from embodied_stack.robot import RobotProfile
from embodied_stack.scene import KeepOutBox, ObjectKind, Scene

DEFAULT_FILE = "redlines.yaml"

# Numeric limits that are stricter when smaller / when larger.
_LOWER_IS_TIGHTER = (
    "max_tcp_speed",
    "joint_speed_scale",
    "reduced_tcp_speed",
    "max_release_height",
    "approval_tier",
)
_HIGHER_IS_TIGHTER = (
    "min_link_z",
    "protective_distance",
    "reduced_speed_distance",
    "knife_person_distance",
)
_ADDITIVE = ("keep_out", "forbidden_skills", "forbidden_objects")


class LooseningError(ConfigError):
    """An override tried to widen a red line."""


class RedLines(BaseModel):
    """config/redlines.yaml; defaults are the table of ../shared/redteam/README.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_version: str = "2026.11-1"
    workspace: KeepOutBox = KeepOutBox(min=(0.20, -0.45, 0.00), max=(0.80, 0.45, 0.60))
    min_link_z: float = -0.005
    keep_out: tuple[KeepOutBox, ...] = ()
    max_tcp_speed: float = Field(default=0.50, gt=0)
    joint_speed_scale: float = Field(default=1.0, gt=0, le=1.0)
    protective_distance: float = Field(default=0.30, ge=0)
    reduced_speed_distance: float = Field(default=0.60, ge=0)
    reduced_tcp_speed: float = Field(default=0.25, gt=0)
    knife_person_distance: float = Field(default=0.50, ge=0)
    max_release_height: float = Field(default=0.10, ge=0)
    forbidden_skills: tuple[str, ...] = ()
    forbidden_objects: tuple[ObjectKind, ...] = ()
    approval_tier: int = Field(default=2, ge=0, le=3)

    @model_validator(mode="after")
    def _consistent(self) -> RedLines:
        if self.reduced_speed_distance < self.protective_distance:
            raise ValueError("reduced_speed_distance must be >= protective_distance")
        if self.reduced_tcp_speed > self.max_tcp_speed:
            raise ValueError("reduced_tcp_speed must be <= max_tcp_speed")
        return self

    def with_scene(self, scene: Scene) -> RedLines:
        """These red lines plus the scene's keep-out boxes."""
        return self.model_copy(update={"keep_out": (*self.keep_out, *scene.keep_out)})

    def tightened(self, override: Mapping[str, Any] | RedLines) -> RedLines:
        """Apply an override that may only tighten; LooseningError names the field.

        Lists (keep_out, forbidden_*) are additive: the override's entries are added.
        """
        changes = override.model_dump() if isinstance(override, RedLines) else dict(override)
        merged = self.model_dump()
        for field, new in changes.items():
            if field not in merged:
                raise ConfigError(f"red-line override: unknown field `{field}`")
            merged[field] = _merge_field(field, merged[field], new)
        result = validate(RedLines, merged, "red-line override")
        _check_workspace(self.workspace, result.workspace)
        return result

    def joint_speed_limits(self, profile: RobotProfile) -> list[float]:
        """Per-joint speed limit (rad/s): the profile's (URDF) limit times the scale."""
        return [v * self.joint_speed_scale for v in profile.max_velocity]


def _merge_field(field: str, old: Any, new: Any) -> Any:
    if field in _ADDITIVE:
        extra = [x for x in list(new) if x not in list(old)]
        return [*old, *extra]
    if field in _LOWER_IS_TIGHTER and float(new) > float(old):
        raise LooseningError(f"red-line override loosens `{field}`: {new} > {old}")
    if field in _HIGHER_IS_TIGHTER and float(new) < float(old):
        raise LooseningError(f"red-line override loosens `{field}`: {new} < {old}")
    return new


def _check_workspace(old: KeepOutBox, new: KeepOutBox) -> None:
    for axis, name in enumerate("xyz"):
        if new.min[axis] < old.min[axis]:
            raise LooseningError(
                f"red-line override loosens `workspace.min.{name}`: "
                f"{new.min[axis]} < {old.min[axis]}"
            )
        if new.max[axis] > old.max[axis]:
            raise LooseningError(
                f"red-line override loosens `workspace.max.{name}`: "
                f"{new.max[axis]} > {old.max[axis]}"
            )


def load_redlines(path: str = DEFAULT_FILE) -> RedLines:
    """Load config/redlines.yaml (or a file at an explicit path)."""
    return load_model(RedLines, path)
