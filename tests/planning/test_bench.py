"""`embodied-stack bench planner` runs and writes its figures (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from embodied_stack.cli import main as cli
from tests.conftest import TASKS_PUBLIC


def test_bench_planner_writes_figures(tmp_path: Path) -> None:
    out = tmp_path / "planner.json"
    args = ["bench", "planner", "--json", str(out), "--repeat", "1", "--suite", str(TASKS_PUBLIC)]
    assert cli(args) == 0
    figures = json.loads(out.read_text())
    for key in ("offline_p50_ms", "offline_p99_ms", "llm_overhead_p99_ms"):
        assert figures[key] >= 0
    assert figures["samples_offline"] == figures["instructions"]
