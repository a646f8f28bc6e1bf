"""What the detector reports for one frame, before tracking gives it an id."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.scene import Color, ObjectKind

Vec3 = tuple[float, float, float]
PixelBox = tuple[int, int, int, int]  # u0, v0, u1, v1 (inclusive-exclusive)


class Detection(BaseModel):
    """One object seen in one frame, in the world frame (REP-103)."""

    model_config = ConfigDict(extra="forbid")

    kind: ObjectKind
    color: Color | None = None
    position: Vec3  # centre, m
    yaw: float = 0.0  # rad; cubes in (-pi/4, pi/4], knives and trays in (-pi/2, pi/2]
    size: Vec3  # extent along the object's own x, y, z, m
    support: str = "table"  # "table", "floor", "object" (see support_index), "unknown"
    support_index: int | None = None  # index of the detection below, same frame
    inside: bool = False  # resting inside a container (support_index names it)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    occluded: bool = False  # partly hidden by the arm, a person or the image border
    pixels: int = 0  # pixels the estimate was made from
    box: PixelBox = (0, 0, 0, 0)

    @property
    def top_z(self) -> float:
        return self.position[2] + self.size[2] / 2

    @property
    def bottom_z(self) -> float:
        return self.position[2] - self.size[2] / 2

    def label(self) -> str:
        return f"{self.color.value} {self.kind.value}" if self.color else self.kind.value
