"""Real cameras are not renderers: brightness, noise (up to 3 mm of depth noise per
pixel) and depth holes change nothing, in the public scenes and the hard one."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_stack.perception.evaluate import false_positives, match_scene
from embodied_stack.perception.perturb import PERTURBATIONS
from tests.perception.helpers import (
    POSITION_TARGET,
    Rendered,
    detector,
    hard_scene,
    public_scenes,
    render_public,
)


def scenes() -> list[tuple[str, Rendered]]:
    public = [(name, render_public(suite, name)) for suite, name in public_scenes()]
    return [*public, ("hard", hard_scene())]


@pytest.mark.parametrize("perturbation", sorted(PERTURBATIONS))
def test_perturbed_images_give_the_same_objects(perturbation: str) -> None:
    rng = np.random.default_rng(7)
    for name, r in scenes():
        rgb, depth = PERTURBATIONS[perturbation](r.rgb, r.depth, rng)
        detections = detector().detect(rgb, depth)
        matches = match_scene(r.scene, r.truth, detections)
        missing = [m.object_id for m in matches if m.detection is None]
        assert not missing, f"{name}: lost {missing}"
        worst = max(m.pos_err for m in matches)
        assert worst < POSITION_TARGET, f"{name}: {worst * 1000:.1f} mm"
        extra = false_positives(matches, detections)
        assert not extra, f"{name}: {[d.label() for d in extra]}"


@pytest.mark.parametrize("sigma", [0.002, 0.003])
def test_noisy_depth_is_measured_and_filtered(sigma: float) -> None:
    """The table shows the noise; after filtering, little is left of it."""
    r = hard_scene()
    rng = np.random.default_rng(3)
    depth = (r.depth + rng.normal(0.0, sigma, r.depth.shape)).astype(np.float32)
    found = detector()
    found.detect(r.rgb, depth)
    assert found.table is not None and found.table.fitted
    assert found.table.noise == pytest.approx(0.8 * sigma, rel=0.25)  # heights: z of depth
    assert found.noise < 0.5 * sigma
    found.detect(r.rgb, r.depth)
    assert found.noise < 1e-4  # a clean frame is left as it is
