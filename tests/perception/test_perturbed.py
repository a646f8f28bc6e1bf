"""Real cameras are not renderers: brightness, noise and depth holes change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_stack.perception.evaluate import false_positives, match_scene
from embodied_stack.perception.perturb import PERTURBATIONS
from tests.perception.helpers import POSITION_TARGET, detector, public_scenes, render_public


@pytest.mark.parametrize("perturbation", sorted(PERTURBATIONS))
def test_perturbed_images_give_the_same_objects(perturbation: str) -> None:
    rng = np.random.default_rng(7)
    for suite, name in public_scenes():
        r = render_public(suite, name)
        rgb, depth = PERTURBATIONS[perturbation](r.rgb, r.depth, rng)
        detections = detector().detect(rgb, depth)
        matches = match_scene(r.scene, r.truth, detections)
        missing = [m.object_id for m in matches if m.detection is None]
        assert not missing, f"{name}: lost {missing}"
        worst = max(m.pos_err for m in matches)
        assert worst < POSITION_TARGET, f"{name}: {worst * 1000:.1f} mm"
        extra = false_positives(matches, detections)
        assert not extra, f"{name}: {[d.label() for d in extra]}"
