"""Train a model on a table end to end, writing a run directory: regression or classification.

Read the CSV and decide what each column is and what the task is (:mod:`..tabular.source`)
-> split train/validation/test (seeded; stratified for classes) -> fit the encoding on the
training rows only (:class:`~torchbasics.tabular.schema.TableSchema`); these three are
:mod:`.table_data`, which evaluation reads again -> the explicit loop
(:func:`torchbasics.training.loop.fit`: MSE, or cross-entropy) -> metrics on every split
(:mod:`.table_results`) -> ``config.json``, ``metrics.csv``, ``last.pt``,
``loss_curves.png``, ``summary.json``, ``report.md``.

Only ``last.pt`` is written: a linear fit converges, and choosing an epoch by validation
loss would pick a point on the way to least squares rather than least squares itself.
Checkpoints are written once, at the end: a run takes seconds, so there is nothing to
resume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchbasics.checkpoint import TABLE, build_model, describe, save_checkpoint
from torchbasics.device import Precision, choose_precision, resolve_device
from torchbasics.errors import TorchbasicsError
from torchbasics.models import count_parameters
from torchbasics.runs import rundir
from torchbasics.runs.auto_lr import lr_facts, resolve_auto, test_on, with_placeholder_lr
from torchbasics.runs.config import (
    TrainConfig,
    check_values,
    optimizer_and_schedule,
    resolve,
    step_plan,
)
from torchbasics.runs.table_data import SPLITS, TableParts, encode_parts, read_table
from torchbasics.runs.table_results import assess, write_table_figures
from torchbasics.tabular.prepare import RowBatches
from torchbasics.tabular.schema import CLASSIFICATION
from torchbasics.tabular.source import TableData
from torchbasics.training import divergence
from torchbasics.training.divergence import Diverged
from torchbasics.training.loop import (
    ClassificationTask,
    EpochRecord,
    RegressionTask,
    Task,
    fit,
)
from torchbasics.training.lr_find import STEPS, RangeTest
from torchbasics.training.progress import Progress, format_epoch
from torchbasics.training.recovery import Recoveries, Snapshot
from torchbasics.training.schedule import StepPlan

LOG_LINES = 10  # epoch lines logged per run (evenly spaced, plus the last)
SMALL_DATA = 1 << 20  # feature values below which one CPU thread trains fastest


def train_table(config: TrainConfig, out: str | os.PathLike, *, force: bool = False,
                resume: bool = False, progress: bool = False,
                log: Callable[[str], None] = print,
                on_epoch: Callable[[EpochRecord], bool] | None = None) -> dict[str, Any]:
    """Train ``config.model`` on the table ``config.dataset``, writing the run directory ``out``.

    ``on_epoch`` sees each epoch's record (its losses in the target's units); True stops
    the run there.

    Returns:
        The run summary (also in ``out/summary.json``): losses per epoch, the metrics of
        the model on each split (and, for regression, of least squares), the formulas.
    """
    if resume:
        raise TorchbasicsError("table runs take seconds and are not resumed",
                               where="--resume", fix="train again (with --force to overwrite)")
    check_values(config)  # ranges and scopes, before the table is read
    rundir.check_run_dir(out, force=force)
    config, spec, data = read_table(config)
    config = resolve(config)
    for line in data.lines():
        log(line)
    if data.target.warning:
        log(f"note: {data.target.warning}")
    parts = encode_parts(data, config)
    device = resolve_device(config.device)
    config, lr_found = resolve_auto(
        config, lambda placeholder: rows_range_test(placeholder, parts, device), log)
    out = rundir.prepare_run_dir(out, force=force)
    precision = (Precision("fp32", device.type, "a table trains in fp32: bf16's three "
                           "significant digits cannot find least squares")
                 if config.precision == "auto" else choose_precision(config.precision, device))
    description, model = table_model(config, parts, device)
    write_table_config(out, config, data, parts, device, precision, count_parameters(model),
                       lr_facts(out, lr_found))
    log(f"training {config.model} ({count_parameters(model):,} parameters) on {spec.title}: "
        + " / ".join(f"{len(parts.rows[s]):,}" for s in SPLITS)
        + f" train / validation / test rows, {config.epochs} epochs, batch "
        f"{config.batch_size}, {device} {precision.name}")
    for split, note in parts.notes.items():
        if note:
            log(f"{split} rows: {note}, filled in")
    records, seconds, recoveries = fit_rows(model, parts, config, device, precision,
                                            progress=progress, log=log, on_epoch=on_epoch)
    model = model.cpu().eval()
    results = assess(model, parts, data, spec)
    save_checkpoint(out / "last.pt", {**description, "model_state": model.state_dict(),
                                      "epoch": records[-1].epoch})
    rundir.write_metrics(out / "metrics.csv", records)
    summary = rundir.summarize(
        records, model=config.model, dataset=config.dataset, task=parts.schema.task,
        parameters=count_parameters(model), train_seconds=round(seconds, 3),
        recoveries=recoveries.to_list(),
        **{f"{split}_rows": len(parts.rows[split]) for split in SPLITS}, **results)
    rundir.write_json(out / "summary.json", summary)
    write_table_figures(out, model, parts)
    rundir.write_figures(out, records)
    return summary


def write_table_config(out: Path, config: TrainConfig, data: TableData, parts: TableParts,
                       device: torch.device, precision: Precision, parameters: int,
                       more: dict[str, Any]) -> None:
    """``config.json``: the settings, what was decided about the table, and ``more``."""
    rundir.write_config(
        out, config, device_used=str(device), precision_used=precision.name,
        precision_reason=precision.reason, parameters=parameters, data_source=data.table.source,
        task_reason=data.target.reason,
        columns=[{"name": p.name, "kind": p.kind, "reason": p.reason} for p in data.plans],
        inputs=parts.schema.input_names(),
        **({"classes": list(data.target.classes)} if data.target.classes else {}),
        **{f"{split}_rows": len(parts.rows[split]) for split in SPLITS}, **more)


def table_model(config: TrainConfig, parts: TableParts,
                device: torch.device) -> tuple[dict[str, Any], nn.Module]:
    """The checkpoint's description of the model ``config`` trains on these rows, and the
    model, its weights seeded by ``config.seed``."""
    torch.manual_seed(config.seed)
    description = describe(TABLE, config.model, config.model_settings,
                           input_shape=(parts.schema.width,), dataset=config.dataset,
                           config=config.to_dict(), schema=parts.schema.to_dict())
    return description, build_model(description).to(device)


def task_of_rows(parts: TableParts) -> Task:
    """Cross-entropy for a classifier's rows, squared error for a regression's."""
    return (ClassificationTask(0.0) if parts.schema.task == CLASSIFICATION
            else RegressionTask())


def rows_range_test(config: TrainConfig, parts: TableParts, device: torch.device, *,
                    steps: int = STEPS) -> RangeTest:
    """The learning-rate range test on a throwaway model for these rows (in fp32)."""
    _, model = table_model(config, parts, device)
    batches = RowBatches(parts.inputs["train"], parts.targets["train"],
                         batch_size=config.batch_size, shuffle=True, seed=config.seed,
                         device=device)
    return test_on(model, batches, config, task_of_rows(parts), device=device,
                   precision="fp32", steps=steps)


def table_range_test(config: TrainConfig, *, steps: int,
                     log: Callable[[str], None] = print) -> RangeTest:
    """The range test for ``config``'s table and model (see :mod:`.lr_find`)."""
    check_values(config)
    config, _, data = read_table(config)
    config = with_placeholder_lr(config)
    return rows_range_test(config, encode_parts(data, config),
                           resolve_device(config.device), steps=steps)


