"""Train a regression model on a tabular data set end to end, writing a run directory.

Read and check the CSV -> split train/validation/test (seeded) -> standardize with the
training rows' statistics -> the explicit loop (:func:`torchbasics.training.loop.fit`,
MSE) -> metrics on every split, the learned formula in original units beside the
closed-form least-squares fit (and the true rule, for the generated bonus data) ->
``config.json``, ``metrics.csv``, ``last.pt``, ``loss_curves.png``, ``summary.json``,
``report.md``.

Only ``last.pt`` is written: a linear fit converges, and choosing an epoch by validation
loss would pick a point on the way to least squares rather than least squares itself.
Checkpoints are written once, at the end: a run takes about a second, so there is nothing
to resume.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from torchbasics.data.registry import DATASETS, get_dataset
from torchbasics.device import resolve_device, resolve_precision
from torchbasics.errors import TorchbasicsError
from torchbasics.models import count_parameters, create_model, get_model_entry, list_models
from torchbasics.tabular import bonus
from torchbasics.tabular.formula import LinearFormula
from torchbasics.metrics import regression_metrics
from torchbasics.tabular.prepare import RowBatches, Standardizer, TableSplits, split_table
from torchbasics.tabular.table import Table
from torchbasics.runs import rundir
from torchbasics.checkpoint import describe_model, library_versions, save_checkpoint
from torchbasics.runs.config import TrainConfig, resolve
from torchbasics.training.loop import EpochRecord, RegressionTask, fit
from torchbasics.training.optim import build_optimizer, build_scheduler

LOG_LINES = 10  # epoch lines logged per run (evenly spaced, plus the last)
SMALL_DATA = 1 << 20  # feature values below which one CPU thread trains fastest


@dataclass(frozen=True)
class TabularSource:
    """How to load a tabular data set, and the rule that made it when known."""

    load: Callable[..., Table]  # (csv, feature_names, target_name) -> Table
    true_formula: LinearFormula | None = None


TABULAR: dict[str, TabularSource] = {
    "bonus": TabularSource(bonus.load_bonus, bonus.TRUE_FORMULA),
}


def load_config_table(config: TrainConfig) -> Table:
    """The table ``config`` names: its data set's CSV, or ``config.csv``, columns renamed."""
    spec = get_dataset(config.dataset)
    if spec.name not in TABULAR:
        tabular = ", ".join(name for name, s in DATASETS.items() if s.kind == "tabular")
        raise TorchbasicsError(f"'{spec.name}' is not a tabular data set", where="--dataset",
                               fix=f"regression trains on: {tabular}")
    return TABULAR[spec.name].load(config.csv, config.feature_columns, config.target_column)


def check_regression_model(name: str) -> None:
    """Refuse a model that is not for regression, naming those that are."""
    entry = get_model_entry(name)
    if entry.task != "regression":
        raise TorchbasicsError(
            f"'{name}' is a {entry.task} model; tabular data needs a regression model",
            where="--model", fix=f"use --model {' or '.join(list_models('regression'))}",
        )


