"""`embodied-stack bench audit [--json OUT] [--dir DIR]`: audit log throughput and latency.

append_p50_ms / append_p99_ms: one durable (fdatasync'd) append, as motion waits for.
events_per_s: sustained durable group commits of --batch events (as audit_node writes).
verify_events_per_s: `audit verify` over the whole log written here.
Targets: append_p99_ms <= 5, verify_events_per_s >= 50000.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from embodied_stack.audit.emitter import AuditEmitter
from embodied_stack.audit.log import AuditLog, verify

TARGET_APPEND_P99_MS = 5.0
TARGET_VERIFY_PER_S = 50_000.0


def _payload(i: int) -> dict[str, Any]:
    return {"plan_id": f"p{i:08d}", "step": i % 7, "skill": "pick", "object": "red_cube_1"}


def measure(log_dir: Path, *, appends: int, events: int, batch: int) -> dict[str, Any]:
    emitter = AuditEmitter(source="bench", robot_id="bench-robot")
    log = AuditLog(log_dir, robot_id="bench-robot")
    latencies = []
    for i in range(appends):
        event = emitter.make("motion_start", "bench", _payload(i))
        start = time.perf_counter()
        log.append(event)
        latencies.append((time.perf_counter() - start) * 1000.0)
    start = time.perf_counter()
    for first in range(0, events, batch):
        chunk = [emitter.make("plan", "bench", _payload(i)) for i in range(first, first + batch)]
        log.append_batch(chunk)
    sustained_s = time.perf_counter() - start
    log.close()
    start = time.perf_counter()
    report = verify(log_dir)
    verify_s = time.perf_counter() - start
    if not report.ok:
        raise RuntimeError(f"bench log does not verify: {report.summary()}")
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "append_p50_ms": round(statistics.median(latencies), 4),
        "append_p99_ms": round(quantiles[98], 4),
        "events_per_s": round(events / sustained_s, 1),
        "verify_events_per_s": round(report.records / verify_s, 1),
        "appends": appends,
        "events": events,
        "batch": batch,
        "records_verified": report.records,
        "files": len(report.files),
        "log_dir": str(log_dir),
        "targets": {
            "append_p99_ms": TARGET_APPEND_P99_MS,
            "verify_events_per_s": TARGET_VERIFY_PER_S,
        },
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="embodied-stack bench audit")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--dir", type=Path, help="log directory on the disk to measure")
    parser.add_argument("--appends", type=int, default=2000, help="single durable appends")
    parser.add_argument("--events", type=int, default=100_000, help="group-committed events")
    parser.add_argument("--batch", type=int, default=256, help="events per group commit")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-audit-") as tmp:
        figures = measure(Path(tmp), appends=args.appends, events=args.events, batch=args.batch)
    for key in ("append_p50_ms", "append_p99_ms", "events_per_s", "verify_events_per_s"):
        print(f"{key:>22}: {figures[key]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
