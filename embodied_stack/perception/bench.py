"""`embodied-stack bench perception --json OUT`: accuracy and speed on rendered scenes.

Every scene of the public task and red-team suites is rendered by the simulator
(rendering is not timed), then detected on one core; detections are scored
against ground truth (evaluate.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from embodied_stack.camera import CameraConfig, Intrinsics, world_from_optical
from embodied_stack.perception.detector import Detector
from embodied_stack.perception.evaluate import Match, false_positives, match_scene
from embodied_stack.scene import load_suite

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DEFAULT_SUITES = [SHARED / "tasks" / "public.yaml", SHARED / "redteam" / "public.yaml"]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="embodied-stack bench perception")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--suite", type=Path, action="append", help="suite files (repeatable)")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per scene")
    return parser.parse_args(argv)


def run(suites: list[Path], repeat: int) -> dict[str, object]:
    from embodied_stack.sim.world import SimWorld  # the simulator renders; only here

    cv2.setNumThreads(1)
    cam = CameraConfig()
    detector = Detector(Intrinsics.from_config(cam), world_from_optical(cam.position, cam.target))
    times: list[float] = []
    matches: list[Match] = []
    extra = 0
    detected = 0
    scenes = 0
    for path in suites:
        for scene in load_suite(path).scenes.values():
            with SimWorld(scene=scene, camera=cam) as world:
                rgb, depth = world.render()
                truth = world.ground_truth()
            for _ in range(repeat):
                start = time.perf_counter()
                detections = detector.detect(rgb, depth)
                times.append(time.perf_counter() - start)
            found = match_scene(scene, truth, detections)
            matches += found
            extra += len(false_positives(found, detections))
            detected += len(detections)
            scenes += 1
    pos = [m.pos_err * 1000 for m in matches if m.detection is not None]
    yaw = [float(np.degrees(m.yaw_err)) for m in matches if m.yaw_err is not None]
    hits = len(pos)
    return {
        "scenes": scenes,
        "objects": len(matches),
        "fps_640x480": 1.0 / statistics.median(times),
        "median_pos_err_mm": statistics.median(pos) if pos else None,
        "p95_pos_err_mm": float(np.percentile(pos, 95)) if pos else None,
        "max_pos_err_mm": max(pos) if pos else None,
        "median_yaw_err_deg": statistics.median(yaw) if yaw else None,
        "recall": hits / max(len(matches), 1),
        "precision": (detected - extra) / max(detected, 1),
        "missed": [m.object_id for m in matches if m.detection is None],
        "false_positives": extra,
    }


def main(argv: list[str]) -> int:
    args = _parse(argv)
    figures = run(args.suite or DEFAULT_SUITES, args.repeat)
    for key, value in figures.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
