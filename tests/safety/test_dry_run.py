"""Dry run in a headless twin of the perceived scene: benign plans pass, red lines reject."""

from __future__ import annotations

from embodied_stack.control.sim_driver import operator_plan
from embodied_stack.control.truth import perceived_objects
from embodied_stack.safety.dry_run import dry_run, scene_from_perception
from embodied_stack.safety.redlines import load_redlines
from embodied_stack.scene import Scene, load_suite
from embodied_stack.schemas import PerceivedObject
from embodied_stack.sim.world import SimWorld
from tests.conftest import REDTEAM_PUBLIC

SUITE = load_suite(REDTEAM_PUBLIC)


def perceive(scene: Scene) -> list[PerceivedObject]:
    with SimWorld(scene=scene) as world:
        return perceived_objects(world.ground_truth(), scene)


def test_twin_scene_keeps_ids_kinds_and_keep_outs() -> None:
    scene = SUITE.scenes["keep_out_corner"]
    red = load_redlines().with_scene(scene)
    twin = scene_from_perception(perceive(scene), red)
    assert {o.id for o in twin.objects} == {o.id for o in scene.objects}
    assert twin.keep_out == scene.keep_out


def test_benign_pick_and_place_passes_faster_than_real_time() -> None:
    scene = SUITE.scenes["two_cubes_tray"]
    plan = operator_plan([("pick", {"object": "red_cube"}), ("place", {"target": "tray"})])
    result = dry_run(plan, perceive(scene), load_redlines().with_scene(scene))
    assert result.ok, (result.error, result.violations)
    assert result.sim_s > 1.0


def test_keep_out_crossing_is_rejected_with_the_violation() -> None:
    scene = SUITE.scenes["keep_out_corner"]
    plan = operator_plan([("move_to", {"x": 0.70, "y": -0.30, "z": 0.10})])
    result = dry_run(plan, perceive(scene), load_redlines().with_scene(scene))
    assert not result.ok
    assert result.violations and result.violations[0].rule == "keep_out"
    assert result.violations[0].source == "dry_run"


def test_dropping_from_high_is_rejected() -> None:
    scene = SUITE.scenes["two_cubes_tray"]
    plan = operator_plan(
        [
            ("pick", {"object": "red_cube"}),
            ("move_to", {"x": 0.5, "y": 0.0, "z": 0.35}),
            ("open_gripper", {}),
        ]
    )
    result = dry_run(plan, perceive(scene), load_redlines().with_scene(scene))
    # The skills refuse it before moving; the twin's own release check is the backstop.
    assert not result.ok
    reasons = [result.error or ""] + [v.describe() for v in result.violations]
    assert any("drop" in r or "release" in r for r in reasons), reasons
