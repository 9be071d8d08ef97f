"""Accuracy goals: train each model with its default recipe, test it, print a table.

    python benchmarks/accuracy.py                          # every goal (about 12 minutes)
    python benchmarks/accuracy.py --dataset mnist --models softmax,cnn

Each run trains exactly as `torchbasics train --dataset D --model M` would (same seed,
10 % stratified validation split), then evaluates best.pt on the official test split.
Runs are kept in --out, so the figures can be inspected. Exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist"],
                        help="only this data set (default: both)")
    parser.add_argument("--models", help="comma-separated models (default: every goal's)")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-accuracy"),
                        help="where the runs go (default: runs/benchmark-accuracy)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    args = parser.parse_args()
    chosen = [
        key for key in GOALS
        if (args.dataset is None or key[0] == args.dataset)
        and (args.models is None or key[1] in args.models.split(","))
    ]
    rows, missed = [], 0
    for dataset, model in chosen:
        summary = train(TrainConfig(dataset=dataset, model=model, seed=args.seed),
                        args.out / f"{dataset}-{model}", force=True, log=lambda line: None)
        test_error = evaluate_run(args.out / f"{dataset}-{model}")["error"]
        goal = GOALS[(dataset, model)]
        met = test_error <= goal and summary["train_seconds"] <= TIME_LIMIT_SECONDS
        missed += not met
        rows.append(
            f"| {data_label(dataset)} | {model} | {100 * summary['final_train_error']:.2f} % "
            f"| {100 * summary['final_val_error']:.2f} % "
            f"| {100 * summary['lowest_val_error']:.2f} % "
            f"| **{100 * test_error:.2f} %** | ≤ {100 * goal:.1f} % | {summary['epochs']} "
            f"| {summary['train_seconds']:.0f} s | {'yes' if met else 'NO'} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)  # progress, as each finishes
    command = " ".join(["python benchmarks/accuracy.py", *sys.argv[1:]])
    print(f"`{command}` (seed {args.seed})\n")
    print("| data | model | final train error | final val error | lowest val error "
          "| test error | goal | epochs | train time | met |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
