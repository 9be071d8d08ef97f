"""The inside of a model for one picture, as plain lists for a web page, and any unit's weights.

:func:`inside_view` is what ``serve``'s "Inside" view draws as the learner draws: the
Integrated Gradients map of the predicted class over what the model saw, and by family

- softmax regression: each class's contribution map ``w_c * x`` (a class's score is its
  sum plus a bias);
- an MLP: every hidden unit's output, the most influential for this picture first;
- a CNN: each convolution's :data:`MAPS_SHOWN` most active feature maps.

:func:`weights_of` answers a click on one of them: a class's template, a unit's weights
over the pixels, or a filter (averaged over its input channels past the first layer).
Numbers are rounded to :data:`DIGITS` significant digits: a page draws them as colours.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from torchbasics.explain import inside
from torchbasics.explain.attributions import integrated_gradients

# Integrated Gradients' points for a live view, never more: an update must stay within its
# 100 ms as the learner draws (docs/results/05-serve.md).
LIVE_STEPS = 32
MAPS_SHOWN = 8  # feature maps per convolution
DIGITS = 4


def rounded(values: np.ndarray) -> list:
    """``values`` as nested lists of floats with :data:`DIGITS` significant digits."""
    values = np.asarray(values, dtype=np.float64)
    scale = np.max(np.abs(values)) if values.size else 0.0
    if scale == 0:
        return np.zeros_like(values).tolist()
    decimals = max(0, DIGITS - 1 - int(np.floor(np.log10(scale))))
    return np.round(values, decimals).tolist()


def inside_view(net: nn.Module, inputs: torch.Tensor, target: int, baseline: torch.Tensor,
                class_names: tuple[str, ...], steps: int = LIVE_STEPS) -> dict[str, Any]:
    """The Inside view of one model input ``(1, C, H, W)``, explaining class ``target``:
    ``{"family", "attribution": {...}, "layers": [...]}`` (see the module docstring)."""
    net.eval()
    found = integrated_gradients(net, inputs, torch.tensor([target]), baseline, steps=steps,
                                 most_steps=steps)  # a fixed cost: the page waits for it
    gap = float(found.gap[0])
    view: dict[str, Any] = {
        "family": inside.family(net),
        "attribution": {"method": "Integrated Gradients", "class": class_names[target],
                        "map": rounded(found.maps[0]), "steps": steps,
                        "completeness": abs(float(found.delta[0])) / max(abs(gap), 1e-6)},
    }
    kind = view["family"]
    if kind == "linear":
        parts = inside.contributions(net, inputs)[0]  # (K, H, W)
        view["layers"] = [{"name": "each class's score, pixel by pixel (w × x)",
                           "kind": "maps", "layer": 0, "items": [
                               {"index": k, "label": name, "map": rounded(parts[k]),
                                "value": float(parts[k].sum())}
                               for k, name in enumerate(class_names)]}]
    elif kind == "mlp":
        view["layers"] = [_units(net, inputs)]
    else:
        view["layers"] = _feature_maps(net, inputs)
    return view


def _units(net: nn.Module, inputs: torch.Tensor) -> dict[str, Any]:
    """An MLP's hidden units for one picture, the most influential for it first."""
    values = inside.unit_activations(net, inputs)[0]  # (U,)
    outgoing = inside.linears(net)[1].weight.detach().double().norm(dim=0).numpy()
    order = np.argsort(-np.abs(values) * outgoing, kind="stable")
    kind = "relu" if isinstance(inside.hidden_activation(net), nn.ReLU) else "sigmoid"
    return {"name": f"hidden units ({kind}), most influential first", "kind": "units",
            "layer": 0, "activation": kind,
            "items": [{"index": int(u), "label": f"unit {u}", "value": float(values[u])}
                      for u in order]}


def _feature_maps(net: nn.Module, inputs: torch.Tensor) -> list[dict[str, Any]]:
    """Each convolution's most active feature maps for one picture."""
    layers = []
    for number, maps in enumerate(inside.feature_maps(net, inputs)):
        maps = maps[0]  # (F, h, w)
        strongest = np.argsort(-np.abs(maps).mean(axis=(1, 2)), kind="stable")[:MAPS_SHOWN]
        layers.append({"name": f"convolution {number + 1}: {len(strongest)} of its "
                               f"{len(maps)} feature maps, the most active", "kind": "maps",
                       "layer": number, "items": [
                           {"index": int(f), "label": f"filter {f}", "map": rounded(maps[f]),
                            "value": float(np.abs(maps[f]).mean())} for f in strongest]})
    return layers


def weights_of(net: nn.Module, layer: int, index: int,
               input_shape: tuple[int, int, int]) -> dict[str, Any]:
    """The weights behind one item of :func:`inside_view`: a class template or a hidden
    unit (``layer`` 0 of a linear model or an MLP: its first linear layer), or filter
    ``index`` of convolution ``layer``.

    Raises:
        IndexError: no such layer or unit.
    """
    if inside.family(net) == "cnn":
        convolutions = inside.convolutions(net)
        if not 0 <= layer < len(convolutions):
            raise IndexError(f"the model has {len(convolutions)} convolutions")
        weights = convolutions[layer].weight.detach().double()
        if not 0 <= index < len(weights):
            raise IndexError(f"convolution {layer + 1} has {len(weights)} filters")
        kernel = weights[index]  # (C_in, k, k)
        note = ("its weights" if len(kernel) == 1 else
                f"its weights, averaged over its {len(kernel)} input channels")
        return {"layer": layer, "index": index, "weights": rounded(kernel.mean(dim=0).numpy()),
                "caption": f"convolution {layer + 1}, {note}"}
    if layer != 0:
        raise IndexError("only the first layer's weights are pictures")
    weights = inside.linears(net)[0].weight.detach().double()
    if not 0 <= index < len(weights):
        raise IndexError(f"the first layer has {len(weights)} units")
    picture = weights[index].reshape(input_shape).sum(dim=0).numpy()
    return {"layer": 0, "index": index, "weights": rounded(picture),
            "caption": "the weight it gives each pixel"}