def fit_rows(model: nn.Module, parts: TableParts, config: TrainConfig, device: torch.device,
             precision: Precision, *, progress: bool, log: Callable[[str], None],
             on_epoch: Callable[[EpochRecord], bool] | None = None,
             ) -> tuple[list[EpochRecord], float, Recoveries]:
    """The explicit loop on the encoded rows; the epochs' records, the seconds it took and
    the recoveries from divergences it made."""
    train_batches = RowBatches(parts.inputs["train"], parts.targets["train"],
                               batch_size=config.batch_size, shuffle=True, seed=config.seed,
                               device=device)
    val_batches = RowBatches(parts.inputs["val"], parts.targets["val"],
                             batch_size=len(parts.rows["val"]), device=device)
    plan = step_plan(config, len(train_batches))
    optimizer, scheduler = optimizer_and_schedule(model, config, plan)
    task = task_of_rows(parts)
    tracked = Progress(config.early_stopping, len(parts.rows["val"]))
    recoveries = Recoveries(allowed=bool(config.recover))
    every = max(1, config.epochs // LOG_LINES)
    units = parts.schema.target.std ** 2 if parts.schema.task != CLASSIFICATION else 1.0

    def end_epoch(record: EpochRecord) -> bool:
        # The net learns the standardized target; its MSE is reported in the target's units.
        record = dataclasses.replace(record, train_loss=record.train_loss * units,
                                     val_loss=record.val_loss * units)
        tracked.add(record)
        stop = tracked.should_stop or bool(on_epoch and on_epoch(record))
        if record.epoch % every == 0 or record.epoch == config.epochs or stop:
            log(format_epoch(record, config.epochs,
                             regression=parts.schema.task != CLASSIFICATION, timed=False))
        return stop

    small = parts.inputs["train"].numel() < SMALL_DATA
    with one_cpu_thread(enabled=small and device.type == "cpu"):
        started = time.perf_counter()
        fit_recovering(model, train_batches, val_batches, optimizer, scheduler, task, plan=plan,
                       device=device, precision=precision, recoveries=recoveries,
                       progress=progress, tracked=tracked, end_epoch=end_epoch, log=log)
        return tracked.records, time.perf_counter() - started, recoveries


def fit_recovering(model: nn.Module, train_batches: RowBatches, val_batches: RowBatches,
                   optimizer: torch.optim.Optimizer,
                   scheduler: torch.optim.lr_scheduler.LRScheduler, task: Task, *,
                   plan: StepPlan, device: torch.device, precision: Precision,
                   recoveries: Recoveries, progress: bool, tracked: Progress,
                   end_epoch: Callable[[EpochRecord], bool],
                   log: Callable[[str], None]) -> None:
    """:func:`~torchbasics.training.loop.fit`, going back to the last good epoch with a
    lower peak rate when the loss diverges (:mod:`torchbasics.training.recovery`).

    Full-batch training makes every epoch one step, and a step's loss is of the weights the
    step before left: a loss that blows up in an epoch's first step says the last epoch
    ended blown up, so the run goes back one epoch further (the last two are kept)."""
    watch = divergence.watch_for(device, len(train_batches))
    scaler = precision.grad_scaler() if precision.scales_gradients else None

    def snapshot() -> Snapshot:
        return Snapshot.take(model, optimizer, scheduler, scaler, watch=watch.state(),
                             progress=tracked)  # copied, records and all

    def keep_and_end(record: EpochRecord) -> bool:
        stop = end_epoch(dataclasses.replace(record,
                                             recovered=recoveries.in_epoch(record.epoch)))
        kept[:] = [kept[-1], snapshot()]
        return stop

    kept = [snapshot()]  # the state at the end of the last two epochs, oldest first
    while True:
        try:
            fit(model, train_batches, val_batches, optimizer, scheduler, task, plan=plan,
                device=device, precision=precision.name, scaler=scaler,
                start_epoch=tracked.epoch + 1, on_epoch_end=keep_and_end, progress=progress,
                watch=watch)
            return
        except Diverged as blow_up:
            good = kept[0] if blow_up.first_step == 1 else kept[-1]
            extra = recoveries.go_back(blow_up, good, model, optimizer, scheduler, scaler,
                                       back_to_epoch=good.extra["progress"].epoch, log=log)
            watch.restore(extra["watch"])
            vars(tracked).update(vars(extra["progress"]))  # end_epoch holds this one
            kept[:] = [snapshot()]


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

