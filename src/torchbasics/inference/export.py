"""Export a trained classifier to ONNX or TorchScript, to run without torchbasics.

The exported graph is, by default (``graph="full"``), the whole model step, so the file can
be used on its own: ``pixels (N, C, H, W) float32 on [0, 1]`` -> the model's own input step
(:class:`~torchbasics.data.transforms.ModelInput`: deskewing if training did, normalization
with the training mean and std) -> the network (averaging the logits of each image and its
mirror image, if the model was trained to) -> softmax -> ``probabilities (N, K)``. The
batch size is free. ``graph="network"`` leaves the input step out: its input is the model
input, which the caller makes as the metadata says (docs/guides/12-export.md shows it in
numpy). What
stays outside either way is the picture preparation
(:mod:`torchbasics.inference.preprocess`): give the file 28x28 images made as
``torchbasics predict --show`` shows them (before deskewing).

Both formats are written in fp32 from the eval-mode model (training may use bf16 autocast).
The ONNX graph uses only operators that ONNX Runtime and OpenCV's DNN module (4.x and 5.x)
run; :func:`check_export` runs the file in each runtime installed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from torchbasics.errors import TorchbasicsError, closest
from torchbasics.extras import require
from torchbasics.files import atomic_write
from torchbasics.inference.formats import DEFAULT_OPSET, FORMATS, GRAPHS, OPSETS
from torchbasics.inference.predictor import Classifier
from torchbasics.inference.runtimes import INPUT_NAME, OUTPUT_NAME, opencv_engines, run_in_child
from torchbasics.models.mirror import MirrorAveraged

METADATA_FILE = "torchbasics.json"  # TorchScript extra file holding the metadata


class ExportModule(nn.Module):
    """Pixels on [0, 1] (``graph="full"``) or model input (``"network"``) -> class
    probabilities: the model's own input step, the network (mirror averaging included),
    softmax."""

    def __init__(self, classifier: Classifier, graph: str = "full"):
        super().__init__()
        if graph not in GRAPHS:
            raise TorchbasicsError(f"unknown graph '{graph}'", where="--graph",
                                   fix=closest(graph, list(GRAPHS)))
        self.model_input = classifier.preprocessing.model_input if graph == "full" else None
        self.network = classifier.model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        inputs = pixels if self.model_input is None else self.model_input(pixels)
        return torch.softmax(self.network(inputs), dim=1)  # (N, K)


def metadata(classifier: Classifier, graph: str = "full") -> dict[str, str]:
    """What a user of the exported file needs to know, as strings."""
    preprocessing = classifier.preprocessing
    settings = preprocessing.model_input.settings()
    shape = ", ".join(map(str, preprocessing.input_shape))
    steps = ["deskew"] * settings["deskew"] + ["normalize"]
    pixels = ("pixels on [0, 1], the picture brought to the input's size by "
              f"{preprocessing.resize} (RGB, or gray)" if preprocessing.pipeline == "photo"
              else "pixels on [0, 1], light ink on black")
    given = (pixels if graph == "full" else
             f"the model input: {pixels}, then {', then '.join(steps)}"
             " (preprocessing_steps, mean, std)")
    return {
        "producer": "torchbasics",
        "dataset": classifier.dataset,
        "class_names": json.dumps(list(classifier.class_names)),
        "graph": graph,
        "input": f"{INPUT_NAME}: (N, {shape}) float32, {given}",
        "output": f"{OUTPUT_NAME}: (N, {len(classifier.class_names)}) float32",
        "preprocessing": preprocessing.pipeline,
        "resize": preprocessing.resize,
        "preprocessing_steps": json.dumps(steps if graph == "network" else []),
        "deskew": json.dumps(settings["deskew"]),
        "mirror_average": json.dumps(isinstance(classifier.model, MirrorAveraged)),
        "mean": json.dumps(settings["mean"]),
        "std": json.dumps(settings["std"]),
    }


def export(classifier: Classifier, out: str | os.PathLike, fmt: str = "onnx", *,
           graph: str = "full", opset: int = DEFAULT_OPSET) -> Path:
    """Write ``classifier`` to ``out`` as ONNX or TorchScript (atomically); returns ``out``.

    Args:
        graph: ``"full"`` (pixels in) or ``"network"`` (model input in).
        opset: the ONNX operator set (:data:`OPSETS`); older runtimes may need a lower one.
    """
    if fmt not in FORMATS:
        raise TorchbasicsError(f"unknown format '{fmt}'", where="--format",
                               fix=closest(fmt, list(FORMATS)))
    module = ExportModule(classifier, graph).eval()
    example = torch.rand(2, *classifier.preprocessing.input_shape)  # (2, C, H, W)
    meta = metadata(classifier, graph)
    data = (to_onnx(module, example, meta, opset) if fmt == "onnx"
            else to_torchscript(module, meta))
    with atomic_write(out) as handle:
        handle.write(data)
    return Path(out)


def to_onnx(module: nn.Module, example: torch.Tensor, meta: dict[str, str],
            opset: int = DEFAULT_OPSET) -> bytes:
    """The ONNX file's bytes: :func:`to_onnx_model` with the metadata, checked."""
    onnx = require("onnx", "export")
    model = to_onnx_model(module, example, INPUT_NAME, OUTPUT_NAME, opset)
    onnx.helper.set_model_props(model, meta | {"opset": str(opset)})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def to_onnx_model(module: nn.Module, example: torch.Tensor, input_name: str,
                  output_name: str, opset: int = DEFAULT_OPSET) -> Any:
    """``module`` as an ONNX ModelProto: torch's (dynamo) exporter, batch dimension dynamic.

    Raises:
        TorchbasicsError: ``opset`` is not one the exporter writes (asked for one it cannot
            convert to, it writes another and says nothing: the file is checked).
    """
    if opset not in OPSETS:
        raise TorchbasicsError(f"opset {opset} is not offered", where="--opset",
                               fix=f"use {OPSETS[0]} to {OPSETS[-1]}")
    require("onnx", "export")
    require("onnxscript", "export")  # the dynamo exporter needs it: fail here, clearly
    import logging

    # The exporter logs a warning per torchvision operator it cannot register and prints
    # its progress (and a converter's tracebacks) to stdout and stderr; none concerns these
    # models, and stdout may carry JSON.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with (warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()),
          contextlib.redirect_stderr(io.StringIO())):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, (example,), dynamo=True, input_names=[input_name],
            output_names=[output_name], dynamic_shapes=({0: torch.export.Dim("batch")},),
            opset_version=opset, verbose=False,
        )
    model = program.model_proto
    written = next(entry.version for entry in model.opset_import if entry.domain in ("",
                                                                                   "ai.onnx"))
    if written != opset:
        raise TorchbasicsError(f"the ONNX exporter wrote opset {written}, not {opset}",
                               where="--opset", fix=f"use --opset {written}")
    return model


