"""``torchbasics export``: a trained image classifier as an ONNX or TorchScript file."""

from __future__ import annotations

import argparse
from pathlib import Path

from torchbasics.inference.formats import DEFAULT_OPSET, GRAPHS, OPSETS, SUFFIXES

CHECK_TOLERANCE = 1e-4  # largest difference from PyTorch's probabilities a runtime may show


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``export`` to the top-level parser."""
    parser = commands.add_parser(
        "export", help="write a trained model as ONNX (or an image classifier as TorchScript)",
        description="Export a run's model to run without torchbasics (ONNX Runtime, OpenCV's "
        "DNN module, libtorch). The file takes pixels (N, C, 28, 28) float32 on [0, 1], "
        "light ink on black, as `torchbasics predict --show` shows them (before deskewing), "
        "any batch size, and gives class probabilities (N, K): deskewing (for models "
        "trained with it), normalization, mirror averaging (for models trained with it) and "
        "softmax are inside. Class names and the preprocessing are in its metadata. Written "
        "in fp32, then run and checked against PyTorch on random pixels in each runtime "
        "installed. A table model's ONNX file takes the table's own values, one input per "
        "column (float32 with NaN for missing, or text), the encoding inside, and gives the "
        "prediction (or class probabilities); it is checked in ONNX Runtime. ONNX needs "
        "`pip install 'torchbasics[export]'` (onnx, onnxscript, onnxruntime, "
        "opencv-python-headless).",
    )
    parser.add_argument("run", type=Path, metavar="RUN_DIR",
                        help="run directory (its best.pt, else last.pt) or a checkpoint file")
    parser.add_argument("--format", default="onnx", choices=list(SUFFIXES),
                        help="file format (default: onnx)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="where to write it (default: RUN_DIR/model.onnx or "
                        "RUN_DIR/model.torchscript.pt)")
    parser.add_argument("--graph", default=GRAPHS[0], choices=GRAPHS,
                        help="full: pixels in, the model's deskewing and normalization inside; "
                        "network: the network alone, its input already deskewed and "
                        "normalized as the metadata says (default: full)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, metavar="N",
                        help=f"ONNX operator set, {OPSETS[0]} to {OPSETS[-1]}; {DEFAULT_OPSET} "
                        f"runs in every runtime tested (default: {DEFAULT_OPSET})")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export, check against PyTorch where possible, and say where the file is."""
    from torchbasics.errors import TorchbasicsError
    from torchbasics.runs.kinds import open_run
    from torchbasics.runs.trained import ExportRequest

    trained = open_run(args.run)
    out = args.out or trained.run_dir / f"model{SUFFIXES[args.format]}"
    exported = trained.export(out, ExportRequest(format=args.format, graph=args.graph,
                                                 opset=args.opset))
    for line in exported.lines:
        print(line)
    if not exported.differences:
        print("not run: no runtime for it is installed (pip install 'torchbasics[export]')")
    for runtime, difference in exported.differences.items():
        print(f"  {runtime}: {exported.checked_on.format(difference)}")
    worst = max(exported.differences.values(), default=0.0)
    if worst > CHECK_TOLERANCE:
        raise TorchbasicsError(f"a runtime's probabilities differ from PyTorch's by {worst:.1e}",
                               where=out, fix="report this, with `torchbasics doctor`")
    return 0
