"""The render worker draws exactly what the simulator would, off the main interpreter."""

from __future__ import annotations

import numpy as np

from embodied_stack.scene import load_suite
from embodied_stack.sim.render_worker import RenderWorker, snapshot
from embodied_stack.sim.world import SimWorld
from tests.conftest import TASKS_PUBLIC
from tests.sim.helpers import grasp


def test_worker_frames_match_in_process_rendering_across_a_reset() -> None:
    scenes = load_suite(TASKS_PUBLIC).scenes
    first, second = scenes["two_cubes_tray"], scenes["colors_and_plates"]
    small = None
    with SimWorld(scene=first) as world, RenderWorker(scene=first, robot=world.robot) as worker:
        small = world.camera.resized(160, 120)
        grasp(world, "red_cube", lift=0.1)  # arm, fingers and an object all moved
        for _ in range(2):
            rgb, depth = worker.render(snapshot(world, small))
            expected_rgb, expected_depth = world.render(small)
            assert np.array_equal(rgb, expected_rgb)
            assert np.array_equal(depth, expected_depth)
            world.reset(second)
            worker.reset(second)
        worker.submit(snapshot(world, small), tag=1.5)
        tag, (rgb, _depth) = worker.collect()
        assert tag == 1.5 and rgb.shape == (120, 160, 3)
