"""MNIST digits rendered as if photographed or scanned: a test of the preprocessing.

Real pictures of handwriting are not MNIST images: dark ink on light paper, larger,
anywhere in the frame, with gray noise, some blur, often in colour. :func:`render_scan`
makes such a picture from an MNIST digit, seeded, so that accuracy on real-looking input
can be measured with known labels: by ``robust_digits.py`` here, and by the tests of
``predict`` (which import it as ``benchmarks._scans``). Not part of the package: nothing
a user runs draws fake scans.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage


@dataclass(frozen=True)
class ScanStyle:
    """Ranges the random rendering draws from (each a ``(low, high)`` pair)."""

    canvas: tuple[int, int] = (80, 200)  # side of the picture, pixels (height, width apart)
    digit: tuple[float, float] = (0.35, 0.7)  # digit frame (28 px) as a share of the short side
    paper: tuple[float, float] = (0.7, 1.0)  # paper brightness (1 = white)
    ink: tuple[float, float] = (0.0, 0.3)  # ink brightness (0 = black)
    noise: tuple[float, float] = (0.02, 0.08)  # standard deviation of the gray noise
    blur: tuple[float, float] = (0.0, 1.2)  # Gaussian blur sigma, pixels
    color: float = 0.5  # chance of an RGB picture (tinted paper and ink)


def render_scan(digit: np.ndarray, rng: np.random.Generator,
                style: ScanStyle = ScanStyle()) -> np.ndarray:
    """An MNIST digit as dark ink on noisy light paper: ``(H, W)`` or ``(H, W, 3)`` uint8.

    Args:
        digit: ``(28, 28)`` uint8, light ink on black (as in MNIST).
        rng: the random source (seed it for a repeatable test set).
        style: the ranges of size, placement, brightness, noise, blur and colour.
    """
    height, width = (int(rng.integers(style.canvas[0], style.canvas[1] + 1)) for _ in range(2))
    side = max(29, round(rng.uniform(*style.digit) * min(height, width)))
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC),
                     dtype=np.float64) / 255.0
    ink = np.clip(ink, 0.0, 1.0)  # (side, side)
    top = int(rng.integers(0, height - side + 1))  # anywhere: off-centre on purpose
    left = int(rng.integers(0, width - side + 1))
    coverage = np.zeros((height, width))
    coverage[top:top + side, left:left + side] = ink
    blur = rng.uniform(*style.blur)
    if blur > 0:
        coverage = ndimage.gaussian_filter(coverage, blur)
    paper, ink_level = rng.uniform(*style.paper), rng.uniform(*style.ink)
    if rng.random() < style.color:
        # Warm or cool paper, bluish or black ink: channels drift a little apart.
        paper = np.clip(paper + rng.uniform(-0.08, 0.08, size=3), 0, 1)
        ink_level = np.clip(ink_level + rng.uniform(-0.1, 0.1, size=3), 0, 1)
        coverage = coverage[:, :, None]
    picture = paper - (paper - ink_level) * coverage  # (H, W) or (H, W, 3)
    picture = picture + rng.normal(0, rng.uniform(*style.noise), size=picture.shape)
    return np.round(np.clip(picture, 0, 1) * 255).astype(np.uint8)
