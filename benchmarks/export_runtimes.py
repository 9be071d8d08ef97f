"""Exported models in the runtimes people deploy with: loads?, difference, images/s.

    python benchmarks/export_runtimes.py                       # ~5 minutes on 2 cores
    python benchmarks/export_runtimes.py --opencv4-python "$(bash scripts/opencv4_env.sh)"

For every image model and every preprocessing a run can record (deskewing on MNIST,
mirror averaging on Fashion-MNIST), a model is trained briefly (``--steps``; how well does
not matter here) and exported as ONNX (the full graph, and for one deskewing and one
mirroring case the network graph) and as TorchScript. Each file is then run, in a child
process, by each runtime installed (ONNX Runtime; OpenCV's DNN module with each of its
engines; OpenCV 4 from another environment with --opencv4-python; TorchScript) on the
first ``--images`` test pictures, and compared with ``predict``'s probabilities. Printed: a
Markdown table: per model, preprocessing and graph, each runtime's largest difference from
``predict`` and its images/s (the whole batch in one call, best of 3), or why it did not
load the file. Exits 1 when a runtime cannot load a file or
differs by more than 1e-4.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import torchbasics
from torchbasics.cpu import cpu_info
from torchbasics.data.sources import load_split
from torchbasics.errors import TorchbasicsError
from torchbasics.inference.export import export
from torchbasics.inference.runtimes import opencv_engines, time_in_child
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.train import train

TOLERANCE = 1e-4
# (data set, model, deskew, mirror averaging, graphs)
CASES = [
    ("mnist", "softmax", True, False, ("full",)),
    ("mnist", "mlp-sigmoid", True, False, ("full",)),
    ("mnist", "mlp-relu", True, False, ("full",)),
    ("mnist", "cnn", True, False, ("full", "network")),
    ("mnist", "convnet", True, False, ("full",)),
    ("mnist", "cnn", False, False, ("full",)),
    ("fashion-mnist", "cnn", False, True, ("full",)),
    ("fashion-mnist", "convnet", False, True, ("full", "network")),
]


def trained(case: tuple, steps: int, out: Path) -> torchbasics.Classifier:
    """The case's model after ``steps`` training steps (fp32, so any CPU gives it)."""
    dataset, model, deskew, mirror, _ = case
    folder = out / "-".join([dataset, model] + ["deskew"] * deskew + ["mirror"] * mirror)
    if not (folder / "last.pt").is_file():
        config = TrainConfig(dataset=dataset, model=model, steps=steps, deskew=deskew,
                             mirror_average=mirror, precision="fp32")
        train(config, folder, force=True, log=lambda line: None)
    return torchbasics.load(folder)


