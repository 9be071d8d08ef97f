"""``report.md`` and ``loss_curves.png`` of a regression run: metrics, formulas, the curve."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from torchbasics.files import write_text
from torchbasics.tabular.formula import LinearFormula, comparison_table
from torchbasics.metrics import REGRESSION_METRICS
from torchbasics.training.loop import EpochRecord
from torchbasics.runs.rundir import read_json

SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


def write_regression_figures(out: str | os.PathLike, records: list[EpochRecord]) -> None:
    """``loss_curves.png`` (log scale: the MSE falls by orders of magnitude) and ``report.md``."""
    from torchbasics.plots import loss_curves, save_figure

    out = Path(out)
    figure = loss_curves(pd.DataFrame([dataclasses.asdict(r) for r in records]),
                         title="Mean squared error, train vs validation")
    figure.axes[0].set_yscale("log")
    figure.axes[0].set_ylabel("MSE (log scale)")
    save_figure(figure, out / "loss_curves.png")
    write_regression_report(out)


def formulas(summary: dict[str, Any]) -> dict[str, LinearFormula | None]:
    """Column heading -> formula, for those the summary holds (SGD net, least squares, true)."""
    keys = {"SGD net": "formula", "least squares": "least_squares_formula",
            "true (generator)": "true_formula"}
    return {label: LinearFormula.from_dict(summary[key]) if summary.get(key) else None
            for label, key in keys.items()}


def metrics_table(summary: dict[str, Any]) -> list[str]:
    """Markdown lines: MSE, RMSE, MAE and R² of the net (and least squares) on each split."""
    splits = list(summary["metrics"])
    lines = ["| metric | " + " | ".join(SPLIT_NAMES[s] for s in splits) + " |",
             "|---|" + "---:|" * len(splits)]
    for key, label in REGRESSION_METRICS.items():
        lines.append(f"| {label} | " + " | ".join(
            _number(summary["metrics"][s][key]) for s in splits) + " |")
    least = summary["least_squares_metrics"]
    lines.append("| MSE of least squares | " + " | ".join(
        _number(least[s]["mse"]) for s in splits) + " |")
    if "true_formula_metrics" in summary:
        true = summary["true_formula_metrics"]
        lines.append("| MSE of the true rule | " + " | ".join(
            _number(true[s]["mse"]) for s in splits) + " |")
    return lines


def write_regression_report(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/report.md`` from its ``summary.json`` and ``config.json``."""
    run_dir = Path(run_dir)
    summary = read_json(run_dir / "summary.json")
    config = read_json(run_dir / "config.json")
    lines = [f"# {summary['model']} on {summary['dataset']}", "", *metrics_table(summary), ""]
    lines += [f"{summary['epochs']} epochs, {summary['parameters']:,} parameters, "
              f"{summary['train_rows']:,} / {summary['val_rows']:,} / {summary['test_rows']:,} "
              f"train / validation / test rows, training time {summary['train_seconds']:.2f} s.",
              ""]
    shown = {label: f for label, f in formulas(summary).items() if f is not None}
    if "SGD net" in shown:
        lines += ["## The learned formula, in original units", "", "```",
                  *(f"{label + ':':<18}{f}" for label, f in shown.items()), "```", "",
                  *comparison_table(shown), ""]
    if (run_dir / "loss_curves.png").is_file():
        lines += ["## Loss, train vs validation", "", "![loss curves](loss_curves.png)", ""]
    settings = {k: v for k, v in config.items() if k != "versions"}
    lines += ["## Settings", "", "```json", json.dumps(settings, indent=2), "```", ""]
    path = run_dir / "report.md"
    write_text(path, "\n".join(lines))
    return path


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"
