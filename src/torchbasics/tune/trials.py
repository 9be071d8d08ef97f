"""One trial of a study: a normal training run, its epochs reported to the study.

A trial is ``torchbasics train`` with the settings the sampler proposes, written to its own
run directory (``trials/0007/``), so that every command works on it. The run's own
per-epoch record is what the study sees (:class:`EpochReporter`, the run's ``on_epoch``
hook): there is no second loop. When the pruner says a trial is behind the others at the
same epoch, or the tune's time is up, the hook stops the run at that epoch's end and it
finishes as an early-stopped run does, every file written.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchbasics.errors import TorchbasicsError
from torchbasics.runs.config import TrainConfig
from torchbasics.training.divergence import TrainingDiverged
from torchbasics.training.loop import EpochRecord
from torchbasics.tune.space import Space
from torchbasics.tune.study import INTERRUPTED

TRIALS = "trials"  # the folder of the trials' run directories
REDUCTION = 3  # successive halving keeps 1 trial in 3 at each rung
RESULT_ATTRS = ("failure", "stopped", "epochs", "seconds", "kept_value")


class TrialFailed(Exception):
    """A trial's run stopped with an error (a divergence it could not recover from, a
    setting the data refuses once another trial has trained): the study records it as
    failed and goes on. An error before any trial trained well (the data cannot be read, a
    budget too short) stops the search instead: every trial would meet it."""


def trial_folder(folder: Path, number: int) -> Path:
    """The run directory of trial ``number``."""
    return folder / TRIALS / f"{number:04d}"


def is_rung(epoch: int, first: int = 1) -> bool:
    """Whether successive halving compares trials at this epoch: the first rung times a
    power of its reduction factor (``first`` = 1: epochs 1, 3, 9, 27, ...)."""
    if epoch % first:
        return False
    epoch //= first
    while epoch % REDUCTION == 0:
        epoch //= REDUCTION
    return epoch == 1


def first_rung(epochs: int | None) -> int:
    """The epoch of the first comparison for trials of ``epochs`` epochs (None: a length
    not known before they train, as a time slice's): a hundredth of the run, as Optuna's
    own ``min_resource="auto"`` takes it, but known before any trial so that the run
    reports at exactly the rungs."""
    return max(1, (epochs or 0) // 100)


def measure_of(record: EpochRecord) -> float:
    """What a study minimizes: the validation error, or for a number the validation MSE."""
    return record.val_error if record.val_error is not None else record.val_loss


# Smaller than any step a validation error (a fraction) can take below a billion examples,
# so the tie-break below orders only trials whose errors are equal.
TIE_BREAK_SCALE = 1e-9


def rung_value(record: EpochRecord) -> float:
    """What the pruner compares at a rung: :func:`measure_of`, an error's ties broken by the
    validation loss. On a small validation split (a table's few dozen rows) most trials tie
    at the same error, and successive halving promotes every trial tied with its cut-off:
    the loss says which of them is further along."""
    value = measure_of(record)
    if record.val_error is None:
        return value
    loss = record.val_loss
    return value + TIE_BREAK_SCALE * (loss / (1.0 + loss) if math.isfinite(loss) else 1.0)


def chosen_value(summary: dict[str, Any]) -> float:
    """The validation figure of the model a run keeps: ``best.pt``'s for pictures, the
    final model's for a table (its run keeps the last epoch)."""
    if "best_val_error" in summary:
        return summary["best_val_error"]
    if summary.get("final_val_error") is not None:
        return summary["final_val_error"]
    return summary["final_val_loss"]


@dataclass
class EpochReporter:
    """The run's ``on_epoch`` hook: report the epoch to the trial; True to stop the run."""

    trial: Any
    prune: bool
    deadline: float  # time.perf_counter() by which the trial must have ended
    first: int = 1  # the first rung's epoch (see first_rung)
    started: float = dataclasses.field(default_factory=time.perf_counter)
    stopped: str = ""  # why the hook stopped the run, if it did
    reported: set[int] = dataclasses.field(default_factory=set)  # epochs told to the study

    def __call__(self, record: EpochRecord) -> bool:
        now = time.perf_counter()
        epoch_seconds = (now - self.started) / record.epoch  # data loading included
        value = rung_value(record)
        # Pruning is decided only at its rungs: a report at every epoch would write the
        # database a thousand times in a table's thousand-epoch trial, for nothing.
        # An epoch trained again after a recovery from a divergence is reported once.
        if (self.prune and is_rung(record.epoch, self.first) and math.isfinite(value)
                and record.epoch not in self.reported):
            self.reported.add(record.epoch)
            self.trial.report(value, record.epoch)
            if self.trial.should_prune():
                self.stopped = f"pruned at epoch {record.epoch}"
        if not self.stopped and now + epoch_seconds > self.deadline:
            self.stopped = f"stopped at epoch {record.epoch}: out of time"
        return bool(self.stopped)


@dataclass
class TrialRunner:
    """Runs the trials of one study (the objective ``study.optimize`` calls)."""

    given: TrainConfig  # the user's fixed settings, None where the recipe decides
    space: Space
    folder: Path
    prune: bool
    deadline: float  # time.perf_counter() by which every trial must have ended
    trial_seconds: float | None  # each picture trial's time budget (None: its length)
    announce: Callable[[Any], None]  # says a trial begins
    log: Callable[[str], None]  # the trial's own run lines
    progress: bool = False
    first: int = 1  # the pruner's first rung (epochs)

    def config_of(self, trial: Any) -> TrainConfig:
        """The training settings the sampler proposes for ``trial``, on the fixed ones."""
        model, settings, own = self.space.suggest(trial)
        config = dataclasses.replace(self.given, model=model, **settings,
                                     model_settings=self.given.model_settings | own)
        if self.trial_seconds is not None:  # the last may get a little less (see session)
            left = max(1.0, self.deadline - time.perf_counter())
            config = dataclasses.replace(config, time_budget=min(self.trial_seconds, left))
        return config

    def __call__(self, trial: Any) -> float:
        import optuna

        from torchbasics.runs.train import train

        for key in RESULT_ATTRS:  # a retried trial starts with its original's
            if trial.user_attrs.get(key) is not None:
                trial.set_user_attr(key, None)
        config = self.config_of(trial)
        out = trial_folder(self.folder, trial.number)
        trial.set_user_attr("dir", str(out.relative_to(self.folder)))
        self.announce(trial)
        reporter = EpochReporter(trial, self.prune, self.deadline, self.first)
        try:
            summary = train(config, out, force=True, progress=self.progress, log=self.log,
                            started=reporter.started, on_epoch=reporter)
        except TorchbasicsError as exc:
            trial.set_user_attr("failure", exc.message)
            if isinstance(exc, TrainingDiverged) or any(
                    t.state.name in ("COMPLETE", "PRUNED")
                    for t in trial.study.get_trials(deepcopy=False)):
                raise TrialFailed(exc.message) from None
            raise  # before any trial ended well: every trial would fail alike
        except KeyboardInterrupt:
            trial.set_user_attr("failure", INTERRUPTED)
            raise
        value = chosen_value(summary)
        trial.set_user_attr("epochs", summary["epochs"])
        trial.set_user_attr("seconds", round(time.perf_counter() - reporter.started, 1))
        trial.set_user_attr("kept_value", value)
        if reporter.stopped:
            trial.set_user_attr("stopped", reporter.stopped)
            raise optuna.TrialPruned(reporter.stopped)
        return value