def pixels_and_predictions(classifier, pictures: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """``pictures`` as exported full graphs take them, and ``predict``'s probabilities."""
    pixels = classifier.preprocessing.pixels(
        np.stack([classifier.preprocess(picture).seen for picture in pictures]))
    return pixels, np.stack([p.probabilities for p in classifier.predict_many(pictures)])


def measure(classifier, pixels: torch.Tensor, expected: np.ndarray, graph: str, fmt: str,
            folder: Path, runtimes: dict[str, tuple[str, str]]) -> list[dict]:
    """One row per runtime: the file of ``fmt``/``graph`` run on ``pixels``."""
    inputs = pixels if graph == "full" else classifier.preprocessing.model_input(pixels)
    path = export(classifier, folder / f"{graph}.{fmt}", fmt, graph=graph)
    rows = []
    for label, (python, runtime) in runtimes.items():
        row = {"runtime": label, "graph": graph}
        try:
            outputs, seconds = time_in_child([runtime], path, inputs.numpy(), python=python)
        except TorchbasicsError as error:
            rows.append(row | {"loads": f"no: {error}"})
            continue
        difference = float(np.abs(outputs[runtime] - expected).max())
        rows.append(row | {"loads": "yes", "difference": difference,
                           "images_per_s": len(pixels) / seconds[runtime]})
    return rows


def pytorch_row(classifier, pixels: torch.Tensor) -> dict:
    """PyTorch itself on the same pixels, in this process: the reference."""
    classifier.probabilities_of_pixels(pixels)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        classifier.probabilities_of_pixels(pixels)
        best = min(best, time.perf_counter() - started)
    return {"runtime": f"PyTorch {torch.__version__} (reference)", "graph": "full",
            "loads": "yes", "difference": None, "images_per_s": len(pixels) / best}


def installed_runtimes(opencv4: str | None) -> dict[str, dict[str, tuple[str, str]]]:
    """Format -> runtime label -> (interpreter, runtime name)."""
    import cv2
    import onnxruntime

    here = sys.executable
    onnx = {f"ONNX Runtime {onnxruntime.__version__}": (here, "onnxruntime")}
    onnx |= {f"OpenCV {cv2.__version__} ({engine})": (here, f"opencv-{engine}")
             for engine in opencv_engines()}
    if opencv4:
        version = subprocess.run([opencv4, "-c", "import cv2; print(cv2.__version__)"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        onnx[f"OpenCV {version}"] = (opencv4, "opencv-auto")
    return {"onnx": onnx, "torchscript": {"TorchScript": (here, "torchscript")}}


def print_table(rows: list[dict]) -> None:
    """A Markdown table: one line per model, preprocessing and graph; one column per runtime,
    each cell "largest difference, images/s" or why the file did not load."""
    runtimes = list(dict.fromkeys(row["runtime"] for row in rows))
    lines: dict[tuple, dict[str, str]] = {}
    for row in rows:
        key = (row["model"], row["preprocessing"], row["graph"])
        difference = "reference" if row.get("difference") is None else f"{row['difference']:.0e}"
        lines.setdefault(key, {})[row["runtime"]] = (
            f"{difference}, {row['images_per_s']:,.0f}/s" if row["loads"] == "yes"
            else f"**{row['loads']}**")
    print("| model | preprocessing | graph | " + " | ".join(runtimes) + " |")
    print("|---|---|---|" + "---:|" * len(runtimes))
    for key, cells in lines.items():
        print("| " + " | ".join(key) + " | "
              + " | ".join(cells.get(runtime, "") for runtime in runtimes) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200,
                        help="training steps per model (default: 200)")
    parser.add_argument("--images", type=int, default=1000,
                        help="test pictures per data set (default: 1000)")
    parser.add_argument("--opencv4-python", metavar="PYTHON",
                        help="an interpreter with OpenCV 4 (scripts/opencv4_env.sh makes one)")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-export"),
                        help="where the runs and files go (default: runs/benchmark-export)")
    args = parser.parse_args()
    runtimes, rows = installed_runtimes(args.opencv4_python), []
    for case in CASES:
        classifier = trained(case, args.steps, args.out)
        pictures = load_split(case[0], "test", progress=False).images[:args.images, 0].numpy()
        described = {"model": f"{case[0]} {case[1]}",
                     "preprocessing": ", ".join(["deskew"] * case[2] + ["mirror average"]
                                                * case[3]) or "normalize only"}
        folder = args.out / "files" / described["model"].replace(" ", "-")
        folder.mkdir(parents=True, exist_ok=True)
        pixels, expected = pixels_and_predictions(classifier, pictures)
        rows.append(pytorch_row(classifier, pixels) | described)
        files = [("onnx", graph) for graph in case[4]] + [("torchscript", "full")]
        for fmt, graph in files:
            rows += [row | described for row in measure(classifier, pixels, expected, graph,
                                                        fmt, folder, runtimes[fmt])]
        print(f"measured {described['model']} ({described['preprocessing']})", file=sys.stderr)
    print(f"{args.images} test pictures per data set, the whole batch at once, best of 3; "
          f"{cpu_info().model}, {torch.get_num_threads()} threads")
    print_table(rows)
    failed = [row for row in rows if row["loads"] != "yes" or (row["difference"] or 0) > TOLERANCE]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
