"""Start-up: what each command costs beyond ``import torch``, measured as whole processes.

Each case is a new process, timed from before it starts to after it exits, as a user
waits for it. The cases are run in rounds, in a new random order each round, so that a
busy moment of the machine spreads over all of them; the table gives medians, and each
command's median as a multiple of ``python -c "import torch"``'s median of the same run:

- ``python -c "import torch"``: the reference, what any PyTorch program pays;
- ``torchbasics train --dataset bonus --model linear`` (goal: at most 1.5x the reference);
- ``torchbasics predict RUN picture.png`` of one picture (goal: at most 1.3x);
- the fixed cost of an MNIST-10k ``train`` (goal: at most 3 s): what does not grow with
  training, i.e. process start to the first step plus everything after the last one: the
  process's wall time less the training time the run itself records (``train_seconds`` in
  ``summary.json``: from its first step to the end of its last epoch, validation and
  checkpoints included). A one-epoch and a two-epoch run each give one such figure a round.

The commands run as on a user's machine, with compiled bytecode cached (see
:func:`user_environment`).

Examples::

    .venv/bin/python benchmarks/startup.py                # 7 rounds
    .venv/bin/python benchmarks/startup.py --rounds 15
    .venv/bin/python benchmarks/startup.py --json results.json   # also write the figures

With ``--json PATH`` the rows (and every timing) are written with the machine, the date and
the command (``benchmarks/_results.py``); the Start-up page is made from the committed file
(``benchmarks/results-startup-DATE.json``). It needs MNIST (MNIST-10k is enough) on the
search path (``TORCHBASICS_DATA``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _results

PYTHON = sys.executable
TORCHBASICS = [PYTHON, "-m", "torchbasics"]
GOALS = {"bonus": 1.5, "predict": 1.3}  # multiples of the import torch reference
FIXED_GOAL = 3.0  # seconds
# What each case's row says, in the table's order.
LABELS = {
    "python": "`python -c pass` (the interpreter)",
    "torch": "`python -c \"import torch\"` (the reference)",
    "help": "`torchbasics --help`",
    "bonus": "`torchbasics train --dataset bonus --model linear`",
    "predict": "`torchbasics predict RUN digit.png` (MNIST cnn, one picture)",
    "mnist-1": "`train --dataset mnist --model cnn --epochs 1`",
    "mnist-2": "`train --dataset mnist --model cnn --epochs 2`",
    "fixed": "MNIST-10k `train`: fixed cost (wall time − its own training time)",
}


def cases(scratch: Path, run: Path, picture: Path) -> dict[str, list[str]]:
    """Case name -> the command it times."""
    mnist = [*TORCHBASICS, "train", "--dataset", "mnist", "--model", "cnn", "--quiet",
             "--force"]
    return {
        "torch": [PYTHON, "-c", "import torch"],
        "python": [PYTHON, "-c", "pass"],
        "help": [*TORCHBASICS, "--help"],
        "bonus": [*TORCHBASICS, "train", "--dataset", "bonus", "--model", "linear", "--quiet",
                  "--force", "--out", str(scratch / "bonus")],
        "predict": [*TORCHBASICS, "predict", str(run), str(picture)],
        "mnist-1": [*mnist, "--epochs", "1", "--out", str(scratch / "mnist-1")],
        "mnist-2": [*mnist, "--epochs", "2", "--out", str(scratch / "mnist-2")],
    }


def user_environment() -> dict[str, str]:
    """This environment, but with Python's default of caching compiled bytecode.

    Some machines set ``PYTHONDONTWRITEBYTECODE`` (this project's development machines
    do): every process then compiles the package's modules from source again, while pip
    compiled PyTorch's when it installed it. A user's Python writes the cache on the first
    run (the untimed round) and loads it afterwards, as the timed rounds here do.
    """
    return {name: value for name, value in os.environ.items()
            if name != "PYTHONDONTWRITEBYTECODE"}


def wall(command: list[str]) -> float:
    """Seconds from before ``command`` starts to after it exits (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=user_environment())
    return time.perf_counter() - started


