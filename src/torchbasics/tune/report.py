"""What a study leaves for the user: ``results.json``, ``results.md``, figures, ``best``.

The leaderboard lists every trial (its settings, validation figure, epochs, time, and
whether it completed, was pruned or failed, and why), best first; the chosen trial's
settings are written as a ready ``torchbasics train`` command, and its test figure, computed
once, for it alone, is reported as such. The figures are Optuna's own (optimization
history, parameter importances, parallel coordinates), drawn with matplotlib.
"""

from __future__ import annotations

import os
import shlex
import warnings
from pathlib import Path
from typing import Any

from torchbasics.files import write_text
from torchbasics.runs.config import LENGTHS, SETTINGS, TrainConfig
from torchbasics.settings import flag_name
from torchbasics.tune.space import MODEL, settings_of

BEST = "best"  # the link to the chosen trial's run directory
FIGURES = {"history.png": "plot_optimization_history",
           "importances.png": "plot_param_importances",
           "parallel.png": "plot_parallel_coordinate"}
ORDER = {"COMPLETE": 0, "PRUNED": 1, "FAIL": 2, "RUNNING": 3, "WAITING": 4}


def trial_row(trial: Any) -> dict[str, Any]:
    """One leaderboard row of an Optuna ``FrozenTrial``."""
    attrs = trial.user_attrs
    state = trial.state.name
    value = trial.value if state == "COMPLETE" else attrs.get("kept_value")
    return {"trial": trial.number, "state": state.lower(), "settings": settings_of(trial.params),
            "value": value, "epochs": attrs.get("epochs"), "seconds": attrs.get("seconds"),
            "dir": attrs.get("dir"),
            "note": attrs.get("stopped") or attrs.get("failure") or retry_note(trial)}


def retry_note(trial: Any) -> str | None:
    """"retry of trial N" for a trial queued again after an interruption."""
    original = trial.system_attrs.get("failed_trial")
    return None if original is None else f"retry of trial {original}"


def leaderboard(trials: list[Any]) -> list[dict[str, Any]]:
    """Every trial's row: completed best first, then pruned, failed, unfinished."""
    rows = [trial_row(trial) for trial in trials]
    return sorted(rows, key=lambda row: (ORDER.get(row["state"].upper(), 9),
                                         row["value"] if row["value"] is not None
                                         else float("inf"), row["trial"]))


def train_command(given: TrainConfig, settings: dict[str, Any], length: str) -> str:
    """The ``torchbasics train`` line that trains the chosen settings again."""
    values = {name: value for name, value in given.to_dict().items()
              if value is not None and name in SETTINGS}
    own = dict(given.model_settings)
    for name, value in settings.items():
        if name == MODEL or name in SETTINGS:
            values[name] = value
        else:
            own[name] = value
    words = ["torchbasics", "train"]
    for name, value in [*values.items(), *own.items()]:
        if name not in LENGTHS:
            words += flag_words(name, value)
    return shlex.join([*words, *shlex.split(length), "--out", "runs/tuned"])


def flag_words(name: str, value: Any) -> list[str]:
    """``--name value`` as command-line words (lists, booleans and names alike)."""
    flag = flag_name(name)
    if isinstance(value, bool):
        return [flag if value else f"--no-{flag[2:]}"]
    if isinstance(value, (list, tuple)):
        if SETTINGS.get(name) is not None and SETTINGS[name].type is list:
            return [flag, ",".join(map(str, value))]
        return [flag, *map(_number, value)]
    return [flag, _number(value)]


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_results(folder: Path, results: dict[str, Any]) -> None:
    """``results.json`` and ``results.md``, each written whole (a kill leaves the last)."""
    import json

    write_text(folder / "results.json", json.dumps(results, indent=2, default=str) + "\n")
    write_text(folder / "results.md", markdown(results))


def markdown(results: dict[str, Any]) -> str:
    """``results.md``: what was searched, the chosen trial, the leaderboard, the figures."""
    measure = results["measure"]
    lines = [f"# Tuning {', '.join(results['models'])} on {results['dataset']}", "",
             f"Study `{results['study']}` in {results['storage']}: {results['counts']}. "
             f"Trials chosen by {measure} only; pruning "
             f"{'on (successive halving)' if results['prune'] else 'off'}.", ""]
    best = results.get("best")
    if best:
        lines += [f"**Chosen: trial {best['trial']}**, {measure} {shown(best['value'], measure)}"
                  + (f"; its {best['test_measure']} (computed once, for this trial alone): "
                     f"**{shown(best['test'], best['test_measure'])}**"
                     if best.get("test") is not None else f"; {best.get('test_note', '')}"),
                  "", "Train it again:", "", f"    {best['command']}", ""]
    lines += ["| trial | state | settings | " + measure + " | epochs | seconds | note |",
              "|---:|---|---|---:|---:|---:|---|"]
    for row in results["trials"]:
        settings = shown_settings(row["settings"])
        lines.append(f"| {row['trial']} | {row['state']} | {settings} | "
                     f"{shown(row['value'], measure)} | {row['epochs'] or ''} | "
                     f"{row['seconds'] or ''} | {row['note'] or ''} |")
    lines += ["", *[f"![{name}]({name})" for name in results.get("figures", [])],
              *[f"- {note}" for note in results.get("figure_notes", [])], ""]
    return "\n".join(lines)


def shown(value: float | None, measure: str) -> str:
    """A validation or test figure as the leaderboard writes it."""
    if value is None:
        return ""
    return f"{100 * value:.2f} %" if "error" in measure else f"{value:.4g}"


def shown_settings(settings: dict[str, Any]) -> str:
    """A trial's settings in a few words: ``lr 0.05, batch-size 64, hidden 256 128``."""
    return ", ".join(f"{name.replace('_', '-')} " + (" ".join(map(_number, value))
                     if isinstance(value, list) else _number(value))
                     for name, value in settings.items())


def draw_figures(study: Any, folder: Path, measure: str) -> tuple[list[str], list[str]]:
    """Optuna's figures of the study, saved in ``folder``, ``measure`` naming what the
    trials are judged by; the names drawn, and a note for each that could not be (too few
    trials, one setting, ...)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt
    import optuna

    drawn, notes = [], []
    for name, function in FIGURES.items():
        try:
            with warnings.catch_warnings():  # experimental API; importance ties
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.simplefilter("ignore", UserWarning)
                axes = getattr(optuna.visualization.matplotlib, function)(
                    study, target_name=measure)
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
            figure.savefig(folder / name, dpi=110, bbox_inches="tight")
            plt.close(figure)
            drawn.append(name)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            notes.append(f"{name} not drawn: {exc}")
    return drawn, notes


def link_best(folder: Path, trial_dir: str) -> None:
    """``folder/best`` -> the chosen trial's run directory (a relative link, replaced whole)."""
    link, temporary = folder / BEST, folder / f".{BEST}.new"
    temporary.unlink(missing_ok=True)
    try:
        os.symlink(trial_dir, temporary, target_is_directory=True)
        os.replace(temporary, link)
    except OSError:  # no symbolic links here (Windows without the right): say where instead
        write_text(folder / f"{BEST}.txt", trial_dir + "\n")
