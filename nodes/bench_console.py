"""`embodied-stack bench console --json OUT`: the console as an operator's browser sees it.

Starts the simulated stack (kill switch, audit, simulator, perception) in this
process, console_node in a process of its own (as every launch file runs it;
`--console-in-process` puts it with the rest, as `embodied-stack run` does), and
Debian's chromium through Playwright, logged in as a temporary safety officer, then
measures:

- state_latency_p99_ms: a joint state published on `joint_states` (stamped with the
  wall clock) -> the browser's WebSocket receives it;
- camera_fps: annotated JPEG frames the browser receives per second;
- estop_click_to_hold_p99_ms: pointer-down on the e-stop button -> the simulator
  (the actuator side) is holding.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright
from sensor_msgs.msg import Image, JointState

from embodied_stack.audit.registry_cli import add_operator
from embodied_stack.config import config_path, load_yaml
from embodied_stack.motion_types import JointStateSample
from embodied_stack.nodes import qos
from embodied_stack.nodes.harness import SessionConfig, StackSession
from embodied_stack.nodes.ros_conversions import joint_state_to_ros
from embodied_stack.nodes.sim_node import SIM_CAMERA
from embodied_stack.robot import load_robot
from embodied_stack.scene import load_scene

NODES = ("killswitch_node", "audit_node", "sim_node", "perception_node", "console_node")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
TARGETS = {"state_latency_p99_ms": 100.0, "camera_fps": 10.0, "estop_click_to_hold_p99_ms": 100.0}
OFFICER = "bench_officer"

# Runs in the page: its own WebSocket (the session cookie authenticates it) that
# records joint-state latencies (stamps > 1e9 are ours: wall clock, not sim time).
RECORDER = """() => new Promise((resolve) => {
  const rec = {lat: [], frames: 0, start: null};
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (e) => {
    const now = (performance.timeOrigin + performance.now()) / 1000;
    if (typeof e.data !== 'string') { if (rec.start !== null) rec.frames += 1; return; }
    const m = JSON.parse(e.data);
    if (m.type === 'update' && m.kind === 'joints' && m.data.stamp > 1e9) {
      rec.lat.push((now - m.data.stamp) * 1000);
    }
  };
  window.__bench = rec;
  ws.onopen = () => { rec.start = performance.now(); resolve(true); };
})"""

SEES_THE_STACK = """() => document.querySelectorAll('#joints tr').length > 0
  && document.getElementById('estop-state').textContent === 'E-stop clear'"""
ELAPSED = """(() => { const r = window.__bench;
  r.elapsed = (performance.now() - r.start) / 1000; return r; })()"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack bench console")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--seconds", type=float, default=10.0, help="state/camera window")
    parser.add_argument("--rate", type=float, default=100.0, help="joint states per second")
    parser.add_argument("--trials", type=int, default=20, help="e-stop presses")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument(
        "--console-in-process",
        action="store_true",
        help="console_node in this process with the rest of the stack (default: its own,"
        " as the launch files run it)",
    )
    return parser


def _registry(workdir: Path, password: str) -> Path:
    path = workdir / "operators.yaml"  # the session writes its own registry.yaml
    data = load_yaml(config_path("registry.yaml"))
    data["operators"] = []
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    add_operator(path, OFFICER, "safety_officer", password)
    return path


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _log_in(page: Page, url: str, password: str) -> None:
    page.goto(url + "/login")
    page.fill("#login-name", OFFICER)
    page.fill("#login-password", password)
    page.click("#login-submit")
    try:
        page.wait_for_selector("#who:has-text('bench_officer')", timeout=30_000)
    except PlaywrightError as exc:
        shown = page.locator("#login-error").inner_text() if "/login" in page.url else ""
        raise RuntimeError(f"console login failed: {shown or exc}") from exc


def _state_and_camera(
    session: StackSession, page: Page, seconds: float, rate: float
) -> dict[str, Any]:
    probe = session.probe
    assert probe is not None
    profile = load_robot("panda")
    pub = probe.create_publisher(JointState, "joint_states", qos.STATE)
    annotated: list[float] = []
    sub = probe.create_subscription(
        Image, "perception/annotated", lambda _m: annotated.append(time.monotonic()), qos.SENSOR
    )
    page.evaluate(RECORDER)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        sample = JointStateSample(tuple(profile.joints), tuple(profile.home), stamp=time.time())
        pub.publish(joint_state_to_ros(sample))
        time.sleep(1.0 / rate)
    rec = page.evaluate(ELAPSED)
    probe.destroy_publisher(pub)
    probe.destroy_subscription(sub)
    latencies = [float(x) for x in rec["lat"]]
    return {
        "state_latency_p50_ms": _p(latencies, 0.5),
        "state_latency_p99_ms": _p(latencies, 0.99),
        "state_samples": len(latencies),
        "state_published": int(seconds * rate),
        "camera_fps": rec["frames"] / rec["elapsed"],
        # what perception produced meanwhile: the console can pass on no more than this
        "annotated_topic_fps": len(annotated) / (time.monotonic() - start),
    }


