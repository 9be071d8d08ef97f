"""``report.md`` of a run directory, and the lines ``train`` prints at the end of a run.

One writer for both kinds of run: the title, the kind's own figures (errors for a
classifier; MSE, R² and the learned formula for a regression), the pictures that exist,
and the settings. Everything comes from ``summary.json`` and ``config.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torchbasics.files import write_text
from torchbasics.metrics import REGRESSION_METRICS
from torchbasics.tabular.formula import LinearFormula, comparison_table

# (summary key, label) in the order the report shows them; errors are fractions.
ERROR_ROWS = (
    ("final_train_error", "Final train error"),
    ("final_val_error", "Final validation error"),
    ("lowest_val_error", "Lowest validation error"),
    ("test_error", "Test error"),
)
FIGURES = (  # after loss_curves.png, whose caption depends on the kind of run
    ("confusion_matrix.png", "Confusion matrix (test)"),
    ("mistakes.png", "The most confidently wrong test images (true → predicted)"),
)
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
FORMULAS = {"SGD net": "formula", "least squares": "least_squares_formula",
            "true (generator)": "true_formula"}  # report heading -> summary key


def percent(value: float | None) -> str:
    """A fraction as a percentage with two decimals, e.g. 0.0123 -> '1.23 %'."""
    return "—" if value is None else f"{100 * value:.2f} %"


def write_report(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/report.md`` from its ``summary.json`` and ``config.json``."""
    run_dir = Path(run_dir)
    summary, config = _read(run_dir / "summary.json"), _read(run_dir / "config.json")
    regression = summary.get("task") == "regression"
    lines = [f"# {summary.get('model', '?')} on {summary.get('dataset', '?')}", ""]
    lines += regression_lines(summary) if regression else classifier_lines(summary)
    if not regression and "metrics" in summary:  # a table classifier: each split's figures
        lines += class_metrics_table(summary)
    loss = "Loss, train vs validation" if regression else "Loss and error, train vs validation"
    for name, caption in (("loss_curves.png", loss), *FIGURES):
        if (run_dir / name).is_file():
            lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    lines += recovery_lines(summary)
    if (run_dir / "skipped.csv").is_file():
        count = len((run_dir / "skipped.csv").read_text().splitlines()) - 1
        lines += ["## Files skipped", "", f"{count:,} file{'s' * (count != 1)} of the "
                  "pictures could not be used (not pictures, or not decodable): the list and "
                  "the reasons are in [skipped.csv](skipped.csv).", ""]
    if config:
        settings = {k: v for k, v in config.items() if k != "versions"}
        lines += ["## Settings", "", "```json", json.dumps(settings, indent=2), "```", ""]
    path = run_dir / "report.md"
    write_text(path, "\n".join(lines))
    return path


def recovery_lines(summary: dict[str, Any]) -> list[str]:
    """The section on the divergences the run recovered from (none: no section)."""
    from torchbasics.training.recovery import Recovery

    recoveries = [Recovery.from_dict(values) for values in summary.get("recoveries", [])]
    if not recoveries:
        return []
    return ["## The loss diverged", "",
            *[f"- {recovery.line()}." for recovery in recoveries], "",
            "The steps that diverged were undone: the checkpoints, metrics and figures are of "
            "the run as it went on from there (metrics.csv's `recovered` column counts the "
            "restarts of each epoch).", ""]


def classifier_lines(summary: dict[str, Any]) -> list[str]:
    """A table of the error rates, epochs, parameters, time and speed."""
    lines = ["| metric | value |", "|---|---|"]
    for key, label in ERROR_ROWS:
        if key in summary:
            suffix = ""
            if key == "lowest_val_error":
                suffix = f" (epoch {summary['lowest_val_error_epoch']})"
            lines.append(f"| {label} | {percent(summary[key])}{suffix} |")
            if key == "lowest_val_error" and "best_epoch" in summary:
                lines.append(f"| Kept in best.pt | {kept_line(summary)} |")
    for key, label, fmt in (("epochs", "Epochs", "{}"), ("parameters", "Parameters", "{:,}"),
                            ("train_seconds", "Training time", "{:.1f} s"),
                            ("images_per_second", "Training speed", "{:,} images/s")):
        if key in summary:
            lines.append(f"| {label} | {fmt.format(summary[key])} |")
    return [*lines, ""]


def kept_line(summary: dict[str, Any]) -> str:
    """Which epoch ``best.pt`` holds and why, e.g. ``epoch 15 (validation error 0.80 %): the
    last epoch within one standard error (0.26 points) of the lowest validation error (0.60
    %, epoch 10)``."""
    return (f"epoch {summary['best_epoch']} (validation error "
            f"{percent(summary['best_val_error'])}): {summary['best_reason']}")


