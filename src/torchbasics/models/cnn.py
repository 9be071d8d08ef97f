"""Convolutional networks: the seed's small CNN, and a stronger one with batch norm."""

from __future__ import annotations

from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.models._registry import register_model


@register_model(
    "cnn", "the seed's small CNN: Conv -> ReLU -> MaxPool -> FC",
    recipe=dict(epochs=40, batch_size=128, optimizer="sgd", lr=0.1, weight_decay=5e-4,
                schedule="onecycle", label_smoothing=0.1, augment=0.5),
)
def small_cnn(input_shape: tuple[int, ...], num_classes: int, filters: int = 32) -> nn.Module:
    """One 5x5 convolution ('same' padding), ReLU, 2x2 max-pooling, one linear layer.

    ReLU and max-pooling commute (the max of clipped values is the clipped max), so the
    layers below pool first: the same function and the same gradients, with ReLU (forward
    and backward) on a quarter of the values: on a CPU these memory-bound passes cost more
    than the tiny convolution.
    """
    in_channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(in_channels, filters, kernel_size=5, padding=2),  # (B, filters, H, W)
        nn.MaxPool2d(2),  # (B, filters, H/2, W/2)
        nn.ReLU(),  # = Conv -> ReLU -> MaxPool, see above
        nn.Flatten(),
        nn.Linear(filters * (height // 2) * (width // 2), num_classes),
    )


def conv_bn_relu(in_channels: int, out_channels: int, *, pool: bool = False) -> list[nn.Module]:
    """3x3 convolution, optional 2x2 max-pooling, batch norm, ReLU.

    Pooling comes straight after the convolution, before batch norm and ReLU: those two
    are memory-bound and cost more than the convolution itself on a CPU, so they run on a
    quarter of the pixels.
    """
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return [*layers, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU layers, the second pooled (halving H and W)."""
    return nn.Sequential(
        *conv_bn_relu(in_channels, out_channels),
        *conv_bn_relu(out_channels, out_channels, pool=True),
    )


@register_model(
    "convnet", "stronger CNN: a conv stem, two double-conv blocks, batch norm, a hidden fully "
    "connected layer",
    # A short warm-up to a high rate: batch norm keeps it stable, and it learns fastest.
    recipe=dict(epochs=15, batch_size=128, optimizer="sgd", lr=0.2, weight_decay=5e-4,
                schedule="onecycle", warmup=0.1, label_smoothing=0.1, augment=0.5),
)
def convnet(
    input_shape: tuple[int, ...],
    num_classes: int,
    width: int = 32,
    hidden: int = 256,
    dropout: float = 0.25,
) -> nn.Module:
    """VGG-style with batch norm, shaped for CPU speed.

    Only one convolution runs at full resolution (it has a single input channel, so it is
    cheap); the double-conv blocks of width 2w and 4w run at 1/2 and 1/4 of it, where most
    of the capacity sits at a quarter of the cost. The head flattens the last feature map
    (4w x 3 x 3 for 28x28 images) into ``hidden`` units with batch norm, ReLU and dropout,
    rather than averaging it over positions: where a feature sits is what tells a shirt
    from a T-shirt.
    """
    in_channels, rows, columns = input_shape
    if rows < 8 or columns < 8:
        raise TorchbasicsError(
            f"the images are {rows}x{columns} pixels; convnet halves them three times, so "
            "it needs at least 8x8", where="--model convnet", fix="use cnn or an MLP",
        )
    features = 4 * width * (rows // 8) * (columns // 8)  # after three 2x2 poolings
    return nn.Sequential(
        *conv_bn_relu(in_channels, width, pool=True),  # (B, w, 14, 14)
        conv_block(width, 2 * width),  # (B, 2w, 7, 7)
        conv_block(2 * width, 4 * width),  # (B, 4w, 3, 3)
        nn.Flatten(),  # (B, 4w * 3 * 3)
        nn.Linear(features, hidden, bias=False),  # batch norm brings its own shift
        nn.BatchNorm1d(hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )
