"""A trained table model, ready for rows: the schema it was fitted with, and the network.

    model = torchbasics.load("runs/sales")      # a Regressor or a TableClassifier
    model.predict_one({"area": 120, "region": "north"})
    model.predict_csv("rows.csv", "predictions.csv")

The checkpoint carries the fitted :class:`~torchbasics.tabular.schema.TableSchema`, so new
rows are encoded exactly as the training rows were: the same standardization, the same
categories, missing values filled in the same way. What had to be filled in (a missing
value, a category never seen in training) is counted and said, never an error; a missing
column or a word in a numeric column is one.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.files import write_text
from torchbasics.tabular.csvfile import CsvTable, read_csv, shorten
from torchbasics.tabular.formula import LinearFormula, schema_formula
from torchbasics.tabular.schema import (
    CLASSIFICATION,
    REGRESSION,
    Encoded,
    NumericFeature,
    TableSchema,
)


@dataclass
class PredictedRows:
    """A table with its predictions added, and what had to be filled in."""

    names: list[str]  # the header: the input's columns, then the prediction columns
    rows: list[list[str]]
    notes: str  # e.g. "3 values missing (age 3)", or ""

    def to_csv(self) -> str:
        """The table as CSV text."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.names)
        writer.writerows(self.rows)
        return buffer.getvalue()


@dataclass
class TableModel:
    """A trained model over the rows of a table (see the module docstring)."""

    kind: ClassVar[str] = "table"  # what :func:`~.loading.load` tells by, once
    model: nn.Module
    schema: TableSchema
    dataset: str = ""  # the data set it was trained on
    config: dict[str, Any] = field(default_factory=dict)  # the settings it trained with

    @staticmethod
    def from_checkpoint(checkpoint: dict[str, Any], where: str = "") -> TableModel:
        """The :class:`Regressor` or :class:`TableClassifier` a table checkpoint holds (a
        regression checkpoint of before 0.3.0 too, its columns read as a schema)."""
        from torchbasics.checkpoint import REGRESSOR, TABLE, model_from_checkpoint

        if checkpoint["kind"] not in (TABLE, REGRESSOR):
            raise TorchbasicsError("not a table model's checkpoint", where=where or None)
        schema = (TableSchema.from_dict(checkpoint["schema"]) if checkpoint["kind"] == TABLE
                  else schema_of_regressor(checkpoint))
        kind = TableClassifier if schema.task == CLASSIFICATION else Regressor
        return kind(model_from_checkpoint(checkpoint, where), schema, checkpoint["dataset"],
                    checkpoint["config"])

    @property
    def target(self) -> str:
        """The name of the column the model predicts."""
        return self.schema.target.name

    @property
    def output_column(self) -> str:
        """The name of the prediction column, e.g. ``predicted_bonus``."""
        return f"predicted_{self.target}"

    def keys(self) -> dict[str, str]:
        """What a row's values may be named: each column's name, and its short name."""
        names = {feature.name: feature.name for feature in self.schema.features}
        for feature in self.schema.features:
            rule = getattr(feature, "rule", None)
            if rule is not None and rule.flag:
                names[rule.flag] = feature.name
        return names

    @torch.no_grad()
    def outputs(self, encoded: Encoded) -> np.ndarray:
        """The network's outputs ``(N, outputs)`` for encoded rows (fp32, eval mode)."""
        self.model.eval()
        return self.model(torch.from_numpy(encoded.features)).double().numpy()

    def rows_from(self, values: Mapping[str, Any], where: str = "--set") -> CsvTable:
        """One row given as ``{column or short name: value}`` (numbers, text, or ``None``
        for missing), as a table the schema encodes.

        Raises:
            TorchbasicsError: a name the model does not know.
        """
        known = self.keys()
        unknown = [key for key in values if key not in known]
        if unknown:
            raise TorchbasicsError(f"the model has no column {shorten(str(unknown[0]))}",
                                   where=where, fix="its columns are " + ", ".join(
                                       feature.name for feature in self.schema.features))
        cells = {known[key]: _cell(value) for key, value in values.items()}
        columns = {feature.name: [cells.get(feature.name, "")]
                   for feature in self.schema.features}
        return OneRow(where, tuple(columns), columns)

    def predict_csv(self, source: str | os.PathLike,
                    destination: str | os.PathLike | None = None) -> PredictedRows:
        """Every row of the CSV ``source`` with its prediction (written to ``destination``,
        atomically, when given). Other columns are kept; an earlier prediction column is
        replaced."""
        table = read_csv(source)
        encoded = self.schema.encode(table)
        added = self.prediction_columns(self.outputs(encoded))
        names = [name for name in table.names if name not in added] + list(added)
        rows = [[table.columns[name][row] if name in table.columns and name not in added
                 else added[name][row] for name in names] for row in range(len(table))]
        result = PredictedRows(names, rows, encoded.notes())
        if destination is not None:
            write_text(destination, result.to_csv())
        return result

    def prediction_columns(self, outputs: np.ndarray) -> dict[str, list[str]]:
        """Column name -> the predictions' cells, as ``predict_csv`` writes them."""
        raise NotImplementedError

    answer_name: ClassVar[str] = ""  # what an exported file outputs: "value" or "probabilities"

    def answers(self, outputs: np.ndarray) -> np.ndarray:
        """What an exported file gives for the network's outputs: values ``(N, 1)`` in the
        target's units, or class probabilities ``(N, K)``."""
        raise NotImplementedError

    def answer_scale(self) -> float:
        """The size an answer's error is measured against: the target's standard deviation
        for a value, 1 for a probability."""
        return 1.0

    def formula(self) -> LinearFormula | None:
        """The learned formula in the table's units, for a linear regression (else ``None``)."""
        return None


