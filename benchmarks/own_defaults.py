"""Your own data, default settings: does ``torchbasics train --dataset X`` train?

Own data of several shapes, made from real public data:

- picture folders (``benchmarks/_photos.py``): scikit-learn's 1,797 UCI digits, and 1,500
  and 375 Fashion-MNIST pictures, written as photos of 40-160 px (colour and gray, tinted
  paper, off-centre), ``train/`` and ``test/`` folders of class folders;
- scikit-learn's tables as CSV files (``benchmarks/tables.py``): breast cancer, wine and
  iris (classification), diabetes (regression); ``--target target`` is the one flag.

For each, over the seeds: the default run (no flag but ``--seed``; the data's default
model, recipe and length), the same model at the recipe's peak learning rate times
0.25, 0.5 and 2 (with the default, a grid of four), ``--lr auto`` (the range test's
suggestion), and, for the picture folders, the seed's ``cnn`` with its MNIST recipe (the
default before issue #33). Each is tested on the folder's ``test/`` pictures or the
table's seeded test rows; tables also against scikit-learn on the same encoded rows
(``LogisticRegression`` with its defaults; ``RidgeCV``).

Goals (issue #33): the default never diverges past recovery (a run that stops counts as
missed); its mean test error is within 2 points of the best learning rate of the grid
(tables: also of scikit-learn; regression: R^2 within 0.02). Prints a markdown table naming
the CPU, and exits with 1 when a goal is missed.

    .venv/bin/python benchmarks/own_defaults.py                     # about 25 min, 2 cores
    .venv/bin/python benchmarks/own_defaults.py --cases iris --seeds 0 --json iris.json
    .venv/bin/python benchmarks/own_defaults.py --from-json a.json b.json

Needs Fashion-MNIST on the search path (Debian's dataset-fashion-mnist) and scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _photos.py and tables.py
import _results

PICTURES = {"digits": {}, "fashion-1500": {"count": 1500}, "fashion-375": {"count": 375}}
TABLES = {"breast_cancer": "classification", "wine": "classification",
          "iris": "classification", "diabetes": "regression"}
GRID = (0.25, 0.5, 2.0)  # times the recipe's peak rate; with the default, a grid of four
GAP_GOAL, R2_GOAL = 2.0, 0.02  # points of test error; R^2


def make_data(case: str, scratch: Path) -> tuple[str, str | None]:
    """``--dataset`` and ``--target`` of a case, written into ``scratch`` once."""
    if case in TABLES:
        from tables import write_table

        path, target = write_table(case, scratch)
        return str(path), target
    folder = scratch / case
    if not folder.exists():
        import _photos

        if case == "digits":
            _photos.digits_folder(folder)
        else:
            _photos.fashion_folder(folder, **PICTURES[case])
    return str(folder), None


def train_and_test(dataset: str, target: str | None, out: Path, **settings) -> dict:
    """One run: its test error (or R^2), the model, rate and epochs it used, whether it
    diverged for good, how often it recovered, and its wall time."""
    import torchbasics
    from torchbasics.training.divergence import TrainingDiverged

    started = time.perf_counter()
    config = torchbasics.TrainConfig(dataset=dataset, target=target, **settings)
    try:
        summary = torchbasics.train(config, out, force=True, log=lambda line: None)
    except TrainingDiverged:
        return {"diverged": True, "seconds": time.perf_counter() - started}
    used = json.loads((out / "config.json").read_text())
    row = {"diverged": False, "model": used["model"], "lr": used["lr"],
           "epochs": used["epochs"], "recoveries": len(summary.get("recoveries", [])),
           "seconds": time.perf_counter() - started}
    if target is None:
        row["test_error"] = 100 * torchbasics.evaluate_run(out, split="test")["error"]
    elif "accuracy" in summary["metrics"]["test"]:
        row["test_error"] = 100 * (1 - summary["metrics"]["test"]["accuracy"])
    else:
        row["r2"] = summary["metrics"]["test"]["r2"]
    return row


def case_runs(case: str, seed: int, scratch: Path) -> list[dict]:
    """Every variant of a case for one seed."""
    dataset, target = make_data(case, scratch)
    out = scratch / "runs" / f"{case}-{seed}"
    rows = [{"variant": "default", **train_and_test(dataset, target, out / "default",
                                                    seed=seed)}]
    default = rows[0]
    if default["diverged"]:
        return rows
    for factor in GRID:
        rows.append({"variant": f"lr x{factor:g}", **train_and_test(
            dataset, target, out / f"x{factor:g}", seed=seed, model=default["model"],
            lr=default["lr"] * factor)})
    rows.append({"variant": "lr auto", **train_and_test(dataset, target, out / "auto",
                                                        seed=seed, lr="auto")})
    if case in PICTURES:
        rows.append({"variant": "cnn, MNIST recipe", **train_and_test(
            dataset, target, out / "cnn", seed=seed, model="cnn")})
    return [{"case": case, "seed": seed, **row} for row in rows]


def sklearn_score(case: str, scratch: Path, seed: int) -> float:
    """scikit-learn on the rows the default trains on: test error in points, or R^2."""
    from sklearn.linear_model import LogisticRegression, RidgeCV

    from torchbasics.runs.config import TrainConfig, resolve
    from torchbasics.runs.table_data import encode_parts, read_table

    dataset, target = make_data(case, scratch)
    config, _, data = read_table(TrainConfig(dataset=dataset, target=target, seed=seed))
    parts = encode_parts(data, resolve(config))
    inputs = {split: parts.inputs[split].numpy() for split in ("train", "test")}
    truth = {split: parts.targets[split].numpy().ravel() for split in ("train", "test")}
    if TABLES[case] == "regression":
        ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(inputs["train"], truth["train"])
        return float(ridge.score(inputs["test"], truth["test"]))
    logistic = LogisticRegression(max_iter=10_000).fit(inputs["train"], truth["train"])
    return 100 * (1 - float(logistic.score(inputs["test"], truth["test"])))



def score(row: dict) -> float | None:
    """The run's test error in points, or its R^2 (None: it diverged)."""
    return None if row["diverged"] else row.get("test_error", row.get("r2"))


