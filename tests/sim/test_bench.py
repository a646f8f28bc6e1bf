"""`embodied-stack bench sim`: a smoke run (tiny duration) prints and writes every
figure; the physics figure refuses to stand on a rejected trajectory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied_stack import cli
from embodied_stack.motion_types import JointTrajectoryCommand, TrajectoryPoint
from embodied_stack.sim import bench
from embodied_stack.sim.world import SimWorld

FIGURES = {"physics_steps_per_s", "rtf_physics", "camera_fps_320x240", "camera_fps_640x480"}


def test_bench_sim_prints_and_writes_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results" / "sim.json"
    assert cli.main(["bench", "sim", "--seconds", "0.05", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data.pop("bench") == "sim"
    assert set(data) == FIGURES
    assert all(isinstance(v, float) and v > 0 for v in data.values()), data
    assert data["rtf_physics"] == pytest.approx(data["physics_steps_per_s"] / 240.0, rel=0.01)
    printed = capsys.readouterr().out
    assert all(name in printed for name in FIGURES)
    assert "(target >= 20)" in printed and "(target >= 15)" in printed


def test_a_rejected_swing_fails_the_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    def too_fast(world: SimWorld) -> JointTrajectoryCommand:
        far = tuple(v + 1.0 for v in world.robot.home)
        return JointTrajectoryCommand(tuple(world.robot.joints), (TrajectoryPoint(far, 0.01),))

    monkeypatch.setattr(bench, "_swing", too_fast)
    with pytest.raises(RuntimeError, match=r"swing trajectory was rejected: .*velocity limit"):
        bench.run(seconds=0.05)
