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

It needs MNIST (MNIST-10k is enough) on the search path (``TORCHBASICS_DATA``).
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

PYTHON = sys.executable
TORCHBASICS = [PYTHON, "-m", "torchbasics"]
GOALS = {"bonus": 1.5, "predict": 1.3}  # multiples of the import torch reference
FIXED_GOAL = 3.0  # seconds


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


def table(times: dict[str, list[float]]) -> list[str]:
    """The markdown table: medians, multiples of ``import torch``, goals."""
    median = {name: statistics.median(values) for name, values in times.items()}
    torch_time = median["torch"]
    fixed = median["fixed"]
    rows = [
        ("`python -c pass` (the interpreter)", median["python"], None, None),
        ("`python -c \"import torch\"` (the reference)", torch_time, None, None),
        ("`torchbasics --help`", median["help"], None, None),
        ("`torchbasics train --dataset bonus --model linear`", median["bonus"],
         f"≤ {GOALS['bonus']}×", median["bonus"] <= GOALS["bonus"] * torch_time),
        ("`torchbasics predict RUN digit.png` (MNIST cnn, one picture)", median["predict"],
         f"≤ {GOALS['predict']}×", median["predict"] <= GOALS["predict"] * torch_time),
        ("`train --dataset mnist --model cnn --epochs 1`", median["mnist-1"], None, None),
        ("`train --dataset mnist --model cnn --epochs 2`", median["mnist-2"], None, None),
    ]
    lines = ["| command | median wall time | × `import torch` | goal | met |",
             "|---|---:|---:|---|---|"]
    for label, seconds, goal, met in rows:
        verdict = "" if met is None else "yes" if met else "**no**"
        lines.append(f"| {label} | {seconds:.2f} s | {seconds / torch_time:.2f}× | "
                     f"{goal or ''} | {verdict} |")
    lines.append(f"| MNIST-10k `train`: fixed cost (wall time − its own training time) | "
                 f"{fixed:.2f} s "
                 f"| {fixed / torch_time:.2f}× | ≤ {FIXED_GOAL:g} s | "
                 f"{'yes' if fixed <= FIXED_GOAL else '**no**'} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7,
                        help="timed runs of each command (default: 7)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the order of the commands in each round (default: 0)")
    args = parser.parse_args()

    import torch

    from torchbasics.cpu import cpu_info

    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        run, picture = prepare(scratch)
        times = measure(cases(scratch, run, picture), args.rounds, args.seed, scratch)
    print(f"Medians of {args.rounds} rounds; {cpu_info().describe()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}\n")
    print("\n".join(table(times)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
