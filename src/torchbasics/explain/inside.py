"""What a trained model holds: its weights as pictures, what its units and filters do.

Every function takes the model (and model inputs ``(N, C, H, W)``, as
:class:`~torchbasics.data.transforms.ModelInput` makes them) and returns arrays:

- softmax regression: its weight *templates*, one picture per class, and for a picture
  each pixel's contribution to each class, ``w_c * x`` (the logit is their sum plus a bias);
- an MLP: its first layer's units as pictures (the weights each unit multiplies the pixels
  by), ordered by influence; their activations; which units are *dead* (a ReLU that is
  zero for every test picture: it never passes a gradient again) or *saturated* (a sigmoid
  stuck near 0 or 1, where its gradient all but vanishes);
- a CNN: its first convolution's filters, and the feature maps every convolution makes;
- any model: the input of its last linear layer (its hidden representation).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from torchbasics.models.mirror import MirrorAveraged

SATURATED_BELOW, SATURATED_ABOVE = 0.02, 0.98  # a sigmoid's output this near 0 or 1
SATURATED_SHARE = 0.95  # of the test pictures: a unit that far out this often is saturated


def network(model: nn.Module) -> nn.Module:
    """The network inside a mirror-averaging wrapper (its layers are what is explained)."""
    return model.model if isinstance(model, MirrorAveraged) else model


def linears(model: nn.Module) -> list[nn.Linear]:
    """The model's linear layers, in order."""
    return [m for m in network(model).modules() if isinstance(m, nn.Linear)]


def convolutions(model: nn.Module) -> list[nn.Conv2d]:
    """The model's 2-d convolutions, in order."""
    return [m for m in network(model).modules() if isinstance(m, nn.Conv2d)]


def family(model: nn.Module) -> str:
    """``"cnn"`` (has convolutions), ``"mlp"`` (hidden linear layers) or ``"linear"``."""
    if convolutions(model):
        return "cnn"
    return "mlp" if len(linears(model)) > 1 else "linear"


def templates(model: nn.Module, input_shape: tuple[int, ...]) -> np.ndarray:
    """A linear model's weights as one picture per class ``(K, C, H, W)``."""
    layer = linears(model)[0]
    return layer.weight.detach().double().reshape(-1, *input_shape).numpy()


def contributions(model: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """Each pixel's contribution to each class's logit ``(N, K, H, W)``: ``w_c * x``,
    summed over the colour channels (the logit is their sum plus the class's bias)."""
    weights = torch.from_numpy(templates(model, tuple(inputs.shape[1:])))  # (K, C, H, W)
    return (weights[None] * inputs.double()[:, None]).sum(dim=2).numpy()


def first_units(model: nn.Module, input_shape: tuple[int, ...]) -> np.ndarray:
    """An MLP's hidden units as pictures: the first layer's weights ``(U, C, H, W)``."""
    return linears(model)[0].weight.detach().double().reshape(-1, *input_shape).numpy()


@contextmanager
def recorded(modules: list[nn.Module], inputs: bool = False) -> Iterator[list[torch.Tensor]]:
    """The outputs (or inputs) of ``modules`` on the forward passes run inside the block."""
    found: list[torch.Tensor] = []

    def hook(module: nn.Module, arguments: tuple, output: torch.Tensor) -> None:
        found.append((arguments[0] if inputs else output).detach())

    handles = [module.register_forward_hook(hook) for module in modules]
    try:
        yield found
    finally:
        for handle in handles:
            handle.remove()


def hidden_activation(model: nn.Module) -> nn.Module:
    """The module after an MLP's first linear layer (its ReLU or sigmoid)."""
    layers = list(network(model).modules())
    first = layers.index(linears(model)[0])
    return next(m for m in layers[first + 1:] if isinstance(m, (nn.ReLU, nn.Sigmoid)))


@torch.no_grad()
def unit_activations(model: nn.Module, inputs: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """An MLP's hidden activations ``(N, U)``: what each unit outputs for each picture."""
    network(model).eval()
    outputs = []
    for start in range(0, len(inputs), batch):
        with recorded([hidden_activation(model)]) as found:
            network(model)(inputs[start:start + batch])
        outputs.append(found[0].double())
    return torch.cat(outputs).numpy()


@dataclass(frozen=True)
class UnitHealth:
    """How an MLP's hidden units behave on a set of pictures."""

    activation: str  # "relu" or "sigmoid"
    dead: np.ndarray  # (U,) bool: a ReLU zero for every picture
    saturated: np.ndarray  # (U,) bool: a sigmoid near 0 or 1 for most pictures
    influence: np.ndarray  # (U,): mean |activation| x the size of its outgoing weights
    flat_share: float  # of all outputs, those where the unit passes (almost) no gradient

    def order(self) -> np.ndarray:
        """The units, most influential first."""
        return np.argsort(-self.influence, kind="stable")


def unit_health(model: nn.Module, inputs: torch.Tensor) -> UnitHealth:
    """Which hidden units are dead or saturated on ``inputs``, and how much each matters."""
    values = unit_activations(model, inputs)  # (N, U)
    activation = "relu" if isinstance(hidden_activation(model), nn.ReLU) else "sigmoid"
    dead = (values <= 0).all(axis=0) if activation == "relu" else np.zeros(values.shape[1], bool)
    tails = (values < SATURATED_BELOW) | (values > SATURATED_ABOVE)
    saturated = (tails.mean(axis=0) >= SATURATED_SHARE if activation == "sigmoid"
                 else np.zeros(values.shape[1], bool))
    outgoing = linears(model)[1].weight.detach().double().norm(dim=0).numpy()  # (U,)
    # Flat: a ReLU's zeros (its gradient is 0 there), a sigmoid's tails (there it is < 0.02).
    flat = float((values <= 0).mean() if activation == "relu" else tails.mean())
    return UnitHealth(activation, dead, saturated, np.abs(values).mean(axis=0) * outgoing,
                      flat)


def filters(model: nn.Module) -> np.ndarray:
    """The first convolution's filters ``(F, C, k, k)``."""
    return convolutions(model)[0].weight.detach().double().numpy()


@torch.no_grad()
def feature_maps(model: nn.Module, inputs: torch.Tensor) -> list[np.ndarray]:
    """What every convolution outputs for each picture: one ``(N, F, h, w)`` per layer."""
    network(model).eval()
    with recorded(convolutions(model)) as found:
        network(model)(inputs)
    return [maps.double().numpy() for maps in found]


@torch.no_grad()
def hidden_representation(model: nn.Module, inputs: torch.Tensor,
                          batch: int = 1000) -> np.ndarray:
    """The input of the last linear layer ``(N, D)``: what the model's output layer reads."""
    network(model).eval()
    parts = []
    for start in range(0, len(inputs), batch):
        with recorded([linears(model)[-1]], inputs=True) as found:
            network(model)(inputs[start:start + batch])
        parts.append(found[0].flatten(1).double())
    return torch.cat(parts).numpy()
