"""``report.md`` for a run directory: the summary figures with the plots beside them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torchbasics.files import write_text

# (summary key, label) in the order the report shows them; errors are fractions.
ERROR_ROWS = (
    ("final_train_error", "Final train error"),
    ("final_val_error", "Final validation error"),
    ("lowest_val_error", "Lowest validation error"),
    ("test_error", "Test error"),
)
FIGURES = (
    ("loss_curves.png", "Loss and error, train vs validation"),
    ("confusion_matrix.png", "Confusion matrix (test)"),
    ("mistakes.png", "The most confidently wrong test images (true → predicted)"),
)


def percent(value: float | None) -> str:
    """A fraction as a percentage with two decimals, e.g. 0.0123 -> '1.23 %'."""
    return "—" if value is None else f"{100 * value:.2f} %"


def write_report(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/report.md`` from its ``summary.json`` and ``config.json``."""
    run_dir = Path(run_dir)
    summary = _read(run_dir / "summary.json")
    config = _read(run_dir / "config.json")
    lines = [f"# {summary.get('model', '?')} on {summary.get('dataset', '?')}", ""]
    lines += ["| metric | value |", "|---|---|"]
    for key, label in ERROR_ROWS:
        if key in summary:
            suffix = ""
            if key == "lowest_val_error":
                suffix = f" (epoch {summary['lowest_val_error_epoch']})"
            lines.append(f"| {label} | {percent(summary[key])}{suffix} |")
    for key, label, fmt in (("epochs", "Epochs", "{}"), ("parameters", "Parameters", "{:,}"),
                            ("train_seconds", "Training time", "{:.1f} s"),
                            ("images_per_second", "Training speed", "{:,} images/s")):
        if key in summary:
            lines.append(f"| {label} | {fmt.format(summary[key])} |")
    lines.append("")
    for name, caption in FIGURES:
        if (run_dir / name).is_file():
            lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    if config:
        settings = {k: v for k, v in config.items() if k != "versions"}
        lines += ["## Settings", "", "```json", json.dumps(settings, indent=2), "```", ""]
    path = run_dir / "report.md"
    write_text(path, "\n".join(lines))
    return path


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}
