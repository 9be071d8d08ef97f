"""One ``tune`` command's work on a study: run trials while the time and count allow, say
how each went, then choose, test once and report."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchbasics.errors import TorchbasicsError
from torchbasics.runs.budget import BudgetTooShort, process_age
from torchbasics.runs.config import lengths_given
from torchbasics.tune import report
from torchbasics.tune.space import settings_of
from torchbasics.tune.study import INTERRUPTED, shown_url
from torchbasics.tune.trials import TrialFailed, TrialRunner, trial_folder

if TYPE_CHECKING:
    from torchbasics.tune.search import Plan

COUNTED = ("COMPLETE", "PRUNED", "FAIL")  # trials that have ended (interrupted ones aside)
SMALL_VALIDATION = 100  # examples; fewer make each a step of more than 1 %
SHORTEST_SLICE = 0.8  # the last picture trial may have this share of a slice, not less
RESERVE_SECONDS = 10.0  # kept at the end for the test evaluation, results and figures ...
RESERVE_SHARE = 0.02  # ... plus this share of the budget


def reserve(budget: float) -> float:
    """Seconds kept at the end of a budget for the test evaluation, results and figures."""
    return RESERVE_SECONDS + RESERVE_SHARE * budget


@dataclass
class Session:
    """Trials run by this process on the study, and what it prints and writes."""

    plan: Plan
    study: Any
    storage: Any
    trial_seconds: float | None  # each picture trial's time budget, if the budget sets it
    log: Callable[[str], None]
    progress: bool = False
    verbose: bool = False
    durations: list[float] = field(default_factory=list)  # this process's trials, seconds

    def run(self) -> None:
        """Run trials until ``--trials`` have ended or the time left holds none."""
        import optuna

        if not self.room_for_another():
            return
        runner = TrialRunner(self.plan.given, self.plan.space, self.plan.request.out,
                             self.plan.request.prune, self.plan.deadline, self.trial_seconds,
                             announce=self.announce, log=self.trial_log,
                             progress=self.progress, first=self.plan.first_rung())
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # this module says what happens
        self.study.optimize(runner, callbacks=[self.after_trial], catch=(TrialFailed,),
                            gc_after_trial=True)

    def ended(self) -> int:
        """Trials of the study that have ended, interrupted ones aside."""
        return sum(trial.state.name in COUNTED and trial.user_attrs.get("failure") != INTERRUPTED
                   for trial in self.study.get_trials(deepcopy=False))

    def running(self) -> int:
        """Trials of the study training now: other processes' (this one's have ended
        whenever it asks)."""
        return sum(trial.state.name == "RUNNING"
                   for trial in self.study.get_trials(deepcopy=False))

    def room_for_another(self) -> bool:
        """Whether another trial may start: fewer than ``--trials`` ended or training in
        other processes, and the time left holds one (a picture trial's slice, or the
        longest table trial so far)."""
        wanted = self.plan.request.trials
        if wanted is not None and self.ended() + self.running() >= wanted:
            return False
        left = self.plan.deadline - time.perf_counter()
        needs = SHORTEST_SLICE * self.trial_seconds if self.trial_seconds is not None else (
            max(self.durations) if self.durations else 0.0)
        return left > needs

    def announce(self, trial: Any) -> None:
        """One line as a trial starts: its number and settings."""
        settings = settings_of(trial.params)
        what = report.shown_settings(settings) or "the recipe's settings"
        limit = f", {self.trial_seconds:.0f} s" if self.trial_seconds is not None else ""
        self.log(f"trial {trial.number}{self.of_count()}: {what}{limit}")

    def of_count(self) -> str:
        wanted = self.plan.request.trials
        return f" ({self.ended() + 1} of {wanted})" if wanted else ""

    def trial_log(self, line: str) -> None:
        """A trial's own run lines: shown indented with ``--verbose``, else not."""
        if self.verbose:
            self.log(f"    {line}")

    def after_trial(self, study: Any, trial: Any) -> None:
        """Say how the trial went, write the leaderboard, stop when nothing more fits."""
        row = report.trial_row(trial)
        if row["seconds"] is not None:
            self.durations.append(row["seconds"])
        self.log(f"  -> {self.outcome(row)}{self.best_so_far()}{self.time_left()}")
        if not self.durations[:-1] and row["dir"]:  # this process's first trial
            self.note_small_validation(self.plan.request.out / row["dir"])
        report.write_results(self.plan.request.out, self.results())
        if not self.room_for_another():
            self.refuse_if_first_of_too_few(row)
            study.stop()

    def note_small_validation(self, run: Path) -> None:
        """Say so when the validation split is too small to tell trials apart: one
        example in it is a step of more than 1 % (trials tie, and the choice overfits it)."""
        facts = {}
        for name in ("summary.json", "config.json"):
            if (run / name).exists():
                facts |= json.loads((run / name).read_text())
        count = facts.get("val_rows") or facts.get("val_images")
        if count and count < SMALL_VALIDATION:
            self.log(f"note: the validation split holds {count} examples: trials that differ "
                     "by one of them tie, and the choice may not hold on the test split; "
                     "a larger --val-fraction tells them apart better")

    def refuse_if_first_of_too_few(self, row: dict[str, Any]) -> None:
        """A budget whose first trial leaves no time for a second is refused (the study is
        then removed): a search of one trial chooses nothing.

        Raises:
            BudgetTooShort: naming the trial's time, from which the caller names a budget.
        """
        request, ended = self.plan.request, self.ended()
        more_wanted = request.trials is None or ended < request.trials
        if request.time_budget is not None and more_wanted and ended == 1 and row["seconds"]:
            raise BudgetTooShort(f"one trial took {row['seconds']:g} s", enough=row["seconds"])

    def outcome(self, row: dict[str, Any]) -> str:
        measure = self.plan.measure
        value = report.shown(row["value"], measure)
        if row["state"] == "complete":
            return f"{measure} {value} after {row['epochs']} epochs, {row['seconds']} s"
        if row["state"] == "pruned":
            return f"{row['note']}: {measure} {value}, {row['seconds']} s"
        return f"failed: {row['note']}"

    def best_so_far(self) -> str:
        try:
            best = self.study.best_trial
        except ValueError:
            return ""
        return f"; best {report.shown(best.value, self.plan.measure)} (trial {best.number})"

    def time_left(self) -> str:
        if math.isinf(self.plan.deadline):
            return ""
        return f"; {max(0.0, self.plan.deadline - time.perf_counter()):.0f} s left for trials"

    def too_short(self, refused: BudgetTooShort) -> TorchbasicsError:
        """The refusal of a budget whose first trial found its slice too short."""
        request = self.plan.request
        count = request.trials or 2
        spent = process_age()
        enough = 5 * math.ceil((spent + count * refused.enough + reserve(
            request.time_budget or 0.0)) / 5)
        share = (f"gives each trial {self.trial_seconds:.0f} s" if self.trial_seconds
                 else "holds one trial")
        return TorchbasicsError(
            f"a {request.time_budget:g} s budget {share}, and one trial needs "
            f"{refused.enough:g} s on this machine", where="--time-budget",
            fix=f"give at least {enough:g} s for {count} trials")

    def results(self) -> dict[str, Any]:
        """Everything ``results.json`` holds, as it stands."""
        trials = self.study.get_trials(deepcopy=False)
        states = [trial.state.name.lower() for trial in trials]
        counts = ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(states)) or "no trials"
        plan = self.plan
        return {"study": self.study.study_name,
                "storage": shown_url(self.storage.url), "dataset": plan.spec.name,
                "models": list(plan.space.models), "measure": plan.measure,
                "prune": plan.request.prune, "space": plan.space.describe(),
                "trial_seconds": self.trial_seconds, "counts": counts,
                "median_trial_seconds": statistics.median(self.durations)
                if self.durations else None, "trials": report.leaderboard(trials)}

    def finish(self) -> dict[str, Any]:
        """Choose the trial with the lowest validation figure, test it once, draw the
        figures, link ``best``, write and return the results.

        Raises:
            TorchbasicsError: no trial has completed (the leaderboard says why).
        """
        out = self.plan.request.out
        results = self.results()
        try:
            best = self.study.best_trial
        except ValueError:
            report.write_results(out, results)
            raise TorchbasicsError("no trial completed", where=out / "results.md",
                                   fix="see each trial's note there") from None
        results["best"] = self.chosen(best)
        results["figures"], results["figure_notes"] = report.draw_figures(self.study, out,
                                                                        self.plan.measure)
        report.write_results(out, results)
        chosen = results["best"]
        test = (f", {chosen['test_measure']} {report.shown(chosen['test'], chosen['test_measure'])}"
                if chosen.get("test") is not None else "")
        self.log(f"chosen: trial {best.number} ({self.plan.measure} "
                 f"{report.shown(best.value, self.plan.measure)}{test}); {results['counts']}")
        self.log(f"train it again: {chosen['command']}")
        self.log(f"results: {out / 'results.md'}" + (
            f"; the run: {out / report.BEST}" if chosen.get("test") is not None else ""))
        return results

    def chosen(self, best: Any) -> dict[str, Any]:
        """The chosen trial: its settings, the command that trains them, its test figure
        (computed here, once) when its run directory is on this machine."""
        from torchbasics.runs.evaluate import evaluate_run

        row = report.trial_row(best)
        regression = "MSE" in self.plan.measure
        entry = {"trial": best.number, "value": best.value, "settings": row["settings"],
                 "dir": row["dir"], "command": report.train_command(
                     self.plan.given, row["settings"], self.length()),
                 "test_measure": "test MSE" if regression else "test error"}
        folder = trial_folder(self.plan.request.out, best.number)
        if not (folder / "summary.json").exists():
            entry["test_note"] = "its run directory is on the machine that trained it"
            (self.plan.request.out / report.BEST).unlink(missing_ok=True)  # not an older one
            return entry
        evaluation = evaluate_run(folder, data_dir=self.plan.given.data_dir)
        entry["test"] = evaluation["mse" if regression else "error"]
        report.link_best(self.plan.request.out, row["dir"])
        return entry

    def length(self) -> str:
        """How long the command trains: the trials' slice of the budget, else the length
        given (``--epochs`` and the like), else nothing: the recipe's, as in the trials."""
        if self.trial_seconds is not None:
            return f"--time-budget {self.trial_seconds:.0f}"
        given = self.plan.given
        return " ".join(word for name in lengths_given(given)
                        for word in report.flag_words(name, getattr(given, name)))
