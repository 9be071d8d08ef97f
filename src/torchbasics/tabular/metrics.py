"""Regression metrics: MSE, RMSE, MAE and R², in the target's units (R² has none)."""

from __future__ import annotations

import math

import numpy as np
import torch

from torchbasics.errors import TorchbasicsError

METRIC_NAMES = {"mse": "MSE", "rmse": "RMSE", "mae": "MAE", "r2": "R²"}


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