def _estop_trials(session: StackSession, page: Page, password: str, trials: int) -> dict[str, Any]:
    sim = session.sim_node
    delays: list[float] = []
    for _ in range(trials):
        if not _wait(lambda: sim.holding is None, 15.0):
            break
        held: list[float] = []
        watcher = threading.Thread(target=_watch_hold, args=(sim, held), daemon=True)
        watcher.start()
        page.evaluate("""() => { window.__press = null;
            document.getElementById('estop-button').addEventListener('pointerdown',
              () => { window.__press = (performance.timeOrigin + performance.now()) / 1000; },
              {once: true, capture: true}); }""")
        page.click("#estop-button")
        watcher.join(5.0)
        pressed = page.evaluate("window.__press")
        if held and pressed:
            delays.append((held[0] - pressed) * 1000)
        result = page.evaluate(
            """async (password) => { const me = await (await fetch('/api/me')).json();
               const r = await fetch('/api/reset', {method: 'POST', headers: {
                 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
                 body: JSON.stringify({password})}); return r.status; }""",
            password,
        )
        if result != 200:
            _wait(lambda: False, 0.5)
    return {
        "estop_click_to_hold_p50_ms": _p(delays, 0.5),
        "estop_click_to_hold_p99_ms": _p(delays, 0.99),
        "estop_trials": len(delays),
    }


def _watch_hold(sim: Any, held: list[float], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sim.holding is not None:
            held.append(time.time())
            return
        time.sleep(0.0005)


def _wait(cond: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return bool(cond())


@contextlib.contextmanager
def _console_process(registry: str, incidents: Path, domain_id: int) -> Iterator[str]:
    """console_node in a process of its own (as `embodied-stack run --processes` runs it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = {"registry": registry, "port": port, "incident_dir": str(incidents)}
    command = [sys.executable, "-m", "embodied_stack.nodes.console_node", "--ros-args",
               "--params-file", str(config_path("stack.yaml"))]  # fmt: skip
    for key, value in params.items():
        command += ["-p", f"console_node:{key}:={value}"]  # beats the params file
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}  # the session's own domain
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not _wait(lambda: _answers(url), 60.0):
            raise RuntimeError(f"console_node process did not serve {url}")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/setup", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    password = secrets.token_urlsafe(16)
    registry = str(_registry(workdir, password))
    incidents = workdir / "incidents"
    console_process = not args.console_in_process
    nodes = tuple(n for n in NODES if not (console_process and n == "console_node"))
    overrides: dict[str, dict[str, Any]] = {n: {"registry": registry} for n in nodes}
    if not console_process:
        overrides["console_node"].update(port=0, incident_dir=str(incidents))
    overrides["audit_node"]["incident_dir"] = str(incidents)
    # Live, as an operator sees it: real time and the live camera rate (the headless
    # harness's 5 Hz would cap camera_fps).
    overrides["sim_node"].update({"realtime": True, "camera.rate_hz": SIM_CAMERA.rate_hz})
    config = SessionConfig(scene=load_scene(config_path("scenes/default.yaml")), nodes=nodes,
                           overrides=overrides, workdir=workdir)  # fmt: skip
    with contextlib.ExitStack() as stack:
        session = stack.enter_context(StackSession(config))
        playwright = stack.enter_context(sync_playwright())
        error = session.wait_ready(wall_timeout_s=120.0)
        if error:
            raise RuntimeError(error)
        assert session.stack is not None
        if console_process:
            domain = int(session.domain_id)
            url = stack.enter_context(_console_process(registry, incidents, domain))
        else:
            url = session.stack.nodes["console_node"].server.url  # type: ignore[attr-defined]
        browser = playwright.chromium.launch(
            executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        _log_in(page, url, password)
        page.wait_for_function(SEES_THE_STACK, timeout=60_000)  # DDS discovery done
        figures = _state_and_camera(session, page, args.seconds, args.rate)
        figures.update(_estop_trials(session, page, password, args.trials))
        browser.close()
    figures["console_process"] = console_process
    figures["targets"] = TARGETS
    figures["meets_targets"] = {
        "state_latency_p99_ms": figures["state_latency_p99_ms"] <= TARGETS["state_latency_p99_ms"],
        "camera_fps": figures["camera_fps"] >= TARGETS["camera_fps"],
        "estop_click_to_hold_p99_ms": figures["estop_click_to_hold_p99_ms"]
        <= TARGETS["estop_click_to_hold_p99_ms"],
    }
    return figures


def main(argv: list[str]) -> int:
    import tempfile

    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        figures = run(args, Path(tmp))
    for key, value in figures.items():
        if isinstance(value, float):
            print(f"{key:32s} {value:10.2f}")
        elif not isinstance(value, dict):
            print(f"{key:32s} {value:>10}")
    print(f"meets targets: {figures['meets_targets']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if all(figures["meets_targets"].values()) else 1
