"""``torchbasics tune``: search the settings that train best on the user's data, in time.

:func:`tune` checks everything first (the data, the models, the search space), opens or
continues the study (:mod:`~torchbasics.tune.study`), runs trials until ``--trials`` of
them have ended or the time is up (:mod:`~torchbasics.tune.trials`), then evaluates the
chosen trial on the test split once and writes the results (:mod:`~torchbasics.tune.report`).

Time: a budget counts from the process's start and covers everything. Each picture trial
gets an equal slice of it as its own time budget (the machine-fitted schedule of
``train --time-budget``); a table trial trains its recipe's epochs and is stopped at an
epoch's end if the time runs out. A trial is started only when the time left can hold one,
and the end keeps a reserve for the test evaluation and the figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchbasics.data.registry import DatasetSpec, get_dataset
from torchbasics.errors import TorchbasicsError
from torchbasics.extras import require
from torchbasics.models import MODEL_SETTINGS
from torchbasics.runs.budget import BudgetTooShort
from torchbasics.runs.config import (
    LENGTHS,
    SETTINGS,
    TrainConfig,
    check_values,
    lengths_given,
    resolve,
)
from torchbasics.settings import SearchRange, flag_name
from torchbasics.tune import report
from torchbasics.tune import study as studies
from torchbasics.tune.session import Session, reserve
from torchbasics.tune.space import Space, build_space, parse_search
from torchbasics.tune.trials import REDUCTION, TRIALS, first_rung

TRIAL_SECONDS = 60.0  # a picture trial's time when only --time-budget is given ...
MOST_BUDGET_TRIALS = 50  # ... and at most this many trials share the budget
STARTUP_TRIALS = 5  # TPE samples at random this many trials before it models the results


@dataclass
class TuneRequest:
    """What ``torchbasics tune`` was asked (see ``torchbasics tune --help``)."""

    config: TrainConfig  # the settings given, fixed for every trial (None: not given)
    out: Path
    models: list[str] = field(default_factory=list)  # empty: the data set's own
    trials: int | None = None
    time_budget: float | None = None  # seconds, the whole command
    trial_time: float | None = None  # seconds, each picture trial (default: a share)
    search: list[str] = field(default_factory=list)  # --search NAME=...
    prune: bool = True
    storage: str | None = None  # None: study.db in out
    study: str = "tune"
    started: float = field(default_factory=time.perf_counter)  # the budget counts from here


@dataclass
class Plan:
    """A request checked and made concrete: the data, the space, the trials' time."""

    request: TuneRequest
    given: TrainConfig  # the settings given, with --search's fixed ones
    spec: DatasetSpec
    space: Space
    recipes: dict[str, TrainConfig]  # each model's resolved recipe
    deadline: float  # time.perf_counter() by which the trials end (inf: no budget)

    @property
    def measure(self) -> str:
        """What the trials are judged by."""
        task = self.spec.task or self.given.task
        return "validation MSE" if task == "regression" else "validation error"

    @property
    def sliced(self) -> bool:
        """Whether picture trials each train for a slice of time (not a length)."""
        budgeted = self.request.time_budget is not None and not lengths_given(self.given)
        return self.spec.kind == "image" and (self.request.trial_time is not None or budgeted)

    def first_rung(self) -> int:
        """The epoch at which pruning first compares trials: from the shortest recipe's
        epochs where the trials' epochs are known before they train."""
        known = [recipe.epochs for recipe in self.recipes.values()
                 if recipe.epochs and recipe.time_budget is None and recipe.steps is None]
        return first_rung(None if self.sliced or not known else min(known))

    def signature(self) -> dict[str, Any]:
        """What the study searches: continuing it with anything else is refused."""
        fixed = {k: v for k, v in dataclasses.asdict(self.given).items()
                 if v not in (None, {}) and k not in LENGTHS}
        return {"dataset": self.spec.name, "models": list(self.space.models),
                "space": self.space.describe(), "fixed": fixed, "prune": self.request.prune}


def plan_request(request: TuneRequest) -> Plan:
    """Check everything a study needs before anything runs.

    Raises:
        TorchbasicsError: a setting, model or ``--search`` that is wrong, or neither
            ``--trials`` nor ``--time-budget``; one line.
    """
    if request.trials is None and request.time_budget is None:
        raise TorchbasicsError("say how much to search", where="tune",
                               fix="give --trials N, --time-budget T, or both")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise TorchbasicsError("a study's trials each train in one process, not under "
                               "torchrun", where="tune", fix="start tune without torchrun; "
                               "several processes share one study through --storage")
    search = parse_search(request.search)
    given = with_fixed(request.config, search)
    check_values(given)
    given, spec = read_data(given)
    _check_trial_time(request, given, spec)
    models = request.models or [resolve(given).model]
    recipes = {model: resolve(dataclasses.replace(given, model=model)) for model in models}
    space = build_space(models, recipes, spec, given, search)
    deadline = (request.started + request.time_budget - reserve(request.time_budget)
                if request.time_budget else math.inf)
    if deadline <= time.perf_counter():
        spent = time.perf_counter() - request.started
        raise TorchbasicsError(
            f"a {request.time_budget:g} s budget leaves no time for trials after {spent:.1f} s "
            f"of start-up and {reserve(request.time_budget):.1f} s kept for the results",
            where="--time-budget", fix="give a minute or more")
    return Plan(request, given, spec, space, recipes, deadline)


