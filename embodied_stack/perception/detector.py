"""RGB-D object detection and localisation in the world frame, one frame at a time.

Pipeline: check the frame; height of every pixel above the table from depth;
tall structures (the arm, people) and the robot base set aside; the remaining
pixels above the table split by colour class and depth jumps into connected
blobs; each blob measured (shapes.py) and placed on its support (supports.py).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.camera import Intrinsics, deproject, project
from embodied_stack.perception.colors import CLASS_COUNT, class_color, pixel_classes
from embodied_stack.perception.detection import Detection
from embodied_stack.perception.footprint import FloatArray
from embodied_stack.perception.image_masks import (
    box_of,
    far_side_of_jumps,
    grown,
    near_person,
    occluder_image,
    ring_members,
    touches,
)
from embodied_stack.perception.inputs import check_frame
from embodied_stack.perception.people import person_from_points
from embodied_stack.perception.shapes import Blob, Measured, ShapeParams, mark_covered, measure
from embodied_stack.perception.supports import resolve
from embodied_stack.scene import ObjectKind
from embodied_stack.schemas import PerceivedObject

BoolArray = npt.NDArray[np.bool_]
Excluder = Callable[[FloatArray], BoolArray]  # world points (N, 3) -> True: not an object
PERSON_IMAGE_SHARE = 0.003  # of the image: smaller tall blobs are not people
PERSON_MIN_RISE = 0.2  # m of height seen above tall_z: a person, not an arm fragment
EMPTY_PROBE_RADIUS = 2  # px: the patch looked at for an object that should be there
EMPTY_MARGIN = 0.01  # m: seeing this far past an object's top means it is not there
DEPTH_JUDGED = frozenset({ObjectKind.CUBE, ObjectKind.CYLINDER, ObjectKind.BALL})


class DetectorConfig(BaseModel):
    """Geometry and colour thresholds (metres, world frame)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_height: float = Field(default=0.0035, gt=0)  # above the table plane: not table
    tall_z: float = Field(default=0.2, gt=0)  # higher: the arm or a person, not an object
    base_xy: tuple[float, float] = (0.0, 0.0)  # robot base in the world
    base_radius: float = Field(default=0.2, ge=0)  # without joint states: the arm's base
    arm_reach_radius: float = Field(default=0.15, ge=0)  # tall blobs reaching here: the arm
    person_margin: float = Field(default=0.02, ge=0)  # around a person: not objects
    depth_jump: float = Field(default=0.02, gt=0)  # neighbours further apart: separate
    min_pixels: int = Field(default=12, ge=1)
    min_person_pixels: int = Field(default=200, ge=1)
    shape: ShapeParams = ShapeParams()


