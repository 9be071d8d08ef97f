"""Why a model answered: attribution maps over what it saw, computed by Captum.

Each method is a function of ``(model, inputs, targets) -> maps``: ``inputs`` are model
inputs ``(N, C, H, W)`` (after :class:`~torchbasics.data.transforms.ModelInput`: deskewed
where the model learned so, normalized), ``targets`` the class each map explains, and the
maps ``(N, H, W)`` float64 (summed over the colour channels). Figures draw them
(:mod:`.figures`); the sanity checks test them (:mod:`.checks`).

- Integrated Gradients (Sundararajan et al., 2017): the path integral of the gradient from
  a baseline to the input, times their difference; its maps add up to ``F(x) - F(baseline)``
  (completeness), which :func:`integrated_gradients` reports as ``delta``.
- Saliency (Simonyan et al., 2014): the absolute gradient of the class score.
- Occlusion (Zeiler and Fergus, 2014): how much the class score drops when a square of the
  picture is set to the baseline, slid over it.
- Grad-CAM (Selvaraju et al., 2017), for a model with convolutions: the last
  convolution's feature maps weighted by their mean gradient, positive part, scaled up.

The baseline is the black picture ("no ink, no light") as the model sees it, unless given.
Captum is the ``explain`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from torchbasics.extras import require

METHODS = ("integrated_gradients", "saliency", "occlusion", "grad_cam")
TITLES = {"integrated_gradients": "Integrated Gradients", "saliency": "saliency",
          "occlusion": "occlusion", "grad_cam": "Grad-CAM"}
IG_STEPS = 64  # Gauss-Legendre points to start with (docs/guides/10-explain.md)
MOST_STEPS = 512  # ... doubled for a picture whose map is not complete, up to this
PATH_POINTS = 512  # points on Integrated Gradients' paths per forward pass
BATCH = 64  # pictures (or occluded copies) per forward pass


@dataclass
class Attribution:
    """One method's maps, and for Integrated Gradients how far from complete each is."""

    method: str
    maps: np.ndarray  # (N, H, W) float64
    delta: np.ndarray | None = None  # (N,): sum of the map - (F(x) - F(baseline))
    gap: np.ndarray | None = None  # (N,): F(x) - F(baseline), for the relative delta
    steps: np.ndarray | None = None  # (N,): the integration points each picture took


def captum_attr():
    """``captum.attr`` (the ``explain`` extra), imported without the warning its progress
    bars give where Jupyter has no widgets: none of them are shown here."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        return require("captum.attr", "explain")


def black_baseline(model_input: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    """The black picture (no ink, no light) as a model sees it, ``(1, C, H, W)``: zero
    pixels through its input step (``ModelInput.normalize``)."""
    return model_input.normalize(torch.zeros(1, *input_shape))


def methods_for(model: nn.Module) -> list[str]:
    """The methods that apply to ``model`` (Grad-CAM needs a convolution)."""
    return [m for m in METHODS if m != "grad_cam" or last_convolution(model) is not None]


def last_convolution(model: nn.Module) -> nn.Conv2d | None:
    """The model's last 2-d convolution (where Grad-CAM looks), if it has one."""
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convolutions[-1] if convolutions else None


def attribute(method: str, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
              baseline: torch.Tensor, *, steps: int = IG_STEPS) -> Attribution:
    """The maps of ``method`` (one of :data:`METHODS`) for ``inputs`` and ``targets``."""
    model.eval()
    if method == "integrated_gradients":
        return integrated_gradients(model, inputs, targets, baseline, steps=steps)
    if method == "saliency":
        return Attribution(method, saliency(model, inputs, targets))
    if method == "occlusion":
        return Attribution(method, occlusion(model, inputs, targets, baseline))
    return Attribution(method, grad_cam(model, inputs, targets))


def integrated_gradients(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                         baseline: torch.Tensor, *, steps: int = IG_STEPS,
                         most_steps: int = MOST_STEPS) -> Attribution:
    """Integrated Gradients of the class logit, and each map's completeness gap.

    Sundararajan et al.'s own advice: check that a map adds up to the change of score, and
    integrate again with more steps where it does not. A picture whose map misses by more
    than :data:`~.checks.COMPLETENESS_GOAL` is integrated again with twice the steps, up
    to ``most_steps``: a ReLU network's gradient jumps along the path, and some pictures
    need more points than others. ``Attribution.steps`` says how many each took.
    """
    from torchbasics.explain.checks import COMPLETENESS_GOAL, relative_miss

    found = _integrated(model, inputs, targets, baseline, steps)
    while steps * 2 <= most_steps:
        missed = np.flatnonzero(relative_miss(found.delta, found.gap) > COMPLETENESS_GOAL)
        if not len(missed):
            break
        steps *= 2
        again = _integrated(model, inputs[missed], targets[missed], baseline, steps)
        found.maps[missed], found.delta[missed] = again.maps, again.delta
        found.steps[missed] = steps
    return found


