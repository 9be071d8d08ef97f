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
    import torch

    from torchbasics.errors import TorchbasicsError
    from torchbasics.inference.export import check_export, export
    from torchbasics.inference.loading import load
    from torchbasics.inference.predictor import Classifier

    model = load(args.run)
    folder = args.run if args.run.is_dir() else args.run.parent
    out = args.out or folder / f"model{SUFFIXES[args.format]}"
    if isinstance(model, Classifier):
        export(model, out, args.format, graph=args.graph, opset=args.opset)
        pixels = torch.rand((8, *model.preprocessing.input_shape),
                            generator=torch.Generator().manual_seed(0))  # (8, C, H, W)
        differences = check_export(model, out, args.format, pixels, args.graph)
        print(f"wrote {out}: {args.format} ({args.graph} graph), {len(model.class_names)} "
              "classes")
    else:
        differences = export_table_model(args, model, out)
    if not differences:
        print("not run: no runtime for it is installed (pip install 'torchbasics[export]')")
    on = ("probabilities within {:.1e} of PyTorch's on random pixels"
          if isinstance(model, Classifier) else
          "within {:.1e} of PyTorch's on rows made from the training statistics (for a "
          "number: in standard deviations of the target)")
    for runtime, difference in differences.items():
        print(f"  {runtime}: {on.format(difference)}")
    worst = max(differences.values(), default=0.0)
    if worst > CHECK_TOLERANCE:
        raise TorchbasicsError(f"a runtime's probabilities differ from PyTorch's by {worst:.1e}",
                               where=out, fix="report this, with `torchbasics doctor`")
    return 0


def export_table_model(args: argparse.Namespace, model: object, out: Path) -> dict[str, float]:
    """A table model as one ONNX file; its largest difference from PyTorch per runtime."""
    from torchbasics.errors import TorchbasicsError
    from torchbasics.inference.table_export import (
        check_table_export,
        export_table,
        refuse_torchscript,
    )

    if args.format != "onnx":
        refuse_torchscript()
    if args.graph != GRAPHS[0]:
        raise TorchbasicsError("--graph network is for image models", where="--graph",
                               fix="a table model's file always takes the table's values")
    if args.opset not in OPSETS:
        raise TorchbasicsError(f"opset {args.opset} is not offered", where="--opset",
                               fix=f"use {OPSETS[0]} to {OPSETS[-1]}")
    export_table(model, out, args.opset)
    names = ", ".join(feature.name for feature in model.schema.features)
    print(f"wrote {out}: onnx, inputs {names}; output "
          f"{'value' if model.schema.task == 'regression' else 'probabilities'}")
    print("  OpenCV's DNN module is not tried: it takes no text inputs")
    return check_table_export(model, out)