class OneRow(CsvTable):
    """A row given as values, not read from a file: its cells are named by column alone."""

    def where(self, row: int, column: str) -> str:
        return column


def _cell(value: Any) -> str:
    """A value given in Python or JSON as the text of a CSV cell (``None``: missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


class Regressor(TableModel):
    """A table model that predicts a number."""

    def values(self, outputs: np.ndarray) -> np.ndarray:
        """Predictions ``(N,)`` in the target's units from the network's outputs."""
        target = self.schema.target
        return target.mean + target.std * outputs[:, 0]

    def predict(self, table: CsvTable) -> tuple[np.ndarray, str]:
        """The predictions ``(N,)`` for every row of ``table``, and what was filled in."""
        encoded = self.schema.encode(table)
        return self.values(self.outputs(encoded)), encoded.notes()

    def predict_row(self, values: Mapping[str, Any], where: str = "--set") -> dict[str, Any]:
        """``{"value", "filled_in"}`` for one row given as ``{column: value}`` (see
        :meth:`rows_from`); a column left out is missing, and filled in as in training."""
        predicted, notes = self.predict(self.rows_from(values, where))
        return {"value": float(predicted[0]), "filled_in": notes}

    def predict_one(self, values: Mapping[str, Any]) -> float:
        """The prediction for one row (see :meth:`predict_row`)."""
        return self.predict_row(values)["value"]

    def prediction_columns(self, outputs: np.ndarray) -> dict[str, list[str]]:
        return {self.output_column: [f"{value:.8g}" for value in self.values(outputs)]}

    answer_name: ClassVar[str] = "value"

    def answers(self, outputs: np.ndarray) -> np.ndarray:
        return self.values(outputs)[:, None]

    def answer_scale(self) -> float:
        return self.schema.target.std

    def formula(self) -> LinearFormula | None:
        """The learned formula in the table's units, for a linear model (else ``None``)."""
        layer = self.model
        if not (isinstance(layer, nn.Linear) and layer.out_features == 1):
            return None
        return schema_formula(self.schema, layer.weight[0].tolist(), layer.bias.item())


@dataclass(frozen=True)
class RowPrediction:
    """A table classifier's answer for one row."""

    label: int
    class_name: str
    probability: float
    probabilities: dict[str, float]  # class -> probability, in class order


class TableClassifier(TableModel):
    """A table model that predicts a class."""

    answer_name: ClassVar[str] = "probabilities"

    def answers(self, outputs: np.ndarray) -> np.ndarray:
        return self.probabilities(outputs)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, K)`` from the network's logits."""
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict_one(self, values: Mapping[str, Any], where: str = "--set") -> RowPrediction:
        """The class of one row given as ``{column: value}`` (see :meth:`rows_from`)."""
        return self._predict(values, where)[0]

    def predict_row(self, values: Mapping[str, Any], where: str = "--set") -> dict[str, Any]:
        """``{"class", "probability", "probabilities", "filled_in"}`` for one row."""
        prediction, notes = self._predict(values, where)
        return {"class": prediction.class_name, "probability": prediction.probability,
                "probabilities": prediction.probabilities, "filled_in": notes}

    def _predict(self, values: Mapping[str, Any], where: str) -> tuple[RowPrediction, str]:
        encoded = self.schema.encode(self.rows_from(values, where))
        row = self.probabilities(self.outputs(encoded))[0]
        label = int(np.argmax(row))
        classes = self.schema.target.classes
        return (RowPrediction(label, classes[label], float(row[label]),
                              {name: float(p) for name, p in zip(classes, row, strict=True)}),
                encoded.notes())

    def prediction_columns(self, outputs: np.ndarray) -> dict[str, list[str]]:
        probabilities = self.probabilities(outputs)
        labels = probabilities.argmax(axis=1)
        classes = self.schema.target.classes
        return {self.output_column: [classes[label] for label in labels],
                "probability": [f"{p:.6f}" for p in probabilities.max(axis=1)]}


def schema_of_regressor(checkpoint: dict[str, Any]) -> TableSchema:
    """The schema of a regression checkpoint of before 0.3.0: its columns standardized with
    its scaler, nothing missing in training, the target predicted in its own units."""
    from torchbasics.tabular.schema import Target
    from torchbasics.tabular.table import Column

    columns = [Column.from_dict(values) for values in checkpoint["features"]]
    scaler = checkpoint["scaler"]
    features = tuple(NumericFeature(column.name, float(mean), float(std), float(mean),
                                    False, column)
                     for column, mean, std in zip(columns, scaler["mean"], scaler["std"],
                                                  strict=True))
    target = Column.from_dict(checkpoint["target"])
    return TableSchema(features, Target(target.name, REGRESSION, rule=target))