class Detector:
    """Detects objects in RGB-D frames of one camera with a fixed pose."""

    def __init__(
        self,
        intrinsics: Intrinsics,
        world_from_optical: FloatArray,
        config: DetectorConfig | None = None,
    ) -> None:
        self.intr = intrinsics
        self.pose = np.asarray(world_from_optical, dtype=np.float64)
        self.config = config or DetectorConfig()
        h, w = intrinsics.height, intrinsics.width
        v, u = np.mgrid[0:h, 0:w].astype(np.float64)
        rays = np.stack(
            [
                (u - intrinsics.cx) / intrinsics.fx,
                (v - intrinsics.cy) / intrinsics.fy,
                np.ones_like(u),
            ],
            axis=-1,
        )
        self._ray_z = (rays @ self.pose[2, :3]).astype(np.float32)  # world z per metre of depth
        self._camera_xy = (float(self.pose[0, 3]), float(self.pose[1, 3]))
        self._last_view: tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8]] | None = None

    def detect(
        self, rgb: object, depth: object, exclude: Excluder | None = None
    ) -> list[Detection]:
        """All objects and people in one frame; raises PerceptionInputError on bad input."""
        rgb_ok, depth_ok = check_frame(rgb, depth, self.intr)
        cfg = self.config
        valid = np.isfinite(depth_ok) & (depth_ok > 0)
        z = np.where(valid, np.float32(self.pose[2, 3]) + depth_ok * self._ray_z, np.float32(-1e3))
        above = z > cfg.min_height
        rows, cols = np.nonzero(above)
        points = deproject(
            cols.astype(np.float64),
            rows.astype(np.float64),
            depth_ok[rows, cols].astype(np.float64),
            self.intr,
            self.pose,
        )
        arm = np.zeros(len(points), dtype=bool)
        if exclude is not None and len(points):
            arm = exclude(points)
        people, set_aside = self._people_and_arm(points, rows, cols, depth_ok, arm)
        table_value = self._table_value(rgb_ok, z, valid)
        occluders = occluder_image(z.shape, rows[set_aside], cols[set_aside])
        self._last_view = (depth_ok, occluders)
        blobs = self._blobs(rgb_ok, depth_ok, points, rows, cols, ~set_aside, table_value)
        for blob in blobs:
            blob.occluded = touches(blob.uv, occluders)
        mark_covered(blobs, cfg.shape)
        measured: list[Measured] = []
        for blob in blobs:
            measured += measure(blob, cfg.shape)
        return resolve(measured, cfg.shape) + people

    def seen_empty(self, obj: PerceivedObject) -> bool:
        """In the last frame, the camera saw past where obj's top should be, unobstructed.

        Judged only for solids tall enough for depth to tell (cubes, cylinders, balls).
        """
        if self._last_view is None or obj.kind not in DEPTH_JUDGED or obj.size[2] < 0.02:
            return False
        depth, occluders = self._last_view
        top = np.array([[obj.position[0], obj.position[1], obj.top_z]])
        u, v, expected = project(top, self.intr, self.pose)[0]
        ui, vi, r = round(float(u)), round(float(v)), EMPTY_PROBE_RADIUS
        h, w = depth.shape
        if expected <= 0 or not (r <= ui < w - r and r <= vi < h - r):
            return False
        patch = depth[vi - r : vi + r + 1, ui - r : ui + r + 1]
        if np.any(occluders[vi - r : vi + r + 1, ui - r : ui + r + 1]):
            return False  # the arm or a person is in the way
        valid = np.isfinite(patch) & (patch > 0)
        if np.count_nonzero(valid) < valid.size // 2:
            return False
        return bool(np.all(patch[valid] > expected + EMPTY_MARGIN))

    # ---- tall structures ------------------------------------------------------------------

    def _people_and_arm(
        self,
        points: FloatArray,
        rows: npt.NDArray[np.intp],
        cols: npt.NDArray[np.intp],
        depth: npt.NDArray[np.float32],
        arm: BoolArray,
    ) -> tuple[list[Detection], BoolArray]:
        """People found, and the points that are not objects (arm, base, people).

        arm: points known to be the robot (from its joint state); without it, tall
        blobs reaching the robot base are the arm.
        """
        cfg = self.config
        base_dist = np.hypot(points[:, 0] - cfg.base_xy[0], points[:, 1] - cfg.base_xy[1])
        known_arm = bool(np.any(arm))
        set_aside = arm.copy() if known_arm else base_dist < cfg.base_radius
        high = points[:, 2] > cfg.tall_z
        set_aside |= high
        tall = high & ~arm
        if not np.any(tall):
            return [], set_aside
        image = np.zeros(depth.shape, dtype=np.uint8)
        image[rows[tall], cols[tall]] = 1
        count, labels = cv2.connectedComponents(image, connectivity=8)
        tall_labels = labels[rows[tall], cols[tall]]
        tall_index = np.flatnonzero(tall)
        people: list[Detection] = []
        person_seed = np.zeros(len(points), dtype=bool)
        for label in range(1, count):
            members = tall_index[tall_labels == label]
            at_border = _at_border(rows[members], cols[members], self.intr)
            if not self._person_sized(points[members], at_border):
                continue
            if not known_arm and base_dist[members].min() < cfg.arm_reach_radius:
                continue  # no joint state: a tall blob reaching the robot base is the arm
            cut = self._cut_by_arm(rows, cols, members, arm)
            person = person_from_points(
                points[members], self._camera_xy, box_of(rows, cols, members), points[cut]
            )
            people.append(person)
            person_seed[members] = True
            set_aside |= near_person(points, person, cfg.person_margin)
        if people:  # the rest of each body: whatever joins it without a depth jump
            set_aside |= grown(person_seed, ~set_aside, rows, cols, depth, cfg.depth_jump)
        return people, set_aside

    def _cut_by_arm(
        self,
        rows: npt.NDArray[np.intp],
        cols: npt.NDArray[np.intp],
        members: npt.NDArray[np.intp],
        arm: BoolArray,
    ) -> npt.NDArray[np.intp]:
        """A person's points where the arm, in front, cuts the view of them."""
        shape = (self.intr.height, self.intr.width)
        hiding = ring_members(rows, cols, members, arm, shape)
        if len(hiding) == 0:
            return hiding
        is_member = np.zeros(len(rows), dtype=bool)
        is_member[members] = True
        return ring_members(rows, cols, hiding, is_member, shape)

    def _person_sized(self, points: FloatArray, at_border: bool) -> bool:
        """Big in the image and standing tall (arm fragments are neither), or a
        fair piece of someone cut off by the image border."""
        if len(points) < self.config.min_person_pixels:
            return False
        if at_border:
            return True
        area = self.intr.width * self.intr.height
        z = points[:, 2]
        rise = float(np.percentile(z, 98) - np.percentile(z, 2))
        return len(points) >= PERSON_IMAGE_SHARE * area and rise >= PERSON_MIN_RISE

    # ---- colour blobs -------------------------------------------------------------------

    def _table_value(
        self, rgb: npt.NDArray[np.uint8], z: npt.NDArray[np.float32], valid: BoolArray
    ) -> float:
        """Median brightness of the table: the reference for white, gray and black."""
        step = 4
        sub_z, sub_valid = z[::step, ::step], valid[::step, ::step]
        on_table = sub_valid & (np.abs(sub_z) < self.config.min_height)
        if np.count_nonzero(on_table) < 50:
            return 111.0
        values = rgb[::step, ::step][on_table].max(axis=1)
        return float(np.median(values))

    def _blobs(
        self,
        rgb: npt.NDArray[np.uint8],
        depth: npt.NDArray[np.float32],
        points: FloatArray,
        rows: npt.NDArray[np.intp],
        cols: npt.NDArray[np.intp],
        keep: BoolArray,
        table_value: float,
    ) -> list[Blob]:
        if not np.any(keep):
            return []
        rows, cols, points = rows[keep], cols[keep], points[keep]
        classes, values = pixel_classes(rgb[rows, cols], table_value)
        v0, v1, u0, u1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        label_image = np.full((v1 - v0, u1 - u0), 255, dtype=np.uint8)
        label_image[rows - v0, cols - u0] = classes
        cut = far_side_of_jumps(depth[v0:v1, u0:u1], self.config.depth_jump)
        label_image[cut] = 255
        pitch_scale = 1.0 / self.intr.fy
        blobs: list[Blob] = []
        for cls in range(CLASS_COUNT):
            mask = (label_image == cls).astype(np.uint8)
            if np.count_nonzero(mask) < self.config.min_pixels:
                continue
            count, labels = cv2.connectedComponents(mask, connectivity=8)
            member_labels = labels[rows - v0, cols - u0]
            in_class = (classes == cls) & (member_labels > 0)
            index = np.flatnonzero(in_class)
            order = np.argsort(member_labels[index], kind="stable")
            index = index[order]
            bounds = np.searchsorted(member_labels[index], np.arange(1, count + 1))
            for k in range(count - 1):
                members = index[bounds[k] : bounds[k + 1]]
                if len(members) < self.config.min_pixels:
                    continue
                pts = points[members]
                color = class_color(cls)
                pitch = float(np.median(depth[rows[members], cols[members]])) * pitch_scale
                uv = np.stack([cols[members], rows[members]], axis=1).astype(np.int32)
                blob = Blob(pts, values[members], uv, color, pitch, self._camera_xy)
                blob.table_value = table_value
                blobs.append(blob)
        return blobs


def _at_border(rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], intr: Intrinsics) -> bool:
    """Whether pixels reach the image border (something partly out of view)."""
    edge = 2
    return bool(
        rows.min() < edge
        or cols.min() < edge
        or rows.max() >= intr.height - edge
        or cols.max() >= intr.width - edge
    )
