"""Multi-layer perceptrons: one or more hidden layers, sigmoid or ReLU."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from torchbasics.models._registry import register_model

Widths = int | Sequence[int]  # one hidden layer's units, or each layer's, input side first


def mlp(
    input_shape: tuple[int, ...], num_classes: int, *, hidden: Widths,
    activation: type[nn.Module], dropout: float = 0.0,
) -> nn.Sequential:
    """``Flatten``, then for each hidden layer ``Linear -> activation -> [Dropout]``, then
    ``Linear(last hidden, classes)``.

    One hidden layer gives the same modules (and ``state_dict`` keys) as before several
    were possible, so checkpoints of one-layer MLPs load unchanged.
    """
    widths = [hidden] if isinstance(hidden, int) else list(hidden)
    layers: list[nn.Module] = [nn.Flatten()]
    inputs = math.prod(input_shape)
    for width in widths:
        layers += [nn.Linear(inputs, width), activation()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        inputs = width
    layers.append(nn.Linear(inputs, num_classes))
    return nn.Sequential(*layers)


@register_model(
    "mlp-sigmoid", "hidden layers (one by default) with sigmoid activation",
    tasks=("classification", "regression"), inputs=("image", "table"), several=("hidden",),
    # Sigmoid units saturate and learn slowly: a higher rate than mlp-relu's.
    recipe=dict(epochs=40, batch_size=128, optimizer="sgd", lr=0.5, weight_decay=5e-5,
                schedule="onecycle", label_smoothing=0.0, augment=1.0),
)
def mlp_sigmoid(
    input_shape: tuple[int, ...], num_classes: int, hidden: Widths = 512, dropout: float = 0.0
) -> nn.Module:
    """The classic MLP of the 1980s: sigmoid units, whose gradients fade when saturated
    (and fade more with every layer they pass through)."""
    return mlp(input_shape, num_classes, hidden=hidden, activation=nn.Sigmoid, dropout=dropout)


@register_model(
    "mlp-relu", "hidden layers (one by default) with ReLU activation",
    tasks=("classification", "regression"), inputs=("image", "table"), several=("hidden",),
    recipe=dict(epochs=40, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=5e-5,
                schedule="onecycle", label_smoothing=0.0, augment=1.0),
)
def mlp_relu(
    input_shape: tuple[int, ...], num_classes: int, hidden: Widths = 512, dropout: float = 0.0
) -> nn.Module:
    """The same network with ReLU units, which do not saturate for positive inputs."""
    return mlp(input_shape, num_classes, hidden=hidden, activation=nn.ReLU, dropout=dropout)
