"""Predictions from a regression checkpoint: one row from named values, or a whole CSV.

The checkpoint carries everything needed: the model, the feature columns with their
allowed ranges, and the training rows' mean and standard deviation, so new inputs are
checked and scaled exactly as the training data was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.files import write_text
from torchbasics.tabular.formula import LinearFormula
from torchbasics.tabular.prepare import Standardizer
from torchbasics.tabular.table import Column, check_columns, parse_column, read_csv_text

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Regressor:
    """A trained regression model with the columns it takes and the scaling it expects."""

    model: nn.Module
    scaler: Standardizer
    columns: tuple[Column, ...]
    target: Column
    dataset: str = ""  # the data set it was trained on
    config: dict[str, Any] = field(default_factory=dict)  # the settings it trained with

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any], where: str = "") -> Regressor:
        """Rebuild from a checkpoint of :func:`~torchbasics.runs.regression.train_regression`."""
        from torchbasics.checkpoint import REGRESSOR, model_from_checkpoint

        if checkpoint["kind"] != REGRESSOR:
            raise TorchbasicsError("not a regression checkpoint", where=where or None)
        return cls(model_from_checkpoint(checkpoint, where),
                   Standardizer.from_dict(checkpoint["scaler"]),
                   tuple(Column.from_dict(c) for c in checkpoint["features"]),
                   Column.from_dict(checkpoint["target"]), checkpoint["dataset"],
                   checkpoint["config"])

    def formula(self) -> LinearFormula | None:
        """The learned formula in the CSV's units, for a linear model (else ``None``)."""
        layer = self.model
        if not (isinstance(layer, nn.Linear) and layer.out_features == 1):
            return None
        return LinearFormula.from_standardized(
            layer.weight[0].tolist(), layer.bias.item(), self.scaler.mean, self.scaler.std,
            [column.name for column in self.columns], self.target.name)

    @property
    def output_column(self) -> str:
        """The name of the prediction column, e.g. ``predicted_bonus``."""
        return f"predicted_{self.target.name}"

    @torch.no_grad()
    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predictions ``(N,)`` for ``(N, F)`` rows in original units (columns in order)."""
        inputs = self.scaler(torch.as_tensor(np.asarray(features), dtype=torch.float32))
        return self.model(inputs)[:, 0].double().numpy()  # (N,)

    def predict_one(self, values: Mapping[str, float]) -> float:
        """The prediction for one row given as ``{flag: value}`` (e.g. ``{"rating": 8}``).

        Every value is checked against its column's rule; the error names its flag.
        """
        row = []
        for column in self.columns:
            key = column.flag or column.name
            if values.get(key) is None:
                raise TorchbasicsError(f"no value for {column.name}", where=f"--{key}",
                                       fix=f"give --{key} ({column.allowed()})")
            value = float(values[key])
            problem = column.problem(value)
            if problem:
                raise TorchbasicsError(problem, where=f"--{key}",
                                       fix=f"give {column.allowed()}")
            row.append(value)
        return float(self.predict(np.array([row]))[0])

    def predict_csv(self, source: str | os.PathLike,
                    destination: str | os.PathLike | None = None) -> pd.DataFrame:
        """``source`` with a ``predicted_<target>`` column added (written to ``destination``).

        The CSV needs the feature columns (by the names the model was trained with); its
        other columns are kept as they are, and an existing prediction column is replaced.
        Every feature cell is checked as in training. The file is written atomically.
        """
        frame = read_csv_text(source)
        names = [column.name for column in self.columns]
        check_columns(frame, names, source, allow_extra=True,
                      fix=f"the CSV needs the columns the model was trained on: "
                      f"{', '.join(names)}")
        features = np.zeros((len(frame), len(names)))  # (N, F)
        for index, column in enumerate(self.columns):
            features[:, index] = parse_column(frame, column, source)
        frame[self.output_column] = [f"{value:.2f}" for value in self.predict(features)]
        if destination is not None:
            write_text(destination, frame.to_csv(index=False))
        return frame
