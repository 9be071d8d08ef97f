"""The linear models: softmax regression (pixels -> class scores) and linear regression."""

from __future__ import annotations

import math

from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.models._registry import register_model


@register_model(
    "softmax", "multinomial logistic regression: one linear layer",
    inputs=("image", "table"),
    # A linear model underfits: a little augmentation, more weight decay than the others.
    recipe=dict(epochs=40, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=5e-3,
                schedule="onecycle", label_smoothing=0.0, augment=0.15),
)
def softmax_regression(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """``Flatten -> Linear``; softmax itself lives in the cross-entropy loss."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


@register_model(
    "linear", "linear regression: one linear layer, features -> value",
    tasks=("regression",), inputs=("table",),
    # On standardized features: full-batch gradient descent (every training row, up to
    # 65,536), a constant rate and no weight decay, so that it converges to least squares;
    # lr 0.1 is far below divergence even for strongly correlated features.
    recipe=dict(epochs=200, batch_size=65_536, optimizer="sgd", lr=0.1, weight_decay=0.0,
                schedule="constant"),
)
def linear_regression(input_shape: tuple[int, ...], num_classes: int = 1) -> nn.Linear:
    """``Linear(F, outputs)``: ``y = x @ W.T + b`` for ``(B, F)`` rows; ``num_classes`` outputs."""
    if len(input_shape) != 1:
        raise TorchbasicsError(
            f"linear regression takes rows of features, shape (F,), not {tuple(input_shape)}",
            where="--model linear", fix="train it on a tabular data set (--dataset bonus); "
            "for images, softmax is the linear model",
        )
    return nn.Linear(input_shape[0], num_classes)
