"""How good a model is, in numbers: classification and regression metrics.

Classification: error rate, confusion matrix, per-class report, confident mistakes (labels
and predictions may be tensors, NumPy arrays or lists of class indices). Regression: MSE,
RMSE, MAE and R², in the target's units (R² has none). Numbers only (no matplotlib): the
figures that show them live in :mod:`torchbasics.plots`. scikit-learn, which costs about an
``import torch`` to import, is imported only by the per-class report that uses it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from torchbasics.errors import TorchbasicsError

REGRESSION_METRICS = {"mse": "MSE", "rmse": "RMSE", "mae": "MAE", "r2": "R²"}

ClassIndices = torch.Tensor | np.ndarray | Sequence[int]


def _indices(values: ClassIndices, name: str) -> np.ndarray:
    """``values`` as a 1-D int64 NumPy array (tensors are moved to the CPU first)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise TorchbasicsError(f"{name} must be one class index per sample, got shape "
                               f"{array.shape}", fix="pass a 1-D sequence of class indices")
    return array.astype(np.int64)


def _pair(labels: ClassIndices, predictions: ClassIndices) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions as equally long, non-empty int64 arrays."""
    true, predicted = _indices(labels, "labels"), _indices(predictions, "predictions")
    if len(true) != len(predicted):
        raise TorchbasicsError(f"{len(true)} labels but {len(predicted)} predictions",
                               fix="pass one prediction per label")
    if len(true) == 0:
        raise TorchbasicsError("no samples to evaluate", fix="pass at least one label")
    return true, predicted


def _check_range(values: np.ndarray, num_classes: int) -> None:
    """Refuse class indices outside ``0..num_classes-1`` (sklearn would silently drop them)."""
    bad = values[(values < 0) | (values >= num_classes)]
    if len(bad):
        raise TorchbasicsError(f"class index {int(bad[0])} is outside 0..{num_classes - 1}",
                               fix="check num_classes (or the class names) against the data")


def error_rate(labels: ClassIndices, predictions: ClassIndices) -> float:
    """The fraction of samples whose prediction differs from the label (0..1)."""
    true, predicted = _pair(labels, predictions)
    return float(np.mean(true != predicted))


def confusion(labels: ClassIndices, predictions: ClassIndices, num_classes: int) -> np.ndarray:
    """The ``(K, K)`` int64 confusion matrix: rows are true classes, columns predicted ones.

    Every class gets its row and column, even one that never occurs.
    """
    true, predicted = _pair(labels, predictions)
    _check_range(true, num_classes)
    _check_range(predicted, num_classes)
    # Cell (t, p) counts the samples of class t predicted as p.
    cells = np.bincount(true * num_classes + predicted, minlength=num_classes * num_classes)
    return cells.reshape(num_classes, num_classes).astype(np.int64)


def per_class_report(
    labels: ClassIndices, predictions: ClassIndices, class_names: Sequence[str]
) -> dict[str, Any]:
    """Precision, recall, F1 and support per class (keyed by name), plus accuracy and averages.

    A class that is never predicted has precision 0 (not a warning).
    """
    return _report(labels, predictions, class_names, output_dict=True)


def format_report(
    labels: ClassIndices, predictions: ClassIndices, class_names: Sequence[str], digits: int = 3
) -> str:
    """:func:`per_class_report` as the aligned text table scikit-learn prints."""
    return _report(labels, predictions, class_names, output_dict=False, digits=digits)


def _report(labels: ClassIndices, predictions: ClassIndices, class_names: Sequence[str],
            **options: Any) -> Any:
    from sklearn.metrics import classification_report

    true, predicted = _pair(labels, predictions)
    _check_range(true, len(class_names))
    _check_range(predicted, len(class_names))
    return classification_report(true, predicted, labels=list(range(len(class_names))),
                                 target_names=list(class_names), zero_division=0, **options)


def most_confident_mistakes(probabilities: torch.Tensor, labels: torch.Tensor, k: int
                            ) -> torch.Tensor:
    """Indices of the wrong predictions made with the highest probability, most confident first.

    Args:
        probabilities: ``(N, K)`` class probabilities (logits rank the same way).
        labels: ``(N,)`` true classes.
        k: how many to return at most (fewer when there are fewer mistakes).

    Returns:
        ``(min(k, mistakes),)`` int64 indices into the N samples.
    """
    if probabilities.ndim != 2 or labels.shape != probabilities.shape[:1]:
        raise TorchbasicsError(f"probabilities {tuple(probabilities.shape)} and labels "
                               f"{tuple(labels.shape)} do not match",
                               fix="pass (N, K) probabilities and (N,) labels")
    if k < 0:
        raise TorchbasicsError(f"k must be 0 or more, got {k}")
    confidence, predicted = probabilities.max(dim=1)  # (N,), (N,)
    wrong = (predicted != labels.to(predicted.device)).nonzero().flatten()  # (M,)
    # A stable sort keeps equally confident mistakes in sample order: reproducible figures.
    order = torch.sort(confidence[wrong], descending=True, stable=True).indices
    return wrong[order[:k]]


def most_confused_pairs(matrix: np.ndarray, k: int) -> list[tuple[int, int, int]]:
    """The ``k`` most frequent mistakes of a confusion matrix (rows true, columns
    predicted) as ``(true class, predicted class, count)``, most frequent first; pairs
    never confused are left out."""
    counts = np.array(matrix, dtype=np.int64)
    np.fill_diagonal(counts, 0)
    order = np.argsort(-counts, axis=None, kind="stable")[:max(k, 0)]
    pairs = [(int(i), int(j), int(counts[i, j]))
             for i, j in zip(*np.unravel_index(order, counts.shape), strict=True)]
    return [pair for pair in pairs if pair[2] > 0]


def regression_metrics(
    target: np.ndarray | torch.Tensor, prediction: np.ndarray | torch.Tensor
) -> dict[str, float | None]:
    """``{"mse", "rmse", "mae", "r2"}`` of predictions against true values (any shape, N each).

    R² is 1 - MSE / variance of the target: 1 is perfect, 0 is no better than always
    predicting the mean.
    """
    true, predicted = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (target, prediction))
    if len(true) != len(predicted) or len(true) == 0:
        raise TorchbasicsError(f"{len(true)} targets and {len(predicted)} predictions",
                               fix="pass one prediction per target, at least one")
    errors = predicted - true
    mse = float(np.mean(errors**2))
    variance = float(np.var(true))
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1.0 - mse / variance if variance > 0 else None,  # undefined: constant target
    }
