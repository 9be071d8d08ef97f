"""Table models against their oracles, on real tables and on a table with every kind of cell.

Each table is written to CSV and trained on as a user would (``torchbasics.train`` with
``--dataset FILE.csv --target target``, the recipes of the day), then compared with:

- classification (scikit-learn's breast cancer and wine tables): scikit-learn's
  ``LogisticRegression`` on the same encoded training rows with the same penalty (weight
  decay ``lambda`` adds ``lambda/2 |W|^2`` to the mean loss: ``C = 1 / (lambda N)``, twice
  that for two classes, where scikit-learn keeps one weight vector and softmax two);
  goals: ``softmax`` within 1 point of its test accuracy and 2 % of its test log-loss;
- regression (scikit-learn's diabetes table, and the staff table of ``torchbasics data
  export bonus --staff``: numbers, a category, empty cells): ordinary least squares on the
  same encoded training rows; goal: ``linear``'s test MSE within 1 %.

``mlp-relu`` is trained on every table and reported beside them (no goal). Prints a
markdown table naming the CPU; exits with 1 when a goal is missed.

    .venv/bin/python benchmarks/tables.py
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CLASSIFICATION = ("breast_cancer", "wine")
REGRESSION = ("diabetes", "staff")


def write_table(name: str, folder: Path) -> tuple[Path, str]:
    """The CSV of a table, and its target column."""
    path = folder / f"{name}.csv"
    if name == "staff":
        from torchbasics.tabular.bonus import generate_staff

        header, rows = generate_staff()
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])
        return path, "bonus"
    import sklearn.datasets

    getattr(sklearn.datasets, f"load_{name}")(as_frame=True).frame.to_csv(path, index=False)
    return path, "target"


def train(path: Path, target: str, model: str, out: Path) -> tuple[dict, float]:
    """A run's summary and its training time (the whole ``train`` call)."""
    import torchbasics

    started = time.perf_counter()
    summary = torchbasics.train(torchbasics.TrainConfig(dataset=str(path), target=target,
                                                        model=model), out,
                                log=lambda line: None)
    return summary, time.perf_counter() - started


def logistic_oracle(path: Path, target: str) -> dict[str, float]:
    """scikit-learn's LogisticRegression on the rows ``softmax`` trained on (same split,
    encoding and penalty): its test accuracy and log-loss."""
    from sklearn.linear_model import LogisticRegression

    from torchbasics.runs.config import TrainConfig, resolve
    from torchbasics.runs.table_data import encode_parts, read_table

    config, _, data = read_table(TrainConfig(dataset=str(path), target=target, model="softmax"))
    config = resolve(config)
    parts = encode_parts(data, config)
    labels = parts.targets["train"].numpy()
    vectors = 2 if len(parts.schema.target.classes) == 2 else 1
    oracle = LogisticRegression(C=vectors / (config.weight_decay * len(labels)),
                                max_iter=100_000, tol=1e-10)
    oracle.fit(parts.inputs["train"].numpy(), labels)
    probabilities = oracle.predict_proba(parts.inputs["test"].numpy())
    truth = parts.targets["test"].numpy()
    chosen = np.clip(probabilities[np.arange(len(truth)), truth], 1e-15, 1.0)
    return {"accuracy": float(np.mean(probabilities.argmax(axis=1) == truth)),
            "log_loss": float(-np.mean(np.log(chosen)))}


def classification_rows(name: str, folder: Path) -> list[tuple]:
    path, target = write_table(name, folder)
    oracle = logistic_oracle(path, target)
    rows = [(name, "scikit-learn LogisticRegression (oracle)", oracle["accuracy"],
             oracle["log_loss"], None, "", None)]
    for model in ("softmax", "mlp-relu"):
        summary, seconds = train(path, target, model, folder / f"{name}-{model}")
        test = summary["metrics"]["test"]
        met = None
        if model == "softmax":
            met = (abs(test["accuracy"] - oracle["accuracy"]) <= 0.01
                   and abs(test["log_loss"] / oracle["log_loss"] - 1) <= 0.02)
        rows.append((name, model, test["accuracy"], test["log_loss"], seconds,
                     "≤ 1 point, ≤ 2 % log-loss" if model == "softmax" else "", met))
    return rows


def regression_rows(name: str, folder: Path) -> list[tuple]:
    path, target = write_table(name, folder)
    rows = []
    for model in ("linear", "mlp-relu"):
        summary, seconds = train(path, target, model, folder / f"{name}-{model}")
        test, least = summary["metrics"]["test"], summary["least_squares_metrics"]["test"]
        if model == "linear":
            rows.append((name, "least squares (oracle)", least["mse"], least["r2"], None, "",
                         None))
        met = abs(test["mse"] / least["mse"] - 1) <= 0.01 if model == "linear" else None
        rows.append((name, model, test["mse"], test["r2"], seconds,
                     "MSE ≤ 1 % above" if model == "linear" else "", met))
    return rows


def main() -> int:
    import torch

    from torchbasics.cpu import cpu_info

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        classes = [row for name in CLASSIFICATION for row in classification_rows(name, folder)]
        numbers = [row for name in REGRESSION for row in regression_rows(name, folder)]
    print(f"{cpu_info().describe()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; test rows of each table's seeded split\n")
    print("| table | model | test accuracy | test log-loss | train time | goal | met |")
    print("|---|---|---:|---:|---:|---|---|")
    for name, model, accuracy, loss, seconds, goal, met in classes:
        print(f"| {name} | {model} | {100 * accuracy:.2f} % | {loss:.4f} | "
              f"{_seconds(seconds)} | {goal} | {_met(met)} |")
    print("\n| table | model | test MSE | test R² | train time | goal | met |")
    print("|---|---|---:|---:|---:|---|---|")
    for name, model, mse, r2, seconds, goal, met in numbers:
        print(f"| {name} | {model} | {mse:,.2f} | {r2:.4f} | {_seconds(seconds)} | {goal} | "
              f"{_met(met)} |")
    missed = [f"{row[0]} {row[1]}" for row in classes + numbers if row[-1] is False]
    if missed:
        print(f"\nmissed: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} s"


def _met(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "**no**"


if __name__ == "__main__":
    sys.exit(main())
