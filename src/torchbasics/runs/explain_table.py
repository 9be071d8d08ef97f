"""What a table model relies on: its formula or weights, and permutation importance.

Permutation importance (Breiman, 2001): shuffle one column's cells among the test rows,
which keeps the column's values but breaks their link to the target, and measure how much
worse the model gets; the mean and spread over :data:`REPEATS` shuffles. A column the
model ignores costs nothing when shuffled. It measures the model, not the world: two
columns that carry the same information share it, and each may then look unimportant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchbasics.explain.inside import family, linears
from torchbasics.inference.table import TableModel
from torchbasics.tabular.csvfile import CsvTable
from torchbasics.tabular.schema import CLASSIFICATION

REPEATS = 5


def explain_table(model: TableModel, out: Path, *, seed: int = 0,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write ``importance.png`` (and ``weights.png`` for a linear classifier) to ``out``;
    the facts for ``explain.json``."""
    from torchbasics.plots import save_figure
    from torchbasics.runs.table_results import rows_to_evaluate

    table, rows, _ = rows_to_evaluate(model, None)
    result: dict[str, Any] = {"kind": "table", "task": model.schema.task,
                              "test_rows": len(rows), "files": {}}
    formula = model.formula()
    if formula is not None:
        result["formula"] = str(formula)
    if model.schema.task == CLASSIFICATION and family(model.model) == "linear":
        from torchbasics.explain.figures import table_weights_figure

        weights = linears(model.model)[0].weight.detach().double().numpy()
        names, classes = model.schema.input_names(), list(model.schema.target.classes)
        result["weights"] = {name: dict(zip(names, row.round(6).tolist(), strict=True))
                             for name, row in zip(classes, weights, strict=True)}
        save_figure(table_weights_figure(weights, classes, names), out / "weights.png")
        result["files"]["weights"] = "weights.png"
    log(f"shuffling each column of {len(rows):,} test rows {REPEATS} times...")
    metric, importance = permutation_importance(model, table, rows, seed=seed)
    result["permutation_importance"] = {"metric": metric, "repeats": REPEATS, "columns": {
        name: {"mean": round(mean, 6), "std": round(std, 6)}
        for name, (mean, std) in importance.items()}}
    from torchbasics.explain.figures import importance_figure

    names = list(importance)
    save_figure(importance_figure(names, np.array([importance[n][0] for n in names]),
                                  np.array([importance[n][1] for n in names]), metric),
                out / "importance.png")
    result["files"]["importance"] = "importance.png"
    return result


def permutation_importance(model: TableModel, table: CsvTable, rows: np.ndarray, *,
                           seed: int = 0) -> tuple[str, dict[str, tuple[float, float]]]:
    """``(metric, column -> (mean, std) of its increase when that column is shuffled)``,
    over the test ``rows``; the metric is the MSE (in the target's units) or the log-loss."""
    rng = np.random.default_rng(seed)
    metric, loss = _loss_of(model, table, rows)
    base = loss(table)
    found = {}
    for feature in model.schema.features:
        increases = [loss(shuffled(table, feature.name, rows, rng)) - base
                     for _ in range(REPEATS)]
        found[feature.name] = (float(np.mean(increases)), float(np.std(increases)))
    return metric, found


def shuffled(table: CsvTable, name: str, rows: np.ndarray,
             rng: np.random.Generator) -> CsvTable:
    """``table`` with column ``name``'s cells at ``rows`` shuffled among those rows."""
    cells = list(table.columns[name])
    picked = [cells[row] for row in rows]
    for row, source in zip(rows, rng.permutation(len(rows)), strict=True):
        cells[row] = picked[source]
    return dataclasses.replace(table, columns={**table.columns, name: cells})


def _loss_of(model: TableModel, table: CsvTable,
             rows: np.ndarray) -> tuple[str, Callable[[CsvTable], float]]:
    """The metric's name, and the model's loss on ``rows`` of a (shuffled) table; the
    target is always the unshuffled one."""
    from torchbasics.runs.table_results import (
        classification_metrics,
        softmax,
        target_values,
    )

    target = model.schema.encode_target(table, rows)
    if model.schema.task == CLASSIFICATION:
        def log_loss(changed: CsvTable) -> float:
            probabilities = softmax(model.outputs(model.schema.encode(changed, rows)))
            return classification_metrics(target, probabilities)["log_loss"]
        return "log-loss", log_loss
    truth = target_values(model.schema, torch.from_numpy(target))

    def mse(changed: CsvTable) -> float:
        values = model.values(model.outputs(model.schema.encode(changed, rows)))
        return float(np.mean((values - truth) ** 2))
    return "MSE", mse


def importance_lines(result: dict[str, Any]) -> list[str]:
    """The learned formula (a linear regression's) and each column's permutation
    importance as a table, most important first."""
    importance = result["permutation_importance"]
    lines = [f"| column | test {importance['metric']} increase when shuffled (± std) |",
             "|---|---:|"]
    ranked = sorted(importance["columns"].items(), key=lambda item: -item[1]["mean"])
    lines += [f"| {name} | {found['mean']:,.4g} ± {found['std']:,.2g} |"
              for name, found in ranked]
    return ([f"the learned formula: {result['formula']}"] if "formula" in result
            else []) + lines
