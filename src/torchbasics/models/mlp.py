"""Multi-layer perceptrons with one hidden layer, sigmoid or ReLU."""

from __future__ import annotations

import math

from torch import nn

from torchbasics.models._registry import register_model


def mlp(
    input_shape: tuple[int, ...], num_classes: int, *, hidden: int, activation: type[nn.Module],
    dropout: float = 0.0,
) -> nn.Sequential:
    """``Flatten -> Linear(in, hidden) -> activation -> [Dropout] -> Linear(hidden, classes)``."""
    layers: list[nn.Module] = [
        nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), activation(),
    ]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, num_classes))
    return nn.Sequential(*layers)


@register_model(
    "mlp-sigmoid", "one hidden layer with sigmoid activation",
    tasks=("classification", "regression"), inputs=("image", "table"),
    # Sigmoid units saturate and learn slowly: a higher rate than mlp-relu's.
    recipe=dict(epochs=40, batch_size=128, optimizer="sgd", lr=0.5, weight_decay=5e-5,
                schedule="onecycle", label_smoothing=0.0, augment=1.0),
)
def mlp_sigmoid(
    input_shape: tuple[int, ...], num_classes: int, hidden: int = 512, dropout: float = 0.0
) -> nn.Module:
    """The classic MLP of the 1980s: sigmoid units, whose gradients fade when saturated."""
    return mlp(input_shape, num_classes, hidden=hidden, activation=nn.Sigmoid, dropout=dropout)


@register_model(
    "mlp-relu", "one hidden layer with ReLU activation",
    tasks=("classification", "regression"), inputs=("image", "table"),
    recipe=dict(epochs=40, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=5e-5,
                schedule="onecycle", label_smoothing=0.0, augment=1.0),
)
def mlp_relu(
    input_shape: tuple[int, ...], num_classes: int, hidden: int = 512, dropout: float = 0.0
) -> nn.Module:
    """The same network with ReLU units, which do not saturate for positive inputs."""
    return mlp(input_shape, num_classes, hidden=hidden, activation=nn.ReLU, dropout=dropout)
