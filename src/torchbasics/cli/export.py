"""``torchbasics export``: a trained image classifier as an ONNX or TorchScript file."""

from __future__ import annotations

import argparse
from pathlib import Path

SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``export`` to the top-level parser."""
    parser = commands.add_parser(
        "export", help="write a trained image classifier as ONNX or TorchScript",
        description="Export a run's model to run without torchbasics (ONNX Runtime, libtorch). "
        "The file takes pixels (N, C, 28, 28) float32 on [0, 1], light ink on black, as "
        "`torchbasics predict --show` shows them (before deskewing), any batch size, and "
        "gives class probabilities (N, K): deskewing (for models trained with it), "
        "normalization and softmax are inside. Class names and the preprocessing are in "
        "its metadata. Written in fp32, then checked against PyTorch "
        "on random pixels where the runtime is installed. ONNX needs `pip install "
        "'torchbasics[export]'` (onnx, onnxscript, onnxruntime).",
    )
    parser.add_argument("run", type=Path, metavar="RUN_DIR",
                        help="run directory (its best.pt, else last.pt) or a checkpoint file")
    parser.add_argument("--format", default="onnx", choices=["onnx", "torchscript"],
                        help="file format (default: onnx)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="where to write it (default: RUN_DIR/model.onnx or "
                        "RUN_DIR/model.torchscript.pt)")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export, check against PyTorch where possible, and say where the file is."""
    import numpy as np

    from torchbasics.errors import TorchbasicsError
    from torchbasics.inference.export import check_export, export
    from torchbasics.inference.loading import load_classifier

    classifier = load_classifier(
        args.run, refusal="export is for image classifiers, and this is a regression run")
    folder = args.run if args.run.is_dir() else args.run.parent
    out = args.out or folder / f"model{SUFFIXES[args.format]}"
    export(classifier, out, args.format)
    pixels = np.random.default_rng(0).random(
        (8, *classifier.preprocessing.input_shape), dtype=np.float32)  # (8, C, H, W)
    try:
        difference = check_export(classifier, out, args.format, pixels)
    except TorchbasicsError as exc:  # the runtime is not installed: the file is still good
        print(f"wrote {out} (not checked: {exc.message})")
        return 0
    print(f"wrote {out}: {args.format}, {len(classifier.class_names)} classes; its "
          f"probabilities differ from PyTorch's by at most {difference:.1e} on random pixels")
    return 0
