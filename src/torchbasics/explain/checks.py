"""The published sanity checks of attribution maps, run on the maps themselves.

A map can look convincing and mean nothing; these tests tell:

- **completeness** (Sundararajan et al., 2017): Integrated Gradients' maps add up to
  ``F(x) - F(baseline)``; the largest miss, relative to that difference, should be within
  :data:`COMPLETENESS_GOAL` with the default number of steps;
- **model-parameter randomization** (Adebayo et al., 2018), cascading from the top layer:
  with the weights re-initialized, a method's maps must change; the mean Spearman rank
  correlation of the absolute maps of the randomized model with the trained one's, over the
  pixels that differ from the baseline (see :func:`randomization`), should be at most
  :data:`RANDOMIZATION_GOAL` once every layer is randomized;
- **deletion** (Petsiuk et al., 2018): removing pixels most-important-first lowers the
  class probability faster than removing them in a random order; the area under that curve
  over the random order's area, at most :data:`DELETION_GOAL` for Integrated Gradients on
  a convnet.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from torchbasics.explain.inside import network

COMPLETENESS_GOAL = 0.01
RANDOMIZATION_GOAL = 0.5
DELETION_GOAL = 0.5
DELETION_STEPS = 20  # points on the deletion curve after the whole picture
SMALLEST_GAP = 0.1  # of a logit: a smaller change of score counts as this much


def relative_miss(delta: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Each map's ``|sum of the map - (F(x) - F(baseline))|`` relative to ``|F(x) -
    F(baseline)|``.

    A picture whose score hardly differs from the baseline's has next to nothing to
    share out, and dividing by that would make rounding look like failure: a change
    below :data:`SMALLEST_GAP` counts as that much.
    """
    return np.abs(delta) / np.maximum(np.abs(gap), SMALLEST_GAP)


def completeness(delta: np.ndarray, gap: np.ndarray) -> float:
    """The largest :func:`relative_miss` over the pictures."""
    return float(np.max(relative_miss(delta, gap)))


def spearman(first: np.ndarray, second: np.ndarray,
             where: np.ndarray | None = None) -> np.ndarray:
    """The Spearman rank correlation of each pair of maps ``(N, H, W)``, on their absolute
    values (what a map says matters, whichever the sign), over the pixels ``where`` is
    true (``(N, H, W)`` bool; every pixel if ``None``); ``(N,)``, 0 for a constant map."""
    from scipy.stats import rankdata

    count = len(first)
    a, b = np.abs(first).reshape(count, -1), np.abs(second).reshape(count, -1)
    chosen = (np.ones_like(a, dtype=bool) if where is None
              else np.asarray(where, dtype=bool).reshape(count, -1))
    found = np.zeros(count)
    for row in range(count):
        x, y = rankdata(a[row, chosen[row]]), rankdata(b[row, chosen[row]])
        x, y = x - x.mean(), y - y.mean()
        scale = np.sqrt((x * x).sum() * (y * y).sum())
        found[row] = (x * y).sum() / scale if scale > 0 else 0.0
    return found


def parameterized_layers(model: nn.Module) -> list[nn.Module]:
    """The layers with weights of their own, output layer first (the cascade's order)."""
    layers = [m for m in network(model).modules()
              if hasattr(m, "reset_parameters") and any(True for _ in m.parameters(False))]
    return layers[::-1]


def cascade(model: nn.Module, seed: int = 0) -> list[tuple[str, nn.Module]]:
    """Copies of ``model`` with its weights re-initialized from the top: the output layer,
    the top half of the layers, and every layer."""
    count = len(parameterized_layers(model))
    stops = sorted({1, max(1, count // 2), count})
    names = {1: "top layer", count: "every layer"}
    copies = []
    for stop in stops:
        randomized = copy.deepcopy(model).eval()
        torch.manual_seed(seed)
        for layer in parameterized_layers(randomized)[:stop]:
            layer.reset_parameters()
        copies.append((names.get(stop, f"top {stop} of {count} layers"), randomized))
    return copies


def randomization(maps_of: Callable[[nn.Module], np.ndarray], model: nn.Module,
                  trained: np.ndarray, where: np.ndarray | None = None,
                  seed: int = 0) -> dict[str, dict[str, float]]:
    """Cascade step -> the mean Spearman correlation of the randomized model's maps (made
    by ``maps_of``) with the trained model's ``trained``: ``"changed"`` over the pixels
    ``where`` the picture differs from the baseline, and ``"all"`` over every pixel.

    Where a pixel equals the baseline, Integrated Gradients (``(x - baseline)`` times a
    gradient) is zero by construction, and occlusion nearly so, whatever the weights: on
    digits, three pixels in four are such ties, and they would count as agreement. The
    figure over the changed pixels is the one the goal applies to; both are reported.
    """
    found: dict[str, dict[str, float]] = {"changed": {}, "all": {}}
    for name, randomized in cascade(model, seed):
        maps = maps_of(randomized)
        found["changed"][name] = float(spearman(trained, maps, where).mean())
        found["all"][name] = float(spearman(trained, maps).mean())
    return found


@torch.no_grad()
def deletion_curve(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                   order: np.ndarray, baseline: torch.Tensor,
                   steps: int = DELETION_STEPS) -> np.ndarray:
    """The class probability ``(N, steps + 1)`` as the pixels are set to the baseline in
    ``order`` (``(N, H*W)`` positions, first removed first), ``steps`` equal shares."""
    count, channels, height, width = inputs.shape
    pixels = height * width
    curves = np.zeros((count, steps + 1))
    base = baseline.expand_as(inputs).reshape(count, channels, pixels)
    for step in range(steps + 1):
        removed = torch.zeros(count, pixels, dtype=torch.bool)
        taken = torch.from_numpy(order[:, :round(step * pixels / steps)])
        removed.scatter_(1, taken, True)
        flat = inputs.reshape(count, channels, pixels)
        changed = torch.where(removed[:, None], base, flat).reshape(inputs.shape)
        probabilities = torch.softmax(model(changed).double(), dim=1)
        curves[:, step] = probabilities.gather(1, targets[:, None])[:, 0].numpy()
    return curves


def area(curves: np.ndarray) -> float:
    """The mean area under the curves, the x axis the share removed (0 to 1)."""
    return float(np.trapezoid(curves, dx=1 / (curves.shape[1] - 1), axis=1).mean())


def deletion(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, maps: np.ndarray,
             baseline: torch.Tensor, seed: int = 0) -> dict[str, float | list[float]]:
    """The deletion test of ``maps``: the area under their curve, the random order's, and
    their ratio (lower is better: the pixels named first matter most); the mean curves."""
    model.eval()
    most_first = np.argsort(-maps.reshape(len(maps), -1), axis=1, kind="stable")
    rng = np.random.default_rng(seed)
    shuffled = np.stack([rng.permutation(most_first.shape[1]) for _ in range(len(maps))])
    ours = deletion_curve(model, inputs, targets, most_first, baseline)
    random = deletion_curve(model, inputs, targets, shuffled, baseline)
    return {"area": area(ours), "random_area": area(random),
            "ratio": area(ours) / max(area(random), 1e-12),
            "curve": ours.mean(axis=0).round(4).tolist(),
            "random_curve": random.mean(axis=0).round(4).tolist()}
