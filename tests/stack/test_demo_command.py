"""`embodied-stack demo` (what `make demo` runs): end to end once, and the check it
derives from the plan (each picked object must end in or on the target it was
placed on), so any instruction, not only the default one, is judged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from embodied_stack.config import config_path
from embodied_stack.nodes.demo import _checks, placements, scene_id
from embodied_stack.scene import load_scene
from embodied_stack.schemas import (
    BodyState,
    GroundTruth,
    PerceivedObject,
    Plan,
    PlannerKind,
    PlanStep,
    Provenance,
    SkillName,
)

SCENE = load_scene(config_path("scenes/default.yaml"))


def plan_of(*steps: tuple[str, dict[str, float | str]]) -> Plan:
    return Plan(
        steps=[PlanStep(skill=SkillName(s), args=a) for s, a in steps],
        provenance=Provenance(planner=PlannerKind.OFFLINE, model="offline-grammar-1"),
    )


def perceived(object_id: str, kind: str, xy: tuple[float, float]) -> PerceivedObject:
    return PerceivedObject(
        id=object_id, kind=kind, position=(xy[0], xy[1], 0.02), size=(0.04, 0.04, 0.04)
    )


def truth() -> GroundTruth:
    """The default scene's objects where the scene puts them."""
    objects = {
        o.id: BodyState(position=SCENE.resting_pose(o.id)[0], orientation=(0, 0, 0, 1))
        for o in SCENE.objects
    }
    tcp = BodyState(position=(0.3, 0.0, 0.5), orientation=(0, 0, 0, 1))
    return GroundTruth(sim_time=0.0, objects=objects, tcp=tcp, tcp_speed=0.0)


def test_placements_pair_each_pick_with_its_place() -> None:
    plan = plan_of(
        ("pick", {"object": "red_cube_1"}),
        ("place", {"target": "green_tray_1"}),
        ("pick", {"object": "blue_cube_1"}),
        ("place_at", {"x": 0.4, "y": 0.0}),  # on the table: no target to check
        ("go_home", {}),
        ("pick", {"object": "blue_cube_1"}),
        ("place", {"target": "red_cube_1"}),
    )
    assert placements(plan) == [("red_cube_1", "green_tray_1"), ("blue_cube_1", "red_cube_1")]
    assert placements(plan_of(("go_home", {}))) == []


def test_checks_are_in_scene_ids() -> None:
    """Perception names objects its own way; the judge speaks the scene's ids."""
    seen = {
        "red_cube_1": perceived("red_cube_1", "cube", (0.498, -0.148)),
        "blue_cube_1": perceived("blue_cube_1", "cube", (0.448, 0.103)),
        "green_tray_1": perceived("green_tray_1", "tray", (0.598, 0.253)),
    }
    initial = truth()
    assert scene_id(seen["green_tray_1"], initial) == "tray"
    stack = plan_of(("pick", {"object": "blue_cube_1"}), ("place", {"target": "red_cube_1"}))
    assert _checks(None, stack, seen, initial) == [("blue_cube", "red_cube")]
    tray = plan_of(("pick", {"object": "red_cube_1"}), ("place", {"target": "green_tray_1"}))
    assert _checks(None, tray, seen, initial) == [("red_cube", "tray")]
    assert _checks("blue_cube:tray", tray, seen, initial) == [("blue_cube", "tray")]  # --check
    assert _checks(None, plan_of(("go_home", {})), seen, initial) == []


@pytest.mark.stack
@pytest.mark.timeout(400)
def test_demo_runs_the_default_task_end_to_end(tmp_path: Path) -> None:
    """What `make demo` runs: exit 0 only when the task was done, the cube is in the
    tray on ground truth, and the audit log of the run verifies."""
    result = subprocess.run(
        [sys.executable, "-m", "embodied_stack.cli", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=360,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "perception sees 3 objects" in out
    assert "[AI-generated; planner offline, model offline-grammar-1]" in out
    assert "result: done" in out
    assert "check in(red_cube, tray) on ground truth: True" in out
    assert "ok=True" in out  # the audit log verified