def train_regression(
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train ``config.model`` on the tabular ``config.dataset``, writing the run directory ``out``.

    Returns:
        The run summary (also in ``out/summary.json``): losses per epoch, MSE/RMSE/MAE/R²
        of the net and of least squares on each split, and the formulas in original units.
    """
    check_regression_model(config.model)
    if resume:
        raise TorchbasicsError("regression runs take seconds and are not resumed",
                               where="--resume", fix="train again (with --force to overwrite)")
    config = resolve(config)
    table = load_config_table(config)
    parts = split_table(table, test_fraction=config.test_fraction,
                        val_fraction=config.val_fraction, seed=config.seed)
    out = rundir.prepare_run_dir(out, force=force)
    device = resolve_device(config.device)
    # bf16 keeps ~3 significant digits: too few to find least squares, so auto means fp32.
    precision = "fp32" if config.precision == "auto" else resolve_precision(config.precision,
                                                                            device)
    torch.manual_seed(config.seed)

    scaler = Standardizer.fit(parts.train)  # training rows only
    model = create_model(config.model, (len(table.columns),), 1,
                         **config.model_settings).to(device)
    train_batches = RowBatches(scaler(parts.train.features), parts.train.target,
                               batch_size=config.batch_size, shuffle=True, seed=config.seed,
                               device=device)
    val_batches = RowBatches(scaler(parts.val.features), parts.val.target,
                             batch_size=len(parts.val), device=device)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, len(train_batches))
    parameters = count_parameters(model)
    rundir.write_json(out / "config.json", {
        **config.to_dict(), "device_used": str(device), "precision_used": precision,
        "parameters": parameters, "data_source": table.source, "train_rows": len(parts.train),
        "val_rows": len(parts.val), "test_rows": len(parts.test),
        "versions": library_versions(),
    })
    log(f"training {config.model} ({parameters:,} parameters) on {config.dataset}: "
        f"{len(parts.train):,} train / {len(parts.val):,} validation / {len(parts.test):,} "
        f"test rows, {config.epochs} epochs, batch {config.batch_size}, {device} {precision}")

    records: list[EpochRecord] = []
    lowest, stale = float("inf"), 0
    every = max(1, config.epochs // LOG_LINES)

    def on_epoch_end(record: EpochRecord) -> bool:
        nonlocal lowest, stale
        records.append(record)
        stale = 0 if record.val_loss < lowest else stale + 1
        lowest = min(lowest, record.val_loss)
        stop = bool(config.early_stopping) and stale >= config.early_stopping
        if record.epoch % every == 0 or record.epoch == config.epochs or stop:
            log(format_epoch(record, config.epochs))
        return stop

    small = parts.train.features.numel() < SMALL_DATA
    with one_cpu_thread(enabled=small and device.type == "cpu"):
        started = time.perf_counter()
        fit(model, train_batches, val_batches, optimizer, scheduler, RegressionTask(),
            epochs=config.epochs, device=device, precision=precision,
            on_epoch_end=on_epoch_end, progress=progress)
        seconds = time.perf_counter() - started

    results = assess(model.cpu().eval(), scaler, parts, TABULAR[config.dataset].true_formula
                     if config.csv is None else None)
    description = describe_model(
        config.model, config.model_settings, input_shape=(len(table.columns),), class_names=(),
        dataset=config.dataset, mean=scaler.mean, std=scaler.std,
    )
    save_checkpoint(out / "last.pt", {
        **description, "kind": "regression", "outputs": 1,
        "features": [column.to_dict() for column in table.columns],
        "target": table.target_column.to_dict(), "config": config.to_dict(),
        "model_state": model.state_dict(), "epoch": records[-1].epoch,
        "formula": results.get("formula"),
    })
    rundir.write_metrics(out / "metrics.csv", records)
    summary = rundir.summarize(
        records, model=config.model, dataset=config.dataset, task="regression",
        parameters=parameters, train_seconds=round(seconds, 3),
        train_rows=len(parts.train), val_rows=len(parts.val), test_rows=len(parts.test),
        **results,
    )
    rundir.write_json(out / "summary.json", summary)
    from torchbasics.runs.regression_report import write_regression_figures

    write_regression_figures(out, records)
    return summary


@torch.no_grad()
def assess(
    model: nn.Module, scaler: Standardizer, parts: TableSplits,
    true_formula: LinearFormula | None,
) -> dict[str, Any]:
    """Metrics of the net and of the closed-form fit on each split, and their formulas.

    Least squares is fitted on the same (training) rows the net learned from. For a
    linear net the learned formula is its weights in original units.
    """
    splits = {"train": parts.train, "val": parts.val, "test": parts.test}
    names, target = parts.train.names, parts.train.target_column.name
    least = LinearFormula.least_squares(parts.train.features.numpy(),
                                        parts.train.target.numpy(), names, target)
    results: dict[str, Any] = {
        "metrics": {name: regression_metrics(part.target, model(scaler(part.features)))
                    for name, part in splits.items()},
        "least_squares_metrics": {name: regression_metrics(part.target,
                                                           least.predict(part.features.numpy()))
                                  for name, part in splits.items()},
        "least_squares_formula": least.to_dict(),
    }
    if isinstance(model, nn.Linear) and model.out_features == 1:
        learned = LinearFormula.from_standardized(
            model.weight[0].tolist(), model.bias.item(), scaler.mean, scaler.std, names, target
        )
        results["formula"] = learned.to_dict()
    if true_formula is not None:
        results["true_formula"] = true_formula.to_dict()
        results["true_formula_metrics"] = {
            name: regression_metrics(part.target, true_formula.predict(part.features.numpy()))
            for name, part in splits.items()
        }
    return results


@contextlib.contextmanager
def one_cpu_thread(enabled: bool = True) -> Iterator[None]:
    """Run torch's CPU operations on one thread inside the block, then restore the count.

    On a few thousand numbers, handing each operation to a thread pool costs more than the
    arithmetic, and on a busy machine much more: 200 full-batch epochs on the bonus data
    took 0.2 s on one thread and 0.4-4 s on two (measured on a loaded 2-core machine).
    """
    threads = torch.get_num_threads()
    if enabled:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def format_epoch(record: EpochRecord, epochs: int) -> str:
    """One log line: the epoch's train and validation MSE (and RMSE, in target units)."""
    width = len(str(epochs))
    return (f"epoch {record.epoch:>{width}}/{epochs}  "
            f"train MSE {record.train_loss:,.1f} (RMSE {record.train_loss ** 0.5:,.2f})  "
            f"val MSE {record.val_loss:,.1f} (RMSE {record.val_loss ** 0.5:,.2f})  "
            f"lr {record.lr:.2e}")