def to_torchscript(module: nn.Module, meta: dict[str, str]) -> bytes:
    """The TorchScript file's bytes (``torch.jit.script``; any batch size)."""
    with warnings.catch_warnings():
        # torch 2.10+ marks TorchScript deprecated in favour of torch.export; it still runs
        # everywhere libtorch does, which is why it is offered.
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer, _extra_files={METADATA_FILE: json.dumps(meta)})
    return buffer.getvalue()


def runtimes_for(fmt: str, *, every_engine: bool = False) -> list[str]:
    """The installed runtimes that run files of ``fmt``, as :func:`check_export` names them
    (OpenCV's default engine, or with ``every_engine`` each of OpenCV 5's)."""
    if fmt == "torchscript":
        return ["torchscript"]
    found = ["onnxruntime"] if _importable("onnxruntime") else []
    if _importable("cv2"):
        engines = opencv_engines() if every_engine else ["auto"]
        found += [f"opencv-{engine}" for engine in engines]
    return found


def check_export(classifier: Classifier, path: str | os.PathLike, fmt: str,
                 pixels: torch.Tensor, graph: str = "full", *,
                 every_engine: bool = False) -> dict[str, float]:
    """Each installed runtime -> the largest absolute difference between its probabilities
    for the exported file and PyTorch's (each runtime in a child process, so that one that
    crashes on a file is an error, not the end of the caller).

    Args:
        pixels: ``(N, C, H, W)`` float32 on [0, 1]; a network graph is given the model
            input made from them.
    """
    ours = classifier.probabilities_of_pixels(pixels)
    inputs = pixels if graph == "full" else classifier.preprocessing.model_input(pixels)
    runtimes = runtimes_for(fmt, every_engine=every_engine)
    outputs = run_in_child(runtimes, path, inputs.numpy()) if runtimes else {}
    return {runtime: float(np.abs(theirs - ours).max()) for runtime, theirs in outputs.items()}


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
