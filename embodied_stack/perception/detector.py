"""RGB-D object detection and localisation in the world frame, one frame at a time.

Pipeline: check the frame; fit the table plane and level the camera pose on it
(table_plane.py); filter depth (median, then bilateral) when the table shows it
noisy; height of every pixel above the table; tall structures (the arm, people)
and the robot base set aside; the remaining pixels higher than the noise allows
split by colour class and depth jumps into connected blobs; each blob measured
(shapes.py, same-coloured objects touching cut apart in touching.py) and placed
on its support (supports.py).
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
from embodied_stack.perception.table_plane import (
    TableEstimate,
    TableFitConfig,
    estimate_table,
    table_noise,
)
from embodied_stack.scene import ObjectKind
from embodied_stack.schemas import PerceivedObject

BoolArray = npt.NDArray[np.bool_]
Excluder = Callable[[FloatArray], BoolArray]  # world points (N, 3) -> True: not an object
PERSON_IMAGE_SHARE = 0.003  # of the image: smaller tall blobs are not people
PERSON_MIN_RISE = 0.2  # m of height seen above tall_z: a person, not an arm fragment
EMPTY_PROBE_RADIUS = 2  # px: the patch looked at for an object that should be there
EMPTY_MARGIN = 0.01  # m: seeing this far past an object's top means it is not there
DEPTH_JUDGED = frozenset({ObjectKind.CUBE, ObjectKind.CYLINDER, ObjectKind.BALL})
MEDIAN_KERNEL = 3  # px: noisy depth is median-filtered...
BILATERAL_DIAMETER = 5  # px ...then averaged over neighbours this far...
BILATERAL_SPACE_PX = 2.0
BILATERAL_RANGE_SIGMAS = 3.0  # ...whose depth is within this many noise stds
WEAK_MIN_NEIGHBOURS = 5  # of 9: a pixel only just above the table joins only a dense region


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
    table: TableFitConfig = TableFitConfig()
    noise_filter_above: float = Field(default=0.0005, ge=0)  # m of table noise: filter depth
    noise_sigmas: float = Field(default=4.0, gt=0)  # a blob rises this many noise stds...
    noise_join_sigmas: float = Field(default=2.0, gt=0)  # ...with its pixels above this many


class Detector:
    """Detects objects in RGB-D frames of one camera with a fixed pose."""

    def __init__(
        self,
        intrinsics: Intrinsics,
        world_from_optical: FloatArray,
        config: DetectorConfig | None = None,
    ) -> None:
        self.intr = intrinsics
        self.configured_pose = np.asarray(world_from_optical, dtype=np.float64)
        self.config = config or DetectorConfig()
        self._ray_u = (np.arange(intrinsics.width) - intrinsics.cx) / intrinsics.fx
        self._ray_v = (np.arange(intrinsics.height) - intrinsics.cy) / intrinsics.fy
        self._camera_xy = (float(self.configured_pose[0, 3]), float(self.configured_pose[1, 3]))
        self._last_view: tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8]] | None = None
        self.table: TableEstimate | None = None  # the last frame's table fit
        self.noise = 0.0  # m, the last frame's table height noise after filtering
        self.pose = self.configured_pose
        self._ray_z = self._world_z_per_metre(self.pose)

    def _world_z_per_metre(self, pose: FloatArray) -> npt.NDArray[np.float32]:
        """World z gained per metre of depth, per pixel, for a pose."""
        r = pose[2, :3]
        ray_z = r[0] * self._ray_u[None, :] + r[1] * self._ray_v[:, None] + r[2]
        out: npt.NDArray[np.float32] = ray_z.astype(np.float32)
        return out

    def _level_and_denoise(self, depth: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Level the pose on the table; filter depth the table shows noisy."""
        cfg = self.config
        self.table = estimate_table(depth, self.intr, self.configured_pose, cfg.table)
        if self.table.pose is not self.pose:
            self.pose = self.table.pose
            self._ray_z = self._world_z_per_metre(self.pose)
        noise = self.table.noise
        if noise > cfg.noise_filter_above:
            known = np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(0.0))
            depth = _denoised(known.astype(np.float32), noise)
            noise = table_noise(depth, self.table, self.intr)
        self.noise = noise
        return depth

    def _height_gate(self) -> tuple[float, float]:
        """Heights above the table (low, high): a blob needs min_pixels above high and
        keeps its pixels above low (hysteresis: a noisy tray floor 5 mm up stays whole)."""
        cfg = self.config
        high = max(cfg.min_height, cfg.noise_sigmas * self.noise)
        return min(high, max(cfg.min_height, cfg.noise_join_sigmas * self.noise)), high

    def detect(
        self, rgb: object, depth: object, exclude: Excluder | None = None
    ) -> list[Detection]:
        """All objects and people in one frame; raises PerceptionInputError on bad input."""
        rgb_ok, depth_ok = check_frame(rgb, depth, self.intr)
        cfg = self.config
        depth_ok = self._level_and_denoise(depth_ok)
        low, high = self._height_gate()
        valid = np.isfinite(depth_ok) & (depth_ok > 0)
        z = np.where(valid, np.float32(self.pose[2, 3]) + depth_ok * self._ray_z, np.float32(-1e3))
        rows, cols = np.nonzero(z > low)
        strong = z[rows, cols] > high
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
        table_value = self._table_value(rgb_ok, z, valid, high)
        occluders = occluder_image(z.shape, rows[set_aside], cols[set_aside])
        self._last_view = (depth_ok, occluders)
        blobs = self._blobs(rgb_ok, depth_ok, points, rows, cols, ~set_aside, strong, table_value)
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
            box = box_of(rows, cols, members)
            person = person_from_points(
                points[members], self._camera_xy, box, points[cut], at_border
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
        self,
        rgb: npt.NDArray[np.uint8],
        z: npt.NDArray[np.float32],
        valid: BoolArray,
        band: float,
    ) -> float:
        """Median brightness of the table: the reference for white, gray and black."""
        step = 4
        sub_z, sub_valid = z[::step, ::step], valid[::step, ::step]
        on_table = sub_valid & (np.abs(sub_z) < band)
        if np.count_nonzero(on_table) < 50:
            return 111.0
        values = rgb[::step, ::step][on_table].max(axis=1)
        return float(np.median(values))

    def _pixel_area(self, points: FloatArray, depth: npt.NDArray[np.float32]) -> FloatArray:
        """Area each pixel covers on a horizontal surface at its point's height:
        depth^3 / (fx fy (camera height above the point))."""
        above = np.maximum(self.pose[2, 3] - points[:, 2], 1e-3)
        area: FloatArray = depth.astype(np.float64) ** 3 / (self.intr.fx * self.intr.fy * above)
        return area

    def _blobs(
        self,
        rgb: npt.NDArray[np.uint8],
        depth: npt.NDArray[np.float32],
        points: FloatArray,
        rows: npt.NDArray[np.intp],
        cols: npt.NDArray[np.intp],
        keep: BoolArray,
        strong: BoolArray,
        table_value: float,
    ) -> list[Blob]:
        """Connected regions of one colour class without depth jumps, each with at least
        min_pixels strong (clearly above the table) pixels."""
        if not np.any(keep):
            return []
        rows, cols, points, strong = rows[keep], cols[keep], points[keep], strong[keep]
        classes, values = pixel_classes(rgb[rows, cols], table_value)
        v0, v1, u0, u1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        label_image = np.full((v1 - v0, u1 - u0), 255, dtype=np.uint8)
        label_image[rows - v0, cols - u0] = classes
        _drop_lone_weak(label_image, rows[~strong] - v0, cols[~strong] - u0)
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
                if np.count_nonzero(strong[members]) < self.config.min_pixels:
                    continue
                color = class_color(cls)
                metres = depth[rows[members], cols[members]]
                pitch = float(np.median(metres)) * pitch_scale
                uv = np.stack([cols[members], rows[members]], axis=1).astype(np.int32)
                area = self._pixel_area(points[members], metres)
                blob = Blob(points[members], values[members], uv, area, color, pitch)
                blob.camera_xy, blob.table_value = self._camera_xy, table_value
                blobs.append(blob)
        return blobs


