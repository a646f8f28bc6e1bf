"""`embodied-stack bench perception --json OUT`: accuracy and speed on rendered scenes.

Every scene of the public task and red-team suites is rendered by the simulator
(rendering is not timed), then detected on one core (every thread of the process
pinned to one CPU, OpenCV single-threaded); detections are scored against ground
truth (evaluate.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from embodied_stack.camera import CameraConfig, Intrinsics, world_from_optical
from embodied_stack.perception.detector import Detector
from embodied_stack.perception.evaluate import Match, false_positives, match_scene
from embodied_stack.perception.perturb import PERTURBATIONS, Depth, Rgb
from embodied_stack.scene import Scene, load_suite
from embodied_stack.schemas import GroundTruth

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DEFAULT_SUITES = [SHARED / "tasks" / "public.yaml", SHARED / "redteam" / "public.yaml"]


def _threads() -> list[int]:
    """Ids of this process's threads (numpy's BLAS pool included); [0] without /proc."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


@contextlib.contextmanager
def one_core() -> Iterator[str]:
    """Every thread of the process on one CPU, OpenCV single-threaded; restored after.

    Yields what was pinned (for the figures): "cpu N", or why nothing could be.
    """
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    if not hasattr(os, "sched_setaffinity"):
        try:
            yield "not pinned: no sched_setaffinity here (OpenCV single-threaded only)"
        finally:
            cv2.setNumThreads(threads)
        return
    cpu = min(os.sched_getaffinity(0))
    before: dict[int, set[int]] = {}
    for tid in _threads():
        with contextlib.suppress(OSError):  # a thread may end meanwhile
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, {cpu})
    try:
        yield f"cpu {cpu}"
    finally:
        for tid, cpus in before.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cpus)
        cv2.setNumThreads(threads)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="embodied-stack bench perception")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--suite", type=Path, action="append", help="suite files (repeatable)")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per scene")
    parser.add_argument(
        "--perturb", action="store_true", help="also score brightness/noise/hole variants"
    )
    return parser.parse_args(argv)


def _render_all(
    suites: list[Path], cam: CameraConfig
) -> list[tuple[Scene, Rgb, Depth, GroundTruth]]:
    from embodied_stack.sim.world import SimWorld  # the simulator renders; only here

    frames = []
    for path in suites:
        for scene in load_suite(path).scenes.values():
            with SimWorld(scene=scene, camera=cam) as world:
                rgb, depth = world.render()
                frames.append((scene, rgb, depth, world.ground_truth()))
    return frames


def _score(matches: list[Match], detected: int, extra: int) -> dict[str, object]:
    pos = [m.pos_err * 1000 for m in matches if m.detection is not None]
    yaw = [float(np.degrees(m.yaw_err)) for m in matches if m.yaw_err is not None]
    return {
        "median_pos_err_mm": statistics.median(pos) if pos else None,
        "p95_pos_err_mm": float(np.percentile(pos, 95)) if pos else None,
        "max_pos_err_mm": max(pos) if pos else None,
        "median_yaw_err_deg": statistics.median(yaw) if yaw else None,
        "recall": len(pos) / max(len(matches), 1),
        "precision": (detected - extra) / max(detected, 1),
        "missed": [m.object_id for m in matches if m.detection is None],
    }


def _evaluate(
    detector: Detector, frames: list[tuple[Scene, Rgb, Depth, GroundTruth]], repeat: int
) -> tuple[dict[str, object], list[float]]:
    times: list[float] = []
    matches: list[Match] = []
    detected = extra = 0
    for scene, rgb, depth, truth in frames:
        for _ in range(repeat):
            start = time.perf_counter()
            detections = detector.detect(rgb, depth)
            times.append(time.perf_counter() - start)
        found = match_scene(scene, truth, detections)
        matches += found
        extra += len(false_positives(found, detections))
        detected += len(detections)
    return _score(matches, detected, extra), times


def run(suites: list[Path], repeat: int, perturb: bool = False) -> dict[str, object]:
    cam = CameraConfig()
    detector = Detector(Intrinsics.from_config(cam), world_from_optical(cam.position, cam.target))
    frames = _render_all(suites, cam)
    with one_core() as pinned:
        figures, times = _evaluate(detector, frames, repeat)
    out: dict[str, object] = {
        "scenes": len(frames),
        "objects": sum(len(scene.objects) for scene, *_ in frames),
        "fps_640x480": 1.0 / statistics.median(times),
        "one_core": pinned,
        **figures,
    }
    if perturb:
        rng = np.random.default_rng(0)
        for name, apply in PERTURBATIONS.items():
            varied = [(s, *apply(rgb, depth, rng), t) for s, rgb, depth, t in frames]
            out[name] = _evaluate(detector, varied, 1)[0]
    return out


def main(argv: list[str]) -> int:
    args = _parse(argv)
    figures = run(args.suite or DEFAULT_SUITES, args.repeat, args.perturb)
    for key, value in figures.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
