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
from typing import Any

import torch
from torch import nn

from torchbasics.checkpoint import REGRESSOR, build_model, describe, save_checkpoint
from torchbasics.data.registry import get_dataset
from torchbasics.device import Precision, choose_precision, resolve_device
from torchbasics.errors import TorchbasicsError
from torchbasics.metrics import regression_metrics
from torchbasics.models import count_parameters
from torchbasics.runs import rundir
from torchbasics.runs.config import TrainConfig, optimizer_and_schedule, resolve, step_plan
from torchbasics.tabular.formula import LinearFormula
from torchbasics.tabular.prepare import RowBatches, Standardizer, TableSplits, split_table
from torchbasics.tabular.table import Table
from torchbasics.training.loop import EpochRecord, RegressionTask, fit
from torchbasics.training.progress import Progress

LOG_LINES = 10  # epoch lines logged per run (evenly spaced, plus the last)
SMALL_DATA = 1 << 20  # feature values below which one CPU thread trains fastest


def load_config_table(config: TrainConfig) -> Table:
    """The table ``config`` names: its data set's CSV, or ``config.csv``, columns renamed."""
    spec = get_dataset(config.dataset)
    return spec.load_table(config.csv, config.feature_columns, config.target_column)


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
    if resume:
        raise TorchbasicsError("regression runs take seconds and are not resumed",
                               where="--resume", fix="train again (with --force to overwrite)")
    config = resolve(config)
    table = load_config_table(config)
    parts = split_table(table, test_fraction=config.test_fraction,
                        val_fraction=config.val_fraction, seed=config.seed)
    out = rundir.prepare_run_dir(out, force=force)
    device = resolve_device(config.device)
    precision = (Precision("fp32", device.type, "a regression trains in fp32: bf16's three "
                           "significant digits cannot find least squares")
                 if config.precision == "auto" else choose_precision(config.precision, device))
    torch.manual_seed(config.seed)
    scaler = Standardizer.fit(parts.train)  # training rows only
    description = describe(
        REGRESSOR, config.model, config.model_settings, input_shape=(len(table.columns),),
        dataset=config.dataset, config=config.to_dict(),
        features=[column.to_dict() for column in table.columns],
        target=table.target_column.to_dict(), scaler=scaler.to_dict())
    model = build_model(description).to(device)
    rundir.write_config(out, config, device_used=str(device), precision_used=precision.name,
                        precision_reason=precision.reason,
                        parameters=count_parameters(model), data_source=table.source,
                        train_rows=len(parts.train), val_rows=len(parts.val),
                        test_rows=len(parts.test))
    log(f"training {config.model} ({count_parameters(model):,} parameters) on "
        f"{config.dataset}: {len(parts.train):,} train / {len(parts.val):,} validation / "
        f"{len(parts.test):,} test rows, {config.epochs} epochs, batch {config.batch_size}, "
        f"{device} {precision.name}")
    records, seconds = fit_rows(model, scaler, parts, config, device, precision,
                                progress=progress, log=log)
    results = assess(model.cpu().eval(), scaler, parts, get_dataset(config.dataset).true_formula
                     if config.csv is None else None)
    save_checkpoint(out / "last.pt", {**description, "model_state": model.state_dict(),
                                      "epoch": records[-1].epoch})
    rundir.write_metrics(out / "metrics.csv", records)
    summary = rundir.summarize(
        records, model=config.model, dataset=config.dataset, task="regression",
        parameters=count_parameters(model), train_seconds=round(seconds, 3),
        train_rows=len(parts.train), val_rows=len(parts.val), test_rows=len(parts.test),
        **results,
    )
    rundir.write_json(out / "summary.json", summary)
    rundir.write_figures(out, records)
    return summary


def fit_rows(model: nn.Module, scaler: Standardizer, parts: TableSplits, config: TrainConfig,
             device: torch.device, precision: Precision, *, progress: bool,
             log: Callable[[str], None]) -> tuple[list[EpochRecord], float]:
    """The explicit loop on standardized rows; the epochs' records and the seconds it took."""
    train_batches = RowBatches(scaler(parts.train.features), parts.train.target,
                               batch_size=config.batch_size, shuffle=True, seed=config.seed,
                               device=device)
    val_batches = RowBatches(scaler(parts.val.features), parts.val.target,
                             batch_size=len(parts.val), device=device)
    plan = step_plan(config, len(train_batches))
    optimizer, scheduler = optimizer_and_schedule(model, config, plan)
    tracked = Progress(config.early_stopping)
    every = max(1, config.epochs // LOG_LINES)

    def end_epoch(record: EpochRecord) -> bool:
        tracked.add(record)
        if record.epoch % every == 0 or record.epoch == config.epochs or tracked.should_stop:
            log(format_epoch(record, config.epochs))
        return tracked.should_stop

    small = parts.train.features.numel() < SMALL_DATA
    with one_cpu_thread(enabled=small and device.type == "cpu"):
        started = time.perf_counter()
        fit(model, train_batches, val_batches, optimizer, scheduler, RegressionTask(),
            plan=plan, device=device, precision=precision.name,
            scaler=precision.grad_scaler() if precision.scales_gradients else None,
            on_epoch_end=end_epoch, progress=progress)
        return tracked.records, time.perf_counter() - started


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
