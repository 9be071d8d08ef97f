"""Figures as pure functions: arrays in, a matplotlib ``Figure`` out; nothing global.

Figures are built with ``matplotlib.figure.Figure`` directly (not ``pyplot``), so they work
without a display, in threads and in tests, and are never left open.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from torchbasics.errors import TorchbasicsError
from torchbasics.files import atomic_write

# A run's metrics by column: a dict of arrays (read_metrics, metrics_columns); any mapping of
# column name to values does (a pandas DataFrame too).
Metrics = Mapping[str, Sequence[float]]


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


def loss_curves(metrics: Metrics, title: str | None = None, *,
                loss_label: str = "loss", log_loss: bool = False) -> Figure:
    """Loss and error (%) against epoch, train vs validation, side by side.

    The epoch of lowest validation error is marked with a dot and its value. A run without
    errors (regression: the error columns are empty) gets the loss panel only.

    Args:
        metrics: one row per epoch with the columns of ``metrics.csv`` (see
            :func:`torchbasics.runs.rundir.read_metrics`); errors are fractions.
        title: figure title.
        loss_label: what the loss is called on its axis (e.g. ``"MSE"``).
        log_loss: draw the loss on a logarithmic scale (for a loss that falls by orders of
            magnitude, as a regression's MSE does).
    """
    epoch = _column(metrics, "epoch")
    errors = not np.isnan(_column(metrics, "val_error")).all()
    figure = Figure(figsize=(11, 4) if errors else (5.5, 4))
    axes = figure.subplots(1, 2 if errors else 1, squeeze=False)[0]
    _train_vs_validation(axes[0], metrics, "loss", loss_label)
    if log_loss:
        _log_axis(axes[0], lambda value, _: _short_number(value))
        axes[0].set_ylabel(f"{loss_label} (log scale)")
    if errors:
        _train_vs_validation(axes[1], metrics, "error", "error (%)", scale=100)
        _mark_lowest(axes[1], epoch, 100 * _column(metrics, "val_error"),
                     100 * _column(metrics, "train_error"), _best_row(metrics))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def lr_curve(rates: Sequence[float], losses: Sequence[float], suggestion: float) -> Figure:
    """The learning-rate range test: smoothed training loss against the rate (log axis),
    the suggested rate marked with a line and its value."""
    figure = Figure(figsize=(6, 4))
    ax = figure.subplots()
    ax.plot(rates, losses, color="tab:blue")
    ax.set_xscale("log")
    ax.axvline(suggestion, color="tab:red", linestyle="--",
               label=f"suggested: {suggestion:.2g}")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title("Learning-rate range test")
    ax.legend()
    figure.tight_layout()
    return figure


def confusion_matrix_figure(
    matrix: np.ndarray,
    class_names: Sequence[str],
    title: str | None = None,
    normalize: bool = False,
) -> Figure:
    """A heatmap of a confusion matrix, each cell annotated: rows true, columns predicted.

    Args:
        matrix: ``(K, K)`` counts, as :func:`torchbasics.metrics.confusion` returns.
        class_names: the K names, labelling both axes.
        title: figure title.
        normalize: show each row as percentages of its true class instead of counts
            (what recall per class looks like).
    """
    counts = np.asarray(matrix)
    size = len(class_names)
    if counts.shape != (size, size):
        raise TorchbasicsError(f"confusion matrix of shape {counts.shape} for {size} class names",
                               fix="pass one class name per row of the matrix")
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = 100 * counts / np.maximum(totals, 1)  # a class never seen keeps a row of 0
        fmt, label = "{:.1f}", "% of true class"
    else:
        integral = np.array_equal(counts, np.round(counts))
        values, fmt, label = counts, "{:.0f}" if integral else "{:.1f}", "count"
    # Empty cells stay blank: the few real confusions stand out from a sea of zeros.
    text = np.where(counts == 0, "", np.vectorize(fmt.format, otypes=[str])(values))
    side = 2.0 + 0.6 * size  # ~0.6 inch a cell: room for four-digit counts
    figure = Figure(figsize=(side + 1.2, side))
    ax = figure.subplots()
    _heatmap(ax, np.asarray(values, dtype=np.float64), text, label)
    ax.set_xticks(np.arange(size) + 0.5, list(class_names))
    ax.set_yticks(np.arange(size) + 0.5, list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    # Long names ("T-shirt/top") slant under their column instead of overlapping.
    ax.tick_params(axis="x", labelrotation=45)
    for tick in ax.get_xticklabels():
        tick.set(ha="right", rotation_mode="anchor")
    if title:
        ax.set_title(title)
    figure.tight_layout()
    return figure


def _heatmap(ax: Axes, values: np.ndarray, text: np.ndarray, label: str) -> None:
    """``values`` as square cells shaded in blues, row 0 at the top, each cell's ``text``
    written on it in a colour that stays readable on its shade; a colour bar named ``label``.
    """
    mesh = ax.pcolormesh(values, cmap="Blues", vmin=0, edgecolors="0.92", linewidth=0.5)
    ax.set(xlim=(0, values.shape[1]), ylim=(values.shape[0], 0), aspect="equal")
    for spine in ax.spines.values():  # the cells' own edges frame the matrix
        spine.set_visible(False)
    shades = mesh.to_rgba(values)  # (K, K, 4): each cell's colour
    for (row, column), cell in np.ndenumerate(text):  # row-major: true class, then predicted
        ax.text(column + 0.5, row + 0.5, cell, ha="center", va="center", fontsize=8,
                color=_readable_on(shades[row, column]))
    colorbar = ax.figure.colorbar(mesh, ax=ax, shrink=0.8, label=label)
    colorbar.outline.set_visible(False)


def _readable_on(rgba: np.ndarray) -> str:
    """Dark grey text on a light shade, white on a dark one: the shade's relative luminance
    (WCAG's formula) against the threshold seaborn's heatmap used, so figures read as before."""
    rgb = np.asarray(rgba[:3], dtype=np.float64)
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    luminance = float(linear @ np.array([0.2126, 0.7152, 0.0722]))
    return "0.15" if luminance > 0.408 else "white"


def validation_curves(curves: Mapping[str, Metrics], title: str | None = None) -> Figure:
    """Validation error (%) against epoch, one line per model, to compare models.

    The y axis is logarithmic when the errors span a factor of 5 or more (15 % down to
    0.5 %, say), so the differences between good models stay visible.

    Args:
        curves: model name -> its metrics (with ``epoch`` and ``val_error`` columns).
        title: figure title.
    """
    if not curves:
        raise TorchbasicsError("no curves to compare", fix="pass at least one model's metrics")
    figure = Figure(figsize=(7.5, 4.5))
    ax = figure.subplots()
    everything = []
    for name, metrics in curves.items():
        epoch, error = _column(metrics, "epoch"), 100 * _column(metrics, "val_error")
        if np.isnan(error).all():
            raise TorchbasicsError("no validation error recorded", where=name,
                                   fix="compare classification runs only")
        best = _best_row(metrics)
        (line,) = ax.plot(epoch, error, marker=".", label=f"{name}  (lowest {error[best]:.2f} %)")
        ax.plot(epoch[best], error[best], "o", color=line.get_color(), markersize=8, zorder=3)
        everything.append(error)
    _percent_axis(ax, np.concatenate(everything))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%)")
    ax.grid(True, which="major", alpha=0.4)
    ax.legend()
    if title:
        ax.set_title(title)
    figure.tight_layout()
    return figure


def _column(metrics: Metrics, name: str) -> np.ndarray:
    """One column as float64 (``None`` and text become NaN), or an error naming what is
    missing."""
    if name not in metrics:
        raise TorchbasicsError(f"metrics have no column {name!r} (columns: "
                               f"{', '.join(map(str, metrics))})",
                               fix="read them with torchbasics.runs.rundir.read_metrics")
    values = np.array([_number(value) for value in np.asarray(metrics[name], dtype=object)],
                      dtype=np.float64)
    if len(values) == 0:
        raise TorchbasicsError("metrics have no epochs", fix="train for at least one epoch")
    return values


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _train_vs_validation(ax: Axes, metrics: Metrics, what: str, label: str,
                         scale: float = 1.0) -> None:
    """Train and validation ``what`` (loss or error) against epoch on ``ax``."""
    epoch = _column(metrics, "epoch")
    ax.plot(epoch, scale * _column(metrics, f"train_{what}"), marker=".", label="train")
    ax.plot(epoch, scale * _column(metrics, f"val_{what}"), marker=".", label="validation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.4)
    ax.legend()


def _best_row(metrics: Metrics) -> int:
    """Row of the lowest validation error, ties going to the lower loss (the summary's
    ``lowest_val_error_epoch``; best.pt may keep a later epoch within its noise)."""
    return int(np.lexsort((_column(metrics, "val_loss"), _column(metrics, "val_error")))[0])


def _mark_lowest(
    ax: Axes, epoch: np.ndarray, error: np.ndarray, train: np.ndarray, best: int
) -> None:
    """A dot on the lowest validation error and a label with its value.

    The validation curve lies above its minimum, so the label goes just below the dot
    (making room there if needed), unless the train curve runs close below it: then above.
    Near either end it leans inwards so it stays inside the panel.
    """
    ax.plot(epoch[best], error[best], "o", color="C1", markersize=9, zorder=3)
    low, high = ax.get_ylim()
    room = 0.15 * (high - low)  # ~ the label's height plus its offset
    below = not (0 <= error[best] - train[best] < room)  # NaN compares False: below
    if below and error[best] - low < room:
        ax.set_ylim(error[best] - room, high)
    where = best / max(1, len(epoch) - 1)
    ha = "left" if where < 0.2 else "right" if where > 0.8 else "center"
    ax.annotate(f"lowest {error[best]:.2f} %", xy=(epoch[best], error[best]),
                xytext=(0, -12 if below else 12), textcoords="offset points",
                ha=ha, va="top" if below else "bottom", color="C1", fontweight="bold",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.9},
                zorder=4)


def _percent_axis(ax: Axes, values: np.ndarray) -> None:
    """Percent tick labels; logarithmic (ticks 1-2-5) when the values span a factor of 5."""
    low, high = np.nanmin(values), np.nanmax(values)
    if low > 0 and high / low >= 5:
        _log_axis(ax, lambda value, _: f"{value:g} %")
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g} %"))


def _short_number(value: float) -> str:
    """``5000000`` -> ``5M``, ``200000`` -> ``200k``, ``0.05`` -> ``0.05``."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _log_axis(ax: Axes, label: Callable[[float, int], str]) -> None:
    """A logarithmic y axis, ticks at 1-2-5 labelled as plain numbers: matplotlib's own
    labels are typeset powers of ten, whose first use costs a third of a second."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(label))
    ax.yaxis.set_minor_formatter(NullFormatter())
