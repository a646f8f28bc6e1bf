"""Detections over time to objects with stable ids (`schemas.PerceivedObject`).

An object keeps its id while it is moved or carried: a detection is matched to
the nearest track of the same kind and colour, and a detection no track claims
is first offered to a track of its kind that went unseen (the same object,
moved while hidden) before a new id is minted. A track not seen keeps its last
estimate, marked stale; the object in the gripper follows the TCP, "held".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from embodied_stack.perception.detection import Detection
from embodied_stack.scene import GRASPABLE, ObjectKind
from embodied_stack.schemas import PerceivedObject

Vec3 = tuple[float, float, float]
STAMP_JUMP_BACK_S = 1.0  # the clock going back further than this: a new scene


class TrackerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stale_after_s: float = Field(default=0.5, ge=0)  # unseen this long: stale
    forget_after_s: float = Field(default=60.0, gt=0)  # unseen this long: dropped
    match_distance: float = Field(default=0.10, gt=0)  # m, same object between frames
    still_distance: float = Field(default=0.004, gt=0)  # m, closer: average out noise
    grasp_radius: float = Field(default=0.05, gt=0)  # m, TCP to the centre of a held object


@dataclass
class _Track:
    obj: PerceivedObject
    last_seen: float
    held_offset: Vec3 | None = None
    absent_since: float | None = None  # its place in plain view, empty, since then


@dataclass(frozen=True)
class GripperState:
    tcp: Vec3  # TCP position in the world
    grasping: bool  # fingers closed on something


def _distance(a: Vec3, b: Vec3) -> float:
    return math.dist(a, b)


class ObjectTracker:
    """Stable ids, staleness and the held object over a stream of detections."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: dict[str, _Track] = {}
        self._minted: dict[str, int] = {}
        self._gripper: GripperState | None = None
        self._last_stamp = -math.inf

    # ---- gripper --------------------------------------------------------------------

    def set_gripper(self, tcp: Vec3, grasping: bool) -> None:
        """Tell where the TCP is and whether the fingers hold something.

        On a new grasp the graspable track nearest the TCP (within grasp_radius)
        becomes held and then follows the TCP; on release it is let go where it is.
        """
        self._gripper = GripperState(tcp, grasping)
        held = self.held_id()
        if not grasping:
            if held is not None:
                track = self._tracks[held]
                track.held_offset = None
                track.obj = track.obj.model_copy(update={"support": "unknown"})
            return
        if held is None:
            held = self._nearest_graspable(tcp)
            if held is None:
                return
            track = self._tracks[held]
            offset = tuple(p - t for p, t in zip(track.obj.position, tcp, strict=True))
            track.held_offset = (offset[0], offset[1], offset[2])
        self._follow_tcp(self._tracks[held], tcp)

    def held_id(self) -> str | None:
        for track_id, track in self._tracks.items():
            if track.held_offset is not None:
                return track_id
        return None

    def _nearest_graspable(self, tcp: Vec3) -> str | None:
        best: tuple[float, str] | None = None
        for track_id, track in self._tracks.items():
            if track.obj.kind not in GRASPABLE:
                continue
            d = _distance(track.obj.position, tcp)
            if d <= self.config.grasp_radius and (best is None or d < best[0]):
                best = (d, track_id)
        return None if best is None else best[1]

    def _follow_tcp(self, track: _Track, tcp: Vec3) -> None:
        assert track.held_offset is not None
        pos = tuple(t + o for t, o in zip(tcp, track.held_offset, strict=True))
        track.obj = track.obj.model_copy(
            update={"position": pos, "support": "held", "inside": False, "stale": False}
        )

    # ---- frames ---------------------------------------------------------------------

    def update(
        self,
        detections: list[Detection],
        stamp: float,
        seen_empty: Callable[[PerceivedObject], bool] | None = None,
    ) -> list[PerceivedObject]:
        """Fold one frame's detections in; returns every known object.

        A partly hidden detection (occluded) near a known object of its colour
        is that object glimpsed: its last full estimate stands (and goes stale)
        rather than a truncated one. Whatever sits in the gripper is the held
        object. seen_empty(obj) tells that the camera sees clearly where an unseen
        object should be: it is gone, and dropped after stale_after_s (a hidden
        object is kept, stale, until forget_after_s).
        """
        if stamp < self._last_stamp - STAMP_JUMP_BACK_S:
            self.reset()  # the clock restarted: a new scene
        self._last_stamp = stamp
        glimpsed = [self._glimpse_of(d) for d in detections]
        clear = [i for i, owner in enumerate(glimpsed) if owner is None]
        clear_ids = iter(self._associate([detections[i] for i in clear]))
        ids = [owner if owner is not None else next(clear_ids) for owner in glimpsed]
        for i in clear:
            self._observe(ids[i], detections[i], ids, stamp)
        self._age(stamp, {ids[i] for i in clear}, seen_empty)
        return self.objects()

    def reset(self) -> None:
        """Forget everything (a new scene)."""
        self._tracks.clear()
        self._minted.clear()
        self._last_stamp = -math.inf

    def _glimpse_of(self, det: Detection) -> str | None:
        """The known object a partial view belongs to (the held one when the view is
        cut by the gripper, else one of its colour nearby); None for a clear view.

        Only a partial view of the held object's colour is the held object: a clear
        view is matched by kind like any other (the cube beside it, the tray below
        it keep their own ids)."""
        if not det.occluded or det.kind is ObjectKind.HUMAN:
            return None  # a person is placed from the faces seen: never a mere glimpse
        held = self.held_id()
        if held is not None and self._held_glimpse(self._tracks[held].obj, det):
            return held
        near = [
            (_distance(track.obj.position, det.position), track_id)
            for track_id, track in self._tracks.items()
            if track.obj.color == det.color
        ]
        best = min(near, default=None)
        return best[1] if best is not None and best[0] <= self.config.match_distance else None

    def _held_glimpse(self, held: PerceivedObject, det: Detection) -> bool:
        return (
            det.color == held.color
            and det.kind in GRASPABLE
            and _distance(held.position, det.position) < self.config.grasp_radius
        )

    def objects(self) -> list[PerceivedObject]:
        return [self._tracks[k].obj for k in sorted(self._tracks)]

    def _associate(self, detections: list[Detection]) -> list[str]:
        """A track id for every detection: nearest same-kind track, else an unseen one, else new."""
        pairs: list[tuple[float, int, str]] = []
        for i, det in enumerate(detections):
            for track_id, track in self._tracks.items():
                if _same_class(track.obj, det):
                    pairs.append((_distance(track.obj.position, det.position), i, track_id))
        pairs.sort()
        ids: list[str | None] = [None] * len(detections)
        taken: set[str] = set()
        for dist, i, track_id in pairs:
            if dist <= self.config.match_distance and ids[i] is None and track_id not in taken:
                ids[i], taken = track_id, taken | {track_id}
        for _dist, i, track_id in pairs:  # moved beyond the gate while unseen
            free = ids[i] is None and track_id not in taken
            if free and self._tracks[track_id].held_offset is None:
                ids[i], taken = track_id, taken | {track_id}
        order = sorted(range(len(detections)), key=lambda k: detections[k].position[:2])
        for i in order:
            if ids[i] is None:
                ids[i] = self._mint(detections[i])
        return [track_id for track_id in ids if track_id is not None]

    def _mint(self, det: Detection) -> str:
        prefix = f"{det.color.value}_{det.kind.value}" if det.color else det.kind.value
        self._minted[prefix] = self._minted.get(prefix, 0) + 1
        return f"{prefix}_{self._minted[prefix]}"

    def _observe(self, track_id: str, det: Detection, ids: list[str], stamp: float) -> None:
        track = self._tracks.get(track_id)
        if track is not None and track.held_offset is not None:
            track.last_seen = stamp
            return  # the gripper says where it is; the arm hides most of it
        position = det.position
        if (
            track is not None
            and _distance(track.obj.position, position) < self.config.still_distance
        ):
            position = _mean(track.obj.position, position)
        support = det.support
        if det.support_index is not None:
            support = ids[det.support_index]
        obj = PerceivedObject(
            id=track_id,
            kind=det.kind,
            color=det.color,
            position=position,
            yaw=det.yaw,
            size=det.size,
            support=support,
            inside=det.inside,
            confidence=det.confidence,
            stale=False,
            stamp=stamp,
        )
        self._tracks[track_id] = _Track(obj, stamp)

    def _age(
        self,
        stamp: float,
        seen: set[str],
        seen_empty: Callable[[PerceivedObject], bool] | None,
    ) -> None:
        for track_id in list(self._tracks):
            track = self._tracks[track_id]
            if track_id in seen or track.held_offset is not None:
                track.absent_since = None
                continue
            if seen_empty is not None and seen_empty(track.obj):
                track.absent_since = stamp if track.absent_since is None else track.absent_since
            else:
                track.absent_since = None
            gone = track.absent_since is not None and (
                stamp - track.absent_since >= self.config.stale_after_s
            )
            if gone or stamp - track.last_seen > self.config.forget_after_s:
                del self._tracks[track_id]
            elif stamp - track.last_seen > self.config.stale_after_s:
                track.obj = track.obj.model_copy(update={"stale": True})


def _same_class(obj: PerceivedObject, det: Detection) -> bool:
    return obj.kind is det.kind and obj.color == det.color


def _mean(a: Vec3, b: Vec3) -> Vec3:
    m = (np.array(a) + np.array(b)) / 2
    return (float(m[0]), float(m[1]), float(m[2]))