def _check_trial_time(request: TuneRequest, given: TrainConfig, spec: DatasetSpec) -> None:
    """``--trial-time`` is a picture trial's time budget: the only length it then has."""
    if request.trial_time is None:
        return
    if spec.kind != "image":
        raise TorchbasicsError("is for pictures: a table trial trains its epochs",
                               where="--trial-time", fix="leave it out (or give --epochs)")
    given_length = lengths_given(given)
    if given_length:
        raise TorchbasicsError(f"--trial-time and {flag_name(given_length[0])} both say how "
                               "long a trial trains", fix="give one of them")
    SETTINGS["time_budget"].check("--trial-time", request.trial_time)


def with_fixed(config: TrainConfig, search: dict[str, Any]) -> TrainConfig:
    """``config`` with the settings ``--search NAME=A`` fixes."""
    fixed = {n: v for n, v in search.items() if not isinstance(v, SearchRange)}
    own = {n: v for n, v in fixed.items() if n in MODEL_SETTINGS}
    return dataclasses.replace(config, **{n: v for n, v in fixed.items() if n not in own},
                               model_settings=config.model_settings | own)


def read_data(config: TrainConfig) -> tuple[TrainConfig, DatasetSpec]:
    """The data set's spec; for a table, the config with the task its target asks for."""
    spec = get_dataset(config.dataset or TrainConfig.default_dataset())
    if spec.kind == "tabular":
        from torchbasics.runs.table_data import read_table

        config, spec, _ = read_table(config)
    return config, spec


def trial_seconds(plan: Plan, recorded: float | None) -> float | None:
    """Each picture trial's time budget: the study's own once it has one, else an equal
    share of the time left (``--trials`` shares, else about a minute each); ``None`` when
    trials train for a length given or their recipe's."""
    if plan.request.trial_time is not None:
        return plan.request.trial_time
    if recorded is not None:
        return recorded
    if not plan.sliced:
        return None
    left = plan.deadline - time.perf_counter()
    count = plan.request.trials or max(2, min(MOST_BUDGET_TRIALS,
                                              int(left // TRIAL_SECONDS)))
    return max(1.0, left / count)


def tune(request: TuneRequest, *, log: Callable[[str], None] = print,
         progress: bool = False, verbose: bool = False) -> dict[str, Any]:
    """Search, write the results, link ``best``; the results (also ``results.json``).

    Raises:
        TorchbasicsError: bad input, a database that cannot be reached, a study made with
            other settings, a budget too short for two trials; one line, before any trial
            runs (the last after the first trial measured it, which is then removed).
    """
    require("optuna", "tune", where="tune")
    plan = plan_request(request)
    folder = request.out
    folder.mkdir(parents=True, exist_ok=True)
    own_file = request.storage is None
    lock = studies.folder_lock(folder) if own_file else contextlib.nullcontext()
    with lock:
        storage = studies.open_storage(request.storage or studies.default_storage(folder))
        study, fresh = studies.open_study(storage, request.study, plan.signature(),
                                          sampler=sampler(request, storage),
                                          pruner=pruner(request, plan.first_rung()))
        retried = studies.retry_interrupted(study, storage, running_too=own_file)
        if retried:
            log(f"trials {', '.join(map(str, retried))} were interrupted: their settings "
                "are tried again")
        if fresh:  # made by this process (not by another that shares it)
            for model in plan.space.models:  # each model's recipe is the first to beat
                study.enqueue_trial(plan.space.recipe_params(model, plan.recipes[model]))
        seconds = trial_seconds(plan, study.user_attrs.get("trial_seconds"))
        if seconds is not None:
            study.set_user_attr("trial_seconds", seconds)
        session = Session(plan, study, storage, seconds, log, progress, verbose)
        try:
            session.run()
        except TorchbasicsError as exc:
            if fresh:
                _forget(storage, study, folder)
            raise session.too_short(exc) if isinstance(exc, BudgetTooShort) else exc from None
        except KeyboardInterrupt:
            studies.retry_interrupted(study, storage, running_too=False)
            raise KeyboardInterrupt("interrupted; the same command continues the study (the "
                                    "interrupted trial is tried again)") from None
        return session.finish()


def sampler(request: TuneRequest, storage: Any) -> Any:
    """The seeded TPE sampler: the same trials for the same seed; a continued or shared
    study's process draws its own (the seed moves on with the trials already there, and
    with the process when several share the study)."""
    import optuna

    seed = request.config.seed or 0
    try:
        done = storage.get_n_trials(storage.get_study_id_from_name(request.study))
    except KeyError:
        done = 0
    if request.storage is not None:
        seed += os.getpid()
    return optuna.samplers.TPESampler(seed=seed + done, n_startup_trials=STARTUP_TRIALS)


def pruner(request: TuneRequest, first: int) -> Any:
    """Successive halving on the epochs (the run's own per-epoch validation), or none.

    One bracket, not Hyperband's several: a study of tens of trials split into brackets
    compares each trial with a handful of others (benchmarks/tune.py measured both; the
    tune results page has the figures)."""
    import optuna

    if not request.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=first,
                                                  reduction_factor=REDUCTION)


def _forget(storage: Any, study: Any, folder: Path) -> None:
    """Remove a study this command made when its first trial shows the budget too short."""
    import shutil

    storage.delete_study(storage.get_study_id_from_name(study.study_name))
    shutil.rmtree(folder / TRIALS, ignore_errors=True)
    for name in ("results.json", "results.md", *report.FIGURES):
        (folder / name).unlink(missing_ok=True)
