"""Figures: built without pyplot, saved atomically as real PNG files."""

from __future__ import annotations

import numpy as np
from PIL import Image

from torchbasics.plots import image_grid, save_figure


def test_image_grid_captions_and_png(tmp_path):
    images = np.zeros((10, 1, 28, 28), np.uint8)
    figure = image_grid(images, list(range(10)), [f"class {i}" for i in range(10)], columns=5)
    captions = [ax.get_title(loc="center") for ax in figure.axes if ax.get_title()]
    assert captions == [f"class {i}" for i in range(10)]
    save_figure(figure, tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as png:
        assert png.format == "PNG" and png.width > 200
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temp file left


def test_wrong_predictions_are_marked():
    images = np.zeros((2, 28, 28), np.uint8)
    figure = image_grid(images, [0, 1], ["a", "b"], predictions=[0, 0])
    titles = [ax.title for ax in figure.axes[:2]]
    assert [t.get_text() for t in titles] == ["a → a", "b → a"]
    assert titles[1].get_color() == "red"
