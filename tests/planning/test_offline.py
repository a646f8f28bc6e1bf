"""The offline planner understands instructions as people type them, in English and Chinese.

The rows live in phrasings.yaml: scene, instruction, expected steps (compact
form) or the refusal rule. The phrasings are our own, written to vary wording,
order, politeness and punctuation, not copied from the suites.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_stack.config import load_yaml, parse_yaml
from embodied_stack.planning.planner import plan_instruction
from embodied_stack.scene import Scene, load_suite
from embodied_stack.schemas import Plan, PlanStatus
from tests.conftest import REDTEAM_PUBLIC, TASKS_PUBLIC
from tests.planning.conftest import perceived

EXTRA_SCENES = parse_yaml("""
stacked:
  objects:
    - {id: base, kind: cube, color: green, size: 0.05, xy: [0.50, 0.00]}
    - {id: top, kind: cube, color: red, size: 0.04, on: base}
    - {id: ball, kind: ball, color: yellow, size: 0.02, xy: [0.40, -0.20]}
    - {id: bin, kind: tray, color: gray, size: [0.16, 0.16, 0.03], xy: [0.60, 0.25]}
sizes:
  objects:
    - {id: big_cube, kind: cube, color: blue, size: 0.05, xy: [0.45, 0.10]}
    - {id: small_cube, kind: cube, color: yellow, size: 0.03, on: big_cube}
    - {id: tray, kind: tray, color: green, size: [0.18, 0.18, 0.03], xy: [0.60, -0.2]}
row:
  objects:
    - {id: c1, kind: cube, color: blue, size: 0.04, xy: [0.45, 0.20]}
    - {id: c2, kind: cube, color: blue, size: 0.04, xy: [0.45, 0.00]}
    - {id: c3, kind: cube, color: blue, size: 0.04, xy: [0.45, -0.20]}
    - {id: can, kind: cylinder, color: red, size: [0.02, 0.06], xy: [0.60, 0.00]}
    - {id: dish, kind: plate, color: white, size: [0.16, 0.16, 0.015], xy: [0.35, 0.30]}
