"""How good a table model is, on each split of its table: the figures a table run reports.

Regression: MSE, RMSE, MAE and R² in the target's units, beside the closed-form least
squares fitted on the same encoded training rows (the oracle a linear net must reach), the
learned formula in the table's units, and for a generated table the rule behind it.
Classification: accuracy, error and log-loss on each split, the per-class report and
confusion matrix of the test rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from torchbasics.data.registry import DatasetSpec
from torchbasics.errors import TorchbasicsError
from torchbasics.metrics import regression_metrics
from torchbasics.runs import rundir
from torchbasics.runs.table_data import TableParts, read_table, split_of
from torchbasics.tabular.formula import LinearFormula, schema_formula
from torchbasics.tabular.schema import CLASSIFICATION, TableSchema, numbers
from torchbasics.tabular.source import TableData

LOG_LOSS_FLOOR = 1e-15  # probabilities are clipped here, as scikit-learn's log_loss does


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """``{"accuracy", "error", "log_loss"}`` of class probabilities ``(N, K)`` against labels."""
    predicted = probabilities.argmax(axis=1)
    error = float(np.mean(predicted != labels))
    chosen = probabilities[np.arange(len(labels)), labels]
    log_loss = float(-np.mean(np.log(np.clip(chosen, LOG_LOSS_FLOOR, 1.0))))
    return {"accuracy": 1.0 - error, "error": error, "log_loss": log_loss}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, K)`` logits, in float64."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@torch.no_grad()
def outputs(model: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """The model's outputs for encoded rows, float64 ``(N, outputs)``."""
    return model(inputs).double().numpy()


def assess(model: nn.Module, parts: TableParts, data: TableData,
           spec: DatasetSpec) -> dict[str, Any]:
    """The summary's figures for a trained table model (see the module docstring)."""
    if parts.schema.task == CLASSIFICATION:
        return assess_classes(model, parts)
    return assess_numbers(model, parts, data, spec)


def assess_classes(model: nn.Module, parts: TableParts) -> dict[str, Any]:
    """Accuracy, error and log-loss per split; the test rows' per-class report."""
    from torchbasics.metrics import per_class_report

    metrics, test = {}, None
    for split, inputs in parts.inputs.items():
        probabilities = softmax(outputs(model, inputs))
        labels = parts.targets[split].numpy()
        metrics[split] = classification_metrics(labels, probabilities)
        if split == "test":
            test = (labels, probabilities.argmax(axis=1))
    classes = list(parts.schema.target.classes)
    return {"metrics": metrics, "classes": classes,
            "per_class": per_class_report(*test, classes)}


def assess_numbers(model: nn.Module, parts: TableParts, data: TableData,
                   spec: DatasetSpec) -> dict[str, Any]:
    """Metrics of the net and of least squares per split, in the target's units; formulas."""
    schema = parts.schema
    truth = {split: target_values(schema, parts.targets[split]) for split in parts.inputs}
    least = least_squares(parts.inputs["train"].double().numpy(), truth["train"], schema)
    in_units = schema_formula(schema, list(least.coefficients.values()), least.intercept,
                              standardized_target=False)
    results: dict[str, Any] = {"metrics": {}, "least_squares_metrics": {},
                               "least_squares_formula": in_units.to_dict()}
    for split, inputs in parts.inputs.items():
        net = schema.target.mean + schema.target.std * outputs(model, inputs)[:, 0]
        results["metrics"][split] = regression_metrics(truth[split], net)
        results["least_squares_metrics"][split] = regression_metrics(
            truth[split], least.predict(inputs.double().numpy()))
    if isinstance(model, nn.Linear) and model.out_features == 1:
        results["formula"] = schema_formula(schema, model.weight[0].tolist(),
                                            model.bias.item()).to_dict()
    if spec.true_formula is not None and not spec.own:
        results["true_formula"] = spec.true_formula.to_dict()
        results["true_formula_metrics"] = {
            split: regression_metrics(truth[split], spec.true_formula.predict(
                raw_columns(data, rows, spec.true_formula.names)))
            for split, rows in parts.rows.items()}
    return results


def target_values(schema: TableSchema, standardized: torch.Tensor) -> np.ndarray:
    """The target in its own units ``(N,)`` from its standardized form ``(N, 1)``."""
    return schema.target.mean + schema.target.std * standardized[:, 0].double().numpy()