def class_metrics_table(summary: dict[str, Any]) -> list[str]:
    """Markdown lines: accuracy, error and log-loss of a table classifier on each split."""
    splits = list(summary["metrics"])
    lines = ["| metric | " + " | ".join(SPLIT_NAMES[s] for s in splits) + " |",
             "|---|" + "---:|" * len(splits)]
    for key, label in (("accuracy", "accuracy"), ("error", "error")):
        lines.append(f"| {label} | " + " | ".join(percent(summary["metrics"][s][key])
                                                  for s in splits) + " |")
    lines.append("| log-loss | " + " | ".join(f"{summary['metrics'][s]['log_loss']:.4f}"
                                              for s in splits) + " |")
    return [*lines, ""]


def regression_lines(summary: dict[str, Any]) -> list[str]:
    """The metrics per split, the run's size, and the learned formula beside the others."""
    lines = [*regression_table(summary), "",
             f"{summary['epochs']} epochs, {summary['parameters']:,} parameters, "
             f"{summary['train_rows']:,} / {summary['val_rows']:,} / {summary['test_rows']:,} "
             f"train / validation / test rows, training time {summary['train_seconds']:.2f} s.",
             ""]
    shown = {label: f for label, f in formulas(summary).items() if f is not None}
    if "SGD net" in shown:
        lines += ["## The learned formula, in original units", "", "```",
                  *(f"{label + ':':<18}{f}" for label, f in shown.items()), "```", "",
                  *comparison_table(shown), ""]
    return lines


def formulas(summary: dict[str, Any]) -> dict[str, LinearFormula | None]:
    """Heading -> formula, for those the summary holds (SGD net, least squares, true rule)."""
    return {label: LinearFormula.from_dict(summary[key]) if summary.get(key) else None
            for label, key in FORMULAS.items()}


def regression_table(summary: dict[str, Any]) -> list[str]:
    """Markdown lines: MSE, RMSE, MAE and R² of the net (and least squares) on each split."""
    splits = list(summary["metrics"])
    lines = ["| metric | " + " | ".join(SPLIT_NAMES[s] for s in splits) + " |",
             "|---|" + "---:|" * len(splits)]
    for key, label in REGRESSION_METRICS.items():
        lines.append(f"| {label} | " + " | ".join(
            _number(summary["metrics"][s][key]) for s in splits) + " |")
    for label, key in (("least squares", "least_squares_metrics"),
                       ("the true rule", "true_formula_metrics")):
        if key in summary:
            lines.append(f"| MSE of {label} | " + " | ".join(
                _number(summary[key][s]["mse"]) for s in splits) + " |")
    return lines


def result_lines(summary: dict[str, Any], out: str | os.PathLike) -> list[str]:
    """What ``torchbasics train`` prints when a run ends: its figures and where it is."""
    if summary.get("task") == "regression":
        test, least = summary["metrics"]["test"], summary["least_squares_metrics"]["test"]
        r2 = "—" if test["r2"] is None else f"{test['r2']:.4f}"
        lines = [f"test MSE {test['mse']:,.2f} (RMSE {test['rmse']:,.2f}, MAE "
                 f"{test['mae']:,.2f}, R² {r2}); least squares: test MSE "
                 f"{least['mse']:,.2f}; {summary['train_seconds']:.2f} s"]
        lines += [f"{label + ':':<15}{formula}" for label, formula in zip(
            ("learned", "least squares", "true rule"), formulas(summary).values(), strict=True)
            if formula is not None]
        return [*lines, f"run directory: {out} (report.md, loss_curves.png, last.pt); next: "
                        f"torchbasics predict {out} ROWS.csv --out predictions.csv"]
    if "metrics" in summary:  # a table classifier
        test = summary["metrics"]["test"]
        return [f"test accuracy {percent(test['accuracy'])} (error {percent(test['error'])}, "
                f"log-loss {test['log_loss']:.4f}); {summary['train_seconds']:.2f} s",
                f"run directory: {out} (report.md, loss_curves.png, confusion_matrix.png, "
                f"last.pt); next: torchbasics predict {out} ROWS.csv --out predictions.csv"]
    lines = [f"final train error {percent(summary['final_train_error'])}, "
             f"final validation error {percent(summary['final_val_error'])}, "
             f"lowest validation error {percent(summary['lowest_val_error'])} "
             f"(epoch {summary['lowest_val_error_epoch']}); {summary['train_seconds']:.0f} s"]
    if "best_epoch" in summary:  # a run of before this release has no record of it
        lines.append(f"best.pt: {kept_line(summary)}")
    return [*lines, f"run directory: {out} (report.md, loss_curves.png, best.pt); "
                    f"next: torchbasics evaluate {out}"]


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}
