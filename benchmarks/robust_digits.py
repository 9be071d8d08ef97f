"""Robustness goal: photographed or scanned digits are still read as well as MNIST itself.

    python benchmarks/robust_digits.py                      # train convnet, then measure
    python benchmarks/robust_digits.py --run runs/mnist-convnet --count 2000
    python benchmarks/robust_digits.py --save-examples robust_examples.png

Each MNIST test digit is rendered as dark ink on white or light-gray paper, 80-200 px,
placed anywhere in the frame, with gray noise, some blur and, for half of them, colour
(:func:`_scans.render_scan`, seeded). The stronger MNIST model
(``convnet``; trained here with its default recipe unless --run is given) then reads
them through the same pipeline as ``torchbasics predict``. Printed: accuracy on the plain
test set (as ``evaluate`` feeds it, and through the predict pipeline) and on the
rendered set, against the goal. Exits 1 if the goal is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _scans import render_scan  # benchmarks/: sys.path[0] when run as a script

import torchbasics
from torchbasics.data.sources import load_split
from torchbasics.inference.predictor import Classifier
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.train import train

GOAL = 0.97  # lowest acceptable accuracy on the rendered digits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path,
                        help="a trained MNIST run directory (default: train convnet into --out)")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-robust"),
                        help="where the trained run goes (default: runs/benchmark-robust)")
    parser.add_argument("--count", type=int, default=10_000,
                        help="how many test digits to render (default: 10000, all)")
    parser.add_argument("--seed", type=int, default=0, help="rendering seed (default: 0)")
    parser.add_argument("--save-examples", type=Path, metavar="PNG",
                        help="also save a grid of 24 rendered pictures with the predictions")
    args = parser.parse_args()
    started = time.perf_counter()

    run = args.run
    if run is None:
        run = args.out / "mnist-convnet"
        train(TrainConfig(dataset="mnist", model="convnet"), run, force=True,
              log=lambda line: print(line, file=sys.stderr, flush=True))
    trained = time.perf_counter()
    classifier = torchbasics.load(run)
    if not isinstance(classifier, Classifier) or classifier.dataset != "mnist":
        parser.error(f"{run} is not an MNIST classifier run; this measures MNIST digits")
    test = load_split("mnist", "test", progress=False)
    images = test.images[:args.count, 0].numpy()  # (N, 28, 28) uint8
    labels = test.labels[:args.count].numpy()

    # The model alone, on the test images exactly as training and `evaluate` feed them.
    pixels = torch.from_numpy(images[:, None]).float() / 255
    direct = classifier.probabilities_of_pixels(pixels).argmax(1)
    plain = np.array([p.label for p in classifier.predict_many(images)])
    rng = np.random.default_rng(args.seed)
    scans = [render_scan(image, rng) for image in images]
    predictions = classifier.predict_many(scans)
    scanned = np.array([p.label for p in predictions])
    measured = time.perf_counter()

    rows = [
        ("MNIST test digits, as `evaluate` reads them", direct, None),
        ("MNIST test digits, through `predict`", plain, None),
        ("rendered as photos/scans, through `predict`", scanned, GOAL),
    ]
    command = " ".join(["python benchmarks/robust_digits.py", *sys.argv[1:]])
    print(f"`{command}`: {classifier.config['model']} from {run}, {len(labels):,} test digits, "
          f"rendering seed {args.seed}\n")
    print("| input | accuracy | errors | goal | met |")
    print("|---|---:|---:|---:|---|")
    met = True
    for name, predicted, goal in rows:
        accuracy = float((predicted == labels).mean())
        ok = goal is None or accuracy >= goal
        met &= ok
        print(f"| {name} | **{100 * accuracy:.2f} %** | {int((predicted != labels).sum())} "
              f"| {'' if goal is None else f'≥ {100 * goal:.0f} %'} "
              f"| {'' if goal is None else ('yes' if ok else 'NO')} |")
    print(f"\nwall time: {measured - started:.0f} s (training {trained - started:.0f} s, "
          f"rendering and predicting {measured - trained:.0f} s)")
    if args.save_examples is not None:
        save_examples(args.save_examples, scans[:24], labels[:24], predictions[:24])
        print(f"examples: {args.save_examples}")
    return 0 if met else 1


def save_examples(path: Path, scans: list[np.ndarray], labels: np.ndarray,
                  predictions: list) -> None:
    """A grid of rendered pictures, each titled with its true and predicted digit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from torchbasics.plots import save_figure

    columns = 6
    figure, axes = plt.subplots(len(scans) // columns, columns,
                                figsize=(2 * columns, 2.2 * len(scans) // columns))
    for ax, scan, label, prediction in zip(axes.flat, scans, labels, predictions, strict=True):
        ax.imshow(scan, cmap="gray" if scan.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(f"{label} -> {prediction.class_name} ({100 * prediction.probability:.0f} %)",
                     fontsize=9, color="black" if prediction.label == label else "red")
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
