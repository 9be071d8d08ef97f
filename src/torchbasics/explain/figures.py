"""The figures of ``torchbasics explain``: arrays in, a matplotlib ``Figure`` out.

Pictures are ``(C, H, W)`` floats on [0, 1], as the model saw them (after deskewing,
before normalizing). Signed maps (weights, contributions, Integrated Gradients, occlusion)
are drawn red for "more of this class", blue for "less", white for nothing, on a scale
symmetric about zero and shared by the panels compared; every figure has a colour bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from torchbasics.explain.attributions import TITLES
from torchbasics.explain.inside import UnitHealth

SIGNED = "RdBu_r"  # red positive, blue negative
SIGNED_METHODS = {"integrated_gradients", "occlusion"}  # the others are never negative


def limit(values: np.ndarray) -> float:
    """The symmetric colour limit for ``values``: their largest magnitude (1 if all zero).

    The 99.5th percentile, not the maximum: one extreme pixel would wash the rest out.
    """
    magnitude = float(np.percentile(np.abs(values), 99.5)) if np.size(values) else 0.0
    return magnitude if magnitude > 0 else 1.0


def show_picture(ax: Axes, picture: np.ndarray, title: str = "") -> None:
    """``picture`` ``(C, H, W)`` on [0, 1]: gray, or in colour."""
    image = np.clip(picture.transpose(1, 2, 0), 0, 1)
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(image)
    _plain(ax, title)


def _plain(ax: Axes, title: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def _grid(count: int, columns: int, size: float = 1.3,
          title: str = "") -> tuple[Figure, np.ndarray]:
    """A figure of ``count`` panels, ``columns`` to a row; unused panels hidden."""
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    figure = Figure(figsize=(size * columns + 0.8, size * rows + (0.5 if title else 0.1)),
                    layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_axis_off()
    if title:
        figure.suptitle(title, fontsize=10)
    return figure, axes.flat[:count]


def signed_grid(maps: np.ndarray, titles: Sequence[str], title: str, label: str,
                columns: int = 10) -> Figure:
    """Signed maps ``(N, H, W)`` on one symmetric scale, with one colour bar."""
    figure, axes = _grid(len(maps), columns, title=title)
    scale = limit(maps)
    image = None
    for ax, values, name in zip(axes, maps, titles, strict=True):
        image = ax.imshow(values, cmap=SIGNED, vmin=-scale, vmax=scale)
        _plain(ax, name)
    if image is not None:
        figure.colorbar(image, ax=list(axes), shrink=0.8, label=label)
    return figure


def templates_figure(templates: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Softmax regression's weights, one picture per class ``(K, C, H, W)``."""
    return signed_grid(templates.sum(axis=1), list(class_names),
                       "What each class looks for: its weights (red raises its score, "
                       "blue lowers it)", "weight", columns=5)


def contributions_figure(contributions: np.ndarray, class_names: Sequence[str],
                         caption: str) -> Figure:
    """Each pixel's contribution ``w_c * x`` to each class's score, for one picture."""
    titles = [f"{name}\nsum {total:+.1f}" for name, total in
              zip(class_names, contributions.reshape(len(contributions), -1).sum(axis=1),
                  strict=True)]
    return signed_grid(contributions, titles,
                       f"{caption}: each pixel's part in each class's score (w × x); "
                       "the score is the sum plus a bias", "contribution", columns=5)


def units_figure(units: np.ndarray, order: np.ndarray, dead: np.ndarray,
                 saturated: np.ndarray, shown: int = 32) -> Figure:
    """An MLP's first-layer units as pictures, most influential first; dead and saturated
    units named in their titles."""
    picked = order[:shown]
    titles = [f"unit {unit}" + (" dead" if dead[unit] else " saturated" if saturated[unit]
                                else "") for unit in picked]
    return signed_grid(units[picked].sum(axis=1), titles,
                       f"The {len(picked)} most influential hidden units: the weights each "
                       "multiplies the pixels by", "weight", columns=8)


def activations_figure(picture: np.ndarray, activations: np.ndarray, order: np.ndarray,
                       activation: str, caption: str, shown: int = 64) -> Figure:
    """One picture and what the most influential hidden units output for it."""
    figure = Figure(figsize=(9, 2.4), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1, 5])
    show_picture(left, picture, caption)
    picked = order[:shown]
    right.bar(np.arange(len(picked)), activations[picked], color="tab:blue")
    right.set_xticks(np.arange(len(picked))[::8], [str(u) for u in picked[::8]], fontsize=7)
    right.set_xlabel("hidden unit (most influential first)")
    right.set_ylabel(f"{activation} output")
    right.set_title(f"Hidden units' outputs ({activation})", fontsize=9)
    return figure