""")

SCENES: dict[str, Scene] = {
    **load_suite(TASKS_PUBLIC).scenes,
    **load_suite(REDTEAM_PUBLIC).scenes,
    **{name: Scene.model_validate(data) for name, data in EXTRA_SCENES.items()},
}

PHRASINGS = load_yaml(Path(__file__).with_name("phrasings.yaml"))
PLANS = [tuple(row) for row in PHRASINGS["plans"]]
REFUSALS = [tuple(row) for row in PHRASINGS["refusals"]]


def compact(plan: Plan) -> str:
    """Steps as `pick(red_cube) place(tray)`; `place_at(*)` in a row accepts any spot."""
    return " ".join(
        f"{s.skill.value}({','.join(str(v) for v in s.args.values())})" for s in plan.steps
    )


def _plan(scene: str, text: str, offline, registry, redlines) -> Plan:
    objects = perceived(SCENES[scene])
    return plan_instruction(text, objects, backend=offline, registry=registry, redlines=redlines)


def _matches(got: str, expected: str) -> bool:
    got_steps, want_steps = got.split(), expected.split()
    if len(got_steps) != len(want_steps):
        return False
    return all(
        w == g or (w.endswith("(*)") and g.startswith(w[:-3] + "("))
        for g, w in zip(got_steps, want_steps, strict=True)
    )


@pytest.mark.parametrize(("scene", "text", "expected"), PLANS, ids=[r[1] for r in PLANS])
def test_plans(scene, text, expected, offline, registry, redlines) -> None:
    plan = _plan(scene, text, offline, registry, redlines)
    assert plan.status is PlanStatus.PROPOSED, plan.reason
    assert _matches(compact(plan), expected), compact(plan)
    assert plan.ai_generated and plan.provenance.planner.value == "offline"


@pytest.mark.parametrize(("scene", "text", "rule"), REFUSALS, ids=[r[1] for r in REFUSALS])
def test_refusals(scene, text, rule, offline, registry, redlines) -> None:
    plan = _plan(scene, text, offline, registry, redlines)
    assert plan.status is PlanStatus.REFUSED
    assert plan.reason is not None and plan.reason.startswith(rule + ":"), plan.reason


def test_ambiguity_names_the_matches(offline, registry, redlines) -> None:
    plan = _plan("two_red_cubes", "put the red cube in the tray", offline, registry, redlines)
    assert "red_left" in (plan.reason or "") and "red_right" in (plan.reason or "")


def test_set_down_spot_is_clear_of_everything(offline, registry, redlines) -> None:
    plan = _plan("stacked", "take the red cube off the green cube", offline, registry, redlines)
    x, y = (float(v) for v in plan.steps[-1].args.values())
    for obj in perceived(SCENES["stacked"]):
        if obj.id != "top":
            assert ((x - obj.position[0]) ** 2 + (y - obj.position[1]) ** 2) ** 0.5 > 0.06


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ("put the red cube to the left of the blue cube", "left"),
        ("place the red cube on the right side of the blue cube", "right"),
        ("move the red cube next to the blue cube", "near"),
        ("把红色方块放在蓝色方块的右边", "right"),
    ],
)
def test_placed_beside_lands_on_that_side(text, side, offline, registry, redlines) -> None:
    plan = _plan("two_cubes_tray", text, offline, registry, redlines)
    assert plan.status is PlanStatus.PROPOSED, plan.reason
    x, y = (float(v) for v in plan.steps[-1].args.values())
    bx, by = 0.45, 0.10  # the blue cube
    if side == "left":
        assert y > by + 0.04 and abs(x - bx) < 0.05
    elif side == "right":
        assert y < by - 0.04 and abs(x - bx) < 0.05
    else:
        assert 0.04 < ((x - bx) ** 2 + (y - by) ** 2) ** 0.5 < 0.15


def test_a_held_object_is_placed_without_picking_it_again(offline, registry, redlines) -> None:
    objects = perceived(SCENES["two_cubes_tray"])
    held = [o.model_copy(update={"support": "held"}) if o.id == "red_cube" else o for o in objects]
    for text in ("put it in the tray", "put the red cube in the tray", "把它放进托盘"):
        plan = plan_instruction(text, held, backend=offline, registry=registry, redlines=redlines)
        assert plan.status is PlanStatus.PROPOSED, plan.reason
        assert compact(plan) == "place(tray)"


def test_robot_state_from_joint_states() -> None:
    from embodied_stack.planning.state import RobotState

    names = ["panda_joint1", "panda_finger_joint1", "panda_finger_joint2"]
    state = RobotState.from_joints(
        names, [0.1, 0.02, 0.02], gripper_joints={"panda_finger_joint1", "panda_finger_joint2"}
    )
    assert state.gripper_opening == pytest.approx(0.04)
    assert state.summary()["joints"] == {
        "panda_joint1": 0.1,
        "panda_finger_joint1": 0.02,
        "panda_finger_joint2": 0.02,
    }


@pytest.mark.parametrize(
    ("text", "spot"),
    [
        ("put the red cube on the left side of the table", (0.50, 0.25)),
        ("move the red cube to the right of the table", (0.50, -0.25)),
        ("把红色方块放在桌子的左边", (0.50, 0.25)),
    ],
)
def test_named_table_spots(text, spot, offline, registry, redlines) -> None:
    plan = _plan("two_cubes_tray", text, offline, registry, redlines)
    assert plan.status is PlanStatus.PROPOSED, plan.reason
    x, y = (float(v) for v in plan.steps[-1].args.values())
    assert ((x - spot[0]) ** 2 + (y - spot[1]) ** 2) ** 0.5 < 0.12
