"""A figure of what the model saw: each picture beside its 28x28 input and the prediction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from torchbasics.inference.predictor import Prediction

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_ROWS = 16  # a figure of more pictures would be too tall to read


def prediction_figure(pictures: Sequence[np.ndarray], predictions: Sequence[Prediction],
                      max_rows: int = MAX_ROWS, *, deskewed: bool = False) -> Figure:
    """One row per picture: the original, and the model's input titled with its prediction.

    Args:
        pictures: the originals, ``(H, W)`` or ``(H, W, 3)`` uint8 (the first
            ``max_rows`` are enough).
        predictions: their predictions (``seen`` holds the model's input).
        max_rows: show at most this many (the first ones); the title says how many more.
        deskewed: the model deskews its input: show the 28x28 picture and, beside it, the
            deskewed one the network really saw.
    """
    import matplotlib.pyplot as plt

    shown = min(len(predictions), max_rows)
    columns = 3 if deskewed else 2
    figure, axes = plt.subplots(shown, columns, figsize=(2.5 * columns, 2.4 * shown),
                                squeeze=False)
    rows = zip(pictures[:shown], predictions[:shown], strict=True)
    for row, (picture, prediction) in enumerate(rows):
        original, *inputs = axes[row]
        original.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255)
        original.set_title(_short(prediction.source) or "original", fontsize=9)
        panels = [prediction.seen] + ([straightened(prediction.seen)] if deskewed else [])
        for ax, pixels in zip(inputs, panels, strict=True):
            # Nearest neighbour: show the 28x28 pixels as they are, not a smoothed version.
            ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=255,
                      interpolation="nearest")
        if deskewed:
            inputs[0].set_title("28x28, before deskewing", fontsize=9)
        inputs[-1].set_title(f"model saw: {prediction.class_name} "
                             f"({100 * prediction.probability:.1f} %)", fontsize=9)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    if len(predictions) > shown:
        figure.suptitle(f"the first {shown} of {len(predictions)} pictures", fontsize=10)
    figure.tight_layout()
    return figure


def straightened(seen: np.ndarray) -> np.ndarray:
    """The ``(H, W)`` uint8 image deskewed, as a deskewing model gets it (for showing)."""
    import torch

    from torchbasics.data.geometry import deskew_pixels

    return deskew_pixels(torch.from_numpy(np.ascontiguousarray(seen))[None, None])[0, 0].numpy()


def _short(source: str, width: int = 30) -> str:
    """``source`` cut to its last ``width`` characters, to fit above a small panel."""
    return source if len(source) <= width else "…" + source[-(width - 1):]