def least_squares(inputs: np.ndarray, target: np.ndarray, schema: TableSchema) -> LinearFormula:
    """The closed-form fit on the encoded training rows, over the schema's inputs (numeric
    columns standardized, categories 0/1) and the target in its own units."""
    return LinearFormula.least_squares(inputs, target, schema.input_names(), schema.target.name)


def raw_columns(data: TableData, rows: np.ndarray, names: list[str]) -> np.ndarray:
    """The cells of numeric columns ``names`` at ``rows``, as float64 ``(N, len(names))``."""
    return np.stack([numbers([data.table.columns[name][row] for row in rows])[0]
                     for name in names], axis=1)


def write_table_figures(out: Path, model: nn.Module, parts: TableParts) -> None:
    """``confusion_matrix.png`` of the test rows, for a classifier."""
    if parts.schema.task != CLASSIFICATION:
        return
    from torchbasics.metrics import confusion
    from torchbasics.plots import confusion_matrix_figure, save_figure

    predicted = outputs(model, parts.inputs["test"]).argmax(axis=1)
    classes = parts.schema.target.classes
    matrix = confusion(parts.targets["test"].numpy(), predicted, len(classes))
    save_figure(confusion_matrix_figure(matrix, classes, title="Confusion matrix (test rows)"),
                out / "confusion_matrix.png")


def evaluate_table(run_dir: Path, model: Any, csv: str | os.PathLike | None = None,
                   ) -> dict[str, Any]:
    """A table model on its run's test rows, or on every row of ``csv`` (rows without a
    target left out); ``evaluation.json`` (and, for classes, ``confusion_matrix.png``).

    Returns:
        ``evaluated_on``, ``count``, what was filled in, and the task's metrics: ``mse``,
        ``rmse``, ``mae``, ``r2``; or ``accuracy``, ``error``, ``log_loss`` and
        ``per_class``.
    """
    table, rows, evaluated_on = rows_to_evaluate(model, csv)
    encoded = model.schema.encode(table, rows)
    raw = model.outputs(encoded)
    target = model.schema.encode_target(table, rows)
    result: dict[str, Any] = {"evaluated_on": evaluated_on, "count": len(rows),
                              "filled_in": encoded.notes()}
    if model.schema.task == CLASSIFICATION:
        from torchbasics.metrics import format_report, per_class_report

        probabilities = softmax(raw)
        predicted = probabilities.argmax(axis=1)
        classes = list(model.schema.target.classes)
        result |= classification_metrics(target, probabilities) | {
            "per_class": per_class_report(target, predicted, classes),
            "report": format_report(target, predicted, classes)}
        _save_confusion(run_dir, target, predicted, classes, evaluated_on)
    else:
        truth = target_values(model.schema, torch.from_numpy(target))
        result |= regression_metrics(truth, model.values(raw))
    rundir.write_json(run_dir / "evaluation.json",
                      {key: value for key, value in result.items() if key != "report"})
    return result


def rows_to_evaluate(model: Any, csv: str | os.PathLike | None) -> tuple[Any, np.ndarray, str]:
    """``(table, rows, what)``: the rows of ``csv`` that have a target, or the run's test
    rows (its table read and split again as its settings say)."""
    from torchbasics.runs.config import TrainConfig
    from torchbasics.tabular.csvfile import read_csv
    from torchbasics.tabular.schema import is_missing

    if csv is None:
        config, _, data = read_table(TrainConfig.from_dict(model.config))
        return data.table, split_of(data, config)["test"], "test"
    table = read_csv(csv)
    table.require([model.target], fix=f"the CSV needs the target column '{model.target}' "
                  "to be evaluated on (to predict without it: torchbasics predict)")
    cells = table.columns[model.target]
    rows = np.flatnonzero([not is_missing(cell) for cell in cells])
    if not len(rows):
        raise TorchbasicsError(f"every cell of '{model.target}' is empty", where=csv)
    return table, rows, str(csv)


def _save_confusion(run_dir: Path, labels: np.ndarray, predicted: np.ndarray,
                    classes: list[str], evaluated_on: str) -> None:
    from torchbasics.metrics import confusion
    from torchbasics.plots import confusion_matrix_figure, save_figure

    matrix = confusion(labels, predicted, len(classes))
    save_figure(confusion_matrix_figure(matrix, classes,
                                        title=f"Confusion matrix ({evaluated_on})"),
                run_dir / "confusion_matrix.png")