def health_figure(values: np.ndarray, health: UnitHealth) -> Figure:
    """How the hidden units' outputs ``(N, U)`` are spread over the test pictures: a ReLU's
    share of zeros, a sigmoid's share near 0 or 1 (where neither passes a gradient)."""
    figure = Figure(figsize=(6, 3), layout="constrained")
    ax = figure.subplots()
    ax.hist(values.ravel(), bins=50, color="tab:blue")
    ax.set_yscale("log")
    ax.set_xlabel(f"{health.activation} output, every unit and test picture")
    ax.set_ylabel("count")
    if health.activation == "relu":
        problem = (f"{int(health.dead.sum())} of {len(health.dead)} units dead; "
                   f"{health.flat_share:.0%} of the outputs are 0 (no gradient)")
    else:
        problem = (f"{int(health.saturated.sum())} of {len(health.saturated)} units "
                   f"saturated; {health.flat_share:.0%} of the outputs within 0.02 of 0 or 1")
    ax.set_title(f"Hidden units ({health.activation}): {problem}", fontsize=9)
    return figure


def filters_figure(filters: np.ndarray) -> Figure:
    """A convolution's filters ``(F, C, k, k)`` (summed over colour channels)."""
    return signed_grid(filters.sum(axis=1), [str(i) for i in range(len(filters))],
                       "First convolution's filters (red: weights that respond to light)",
                       "weight", columns=8)


def feature_maps_figure(picture: np.ndarray, layers: Sequence[np.ndarray], caption: str,
                        shown: int = 8) -> Figure:
    """One picture and what each convolution makes of it: a row per convolution, the
    ``shown`` channels that respond most."""
    figure = Figure(figsize=(1.3 * (shown + 1), 1.4 * len(layers) + 0.4), layout="constrained")
    axes = figure.subplots(len(layers), shown + 1, squeeze=False)
    for row, maps in enumerate(layers):
        show_picture(axes[row, 0], picture, caption if row == 0 else "")
        strongest = np.argsort(-np.abs(maps).mean(axis=(1, 2)), kind="stable")[:shown]
        scale = limit(maps[strongest])
        image = None
        for column in range(shown):
            ax = axes[row, column + 1]
            if column >= len(strongest):
                ax.set_axis_off()
                continue
            image = ax.imshow(maps[strongest[column]], cmap=SIGNED, vmin=-scale, vmax=scale)
            _plain(ax, f"conv {row + 1} · {strongest[column]}")
        if image is not None:
            figure.colorbar(image, ax=list(axes[row, 1:]), shrink=0.8)
    figure.suptitle("Feature maps: each convolution's outputs (before its ReLU)", fontsize=10)
    return figure


def attributions_figure(pictures: np.ndarray, maps: Mapping[str, np.ndarray],
                        captions: Sequence[str]) -> Figure:
    """A row per picture: the picture, then each method's map over it."""
    methods = list(maps)
    figure = Figure(figsize=(1.6 * (len(methods) + 1) + 0.6, 1.7 * len(pictures) + 0.5),
                    layout="constrained")
    axes = figure.subplots(len(pictures), len(methods) + 1, squeeze=False)
    for row, picture in enumerate(pictures):
        show_picture(axes[row, 0], picture, captions[row])
        for column, method in enumerate(methods):
            _overlay(axes[row, column + 1], picture, maps[method][row], method,
                     TITLES[method] if row == 0 else "")
    figure.suptitle("Why it answered: each pixel's part in the predicted class's score",
                    fontsize=10)
    return figure


def _overlay(ax: Axes, picture: np.ndarray, values: np.ndarray, method: str,
             title: str) -> None:
    """A map over a faint copy of its picture."""
    ax.imshow(np.clip(picture.mean(axis=0), 0, 1), cmap="gray", vmin=0, vmax=1, alpha=0.35)
    scale = limit(values)
    if method in SIGNED_METHODS:
        image = ax.imshow(values, cmap=SIGNED, vmin=-scale, vmax=scale, alpha=0.85)
    else:
        image = ax.imshow(values, cmap="magma", vmin=0, vmax=scale, alpha=0.85)
    ax.figure.colorbar(image, ax=ax, shrink=0.7)
    _plain(ax, title)