def mean_of(rows: list[dict], variant: str) -> float | None:
    """The mean score of a variant over the seeds (None when one diverged, or no runs)."""
    scores = [score(row) for row in rows if row["variant"] == variant]
    return None if not scores or None in scores else statistics.mean(scores)


def count(rows: list[dict], variant: str, key: str) -> int:
    """Runs of a variant that stopped diverged (``diverged``), or their ``recoveries``."""
    return sum(int(row.get(key, 0)) for row in rows if row["variant"] == variant)


def summarize(case: str, rows: list[dict], oracle: float | None) -> dict:
    """A case over its seeds: the default against the grid's best rate and scikit-learn."""
    regression = TABLES.get(case) == "regression"
    grid = {variant: mean_of(rows, variant)
            for variant in ["default", *(f"lr x{factor:g}" for factor in GRID)]}
    finite = {variant: value for variant, value in grid.items() if value is not None}
    better = max if regression else min
    best = better(finite, key=finite.get) if finite else None
    default = grid["default"]
    gaps = [] if default is None else [
        abs(default - other) if regression else default - other
        for other in (finite.get(best), oracle) if other is not None]
    stops = count(rows, "default", "diverged")
    first = next(row for row in rows if row["variant"] == "default")
    return {"case": case, "regression": regression, "default": default, "first": first,
            "stops": stops, "recoveries": count(rows, "default", "recoveries"),
            "best": best, "best_score": finite.get(best), "oracle": oracle,
            "auto": mean_of(rows, "lr auto"), "cnn": mean_of(rows, "cnn, MNIST recipe"),
            "cnn_stops": count(rows, "cnn, MNIST recipe", "diverged"),
            "cnn_recoveries": count(rows, "cnn, MNIST recipe", "recoveries"),
            "seeds": len({row["seed"] for row in rows}),
            "met": stops == 0 and all(gap <= (R2_GOAL if regression else GAP_GOAL)
                                      for gap in gaps) and default is not None}


