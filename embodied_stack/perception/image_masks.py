"""Pixel masks of the detector: depth edges, occluders, and regions grown from seeds."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from embodied_stack.perception.detection import Detection
from embodied_stack.perception.footprint import FloatArray

BoolArray = npt.NDArray[np.bool_]
OCCLUSION_RING = 2  # px around a blob searched for occluders
OCCLUSION_MIN_PIXELS = 3


def occluder_image(
    shape: tuple[int, ...], rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]
) -> npt.NDArray[np.uint8]:
    """What can hide an object: the arm, people (set-aside pixels) and the image border."""
    image = np.zeros(shape, dtype=np.uint8)
    image[rows, cols] = 1
    image[[0, -1], :] = 1
    image[:, [0, -1]] = 1
    return image


def touches(uv: npt.NDArray[np.int32], occluders: npt.NDArray[np.uint8]) -> bool:
    """Whether occluder pixels lie within OCCLUSION_RING pixels of the blob."""
    ring = OCCLUSION_RING
    u0, v0 = max(int(uv[:, 0].min()) - ring, 0), max(int(uv[:, 1].min()) - ring, 0)
    u1 = min(int(uv[:, 0].max()) + ring + 1, occluders.shape[1])
    v1 = min(int(uv[:, 1].max()) + ring + 1, occluders.shape[0])
    mask = np.zeros((v1 - v0, u1 - u0), dtype=np.uint8)
    mask[uv[:, 1] - v0, uv[:, 0] - u0] = 1
    grown = cv2.dilate(mask, np.ones((2 * ring + 1, 2 * ring + 1), np.uint8))
    near = (grown > 0) & (mask == 0) & (occluders[v0:v1, u0:u1] > 0)
    return int(np.count_nonzero(near)) >= OCCLUSION_MIN_PIXELS


def ring_members(
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    members: npt.NDArray[np.intp],
    candidates: BoolArray,
    shape: tuple[int, ...],
) -> npt.NDArray[np.intp]:
    """Indices of candidate points whose pixels border the members' pixels."""
    ring = OCCLUSION_RING
    r, c = rows[members], cols[members]
    v0, u0 = max(int(r.min()) - ring, 0), max(int(c.min()) - ring, 0)
    v1, u1 = min(int(r.max()) + ring + 1, shape[0]), min(int(c.max()) + ring + 1, shape[1])
    mask = np.zeros((v1 - v0, u1 - u0), dtype=np.uint8)
    mask[r - v0, c - u0] = 1
    grown = cv2.dilate(mask, np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)) > 0
    inside = (rows >= v0) & (rows < v1) & (cols >= u0) & (cols < u1) & candidates
    index = np.flatnonzero(inside)
    near = grown[rows[index] - v0, cols[index] - u0] & (
        mask[rows[index] - v0, cols[index] - u0] == 0
    )
    out: npt.NDArray[np.intp] = index[near]
    return out


def far_side_of_jumps(depth: npt.NDArray[np.float32], jump: float) -> BoolArray:
    """Pixels just behind a depth edge (the occluded side), so blobs split there."""
    d = np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(1e3))
    cut = np.zeros(d.shape, dtype=bool)
    dx = d[:, 1:] - d[:, :-1]
    cut[:, 1:] |= dx > jump
    cut[:, :-1] |= dx < -jump
    dy = d[1:, :] - d[:-1, :]
    cut[1:, :] |= dy > jump
    cut[:-1, :] |= dy < -jump
    return cut


def grown(
    seed: BoolArray,
    keep: BoolArray,
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    depth: npt.NDArray[np.float32],
    jump: float,
) -> BoolArray:
    """Points of `keep` joined to `seed` in the image without crossing a depth jump."""
    members = seed | keep
    image = np.zeros(depth.shape, dtype=np.uint8)
    image[rows[members], cols[members]] = 1
    image[far_side_of_jumps(depth, jump)] = 0
    _count, labels = cv2.connectedComponents(image, connectivity=8)
    point_labels = labels[rows, cols]
    seeded = np.unique(point_labels[seed])
    grown: BoolArray = np.isin(point_labels, seeded[seeded > 0]) & keep
    return grown


def box_of(
    rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], members: npt.NDArray[np.intp]
) -> tuple[int, int, int, int]:
    r, c = rows[members], cols[members]
    return int(c.min()), int(r.min()), int(c.max()) + 1, int(r.max()) + 1


def near_person(points: FloatArray, person: Detection, margin: float) -> BoolArray:
    c, s = np.cos(person.yaw), np.sin(person.yaw)
    dx = points[:, 0] - person.position[0]
    dy = points[:, 1] - person.position[1]
    along, across = dx * c + dy * s, -dx * s + dy * c
    inside: BoolArray = (np.abs(along) < person.size[0] / 2 + margin) & (
        np.abs(across) < person.size[1] / 2 + margin
    )
    return inside
