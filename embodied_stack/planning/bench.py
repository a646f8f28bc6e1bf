"""`embodied-stack bench planner --json OUT`: planner latency.

- offline_p50_ms / offline_p99_ms: instruction to validated, tiered plan with the
  offline planner, over the instructions of a task suite (default: the public one),
  scenes given as perception would report them.
- llm_overhead_p99_ms: the same through the LLM backend against the loopback
  scripted endpoint, minus the time the endpoint itself spent answering: the
  planner's own cost (prompt, HTTP client, parsing, validation, tiering).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embodied_stack.audit.registry import Registry, load_registry
from embodied_stack.planning.lexer import warm_up
from embodied_stack.planning.llm import LlmBackend, LlmConfig
from embodied_stack.planning.offline import OfflineBackend
from embodied_stack.planning.planner import plan_instruction, with_model
from embodied_stack.planning.scene_objects import perceived_objects
from embodied_stack.planning.scripted_endpoint import ScriptedEndpoint
from embodied_stack.safety.redlines import RedLines, load_redlines
from embodied_stack.scene import Scene, load_suite
from embodied_stack.schemas import PerceivedObject, PlanStatus

DEFAULT_SUITE = Path(__file__).resolve().parents[2].parent / "shared" / "tasks" / "public.yaml"

Case = tuple[str, list[PerceivedObject], Scene]


def percentile(samples: Sequence[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Samples:
    """Per plan: wall-clock ms, and ms of CPU time of the planning thread (what the
    planner itself costs, whatever else the machine is doing)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def bench_offline(
    cases: list[Case], registry: Registry, redlines: RedLines, repeat: int
) -> Samples:
    backend = OfflineBackend()
    samples = Samples()
    for _ in range(repeat):
        for text, objects, scene in cases:
            wall, cpu = time.perf_counter(), time.thread_time()
            plan_instruction(
                text,
                objects,
                backend=backend,
                registry=registry,
                redlines=redlines.with_scene(scene),
            )
            samples.cpu.append((time.thread_time() - cpu) * 1000.0)
            samples.wall.append((time.perf_counter() - wall) * 1000.0)
    return samples


def bench_llm(cases: list[Case], registry: Registry, redlines: RedLines, repeat: int) -> Samples:
    """Everything but the model's own time (the endpoint's handler), over the cases the
    offline planner can plan; the endpoint runs in another thread, so its CPU is not ours."""
    replies = _scripted_replies(cases, registry, redlines)
    samples = Samples()
    with ScriptedEndpoint() as endpoint:
        backend = LlmBackend(LlmConfig(base_url=endpoint.url, model=endpoint.model, max_retries=0))
        allowed = with_model(registry, endpoint.model, endpoint.url)
        for rep in range(repeat + 1):  # the first pass warms the connection and client
            for (text, objects, scene), reply in zip(cases, replies, strict=True):
                if reply is None:
                    continue
                endpoint.replies = [reply]
                served = len(endpoint.handler_ms)
                wall, cpu = time.perf_counter(), time.thread_time()
                plan = plan_instruction(
                    text,
                    objects,
                    backend=backend,
                    registry=allowed,
                    redlines=redlines.with_scene(scene),
                )
                cpu_ms = (time.thread_time() - cpu) * 1000.0
                wall_ms = (time.perf_counter() - wall) * 1000.0
                if plan.status is not PlanStatus.PROPOSED:
                    raise RuntimeError(f"bench plan refused: {plan.reason}")
                if rep:
                    samples.wall.append(wall_ms - sum(endpoint.handler_ms[served:]))
                    samples.cpu.append(cpu_ms)
        backend.close()
    return samples


def _scripted_replies(
    cases: list[Case], registry: Registry, redlines: RedLines
) -> list[dict[str, Any] | None]:
    """What a good model would answer: the offline planner's plan as a submit_plan call."""
    replies: list[dict[str, Any] | None] = []
    for text, objects, scene in cases:
        plan = plan_instruction(
            text,
            objects,
            backend=OfflineBackend(),
            registry=registry,
            redlines=redlines.with_scene(scene),
        )
        if plan.status is not PlanStatus.PROPOSED:
            replies.append(None)
            continue
        arguments = {"steps": [s.model_dump(mode="json") for s in plan.steps], "rationale": "ok"}
        call = {"function": {"name": "submit_plan", "arguments": json.dumps(arguments)}}
        replies.append({"content": "", "tool_calls": [call]})
    return replies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="embodied-stack bench planner", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE, help="task suite YAML")
    parser.add_argument("--repeat", type=int, default=30, help="passes over the suite")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite)
    cases = [
        (t.instruction, perceived_objects(suite.scenes[t.scene]), suite.scenes[t.scene])
        for t in suite.tasks
    ]
    registry, redlines = load_registry(), load_redlines()
    warm_up()
    bench_offline(cases, registry, redlines, 1)  # imports, caches
    gc.collect()
    offline = bench_offline(cases, registry, redlines, args.repeat)
    llm = bench_llm(cases, registry, redlines, args.repeat)
    figures = {
        "suite": str(args.suite),
        "instructions": len(cases),
        "samples_offline": len(offline.wall),
        "samples_llm": len(llm.wall),
        "offline_p50_ms": round(percentile(offline.wall, 50), 3),
        "offline_p99_ms": round(percentile(offline.wall, 99), 3),
        "offline_cpu_p99_ms": round(percentile(offline.cpu, 99), 3),
        "llm_overhead_p50_ms": round(percentile(llm.wall, 50), 3),
        "llm_overhead_p99_ms": round(percentile(llm.wall, 99), 3),
        "llm_overhead_cpu_p99_ms": round(percentile(llm.cpu, 99), 3),
        "targets": {"offline_p99_ms": 20.0, "llm_overhead_p99_ms": 10.0},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0