def case_line(summary: dict) -> str:
    """A case's row of the table."""
    shown = lambda value: _shown(value, summary["regression"])  # noqa: E731
    first = summary["first"]
    setup = (f"{first['model']}, lr {first['lr']:g}, {first['epochs']} epochs"
             if not first["diverged"] else "-")
    cnn = (f"{shown(summary['cnn'])} ({summary['cnn_stops']} stopped, "
           f"{summary['cnn_recoveries']} recovered)" if summary["case"] in PICTURES else "")
    oracle = "" if summary["oracle"] is None else shown(summary["oracle"])
    return (f"| {summary['case']} | {setup} | {shown(summary['default'])} | "
            f"{summary['stops']} / {summary['recoveries']} | {shown(summary['best_score'])} "
            f"({summary['best']}) | {oracle} | {shown(summary['auto'])} | {cnn} | "
            f"{'yes' if summary['met'] else 'NO'} |")


def _shown(value: float | None, regression: bool) -> str:
    if value is None:
        return "diverged"
    return f"R² {value:.3f}" if regression else f"{value:.2f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=[*PICTURES, *TABLES],
                        choices=[*PICTURES, *TABLES])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--json", type=Path, help="also write the runs and oracles here")
    parser.add_argument("--from-json", nargs="+", type=Path,
                        help="print the table of earlier --json files instead of running")
    args = parser.parse_args()
    if args.from_json:
        results = {"rows": [], "oracles": {}, "machine": ""}
        for path in args.from_json:
            earlier = json.loads(path.read_text())
            results["rows"] += earlier["rows"]
            results["oracles"] |= earlier["oracles"]
            results["machine"] = earlier["machine"]
    else:
        results = run(args.cases, args.seeds)
        results["command"] = _results.command_line("own_defaults.py")
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    return print_table(results)


def run(cases: list[str], seeds: list[int]) -> dict:
    """Every run of the cases and seeds, scikit-learn's scores, and the machine."""
    rows, oracles = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for case in cases:
            for seed in seeds:
                rows += case_runs(case, seed, Path(scratch))
                print(f"  {case} seed {seed}: " + ", ".join(
                    f"{row['variant']} {score(row)}" for row in rows if row["case"] == case
                    and row["seed"] == seed), file=sys.stderr, flush=True)
            if case in TABLES:
                oracles[case] = statistics.mean(sklearn_score(case, Path(scratch), seed)
                                                for seed in seeds)
    machine = f"{_results.describe(_results.machine())}, {time.strftime('%Y-%m-%d')}"
    return {"rows": rows, "oracles": oracles, "machine": machine}


def print_summary(results: dict) -> list[dict]:
    """The machine and the summary table (one row per case); the cases' summaries."""
    rows = results["rows"]
    cases = list(dict.fromkeys(row["case"] for row in rows))
    summaries = [summarize(case, [row for row in rows if row["case"] == case],
                           results["oracles"].get(case)) for case in cases]
    seeds = sorted({row["seed"] for row in rows})
    print(f"{results['machine']}; mean test error (R² for diabetes) over seeds {seeds}\n")
    print("| own data | default: model, peak lr, length | default | stopped / recovered "
          "| best of the lr grid | scikit-learn | --lr auto | cnn, MNIST recipe | goals met |")
    print("|---|---|---:|---|---:|---:|---:|---|---|")
    for summary in summaries:
        print(case_line(summary))
    return summaries


def print_results(results: dict) -> None:
    """The command, the machine and the summary table (what the own-data page shows)."""
    print(f"Measured by `{results.get('command', 'python benchmarks/own_defaults.py')}` on: ",
          end="")
    print_summary(results)


def print_table(results: dict) -> int:
    """The summary table and every run; 1 when a goal is missed."""
    rows = results["rows"]
    summaries = print_summary(results)
    print("\nruns (seconds each):")
    for row in rows:
        print(f"  {row['case']} seed {row['seed']} {row['variant']}: {score(row)} "
              f"({row.get('recoveries', 0)} recoveries, {row['seconds']:.1f} s)")
    missed = [summary["case"] for summary in summaries if not summary["met"]]
    if missed:
        print(f"\nmissed: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
