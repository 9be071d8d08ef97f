"""The linear models: softmax regression (pixels -> class scores) and linear regression."""

from __future__ import annotations

import math

from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.models._registry import register_model


@register_model("softmax", "multinomial logistic regression: one linear layer")
def softmax_regression(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """``Flatten -> Linear``; softmax itself lives in the cross-entropy loss."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


@register_model("linear", "linear regression: one linear layer, features -> value",
                task="regression")
def linear_regression(input_shape: tuple[int, ...], num_classes: int = 1) -> nn.Linear:
    """``Linear(F, outputs)``: ``y = x @ W.T + b`` for ``(B, F)`` rows; ``num_classes`` outputs."""
    if len(input_shape) != 1:
        raise TorchbasicsError(
            f"linear regression takes rows of features, shape (F,), not {tuple(input_shape)}",
            where="--model linear", fix="train it on a tabular data set (--dataset bonus); "
            "for images, softmax is the linear model",
        )
    return nn.Linear(input_shape[0], num_classes)
