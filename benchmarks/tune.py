"""What ``torchbasics tune`` is worth: pruning, tuned against default, time kept.

For each case and seed, each command a new process timed from before it starts to after it
exits (as a user runs it):

- **pruned**: ``tune --time-budget B`` (pruning on): N trials; the best
  validation figure, the epochs all trials trained, the wall time, and the chosen trial's
  test figure (computed once, by tune);
- **unpruned**: ``tune --trials N --no-prune`` with the same N (pictures: each trial the
  pruned study's time slice, ``--trial-time``): the best validation figure and the epochs;
- **default**: ``train`` with the default recipe (pictures: ``--time-budget B``, the same
  total time; tables: the recipe's epochs, seconds), tested on the same test split;
- tables also: scikit-learn's ``LogisticRegression`` / ``Ridge`` and
  ``HistGradientBoosting`` fitted on the same encoded training and validation rows, tested
  on the same test rows (the honest baseline: a loss to trees is reported).

Cases: Fashion-MNIST (the data set's default model, ``--budget``, 10 minutes) and
scikit-learn's breast cancer, wine (classification: errors) and diabetes (regression:
MSE in the target's units) tables as CSV files (``--table-budget``, 60 s).

Goals (issue #36): pruning reaches the same best validation figure as the same number of
trials without it (the mean over the seeds within noise: twice the standard error of the
paired differences, or for errors the validation split's binomial standard error) for at
most half the epochs; every budgeted command ends within B x 1.05 + 15 s.

    .venv/bin/python benchmarks/tune.py                                # hours on 2 cores
    .venv/bin/python benchmarks/tune.py --cases wine diabetes --seeds 0 1 2 --json t.json
    .venv/bin/python benchmarks/tune.py --from-json t.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _results.py and tables.py
import _results
from records import TORCHBASICS, timed_run

TABLES = {"breast_cancer": "classification", "wine": "classification",
          "diabetes": "regression"}
PICTURES = ("fashion-mnist",)
OVERSHOOT = (1.05, 15.0)  # a budgeted command ends within B x 1.05 + 15 s
EPOCHS_GOAL = 0.5  # pruning's epochs, at most this share of the unpruned study's


def timed(command: list[str]) -> float:
    """Run a ``torchbasics`` command in a new process; its wall time in seconds."""
    return timed_run([*TORCHBASICS, *command])


def study_figures(out: Path) -> dict:
    """A tune folder's results: trials, best validation figure, epochs, chosen's test."""
    results = json.loads((out / "results.json").read_text())
    trials = results["trials"]
    return {"trials": len(trials), "best_val": results["best"]["value"],
            "epochs": sum(row["epochs"] or 0 for row in trials),
            "pruned": sum(row["state"] == "pruned" for row in trials),
            "test": results["best"].get("test"), "trial_seconds": results["trial_seconds"],
            "validation_rows": validation_count(out / results["best"]["dir"])}


def validation_count(run: Path) -> int | None:
    """How many validation examples a run judged (a table's summary, a picture run's
    config.json)."""
    summary = json.loads((run / "summary.json").read_text())
    config = json.loads((run / "config.json").read_text())
    return summary.get("val_rows") or config.get("val_images")


def data_args(case: str, scratch: Path) -> list[str]:
    """``--dataset`` (and ``--target``) of a case."""
    if case in TABLES:
        from tables import write_table

        path, target = write_table(case, scratch)
        return ["--dataset", str(path), "--target", target]
    return ["--dataset", case]


def one_seed(case: str, seed: int, budget: float, scratch: Path, default: bool = True) -> dict:
    """Every measurement of a case for one seed (the default recipe's only if ``default``)."""
    data = [*data_args(case, scratch), "--seed", str(seed)]
    runs = scratch / "runs" / f"{case}-{seed}"
    wall = timed(["tune", *data, "--time-budget", str(budget), "--out",
                  str(runs / "pruned"), "--quiet"])
    pruned = study_figures(runs / "pruned")
    unpruned_command = ["tune", *data, "--trials", str(pruned["trials"]), "--no-prune",
                        "--out", str(runs / "unpruned"), "--quiet"]
    if pruned["trial_seconds"] is not None:
        unpruned_command += ["--trial-time", f"{pruned['trial_seconds']:.3f}"]
    timed(unpruned_command)
    unpruned = study_figures(runs / "unpruned")
    default = default_test(case, data, budget, runs / "default") if default else None
    row = {"case": case, "seed": seed, "budget": budget, "wall": wall, "pruned": pruned,
           "unpruned": unpruned, "default_test": default}
    if case in TABLES:
        row["sklearn"] = sklearn_tests(case, seed, scratch)
    return row


def default_test(case: str, data: list[str], budget: float, out: Path) -> float:
    """The default recipe's test figure (pictures: trained for the same total time)."""
    from torchbasics.runs.evaluate import evaluate_run

    length = [] if case in TABLES else ["--time-budget", str(budget)]
    timed(["train", *data, *length, "--out", str(out), "--quiet"])
    evaluation = evaluate_run(out)
    return evaluation["mse"] if "mse" in evaluation else evaluation["error"]


def sklearn_tests(case: str, seed: int, scratch: Path) -> dict:
    """scikit-learn's linear model and gradient-boosted trees, fitted on the encoded
    training and validation rows the runs use, tested on their test rows."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from tables import write_table

    from torchbasics.runs.config import TrainConfig, resolve
    from torchbasics.runs.table_data import encode_parts, read_table

    path, target = write_table(case, scratch)
    config, _, data = read_table(TrainConfig(dataset=str(path), target=target, seed=seed))
    parts = encode_parts(data, resolve(config))
    fit_x = np.concatenate([parts.inputs[s].numpy() for s in ("train", "val")])
    fit_y = np.concatenate([parts.targets[s].numpy().ravel() for s in ("train", "val")])
    test_x, test_y = parts.inputs["test"].numpy(), parts.targets["test"].numpy().ravel()
    if TABLES[case] == "regression":
        units = parts.schema.target.std ** 2  # the targets are standardized
        return {name: float(np.mean((model.fit(fit_x, fit_y).predict(test_x) - test_y) ** 2)
                            * units)
                for name, model in (("Ridge", Ridge()),
                                    ("HistGradientBoosting",
                                     HistGradientBoostingRegressor(random_state=seed)))}
    return {name: 1 - float(model.fit(fit_x, fit_y).score(test_x, test_y))
            for name, model in (("LogisticRegression", LogisticRegression(max_iter=10_000)),
                                ("HistGradientBoosting",
                                 HistGradientBoostingClassifier(random_state=seed)))}


def summarize(case: str, rows: list[dict]) -> dict:
    """A case over its seeds: means, the paired difference and its noise, goals."""
    regression = TABLES.get(case) == "regression"
    pruned = [row["pruned"]["best_val"] for row in rows]
    unpruned = [row["unpruned"]["best_val"] for row in rows]
    differences = [p - u for p, u in zip(pruned, unpruned, strict=True)]
    noise = 2 * statistics.stdev(differences) / math.sqrt(len(rows)) if len(rows) > 1 else 0.0
    count = rows[0]["pruned"]["validation_rows"]
    if not regression and count:
        mean = statistics.mean(unpruned)
        noise = max(noise, math.sqrt(max(mean * (1 - mean), 1 / count) / count))
    epochs = (sum(r["pruned"]["epochs"] for r in rows), sum(r["unpruned"]["epochs"] for r in rows))
    budget = rows[0]["budget"]
    worst = max(row["wall"] - budget for row in rows)
    return {"case": case, "regression": regression, "seeds": [r["seed"] for r in rows],
            "budget": budget, "pruned_val": pruned, "unpruned_val": unpruned,
            "difference": statistics.mean(differences), "noise": noise,
            "epochs": epochs, "trials": [r["pruned"]["trials"] for r in rows],
            "pruned_trials": [r["pruned"]["pruned"] for r in rows],
            "tuned_test": [r["pruned"]["test"] for r in rows],
            "default_test": [r["default_test"] for r in rows],
            "sklearn": {name: [r["sklearn"][name] for r in rows]
                        for name in rows[0].get("sklearn", {})},
            "worst_overshoot": worst,
            "same_best": statistics.mean(differences) <= noise,
            "half_epochs": epochs[0] <= EPOCHS_GOAL * epochs[1],
            "on_time": all(r["wall"] <= budget * OVERSHOOT[0] + OVERSHOOT[1] for r in rows)}


def shown(values: list[float | None], regression: bool) -> str:
    """Per-seed figures and their mean: errors in percent, MSE as numbers."""
    present = [v for v in values if v is not None]
    if not present:
        return "—"
    form = (lambda v: f"{v:.4g}") if regression else (lambda v: f"{100 * v:.2f} %")
    each = " / ".join(form(v) for v in present)
    return f"{form(statistics.mean(present))} ({each})" if len(present) > 1 else each


def print_table(measured: dict) -> None:
    """The benchmark's tables, from one measurement (what the docs page shows)."""
    print("| data | budget | trials (pruned) | best validation, pruned | best validation, "
          "unpruned | epochs, pruned / unpruned | same best | ≤ half the epochs | worst "
          "overshoot |")
    print("|---|---:|---|---|---|---:|---|---|---:|")
    for s in measured["cases"]:
        reg = s["regression"]
        trials = ", ".join(f"{t} ({p})" for t, p in zip(s["trials"], s["pruned_trials"],
                                                        strict=True))
        print(f"| {s['case']} | {s['budget']:g} s | {trials} | {shown(s['pruned_val'], reg)} "
              f"| {shown(s['unpruned_val'], reg)} | {s['epochs'][0]:,} / {s['epochs'][1]:,} "
              f"({s['epochs'][0] / max(1, s['epochs'][1]):.2f}) | "
              f"{'yes' if s['same_best'] else 'NO'} | {'yes' if s['half_epochs'] else 'NO'} "
              f"| {s['worst_overshoot']:+.1f} s |")
    print()
    print("| data | test, tuned (chosen trial) | test, default recipe | "
          "scikit-learn linear | scikit-learn HistGradientBoosting |")
    print("|---|---|---|---|---|")
    for s in measured["cases"]:
        reg = s["regression"]
        linear = s["sklearn"].get("Ridge" if reg else "LogisticRegression")
        trees = s["sklearn"].get("HistGradientBoosting")
        print(f"| {s['case']} ({'MSE' if reg else 'error'}) | {shown(s['tuned_test'], reg)} | "
              f"{shown(s['default_test'], reg)} | {shown(linear or [], reg)} | "
              f"{shown(trees or [], reg)} |")


def print_results(results: dict) -> None:
    """Every measurement of a results file (the docs page's text)."""
    _results.print_measurements(results, print_table)


def so_far(started: float, done: list[dict], case: str, rows: list[dict]) -> dict:
    """The measurement of the cases done and the seeds of ``case`` finished so far."""
    cases = [*done, summarize(case, rows) | {"runs": rows}]
    return _results.measurement(_results.command_line("tune.py"), started, cases=cases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=[*PICTURES, *TABLES],
                        choices=[*PICTURES, *TABLES])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=600.0,
                        help="seconds, each picture study (default: 600)")
    parser.add_argument("--table-budget", type=float, default=60.0,
                        help="seconds, each table study (default: 60)")
    parser.add_argument("--default-seeds", nargs="*", type=int,
                        help="train the default recipe for these seeds only (default: every "
                        "seed; it does not depend on the search, and takes a picture "
                        "study's whole budget again)")
    parser.add_argument("--json", type=Path, help="also write the measurement here")
    parser.add_argument("--from-json", type=Path, help="print a written measurement")
    args = parser.parse_args()
    if args.from_json:
        print_results(json.loads(args.from_json.read_text()))
        return 0
    started = time.perf_counter()
    cases: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        for case in args.cases:
            budget = args.table_budget if case in TABLES else args.budget
            rows: list[dict] = []
            for seed in args.seeds:
                rows.append(one_seed(case, seed, budget, Path(scratch),
                                     args.default_seeds is None or seed in args.default_seeds))
                print(f"{case}, seed {seed}: done ({time.perf_counter() - started:.0f} s)",
                      file=sys.stderr)
                measured = so_far(started, cases, case, rows)
                if args.json:  # a run stopped later keeps every seed it finished
                    _results.write(args.json, "tune", measured)
            cases = measured["cases"]
    print(_results.heading(measured))
    print()
    print_table(measured)
    return 0 if all(s["same_best"] and s["half_epochs"] and s["on_time"] for s in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
