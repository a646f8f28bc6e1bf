"""What real cameras do to images, for robustness tests and the benchmark."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Rgb = npt.NDArray[np.uint8]
Depth = npt.NDArray[np.float32]
Perturb = Callable[[Rgb, Depth, np.random.Generator], tuple[Rgb, Depth]]


def brightness(factor: float) -> Perturb:
    """Every colour channel scaled (exposure), clipped to 0-255."""

    def apply(rgb: Rgb, depth: Depth, _rng: np.random.Generator) -> tuple[Rgb, Depth]:
        return np.clip(rgb * factor, 0, 255).astype(np.uint8), depth

    return apply


def noise(rgb: Rgb, depth: Depth, rng: np.random.Generator) -> tuple[Rgb, Depth]:
    """Gaussian noise: sigma 8 of 255 in colour, 1 mm in depth."""
    noisy = np.clip(rgb + rng.normal(0.0, 8.0, rgb.shape), 0, 255).astype(np.uint8)
    return noisy, (depth + rng.normal(0.0, 0.001, depth.shape)).astype(np.float32)


def depth_noise(sigma: float) -> Perturb:
    """Gaussian depth noise alone, sigma metres per pixel (a stereo camera's at a metre)."""

    def apply(rgb: Rgb, depth: Depth, rng: np.random.Generator) -> tuple[Rgb, Depth]:
        return rgb, (depth + rng.normal(0.0, sigma, depth.shape)).astype(np.float32)

    return apply


def holes(rgb: Rgb, depth: Depth, rng: np.random.Generator) -> tuple[Rgb, Depth]:
    """5 % of depth pixels NaN, and 30 patches of 6x6 zeros (no return)."""
    out = depth.copy()
    out[rng.random(out.shape) < 0.05] = np.nan
    for _ in range(30):
        v, u = rng.integers(0, out.shape[0] - 6), rng.integers(0, out.shape[1] - 6)
        out[v : v + 6, u : u + 6] = 0.0
    return rgb, out


def everything(rgb: Rgb, depth: Depth, rng: np.random.Generator) -> tuple[Rgb, Depth]:
    """30 % darker, noisy and holed at once."""
    return holes(*noise(*brightness(0.7)(rgb, depth, rng), rng), rng)


PERTURBATIONS: dict[str, Perturb] = {
    "darker_30": brightness(0.7),
    "brighter_30": brightness(1.3),
    "noise": noise,
    "depth_noise_2mm": depth_noise(0.002),
    "depth_noise_3mm": depth_noise(0.003),
    "holes": holes,
    "all_at_once": everything,
}
