"""Accuracy goals: train each model with its default recipe, test it, print a table.

    python benchmarks/accuracy.py                          # every goal (about 12 minutes)
    python benchmarks/accuracy.py --dataset mnist --models softmax,cnn
    python benchmarks/accuracy.py --json results.json      # also write what it measured

Each run trains exactly as `torchbasics train --dataset D --model M` would (same seed,
10 % stratified validation split), then evaluates best.pt on the official test split.
Runs are kept in --out, so the figures can be inspected. Exits 1 if a goal is missed.
With --json, the rows are written with the machine, the date and the command
(benchmarks/_results.py); the results page and the README's headline rows are made from
the committed file (benchmarks/results-accuracy-DATE.json).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _results

from torchbasics.data.locate import find_dataset
from torchbasics.data.registry import get_dataset
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.evaluate import evaluate_run
from torchbasics.runs.train import train

# (data set, model) -> highest acceptable test error, from the train issue.
GOALS: dict[tuple[str, str], float] = {
    ("mnist", "softmax"): 0.080,
    ("mnist", "mlp-sigmoid"): 0.030,
    ("mnist", "mlp-relu"): 0.025,
    ("mnist", "cnn"): 0.013,
    ("mnist", "convnet"): 0.007,
    ("fashion-mnist", "softmax"): 0.155,
    ("fashion-mnist", "mlp-relu"): 0.105,
    ("fashion-mnist", "convnet"): 0.060,
}
TIME_LIMIT_SECONDS = 300  # each model trains in at most 5 minutes on the 2-core CPU


def data_label(dataset: str) -> str:
    """'MNIST-10k' when the MNIST found here is the reduced copy, else the data set name."""
    located = find_dataset(get_dataset(dataset))
    if dataset == "mnist" and located is not None:
        official = located.official_files()
        if not official["train-images-idx3-ubyte.gz"]:
            return "MNIST-10k"
    return dataset


def result_row(dataset: str, model: str, summary: dict, test_error: float) -> dict:
    """One model's row: its errors in percent, the goal, epochs, training time, verdict."""
    goal = GOALS[(dataset, model)]
    return {"data": data_label(dataset), "model": model,
            "final_train_error_pct": 100 * summary["final_train_error"],
            "final_val_error_pct": 100 * summary["final_val_error"],
            "lowest_val_error_pct": 100 * summary["lowest_val_error"],
            "test_error_pct": 100 * test_error, "goal_pct": 100 * goal,
            "epochs": summary["epochs"], "train_seconds": summary["train_seconds"],
            "met": test_error <= goal and summary["train_seconds"] <= TIME_LIMIT_SECONDS}


def row_line(row: dict) -> str:
    """A row of the table."""
    return (f"| {row['data']} | {row['model']} | {row['final_train_error_pct']:.2f} % "
            f"| {row['final_val_error_pct']:.2f} % | {row['lowest_val_error_pct']:.2f} % "
            f"| **{row['test_error_pct']:.2f} %** | ≤ {row['goal_pct']:.1f} % | {row['epochs']} "
            f"| {row['train_seconds']:.0f} s | {'yes' if row['met'] else 'NO'} |")


def print_table(measured: dict) -> None:
    """The table of one measurement (its ``rows``)."""
    print("| data | model | final train error | final val error | lowest val error "
          "| test error | goal | epochs | train time | met |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in measured["rows"]:
        print(row_line(row))


def print_results(results: dict) -> None:
    """Every measurement of a results file, each under the line naming its machine, date
    and command (what the results page shows)."""
    _results.print_measurements(results, print_table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist"],
                        help="only this data set (default: both)")
    parser.add_argument("--models", help="comma-separated models (default: every goal's)")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-accuracy"),
                        help="where the runs go (default: runs/benchmark-accuracy)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the rows, machine, date and command here "
                        "(default: none)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    chosen = [
        key for key in GOALS
        if (args.dataset is None or key[0] == args.dataset)
        and (args.models is None or key[1] in args.models.split(","))
    ]
    rows = []
    for dataset, model in chosen:
        summary = train(TrainConfig(dataset=dataset, model=model, seed=args.seed),
                        args.out / f"{dataset}-{model}", force=True, log=lambda line: None)
        test_error = evaluate_run(args.out / f"{dataset}-{model}")["error"]
        rows.append(result_row(dataset, model, summary, test_error))
        print(row_line(rows[-1]), file=sys.stderr, flush=True)  # progress, as each finishes
    measured = _results.measurement(_results.command_line("accuracy.py", argv), started,
                                    seed=args.seed, rows=rows)
    if args.json:
        _results.write(args.json, "accuracy", measured)
    print_results({"measurements": [measured]})
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
