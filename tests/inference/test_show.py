"""The --show figure: the picture, its 28x28 input and, for a deskewing model, the deskewed one."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from torchbasics.data.geometry import deskew
from torchbasics.inference.predictor import Prediction
from torchbasics.inference.show import prediction_figure

matplotlib.use("Agg")


def _prediction(seen: np.ndarray) -> Prediction:
    return Prediction(7, "7", 0.9, (0.1,) * 10, ((7, "7", 0.9),), "a.png", seen)


@pytest.mark.parametrize("deskewed", [False, True])
def test_each_row_shows_what_the_network_got(deskewed):
    import matplotlib.pyplot as plt

    seen = np.zeros((28, 28), dtype=np.uint8)
    for row in range(6, 22):  # a stroke slanting right as it goes up
        seen[row, 10 + (22 - row) // 2: 12 + (22 - row) // 2] = 255
    figure = prediction_figure([np.zeros((40, 40), np.uint8)], [_prediction(seen)],
                               deskewed=deskewed)
    axes = figure.axes
    assert len(axes) == (3 if deskewed else 2)
    assert np.array_equal(axes[1].images[0].get_array(), seen)
    assert axes[-1].get_title().startswith("model saw: 7")
    if deskewed:
        expected = (deskew(torch.from_numpy(seen).float()[None, None] / 255)[0, 0] * 255)
        shown = axes[2].images[0].get_array()
        assert np.array_equal(shown, expected.round().to(torch.uint8).numpy())
        assert not np.array_equal(shown, seen)
    plt.close(figure)