def prepare(scratch: Path) -> tuple[Path, Path]:
    """A trained MNIST ``cnn`` run (a few steps: its accuracy does not matter here) and one
    test digit written as a PNG."""
    import numpy as np
    from PIL import Image

    from torchbasics.data.sources import load_split

    run = scratch / "cnn"
    subprocess.run([*TORCHBASICS, "train", "--dataset", "mnist", "--model", "cnn", "--steps",
                    "20", "--quiet", "--out", str(run)], check=True, stdout=subprocess.DEVNULL)
    digit = load_split("mnist", "test", download=False).images[0, 0].numpy()
    picture = scratch / "digit.png"
    Image.fromarray(np.uint8(255) - digit).save(picture)  # dark ink on white, as on paper
    return run, picture


def measure(commands: dict[str, list[str]], rounds: int, seed: int,
            scratch: Path) -> dict[str, list[float]]:
    """Every case ``rounds`` times, in a new random order each round (after one untimed
    round that warms the page cache); also ``"fixed"``, each MNIST run's fixed cost."""
    order = list(commands)
    for name in order:
        wall(commands[name])
    times: dict[str, list[float]] = {name: [] for name in [*order, "fixed"]}
    shuffler = random.Random(seed)
    for done in range(rounds):
        shuffler.shuffle(order)
        for name in order:
            times[name].append(wall(commands[name]))
            if name.startswith("mnist"):
                times["fixed"].append(times[name][-1] - training_seconds(scratch / name))
        print(f"  round {done + 1}/{rounds}", file=sys.stderr, flush=True)
    return times


def training_seconds(run: Path) -> float:
    """The training time a finished run recorded: its first step to its last epoch's end."""
    return json.loads((run / "summary.json").read_text())["train_seconds"]


def rows(times: dict[str, list[float]]) -> list[dict]:
    """The table's rows: each case's median, as a multiple of ``import torch``'s, and its
    goal (a multiple, or seconds for the fixed cost) with the verdict."""
    median = {name: statistics.median(values) for name, values in times.items()}
    found = []
    for case in LABELS:
        seconds = median[case]
        row = {"case": case, "median_seconds": seconds,
               "times_import_torch": seconds / median["torch"]}
        if case in GOALS:
            row |= {"goal_times": GOALS[case],
                    "met": row["times_import_torch"] <= GOALS[case]}
        if case == "fixed":
            row |= {"goal_seconds": FIXED_GOAL, "met": seconds <= FIXED_GOAL}
        found.append(row)
    return found


def table(rows: list[dict]) -> list[str]:
    """The markdown table of the rows (a case not measured has no row)."""
    lines = ["| command | median wall time | × `import torch` | goal | met |",
             "|---|---:|---:|---|---|"]
    for row in rows:
        goal = (f"≤ {row['goal_times']:g}×" if row.get("goal_times") else
                f"≤ {row['goal_seconds']:g} s" if row.get("goal_seconds") else "")
        verdict = {None: "", True: "yes", False: "**no**"}[row.get("met")]
        lines.append(f"| {LABELS[row['case']]} | {row['median_seconds']:.2f} s | "
                     f"{row['times_import_torch']:.2f}× | {goal} | {verdict} |")
    return lines


def print_table(measured: dict) -> None:
    """A measurement's table, under how many rounds its medians are of."""
    print(f"Medians of {measured['rounds']} rounds, each command a new process.\n")
    print("\n".join(table(measured["rows"])))


def print_results(results: dict) -> None:
    """Every measurement of a results file, each under the line naming its machine, date
    and command (what the Start-up page shows)."""
    _results.print_measurements(results, print_table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7,
                        help="timed runs of each command (default: 7)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the order of the commands in each round (default: 0)")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the rows, timings, machine, date and command here "
                        "(default: none)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        run, picture = prepare(scratch)
        times = measure(cases(scratch, run, picture), args.rounds, args.seed, scratch)
    measured = _results.measurement(_results.command_line("startup.py", argv), started,
                                    rounds=args.rounds, rows=rows(times), times=times)
    if args.json:
        _results.write(args.json, "startup", measured)
    print_results({"measurements": [measured]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
