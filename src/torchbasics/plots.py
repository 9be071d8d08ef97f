"""Figures as pure functions: arrays in, a matplotlib ``Figure`` out; nothing global.

Figures are built with ``matplotlib.figure.Figure`` directly (not ``pyplot``), so they work
without a display, in threads and in tests, and are never left open.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from torchbasics.files import atomic_write


def image_grid(
    images: torch.Tensor | np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str],
    *,
    predictions: Sequence[int] | None = None,
    columns: int = 8,
    title: str | None = None,
) -> Figure:
    """A grid of images, each with its class name underneath.

    Args:
        images: ``(N, C, H, W)`` or ``(N, H, W)`` uint8 pixels.
        labels: the true class of each image.
        class_names: names indexed by class.
        predictions: when given, each caption reads ``true → predicted`` and is red
            where they differ.
        columns: images per row.
        title: figure title.
    """
    pixels = np.asarray(images)
    if pixels.ndim == 4:
        pixels = pixels.transpose(0, 2, 3, 1)  # (N, H, W, C) for imshow
        if pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
    count = len(pixels)
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    figure = Figure(figsize=(1.25 * columns, 1.45 * rows + (0.4 if title else 0)))
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index >= count:
            continue
        ax.imshow(pixels[index], cmap="gray" if pixels.ndim == 3 else None, vmin=0, vmax=255)
        caption, color = class_names[int(labels[index])], "black"
        if predictions is not None:
            predicted = class_names[int(predictions[index])]
            color = "black" if int(predictions[index]) == int(labels[index]) else "red"
            caption = f"{caption} → {predicted}"
        ax.set_title(caption, fontsize=8, y=-0.2, color=color)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    """Save ``figure`` as PNG (or the format the suffix names), atomically."""
    buffer = io.BytesIO()
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower() if "." in os.fspath(path) else "png"
    figure.savefig(buffer, format=suffix, dpi=dpi, bbox_inches="tight")
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())
