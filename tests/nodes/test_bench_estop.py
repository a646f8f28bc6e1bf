"""bench estop: the serial box process on a real pty, and one small run of the whole bench
(kill switch, sim and motion as separate processes). No wall-time thresholds."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import serial

from embodied_stack.hardware.serial_estop import parse_line
from embodied_stack.nodes.bench_estop import percentile_ms
from embodied_stack.nodes.serial_device import EstopBox

TIMED_KEYS = (
    "press_to_hold_p50_ms",
    "press_to_hold_p99_ms",
    "press_to_hold_max_ms",
    "heartbeat_loss_to_hold_p50_ms",
    "heartbeat_loss_to_hold_p99_ms",
    "heartbeat_loss_to_hold_max_ms",
)


def test_percentiles_in_ms() -> None:
    assert percentile_ms([0.001, 0.002, 0.003], 50) == 2.0
    assert math.isnan(percentile_ms([], 99))


def test_box_process_writes_a_press_after_the_returned_time() -> None:
    box = EstopBox()
    try:
        with serial.Serial(box.port, 115200, timeout=0.5) as port:
            port.reset_input_buffer()
            written = box.set(True)
            states = []
            for _ in range(20):
                parsed = parse_line(port.readline())
                if parsed is not None:
                    states.append(parsed[1])
                if True in states:
                    break
            assert True in states
            assert written <= time.monotonic()
            box.set(False)
    finally:
        box.close()


def test_small_bench_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "estop.json"
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(101 + os.getpid() % 100)  # not the in-process tests' domain
    argv = ["bench", "estop", "--presses", "20", "--losses", "3", "--soak", "2"]
    argv += ["--load", "motion", "--json", str(out)]
    run = subprocess.run(
        [sys.executable, "-m", "embodied_stack.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "press -> hold" in run.stdout
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["samples"] == 20
    assert figures["heartbeat_loss_samples"] == 3
    for key in TIMED_KEYS:
        assert math.isfinite(figures[key]) and figures[key] > 0, key
    assert figures["press_to_hold_p50_ms"] <= figures["press_to_hold_p99_ms"]
    assert figures["press_to_hold_p99_ms"] <= figures["press_to_hold_max_ms"]
    assert figures["heartbeat_timeout_ms"] == 100.0
    assert figures["soak_s"] == 2.0 and figures["load"] == "motion"
    assert isinstance(figures["false_trips"], int) and figures["false_trips"] >= 0
    assert figures["targets"]["heartbeat_loss_to_hold_p99_ms"] == 120.0
