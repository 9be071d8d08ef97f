"""Export a trained classifier to ONNX or TorchScript, to run without torchbasics.

The exported graph is the whole model step, so the file can be used on its own:
``pixels (N, C, H, W) float32 on [0, 1]`` -> deskew (if training did) -> normalize with
the training mean and std -> the network (averaging the logits of each image and its mirror
image, if the model was trained to) -> softmax -> ``probabilities (N, K)``. The
batch size is free. What stays outside is the picture preparation
(:mod:`torchbasics.inference.preprocess`): give the file 28x28 images made as
``torchbasics predict --show`` shows them (before deskewing). Class names, data set and
preprocessing pipeline travel in the file's metadata.

Both are written in fp32 from the eval-mode model (training may use bf16 autocast).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.extras import require
from torchbasics.files import atomic_write
from torchbasics.inference.predictor import Classifier
from torchbasics.models.mirror import MirrorAveraged

FORMATS = ("onnx", "torchscript")
INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"
METADATA_FILE = "torchbasics.json"  # TorchScript extra file holding the metadata


class ExportModule(nn.Module):
    """Pixels on [0, 1] -> class probabilities: the model's own input step (deskewing,
    normalization), the network (mirror averaging included), softmax."""

    def __init__(self, classifier: Classifier):
        super().__init__()
        self.model_input = classifier.preprocessing.model_input
        self.network = classifier.model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        logits = self.network(self.model_input(pixels))  # (N, K)
        return torch.softmax(logits, dim=1)


def metadata(classifier: Classifier) -> dict[str, str]:
    """What a user of the exported file needs to know, as strings."""
    preprocessing = classifier.preprocessing
    model_input = preprocessing.model_input.settings()
    return {
        "producer": "torchbasics",
        "dataset": classifier.dataset,
        "class_names": json.dumps(list(classifier.class_names)),
        "input": f"{INPUT_NAME}: (N, {', '.join(map(str, preprocessing.input_shape))}) "
                 "float32 on [0, 1], light ink on black",
        "output": f"{OUTPUT_NAME}: (N, {len(classifier.class_names)}) float32",
        "preprocessing": preprocessing.pipeline,
        "deskew": json.dumps(model_input["deskew"]),
        "mirror_average": json.dumps(isinstance(classifier.model, MirrorAveraged)),
        "mean": json.dumps(model_input["mean"]),
        "std": json.dumps(model_input["std"]),
    }


def export(classifier: Classifier, out: str | os.PathLike, fmt: str = "onnx") -> Path:
    """Write ``classifier`` to ``out`` as ONNX or TorchScript (atomically); returns ``out``."""
    if fmt not in FORMATS:
        raise TorchbasicsError(f"unknown format '{fmt}'", where="--format",
                               fix=f"choose one of {', '.join(FORMATS)}")
    module = ExportModule(classifier).eval()
    example = torch.rand(2, *classifier.preprocessing.input_shape)  # (2, C, H, W)
    data = (to_onnx if fmt == "onnx" else to_torchscript)(module, example, metadata(classifier))
    with atomic_write(out) as handle:
        handle.write(data)
    return Path(out)


def to_onnx(module: nn.Module, example: torch.Tensor, meta: dict[str, str]) -> bytes:
    """The ONNX file's bytes: torch's default (dynamo) exporter, batch dimension dynamic."""
    onnx = require("onnx", "export")
    require("onnxscript", "export")  # the dynamo exporter needs it: fail here, clearly
    import logging

    # The exporter logs a warning per torchvision operator it cannot register and prints
    # its progress to stdout; neither concerns these models (and stdout may carry JSON).
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, (example,), dynamo=True, input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME], dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,
        )
    model = program.model_proto
    onnx.helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def to_torchscript(module: nn.Module, example: torch.Tensor, meta: dict[str, str]) -> bytes:
    """The TorchScript file's bytes (``torch.jit.script``; any batch size)."""
    with warnings.catch_warnings():
        # torch 2.10+ marks TorchScript deprecated in favour of torch.export; it still runs
        # everywhere libtorch does, which is why it is offered.
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer, _extra_files={METADATA_FILE: json.dumps(meta)})
    return buffer.getvalue()


def run_onnx(path: str | os.PathLike, pixels: np.ndarray) -> np.ndarray:
    """Probabilities from an exported ONNX file, computed by ONNX Runtime."""
    onnxruntime = require("onnxruntime", "export")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: pixels.astype(np.float32)})[0]


def run_torchscript(path: str | os.PathLike, pixels: np.ndarray) -> np.ndarray:
    """Probabilities from an exported TorchScript file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(torch.from_numpy(pixels.astype(np.float32))).numpy()


def check_export(classifier: Classifier, path: str | os.PathLike, fmt: str,
                 pixels: np.ndarray) -> float:
    """Largest absolute difference between the exported file's and PyTorch's probabilities.

    Args:
        pixels: ``(N, C, H, W)`` float32 on [0, 1].
    """
    ours = classifier.probabilities_of_pixels(torch.from_numpy(pixels.astype(np.float32)))
    theirs = (run_onnx if fmt == "onnx" else run_torchscript)(path, pixels)
    return float(np.abs(theirs - ours).max())

