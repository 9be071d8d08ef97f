"""Compare models side by side: train each on the same split, test each, tabulate and plot."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torchbasics.data.registry import get_dataset, image_datasets
from torchbasics.errors import TorchbasicsError
from torchbasics.files import write_text
from torchbasics.runs import rundir
from torchbasics.runs.config import TrainConfig, resolve
from torchbasics.runs.evaluate import evaluate_run
from torchbasics.runs.images import train_images
from torchbasics.runs.report import percent
from torchbasics.training.divergence import TrainingDiverged

SEED_MODELS = ("softmax", "mlp-sigmoid", "mlp-relu", "cnn")  # the seed project's four models
COLUMNS = (
    ("final_train_error", "Final Train Error"),
    ("final_val_error", "Final Validation Error"),
    ("lowest_val_error", "Lowest Validation Error"),
    ("test_error", "Test Error"),
)


def compare(
    base: TrainConfig,
    models: Sequence[str],
    out: str | os.PathLike,
    *,
    force: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = print,
    allow_short_budget: bool = False,
) -> list[dict[str, Any]]:
    """Train and test each model with ``base``'s data set, split and seed; write the results.

    Each model gets its own run directory ``out/<model>`` (its recipe fills what ``base``
    leaves unset). ``out`` gets ``results.md``, ``results.json`` and
    ``validation_curves.png``. A model whose training diverges does not stop the others:
    its row says why it failed (``"failed"``), and the rest are trained and tabulated. A
    time budget too short for a model is refused (see :func:`~.images.train_images`).

    Returns:
        One row per model: the summary figures, test error, parameters, time, speed; or
            ``{"model", "failed"}`` for a model that diverged.
    """
    dataset = base.dataset or TrainConfig.default_dataset()
    if get_dataset(dataset).kind != "image":
        raise TorchbasicsError(f"'{dataset}' is not an image data set", where="--dataset",
                               fix=f"compare trains classifiers on: {', '.join(image_datasets())}")
    configs = [dataclasses.replace(base, dataset=dataset, model=model) for model in models]
    for config in configs:
        resolve(config)  # every model and setting checked before hours of training start
    out = Path(out)
    rows = []
    for index, (model, config) in enumerate(zip(models, configs, strict=True), start=1):
        log(f"[{index}/{len(models)}] {model}")
        try:
            summary = train_images(config, out / model, force=force, progress=progress,
                                   log=log, allow_short_budget=allow_short_budget)
        except TrainingDiverged as exc:
            log(f"{model}: failed: {exc.message}; going on with the next model")
            rows.append({"model": model, "failed": exc.message})
            continue
        test_error = evaluate_run(out / model)["error"]
        rows.append(summary | {"test_error": test_error})
        log(f"{model}: test error {percent(test_error)}")
    write_results(out, dataset, rows)
    return rows


def write_results(out: Path, dataset: str, rows: list[dict[str, Any]]) -> None:
    """``results.json``, ``results.md`` and ``validation_curves.png`` for compared runs."""
    from torchbasics.plots import save_figure, validation_curves
    from torchbasics.runs.rundir import read_metrics

    rundir.write_json(out / "results.json", {"dataset": dataset, "models": rows})
    curves = {row["model"]: read_metrics(out / row["model"] / "metrics.csv")
              for row in rows if "failed" not in row}
    save_figure(validation_curves(curves, title=f"Validation error on {dataset}"),
                out / "validation_curves.png")
    write_text(out / "results.md", format_results(dataset, rows))


def format_results(dataset: str, rows: list[dict[str, Any]]) -> str:
    """The comparison as a markdown table, a row per model."""
    header = ["Model", *(label for _, label in COLUMNS), "Parameters", "Epochs",
              "Training time", "Images/s"]
    lines = [f"# Models compared on {dataset}", "",
             "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for row in rows:
        if "failed" in row:
            lines.append(f"| {row['model']} | failed: {row['failed']} |"
                         + " — |" * (len(header) - 2))
            continue
        cells = [row["model"], *(percent(row.get(key)) for key, _ in COLUMNS),
                 f"{row['parameters']:,}", str(row["epochs"]), f"{row['train_seconds']:.0f} s",
                 f"{row['images_per_second']:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "![Validation error per epoch](validation_curves.png)", "",
              "Each model's run directory (loss curves, confusion matrix, checkpoints) is the "
              "folder named after it.", ""]
    return "\n".join(lines)
