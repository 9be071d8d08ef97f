"""Figures: built without pyplot, saved atomically as real PNG files."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from torchbasics.errors import TorchbasicsError
from torchbasics.plots import (
    confusion_matrix_figure,
    image_grid,
    loss_curves,
    save_figure,
    validation_curves,
)


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


FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def _metrics(val_error: list[float]) -> dict[str, np.ndarray]:
    """Metrics as read_metrics reads metrics.csv, one row per validation error given."""
    epoch = np.arange(1, len(val_error) + 1, dtype=np.float64)
    ones = np.ones_like(epoch)
    return {"epoch": epoch, "train_loss": 1 / epoch, "train_error": 0.2 / epoch,
            "val_loss": 1.1 / epoch, "val_error": np.array(val_error), "lr": 0.1 * ones,
            "seconds": 2.0 * ones, "images_per_second": 30000.0 * ones}


def _png(path) -> tuple[int, int]:
    with Image.open(path) as png:
        assert png.format == "PNG"
        return png.size


def test_loss_curves_panels_and_lowest_point(tmp_path):
    val_error = [0.2, 0.1, 0.05, 0.03, 0.0123, 0.02, 0.025]
    figure = loss_curves(_metrics(val_error), title="mlp")
    loss, error = figure.axes
    assert (loss.get_xlabel(), loss.get_ylabel()) == ("epoch", "loss")
    assert (error.get_xlabel(), error.get_ylabel()) == ("epoch", "error (%)")
    for ax in (loss, error):
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
    assert [t.get_text() for t in error.texts] == ["lowest 1.23 %"]
    assert error.texts[0].xy == pytest.approx((5, 1.23))
    np.testing.assert_allclose(error.lines[1].get_ydata(), 100 * np.array(val_error))
    assert figure.get_suptitle() == "mlp"
    save_figure(figure, tmp_path / "loss_curves.png")
    width, height = _png(tmp_path / "loss_curves.png")
    assert width > 2 * height > 600


def test_loss_curves_without_errors_shows_loss_only():
    # As the training loop builds it for regression: None where there is no error.
    metrics = _metrics([0.1, 0.1, 0.1]) | {"train_error": [None] * 3, "val_error": [None] * 3}
    figure = loss_curves(metrics)
    assert len(figure.axes) == 1 and figure.axes[0].get_ylabel() == "loss"


def test_loss_curves_names_a_missing_column():
    with pytest.raises(TorchbasicsError, match="val_loss"):
        metrics = _metrics([0.1, 0.05])
        del metrics["val_loss"]
        loss_curves(metrics)


def test_confusion_matrix_labels_and_counts(tmp_path):
    matrix = np.diag(np.arange(100, 110))
    matrix[6, 0] = 42  # a shirt taken for a T-shirt
    figure = confusion_matrix_figure(matrix, FASHION, title="test")
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == FASHION
    assert [t.get_text() for t in ax.get_yticklabels()] == FASHION
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert ax.get_xticklabels()[0].get_rotation() == 45
    annotations = [t.get_text() for t in ax.texts]
    assert len(annotations) == 100 and annotations.count("") == 89  # zeros stay blank
    assert annotations[6 * 10 + 0] == "42" and annotations[0] == "100"  # row-major: true, pred
    save_figure(figure, tmp_path / "confusion.png")
    width, height = _png(tmp_path / "confusion.png")
    assert width > 600 and height > 600


def test_confusion_matrix_text_stays_readable_on_its_cell():
    matrix = np.array([[900, 3], [0, 450]])  # dark, pale; blank, middling
    ax = confusion_matrix_figure(matrix, ["a", "b"]).axes[0]
    colors = [to_hex(t.get_color()) for t in ax.texts]
    assert colors[0] == "#ffffff" and colors[1] == to_hex("0.15")  # white on dark, grey on pale
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == "Blues" and mesh.norm.vmin == 0
    assert ax.get_ylim() == (2, 0)  # the first true class on top
    assert figure_colorbar_label(ax) == "count"


def figure_colorbar_label(ax) -> str:
    """The label of the colour bar drawn beside ``ax``."""
    (bar,) = [other for other in ax.figure.axes if other is not ax]
    return bar.get_ylabel()


def test_confusion_matrix_normalized_by_true_class():
    matrix = np.array([[3, 1], [0, 0]])  # class 1 never occurs: its row stays empty
    ax = confusion_matrix_figure(matrix, ["a", "b"], normalize=True).axes[0]
    assert [t.get_text() for t in ax.texts] == ["75.0", "25.0", "", ""]


def test_confusion_matrix_rejects_wrong_number_of_names():
    with pytest.raises(TorchbasicsError, match="3 class names"):
        confusion_matrix_figure(np.eye(10), FASHION[:3])


def test_figures_bypass_pyplot():
    import matplotlib.pyplot as plt

    confusion_matrix_figure(np.eye(3, dtype=np.int64), ["a", "b", "c"])
    loss_curves(_metrics([0.1, 0.05]))
    assert plt.get_fignums() == []  # nothing left open in pyplot's registry


def test_validation_curves_one_line_per_model(tmp_path):
    curves = {"softmax": _metrics([0.15, 0.1, 0.08]), "cnn": _metrics([0.04, 0.01, 0.005])}
    figure = validation_curves(curves, title="MNIST")
    ax = figure.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["softmax  (lowest 8.00 %)", "cnn  (lowest 0.50 %)"]
    assert ax.get_yscale() == "log"  # 15 % down to 0.5 %
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "validation error (%)")
    save_figure(figure, tmp_path / "compare.png")
    assert _png(tmp_path / "compare.png")[0] > 600


def test_validation_curves_linear_for_a_narrow_range():
    curves = {"a": _metrics([0.12, 0.1]), "b": _metrics([0.1, 0.09, 0.085])}
    assert validation_curves(curves).axes[0].get_yscale() == "linear"


def test_validation_curves_needs_a_model():
    with pytest.raises(TorchbasicsError):
        validation_curves({})


def test_lowest_point_breaks_error_ties_by_loss_like_the_summarys_lowest_val_error():
    from torchbasics.plots import loss_curves, validation_curves

    metrics = {
        "epoch": [1, 2, 3, 4], "train_loss": [1.0] * 4, "train_error": [0.1] * 4,
        "val_loss": [0.5, 0.3, 0.2, 0.4], "val_error": [0.05, 0.02, 0.02, 0.03],
        "lr": [0.1] * 4, "seconds": [1.0] * 4, "images_per_second": [1.0] * 4,
    }
    dots = [line for line in loss_curves(metrics).axes[1].lines if line.get_marker() == "o"]
    assert [tuple(dot.get_xdata()) for dot in dots] == [(3,)]
    figure = validation_curves({"m": metrics})
    dots = [line for line in figure.axes[0].lines if line.get_marker() == "o"]
    assert [tuple(dot.get_xdata()) for dot in dots] == [(3,)]