def embedding_figure(points: np.ndarray, labels: np.ndarray, predictions: np.ndarray,
                     class_names: Sequence[str], what: str) -> Figure:
    """Test pictures' hidden representation in 2-d, coloured by true class, mistakes
    marked with a black cross."""
    figure = Figure(figsize=(7, 6), layout="constrained")
    ax = figure.subplots()
    colours = "tab10" if len(class_names) <= 10 else "tab20"
    for label, name in enumerate(class_names):
        chosen = labels == label
        ax.scatter(*points[chosen].T, s=6, color=_colour(colours, label), label=name)
    wrong = labels != predictions
    ax.scatter(*points[wrong].T, s=18, marker="x", color="black", linewidths=0.8,
               label=f"mistakes ({int(wrong.sum())})")
    ax.legend(fontsize=7, markerscale=2, loc="best")
    _plain(ax, "")
    ax.set_title(f"{what} of {len(points):,} test pictures, in 2-d (t-SNE after PCA)",
                 fontsize=9)
    return figure


def _colour(name: str, index: int) -> tuple[float, ...]:
    from matplotlib import colormaps

    palette = colormaps[name]
    return palette(index % palette.N)


def confused_figure(pairs: Sequence[tuple[int, int, int]], examples: Sequence[np.ndarray],
                    class_names: Sequence[str]) -> Figure:
    """A row per most-confused pair: ``true → predicted (count)`` and example pictures."""
    shown = max([len(e) for e in examples] + [1])
    figure = Figure(figsize=(1.2 * shown + 1.8, 1.35 * max(1, len(pairs)) + 0.4),
                    layout="constrained")
    axes = figure.subplots(max(1, len(pairs)), shown, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for row, ((true, predicted, count), pictures) in enumerate(zip(pairs, examples,
                                                                   strict=True)):
        for column, picture in enumerate(pictures):
            axes[row, column].set_axis_on()
            show_picture(axes[row, column], picture)
        axes[row, 0].set_ylabel(f"{class_names[true]} →\n{class_names[predicted]}\n({count})",
                                fontsize=8, rotation=0, ha="right", va="center")
    figure.suptitle("Most-confused classes: true → predicted (how often), with examples",
                    fontsize=10)
    return figure


def deletion_figure(curves: Mapping[str, Mapping[str, Sequence[float]]]) -> Figure:
    """The deletion test: the class probability as pixels are removed, most important
    first (solid) and in a random order (dashed), per method."""
    figure = Figure(figsize=(6, 3.5), layout="constrained")
    ax = figure.subplots()
    for index, (method, result) in enumerate(curves.items()):
        shares = np.linspace(0, 1, len(result["curve"]))
        colour = _colour("tab10", index)
        ax.plot(shares, result["curve"], color=colour, label=TITLES[method])
        ax.plot(shares, result["random_curve"], color=colour, linestyle="--", linewidth=0.8)
    ax.set_xlabel("share of pixels removed (set to black)")
    ax.set_ylabel("probability of the class explained")
    ax.set_title("Deletion: the lower the solid line falls below its dashed random "
                 "order, the better", fontsize=9)
    ax.legend(fontsize=8)
    return figure


def importance_figure(names: Sequence[str], means: np.ndarray, spreads: np.ndarray,
                      metric: str) -> Figure:
    """Permutation importance: how much worse the model gets when a column is shuffled."""
    order = np.argsort(means, kind="stable")
    figure = Figure(figsize=(6, 0.35 * len(names) + 1.2), layout="constrained")
    ax = figure.subplots()
    ax.barh(np.arange(len(names)), means[order], xerr=spreads[order], color="tab:blue")
    ax.set_yticks(np.arange(len(names)), [names[i] for i in order], fontsize=8)
    ax.set_xlabel(f"increase in test {metric} when the column is shuffled")
    ax.set_title("Which columns the model relies on (permutation importance)", fontsize=9)
    return figure


def table_weights_figure(weights: np.ndarray, class_names: Sequence[str],
                         input_names: Sequence[str]) -> Figure:
    """A linear table classifier's weights ``(K, D)``: a row per class, a column per input
    (numbers standardized, so their weights compare)."""
    figure = Figure(figsize=(0.45 * len(input_names) + 2.5, 0.4 * len(class_names) + 1.8),
                    layout="constrained")
    ax = figure.subplots()
    scale = limit(weights)
    image = ax.imshow(weights, cmap=SIGNED, vmin=-scale, vmax=scale, aspect="auto")
    ax.set_yticks(np.arange(len(class_names)), list(class_names), fontsize=8)
    ax.set_xticks(np.arange(len(input_names)), list(input_names), rotation=60, ha="right",
                  fontsize=7)
    figure.colorbar(image, ax=ax, label="weight (inputs standardized)")
    ax.set_title("What raises (red) or lowers (blue) each class's score", fontsize=9)
    return figure
