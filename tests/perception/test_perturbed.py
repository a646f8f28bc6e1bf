"""Real cameras are not renderers: brightness, noise and depth holes change nothing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from embodied_stack.perception.evaluate import false_positives, match_scene
from tests.perception.helpers import POSITION_TARGET, detector, public_scenes, render_public

Rgb = npt.NDArray[np.uint8]
Depth = npt.NDArray[np.float32]
Perturb = Callable[[Rgb, Depth, np.random.Generator], tuple[Rgb, Depth]]


def brightness(factor: float) -> Perturb:
    def apply(rgb: Rgb, depth: Depth, _rng: np.random.Generator) -> tuple[Rgb, Depth]:
        return np.clip(rgb * factor, 0, 255).astype(np.uint8), depth

    return apply


def noise(rgb: Rgb, depth: Depth, rng: np.random.Generator) -> tuple[Rgb, Depth]:
    """Gaussian noise: 8 levels of 255 in colour, 1 mm in depth."""
    noisy = np.clip(rgb + rng.normal(0.0, 8.0, rgb.shape), 0, 255).astype(np.uint8)
    return noisy, (depth + rng.normal(0.0, 0.001, depth.shape)).astype(np.float32)


def holes(rgb: Rgb, depth: Depth, rng: np.random.Generator) -> tuple[Rgb, Depth]:
    """5 % of pixels NaN, and 30 small patches of zeros (no return)."""
    out = depth.copy()
    out[rng.random(out.shape) < 0.05] = np.nan
    for _ in range(30):
        v, u = rng.integers(0, out.shape[0] - 6), rng.integers(0, out.shape[1] - 6)
        out[v : v + 6, u : u + 6] = 0.0
    return rgb, out


def everything(rgb: Rgb, depth: Depth, rng: np.random.Generator) -> tuple[Rgb, Depth]:
    return holes(*noise(*brightness(0.7)(rgb, depth, rng), rng), rng)


PERTURBATIONS: dict[str, Perturb] = {
    "darker_30": brightness(0.7),
    "brighter_30": brightness(1.3),
    "noise": noise,
    "holes": holes,
    "all_at_once": everything,
}


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