def integrated_gradients_at(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                            baseline: torch.Tensor, steps: np.ndarray) -> Attribution:
    """Integrated Gradients with each picture's own number of ``steps``, none adapted: the
    randomization check's maps of a randomized copy are made exactly as the trained
    model's were, only the weights differ (and a random network, whose maps need not add
    up, is not integrated again and again to 512 points for nothing)."""
    found = Attribution("integrated_gradients", np.zeros((len(inputs), *inputs.shape[2:])),
                        np.zeros(len(inputs)), np.zeros(len(inputs)), steps.copy())
    for count in np.unique(steps):
        rows = np.flatnonzero(steps == count)
        part = _integrated(model, inputs[rows], targets[rows], baseline, int(count))
        found.maps[rows], found.delta[rows], found.gap[rows] = part.maps, part.delta, part.gap
    return found


def _integrated(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                baseline: torch.Tensor, steps: int) -> Attribution:
    """:func:`integrated_gradients` with ``steps`` Gauss-Legendre points for every picture."""
    method = captum_attr().IntegratedGradients(model)
    maps, deltas, gaps = [], [], []
    chunk_size = max(1, PATH_POINTS // steps)
    for start in range(0, len(inputs), chunk_size):
        chunk = slice(start, start + chunk_size)
        base = baseline.expand_as(inputs[chunk])
        found, delta = method.attribute(inputs[chunk], baselines=base, target=targets[chunk],
                                        n_steps=steps, method="gausslegendre",
                                        return_convergence_delta=True)
        maps.append(found.detach().sum(dim=1).double())
        deltas.append(delta.detach().double())
        with torch.no_grad():
            picked = targets[chunk][:, None]
            gaps.append((model(inputs[chunk]).gather(1, picked)
                         - model(base).gather(1, picked))[:, 0].double())
    return Attribution("integrated_gradients", torch.cat(maps).numpy(),
                       torch.cat(deltas).numpy(), torch.cat(gaps).numpy(),
                       np.full(len(inputs), steps))


def saliency(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """The absolute gradient of the class logit, the largest over the colour channels."""
    captum = captum_attr()
    method = captum.Saliency(model)
    maps = [method.attribute(inputs[s:s + BATCH].detach().requires_grad_(),
                             target=targets[s:s + BATCH], abs=True).detach().amax(dim=1).double()
            for s in range(0, len(inputs), BATCH)]
    return torch.cat(maps).numpy()


def occlusion_window(height: int) -> tuple[int, int]:
    """The occluding square's side and stride for pictures ``height`` pixels high."""
    side = max(2, height // 7)
    return side, max(1, side // 2)


def occlusion(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
              baseline: torch.Tensor) -> np.ndarray:
    """How much the class logit falls when each square is set to the baseline."""
    captum = captum_attr()
    channels, height, _ = inputs.shape[1:]
    side, stride = occlusion_window(height)
    method = captum.Occlusion(model)
    maps = []
    for start in range(0, len(inputs), 16):
        chunk = slice(start, start + 16)
        found = method.attribute(inputs[chunk], target=targets[chunk],
                                 sliding_window_shapes=(channels, side, side),
                                 strides=(channels, stride, stride),
                                 baselines=baseline.expand_as(inputs[chunk]),
                                 perturbations_per_eval=BATCH)
        maps.append(found.detach().sum(dim=1).double())
    return torch.cat(maps).numpy()


def grad_cam(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Grad-CAM at the last convolution, scaled up to the picture's size."""
    captum = captum_attr()
    layer = last_convolution(model)
    if layer is None:
        raise ValueError("Grad-CAM needs a model with a convolution")
    method = captum.LayerGradCam(model, layer)
    maps = []
    for start in range(0, len(inputs), BATCH):
        chunk = slice(start, start + BATCH)
        found = method.attribute(inputs[chunk], target=targets[chunk], relu_attributions=True)
        scaled = captum.LayerAttribution.interpolate(found.detach(), inputs.shape[2:],
                                                     interpolate_mode="bilinear")
        maps.append(scaled[:, 0].double())
    return torch.cat(maps).numpy()
