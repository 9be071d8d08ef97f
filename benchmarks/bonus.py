"""The employee-bonus goals: SGD-trained linear regression against closed-form least squares.

Trains ``linear`` on ``bonus`` with the default recipe (what ``torchbasics train --dataset
bonus --model linear`` does) into a temporary run directory, once per seed, and prints a
markdown table of the goals, exiting with 1 if one is missed:

- test MSE of the net within 1 % of the least-squares test MSE (same training rows);
- every learned coefficient, and the intercept, within 1 % of least squares' (original units);
- training under 5 s: :func:`~torchbasics.runs.tables.train_table` from reading
  the CSV to the written run directory. The first call in a process also pays for the
  libraries it imports lazily (scikit-learn, torch's optimizer machinery, matplotlib): the
  goal applies to it too. The fit loop alone is shown beside it.

It also times the whole command in a fresh process (Python start-up and importing torch
included), for information: that is mostly library start-up, and grows on a busy machine.

Examples::

    .venv/bin/python benchmarks/bonus.py
    .venv/bin/python benchmarks/bonus.py --seeds 0 1 2 3 4    # five different splits
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOLERANCE = 0.01  # relative, for the MSE and each coefficient
TIME_LIMIT = 5.0  # seconds


def relative(value: float, reference: float) -> float:
    """``value / reference - 1`` (signed)."""
    return value / reference - 1.0


def goal_rows(
    summary: dict, seconds: float, seed: int, first: bool
) -> list[tuple[str, str, str, bool]]:
    """(goal, measured, target, met) for one trained run."""
    from torchbasics.tabular.formula import LinearFormula

    learned = LinearFormula.from_dict(summary["formula"])
    least = LinearFormula.from_dict(summary["least_squares_formula"])
    mse = summary["metrics"]["test"]["mse"]
    least_mse = summary["least_squares_metrics"]["test"]["mse"]
    rows = []
    diff = relative(mse, least_mse)
    rows.append((f"seed {seed}: test MSE, net vs least squares",
                 f"{mse:,.2f} vs {least_mse:,.2f} ({100 * diff:+.5f} %)", "within 1 %",
                 abs(diff) <= TOLERANCE))
    pairs = [("intercept b", learned.intercept, least.intercept)]
    pairs += [(f"{name}", learned.coefficients[name], least.coefficients[name])
              for name in learned.names]
    for name, value, reference in pairs:
        diff = relative(value, reference)
        rows.append((f"seed {seed}: {name}, net vs least squares",
                     f"{value:,.4f} vs {reference:,.4f} ({100 * diff:+.5f} %)", "within 1 %",
                     abs(diff) <= TOLERANCE))
    what = "first call, lazy imports included" if first else "later call"
    rows.append((f"seed {seed}: training time, CSV → run directory written ({what})",
                 f"{seconds:.2f} s (of which the fit loop {summary['train_seconds']:.2f} s)",
                 "under 5 s", seconds < TIME_LIMIT))
    return rows


def command_seconds(out: Path) -> float:
    """Wall time of ``torchbasics train --dataset bonus --model linear`` in a fresh process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "torchbasics", "train", "--dataset", "bonus",
                    "--model", "linear", "--out", str(out), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    """Train, print the goal table, and return 1 if a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds (each its own split and order) (default: 0)")
    parser.add_argument("--no-command", action="store_true",
                        help="skip timing the whole command in a fresh process")
    args = parser.parse_args()

    from torchbasics.runs.config import TrainConfig
    from torchbasics.runs.tables import train_table

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            started = time.perf_counter()
            summary = train_table(TrainConfig(dataset="bonus", model="linear", seed=seed),
                                  Path(scratch) / f"seed{seed}", log=lambda line: None)
            rows += goal_rows(summary, time.perf_counter() - started, seed,
                              first=seed == args.seeds[0])
        if not args.no_command:
            seconds = command_seconds(Path(scratch) / "command")
            rows.append(("whole command in a fresh process, imports included (information)",
                         f"{seconds:.2f} s", "—", None))  # None: no goal to meet

    print("| goal | measured | target | met |")
    print("|---|---|---|---|")
    for goal, measured, target, met in rows:
        verdict = "—" if met is None else "yes" if met else "**no**"
        print(f"| {goal} | {measured} | {target} | {verdict} |")
    missed = [goal for goal, _, _, met in rows if met is False]
    if missed:
        print(f"\nmissed: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