def _denoised(depth: npt.NDArray[np.float32], noise: float) -> npt.NDArray[np.float32]:
    """Noisy depth (0 where unknown) filtered: a median drops specks and fills pinholes,
    then a bilateral filter averages neighbours within a few noise stds of each other,
    so steps (a tray's 6 mm rim, an object's outline) stay sharp."""
    median = cv2.medianBlur(depth, MEDIAN_KERNEL)
    out = cv2.bilateralFilter(
        median, BILATERAL_DIAMETER, BILATERAL_RANGE_SIGMAS * noise, BILATERAL_SPACE_PX
    )
    return np.asarray(out, dtype=np.float32)


def _drop_lone_weak(
    label_image: npt.NDArray[np.uint8], rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]
) -> None:
    """Unlabel weak pixels (only just above the table) with few labelled neighbours:
    specks of a noisy table, which would cling to an object and stretch its outline."""
    if len(rows) == 0:
        return
    labelled = (label_image != 255).astype(np.uint8)
    neighbours = cv2.boxFilter(labelled, cv2.CV_16U, (3, 3), normalize=False)
    lone = neighbours[rows, cols] < WEAK_MIN_NEIGHBOURS
    label_image[rows[lone], cols[lone]] = 255


def _at_border(rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], intr: Intrinsics) -> bool:
    """Whether pixels reach the image border (something partly out of view)."""
    edge = 2
    return bool(
        rows.min() < edge
        or cols.min() < edge
        or rows.max() >= intr.height - edge
        or cols.max() >= intr.width - edge
    )
