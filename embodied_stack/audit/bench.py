"""`embodied-stack bench audit [--json OUT] [--dir DIR]`: audit log throughput and latency.

Writer only (AuditLog in this process: no DDS, no audit_node):
append_p50_ms / append_p99_ms: one durable (fdatasync'd) append.
events_per_s: sustained durable group commits of --batch events (as audit_node writes).
verify_events_per_s: `audit verify` over the whole log written here.

End to end (`embodied_stack.nodes.bench_audit`, needs rclpy; --end-to-end 0 skips it):
ack_p50_ms / ack_p99_ms: AuditClient.emit_durable -> DDS -> audit_node -> fdatasync ->
ack, one at a time (what motion_node waits for before a plan moves).
events_per_s_end_to_end: events from an AuditClient through DDS into audit_node and
onto disk.

Targets: append_p99_ms <= 5, verify_events_per_s >= 50000.
"""

from __future__ import annotations

import argparse
import importlib
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
END_TO_END_MODULE = "embodied_stack.nodes.bench_audit"
FIGURES = {  # printed, in this order, with what each one measures
    "append_p50_ms": "writer only: one fdatasync'd AuditLog.append",
    "append_p99_ms": "writer only",
    "events_per_s": "writer only: AuditLog.append_batch group commits, no DDS",
    "verify_events_per_s": "audit verify",
    "ack_p50_ms": "end to end: emit_durable -> DDS -> audit_node -> disk -> ack",
    "ack_p99_ms": "end to end",
    "events_per_s_end_to_end": "AuditClient -> DDS -> audit_node -> disk",
}


def _payload(i: int) -> dict[str, Any]:
    return {"plan_id": f"p{i:08d}", "step": i % 7, "skill": "pick", "object": "red_cube_1"}


def batches(events: int, batch: int) -> list[range]:
    """Event indices 0 .. events-1 in group commits of at most `batch`."""
    return [range(first, min(first + batch, events)) for first in range(0, events, batch)]


def measure(log_dir: Path, *, appends: int, events: int, batch: int) -> dict[str, Any]:
    """The writer-only figures (AuditLog in this process)."""
    emitter = AuditEmitter(source="bench", robot_id="bench-robot")
    log = AuditLog(log_dir, robot_id="bench-robot")
    latencies = []
    for i in range(appends):
        event = emitter.make("motion_start", "bench", _payload(i))
        start = time.perf_counter()
        log.append(event)
        latencies.append((time.perf_counter() - start) * 1000.0)
    start = time.perf_counter()
    for indices in batches(events, batch):
        log.append_batch([emitter.make("plan", "bench", _payload(i)) for i in indices])
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
        "events_per_s_scope": "writer only (AuditLog.append_batch; no DDS, no audit_node)",
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


def measure_end_to_end(log_dir: Path, *, events: int, acks: int) -> dict[str, Any]:
    """The end-to-end figures, or why there are none (no rclpy here)."""
    try:
        module = importlib.import_module(END_TO_END_MODULE)
    except ImportError as exc:
        return {"end_to_end_skipped": f"no ROS 2 here: {exc}"}
    figures: dict[str, Any] = module.measure_end_to_end(
        log_dir, events=events, acks=acks, payload=_payload
    )
    return figures


def _at_least(low: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack bench audit")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--dir", type=Path, help="log directory on the disk to measure")
    add = parser.add_argument
    add("--appends", type=_at_least(2), default=2000, help="single durable appends")
    add("--events", type=_at_least(1), default=100_000, help="group-committed events")
    add("--batch", type=_at_least(1), default=256, help="events per group commit")
    add("--end-to-end", type=_at_least(0), default=20_000, help="events via audit_node (0: skip)")
    add("--acks", type=_at_least(2), default=200, help="durable round trips via audit_node")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-audit-") as tmp:
        figures = measure(Path(tmp), appends=args.appends, events=args.events, batch=args.batch)
    if args.end_to_end:
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-audit-e2e-") as tmp:
            figures.update(measure_end_to_end(Path(tmp), events=args.end_to_end, acks=args.acks))
    for key, scope in FIGURES.items():
        if key in figures:
            print(f"{key:>24}: {figures[key]:<12} ({scope})")
    if "end_to_end_skipped" in figures:
        print(f"{'end to end':>24}: skipped, {figures['end_to_end_skipped']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
