"""`embodied-stack bench ik` and `bench motion`: smoke runs print and write every figure
(the figures themselves are the benchmarks' to report, never asserted here)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from embodied_stack import cli

IK_FIGURES = {"success_rate", "median_ms", "p99_ms", "max_pos_err_mm", "max_rot_err_deg"}
IK_FIGURES |= {"limit_violations"}
IK_KEYS = IK_FIGURES | {f"pybullet_{k}" for k in IK_FIGURES}
MOTION_KEYS = {
    "cycle_sim_s",
    "cycle_wall_s",
    "max_tracking_err_mm",
    "max_tcp_speed_mps",
    "tcp_speed_limit_mps",
    "outcome",
    "error",
}


def test_bench_ik_writes_all_twelve_figures_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ik.json"
    assert cli.main(["bench", "ik", "--samples", "20", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    figures = {k: v for k, v in data.items() if k not in ("samples", "robot", "settings")}
    assert set(figures) == IK_KEYS and len(figures) == 12
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in figures.values())
    assert 0.0 <= data["success_rate"] <= 1.0 and 0.0 <= data["pybullet_success_rate"] <= 1.0
    assert isinstance(data["limit_violations"], int)
    assert data["samples"] == 20 and data["robot"] == "panda"
    assert {"ours", "pybullet", "success"} <= set(data["settings"])
    printed = capsys.readouterr().out
    assert all(key in printed for key in IK_KEYS)


def test_bench_motion_writes_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "motion.json"
    code = cli.main(["bench", "motion", "--json", str(out)])
    data = json.loads(out.read_text())
    assert set(data) == MOTION_KEYS
    assert code == (0 if data["outcome"] == "done" else 1)
    assert data["outcome"] == "done", data["error"]
    numbers = [data[k] for k in MOTION_KEYS - {"outcome", "error"}]
    assert all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in numbers)
    printed = capsys.readouterr().out
    assert all(key in printed for key in MOTION_KEYS)
