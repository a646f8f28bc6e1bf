"""`embodied-stack bench motion --json OUT`: one pick-and-place cycle in the simulator.

Figures: cycle_sim_s and cycle_wall_s (pick, place, home), max_tracking_err_mm
(commanded vs measured TCP at every physics step), max_tcp_speed_mps (measured),
against the configured TCP speed limit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from embodied_stack.control.context import SkillContext
from embodied_stack.control.sim_driver import operator_plan, run_plan
from embodied_stack.robot import load_robot
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.scene import Scene, SceneObject
from embodied_stack.sim.world import SimWorld

SCENE = Scene(
    objects=[
        SceneObject(id="cube", kind="cube", color="red", size=0.04, xy=(0.50, -0.15)),  # type: ignore[arg-type]
        SceneObject(
            id="tray", kind="tray", color="green", size=(0.18, 0.18, 0.03), xy=(0.60, 0.25)
        ),  # type: ignore[arg-type]
    ]
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-stack bench motion", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--robot", default="panda")
    parser.add_argument("--redlines", default="redlines.yaml")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    profile = load_robot(args.robot)
    red = load_redlines(args.redlines)
    ctx = SkillContext.from_redlines(profile, red)
    plan = operator_plan(
        [("pick", {"object": "cube"}), ("place", {"target": "tray"}), ("go_home", {})]
    )
    with SimWorld(scene=SCENE, robot=profile) as sim:
        sim.step(60)  # let the objects settle
        run = run_plan(sim, plan, ctx)
    assert run.status is not None
    figures: dict[str, Any] = {
        "cycle_sim_s": round(run.sim_s, 3),
        "cycle_wall_s": round(run.wall_s, 3),
        "max_tracking_err_mm": round(run.max_tracking_err_mm, 3),
        "max_tcp_speed_mps": round(run.max_tcp_speed_mps, 4),
        "tcp_speed_limit_mps": red.max_tcp_speed,
        "outcome": run.status.state.value,
        "error": run.status.error,
    }
    for key, value in figures.items():
        print(f"{key:22s} {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if run.status.state.value == "done" else 1
