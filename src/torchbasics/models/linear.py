"""Softmax (multinomial logistic) regression: one linear layer from pixels to class scores."""

from __future__ import annotations

import math

from torch import nn

from torchbasics.models._registry import register_model


@register_model("softmax", "multinomial logistic regression: one linear layer")
def softmax_regression(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """``Flatten -> Linear``; softmax itself lives in the cross-entropy loss."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))
