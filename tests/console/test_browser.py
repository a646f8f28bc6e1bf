"""The console in a real browser (Debian chromium via Playwright) on the whole stack in
the simulator: log in, instruct, see the AI-generated plan, approve, watch it finish;
e-stop during motion; a viewer cannot act; a safety officer resets.

Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from std_msgs.msg import String

from embodied_stack.config import config_path
from embodied_stack.nodes import qos
from embodied_stack.nodes.harness import SessionConfig, StackSession
from embodied_stack.nodes.launcher import ALL_NODES
from embodied_stack.scene import load_scene
from tests.conftest import ARTIFACTS
from tests.console.conftest import PASSWORDS
from tests.console.registry_helpers import write_registry

pytestmark = [pytest.mark.browser, pytest.mark.stack]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ARTIFACTS / "console"
NODES_DIR = Path(__file__).resolve().parents[2] / "nodes"
ROLES = {"vera": "viewer", "otto": "operator", "sofia": "safety_officer"}
MOTION_TIMEOUT_MS = 240_000  # a whole pick-and-place on a loaded, shared machine
expect.set_options(timeout=15_000)  # argon2 and a whole stack on a loaded, shared machine


AVAILABLE = tuple(n for n in ALL_NODES if (NODES_DIR / f"{n}.py").exists())


def needs(*nodes: str) -> None:
    """Fail when a node this test relies on is missing from the tree (every node exists)."""
    missing = [n for n in nodes if n not in AVAILABLE]
    if missing:
        pytest.fail(f"the stack is incomplete: {', '.join(missing)} missing")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSession]:
    needs("killswitch_node", "sim_node", "perception_node", "console_node")
    workdir = tmp_path_factory.mktemp("stack")
    registry = write_registry(workdir / "operators.yaml", ROLES, ROLES, PASSWORDS)
    _every_plan_waits(registry)
    # Every node in one process on a shared 2-core machine: the 0.1 s heartbeat deadline
    # is for a robot's computer, not for this; the console is what is under test here.
    overrides: dict[str, dict[str, Any]] = {
        n: {"registry": str(registry), "heartbeat_timeout_s": 0.5} for n in AVAILABLE
    }
    overrides["console_node"].update(port=0, incident_dir=str(workdir / "incidents"))
    overrides["audit_node"]["incident_dir"] = str(workdir / "incidents")
    overrides["sim_node"].update(realtime=True)  # live, as an operator sees it
    config = SessionConfig(
        scene=load_scene(config_path("scenes/default.yaml")),
        nodes=AVAILABLE,
        overrides=overrides,
        workdir=workdir,
    )
    with StackSession(config) as session:
        error = session.wait_ready(wall_timeout_s=120.0)
        assert error is None, error
        yield session


def _every_plan_waits(registry: Path) -> None:
    """approval_tier 0: every plan waits for an operator in the console."""
    text = registry.read_text(encoding="utf-8").replace("approval_tier: 2", "approval_tier: 0")
    registry.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def console_url(stack: StackSession) -> str:
    assert stack.stack is not None
    url: str = stack.stack.nodes["console_node"].server.url  # type: ignore[attr-defined]
    return url


@pytest.fixture
def pages(browser: Browser) -> Iterator[list[Page]]:
    """Fresh browser contexts (separate cookies), closed after the test."""
    opened: list[Any] = []
    yield opened
    for context in opened:
        context.close()


def log_in(browser: Browser, pages: list[Any], stack: StackSession, name: str) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    pages.append(context)
    page = context.new_page()
    page.goto(console_url(stack) + "/")
    expect(page).to_have_url(console_url(stack) + "/login")
    page.fill("#login-name", name)
    page.fill("#login-password", PASSWORDS[name])
    page.click("#login-submit")
    # argon2 on a loaded machine: a login may take seconds
    expect(page.locator("#who")).to_contain_text(f"{name} ({ROLES[name]})", timeout=30_000)
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def ensure_clear(browser: Browser, pages: list[Any], stack: StackSession) -> None:
    """Leave the e-stop released (a previous test may have pressed it)."""
    probe = stack.probe
    assert probe is not None
    if probe.estop:
        officer = log_in(browser, pages, stack, "sofia")
        officer.fill("#reset-password", PASSWORDS["sofia"])
        officer.click("#reset-button")
        expect(officer.locator("#reset-result")).not_to_be_empty(timeout=10_000)
        result = officer.locator("#reset-result").inner_text()
        source = officer.locator("#safety-source").inner_text()
        assert "reset by sofia" in result, f"reset refused: {result} (tripped by {source})"
        expect(officer.locator("#estop-state")).to_have_text("E-stop clear", timeout=10_000)


def instruct(page: Page, text: str) -> None:
    page.fill("#instruction", text)
    page.click("#instruction-send")
    expect(page.locator("#plan-instruction")).to_contain_text(text, timeout=60_000)
    page.locator("#plan-status:text-matches('^(proposed|rejected|refused)$')").wait_for()
    status = page.locator("#plan-status").inner_text()
    reason = page.locator("#plan-reason").inner_text()
    assert status == "proposed", f"the planner answered {status}: {reason}"


def joint_positions(page: Page) -> list[float]:
    state: dict[str, Any] = page.evaluate("fetch('/api/state').then(r => r.json())")
    return list(state["joints"]["positions"]) if state["joints"] else []


def test_estop_button_during_motion_stops_the_arm_and_an_officer_resets(
    browser: Browser, pages: list[Any], stack: StackSession
) -> None:
    needs("planner_node", "motion_node")
    ensure_clear(browser, pages, stack)
    page = log_in(browser, pages, stack, "otto")
    instruct(page, "put the blue cube in the tray")
    page.click("#plan-approve")
    expect(page.locator("#motion-state")).to_have_text("executing", timeout=60_000)
    page.wait_for_timeout(300)  # let the arm get going
    page.click("#estop-button")
    expect(page.locator("#estop-state")).to_have_text("E-STOP ACTIVE", timeout=5_000)
    expect(page.locator("#safety-source")).to_have_text("console:otto")
    expect(page.locator("#motion-state")).not_to_have_text("executing", timeout=10_000)
    time.sleep(0.5)  # the hold itself: a short ramp to zero speed
    before = joint_positions(page)
    time.sleep(1.0)
    after = joint_positions(page)
    drift = max(abs(a - b) for a, b in zip(before, after, strict=True))
    assert drift < 5e-3, f"arm still moving: {drift:.4f} rad in 1 s"  # moving: ~0.5 rad/s
    shot(page, "4-estop-holding")
    assert not page.locator("#reset-form").is_visible()  # an operator cannot reset

    officer = log_in(browser, pages, stack, "sofia")
    expect(officer.locator("#estop-state")).to_have_text("E-STOP ACTIVE")
    officer.fill("#reset-password", PASSWORDS["sofia"])
    officer.click("#reset-button")
    expect(officer.locator("#estop-state")).to_have_text("E-stop clear", timeout=10_000)
    expect(page.locator("#estop-state")).to_have_text("E-stop clear", timeout=10_000)
    shot(officer, "5-reset-by-officer")


def test_space_key_trips_the_estop_and_an_officer_resets(
    browser: Browser, pages: list[Any], stack: StackSession
) -> None:
    ensure_clear(browser, pages, stack)
    page = log_in(browser, pages, stack, "vera")  # stopping is everyone's right
    expect(page.locator("#estop-state")).to_have_text("E-stop clear")
    page.wait_for_function("document.getElementById('camera').src.startsWith('blob:')")
    expect(page.locator("#heartbeat-age")).to_contain_text(" ms")
    page.locator("body").press("Space")
    expect(page.locator("#estop-state")).to_have_text("E-STOP ACTIVE", timeout=5_000)
    expect(page.locator("#safety-source")).to_have_text("console:vera")
    shot(page, "0-space-estop")
    officer = log_in(browser, pages, stack, "sofia")
    officer.fill("#reset-password", "wrong password")
    officer.click("#reset-button")
    expect(officer.locator("#reset-result")).to_contain_text("password confirmation failed")
    officer.fill("#reset-password", PASSWORDS["sofia"])
    officer.click("#reset-button")
    expect(officer.locator("#estop-state")).to_have_text("E-stop clear", timeout=10_000)
    expect(page.locator("#estop-state")).to_have_text("E-stop clear", timeout=10_000)


def test_viewer_can_watch_but_not_approve_or_jog(
    browser: Browser, pages: list[Any], stack: StackSession
) -> None:
    needs("planner_node")
    ensure_clear(browser, pages, stack)
    operator = log_in(browser, pages, stack, "otto")
    instruct(operator, "put the red cube on the table at 0.4 0.0")
    viewer = log_in(browser, pages, stack, "vera")
    expect(viewer.locator("#plan-status")).to_have_text("proposed")
    expect(viewer.locator("#plan-approve")).to_be_disabled()
    expect(viewer.locator("#plan-reject")).to_be_disabled()
    expect(viewer.locator("#jog-pad button").first).to_be_disabled()
    expect(viewer.locator("#instruction-send")).to_be_disabled()
    assert not viewer.locator("#reset-form").is_visible()
    # The server refuses too, whatever the page allows.
    plan_id = viewer.locator("#plan").get_attribute("data-plan-id")
    status = viewer.evaluate(
        """async (planId) => {
            const me = await (await fetch('/api/me')).json();
            const r = await fetch(`/api/plans/${planId}/decision`, {method: 'POST',
              headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
              body: JSON.stringify({approved: true})});
            return r.status;
        }""",
        plan_id,
    )
    assert status == 403
    shot(viewer, "6-viewer")
    operator.click("#plan-reject")
    expect(operator.locator("#plan-status")).to_have_text("rejected", timeout=30_000)


def tcp_z(page: Page) -> float:
    state: dict[str, Any] = page.evaluate("fetch('/api/state').then(r => r.json())")
    return float(state["tcp"]["position"][2])


def wait_moving_up(
    page: Page, stack: StackSession, start_z: float, heard: list[float], timeout_s: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if tcp_z(page) > start_z + 0.01:
            return
        time.sleep(0.1)
    assert stack.stack is not None
    motion, sim = stack.stack.nodes["motion_node"], stack.sim_node
    jog = getattr(motion, "jog", None)
    why = {
        "jog.active": getattr(jog, "active", None),
        "jog.rejected": getattr(jog, "rejected", None),
        "motion stop reason": getattr(motion, "_stop_reason", None),
        "sim holding": getattr(sim, "holding", None),
        "page": page.locator("#jog-result").inner_text(),
        "z": (start_z, tcp_z(page)),
        "jog messages": len(heard),
        "largest gap s": max((b - a for a, b in itertools.pairwise(heard)), default=None),
    }
    pytest.fail(f"the arm did not move up while +Z was held: {why}")


def assert_still(page: Page) -> None:
    time.sleep(0.8)  # the deadman and the ramp to zero
    settled = tcp_z(page)
    time.sleep(1.0)
    assert abs(tcp_z(page) - settled) < 2e-3, "the arm kept moving after the jog ended"


def test_jog_moves_while_held_and_stops_on_release_and_on_blur(
    browser: Browser, pages: list[Any], stack: StackSession
) -> None:
    needs("motion_node")
    if "teleop/jog" not in (NODES_DIR / "motion_node.py").read_text(encoding="utf-8"):
        pytest.fail("motion_node does not follow teleop/jog")
    ensure_clear(browser, pages, stack)
    page = log_in(browser, pages, stack, "otto")
    # The operator's tab in front: Chromium throttles timers of background pages to 1 Hz,
    # and then the 50 ms jog stream (rightly) lapses into the deadman.
    page.bring_to_front()
    button = page.locator("#jog-pad button[data-axis='z'][data-dir='1']")
    probe = stack.probe
    assert probe is not None
    heard: list[float] = []
    sub = probe.create_subscription(
        String, "teleop/jog", lambda _m: heard.append(time.monotonic()), qos.COMMAND
    )
    for stop in ("release", "blur"):
        start = tcp_z(page)
        heard.clear()
        button.hover()
        page.mouse.down()
        wait_moving_up(page, stack, start, heard)
        if stop == "release":
            page.mouse.up()
        else:  # the tab loses focus while the button is still held
            page.evaluate("window.dispatchEvent(new Event('blur'))")
        assert_still(page)
        page.mouse.up()
    probe.destroy_subscription(sub)
    shot(page, "7-jog")


def test_audit_view_shows_verified_chain_and_incidents(
    browser: Browser, pages: list[Any], stack: StackSession
) -> None:
    needs("audit_node")
    ensure_clear(browser, pages, stack)
    page = log_in(browser, pages, stack, "vera")
    page.locator("body").press("Space")  # a trip: an audit event and an incident bundle
    expect(page.locator("#estop-state")).to_have_text("E-STOP ACTIVE", timeout=5_000)
    page.click(".tab[data-view='audit']")
    expect(page.locator("#chain-status")).to_contain_text("chain verified", timeout=10_000)
    page.select_option("#audit-kind", "login")
    page.fill("#audit-actor", "vera")
    page.click("#audit-filter button[type='submit']")
    expect(page.locator("#audit-events tr").first).to_contain_text("vera")
    expect(page.locator("#audit-events")).not_to_contain_text("otto")
    shot(page, "8-audit")
    page.click(".tab[data-view='incidents']")
    expect(page.locator("#incidents")).to_contain_text("trip", timeout=20_000)
    shot(page, "9-incidents")
    page.click(".tab[data-view='live']")
    ensure_clear(browser, pages, stack)


# Last: a task that ends badly (a red line) can leave the stack latched for the rest.
def test_operator_instructs_approves_and_sees_the_task_complete(
    browser: Browser, pages: list[Any], stack: StackSession
) -> None:
    needs("planner_node", "motion_node")
    ensure_clear(browser, pages, stack)
    page = log_in(browser, pages, stack, "otto")
    expect(page.locator("#estop-state")).to_have_text("E-stop clear")
    page.wait_for_function("document.getElementById('camera').src.startsWith('blob:')")
    instruct(page, "put the red cube in the tray")
    expect(page.locator("#plan-ai")).to_have_text("AI-generated")
    expect(page.locator("#plan-provenance")).to_contain_text("model ")
    expect(page.locator("#plan-risk")).to_contain_text("risk")
    expect(page.locator("#plan-steps li").first).to_contain_text("pick")
    shot(page, "1-plan-proposed")
    page.click("#plan-approve")
    expect(page.locator("#plan-result")).to_contain_text("approved by otto")
    expect(page.locator("#motion-state")).to_have_text("executing", timeout=60_000)
    expect(page.locator("#motion-step")).to_contain_text(" of ")
    shot(page, "2-executing")
    finished = page.locator("#motion-state:text-matches('^(done|failed|aborted)$')")
    finished.wait_for(timeout=MOTION_TIMEOUT_MS)
    shot(page, "3-finished")
    error = page.locator("#motion-error").inner_text()
    assert page.locator("#motion-state").inner_text() == "done", f"motion ended: {error}"
