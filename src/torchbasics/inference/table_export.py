"""Export a table model to ONNX that takes the table's own values: the encoding is inside.

The file has one input per column the model reads, named as the column, shape ``(N, 1)``:
``float32`` for a numeric column (``NaN`` for a missing value) and ``string`` for a
categorical one (an empty string, ``"NA"``, ... for missing, as in a CSV). Inside, each
column is encoded exactly as :class:`~torchbasics.tabular.schema.TableSchema` does it
(the median for a missing number, standardization with the training statistics, a missing
indicator, one-hot over the training categories, all zeros for a category never seen),
then the network runs, then the output becomes the target's own units (regression:
``value (N, 1)``) or class probabilities (``probabilities (N, K)``).

The encoder is written with ``onnx.helper`` (strings need ONNX's ``ai.onnx.ml``
LabelEncoder, which PyTorch cannot export), the network by PyTorch's exporter, and the
two are joined with ``onnx.compose``. ONNX Runtime runs it; OpenCV's DNN module takes no
text inputs, so a table model's file is checked in ONNX Runtime only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchbasics.errors import TorchbasicsError
from torchbasics.extras import require
from torchbasics.files import atomic_write
from torchbasics.inference.formats import DEFAULT_OPSET
from torchbasics.inference.table import TableModel
from torchbasics.tabular.schema import (
    MISSING,
    REGRESSION,
    CategoricalFeature,
    NumericFeature,
)

ML_OPSET = 3  # ai.onnx.ml: LabelEncoder with string keys and int64 values
ENCODED, NETWORK_OUTPUT = "encoded", "network_output"
LEVELS_CHECKED = 3  # categories per column sent through the check, besides unseen/missing


def _casings(word: str) -> list[str]:
    """``"na"`` -> ``["na", "nA", "Na", "NA"]``: every upper/lower-case spelling."""
    spellings = [""]
    for letter in word:
        spellings = [s + c for s in spellings for c in dict.fromkeys((letter.lower(),
                                                                      letter.upper()))]
    return spellings


MISSING_SPELLINGS = sorted({spelling for word in MISSING for spelling in _casings(word)})


def export_table(model: TableModel, out: str | os.PathLike,
                 opset: int = DEFAULT_OPSET) -> Path:
    """Write ``model`` as one ONNX file (atomically); returns ``out``."""
    onnx = require("onnx", "export")
    from onnx import compose

    network = network_graph(model, opset)
    encoder, last = encoder_graph(model, opset), output_graph(model, opset)
    encoder.ir_version = last.ir_version = network.ir_version  # merging needs one version
    joined = compose.merge_models(encoder, network, io_map=[(ENCODED, "x")],
                                  prefix2="network/")
    joined = compose.merge_models(joined, last,
                                  io_map=[(f"network/{NETWORK_OUTPUT}", NETWORK_OUTPUT)])
    onnx.helper.set_model_props(joined, metadata(model) | {"opset": str(opset)})
    onnx.checker.check_model(joined)
    with atomic_write(out) as handle:
        handle.write(joined.SerializeToString())
    return Path(out)


def metadata(model: TableModel) -> dict[str, str]:
    """What a user of the file needs to know, as strings."""
    schema = model.schema
    inputs = [{"name": f.name, "type": "float32, NaN for missing"
               if isinstance(f, NumericFeature) else "string, empty for missing"}
              for f in schema.features]
    output = ("value: (N, 1) float32, in the target's units" if schema.task == REGRESSION
              else f"probabilities: (N, {len(schema.target.classes)}) float32")
    return {"producer": "torchbasics", "dataset": model.dataset, "target": schema.target.name,
            "task": schema.task, "classes": json.dumps(list(schema.target.classes)),
            "inputs": json.dumps(inputs), "output": output,
            "schema": json.dumps(schema.to_dict())}


def output_name(model: TableModel) -> str:
    """The exported file's output: ``value`` or ``probabilities``."""
    return model.answer_name


def encoder_graph(model: TableModel, opset: int) -> Any:
    """The columns -> ``encoded (N, width)`` float32, as the schema encodes them."""
    onnx = require("onnx", "export")
    helper, proto = onnx.helper, onnx.TensorProto
    nodes, inputs, parts, constants = [], [], [], Constants("encode/")
    for feature in model.schema.features:
        if isinstance(feature, NumericFeature):
            inputs.append(helper.make_tensor_value_info(feature.name, proto.FLOAT, ["N", 1]))
            parts += _numeric_nodes(feature, nodes, constants)
        else:
            inputs.append(helper.make_tensor_value_info(feature.name, proto.STRING, ["N", 1]))
            parts += _categorical_nodes(feature, nodes, constants)
    nodes.append(helper.make_node("Concat", parts, [ENCODED], axis=1))
    output = helper.make_tensor_value_info(ENCODED, proto.FLOAT, ["N", model.schema.width])
    graph = helper.make_graph(nodes, "encode", inputs, [output], initializer=constants.all)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                   helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
                             producer_name="torchbasics")


class Constants:
    """A graph's constant tensors, each under a unique name (starting with ``prefix``, so
    that the graphs joined into one file do not share names)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.all: list[Any] = []

    def add(self, name: str, values: Any, dtype: Any = np.float32) -> str:
        onnx = require("onnx", "export")
        unique = f"{self.prefix}{name}_{len(self.all)}"
        self.all.append(onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), unique))
        return unique


def _numeric_nodes(feature: NumericFeature, nodes: list, constants: Constants) -> list[str]:
    """NaN -> median, then standardized; and the missing indicator, if trained with one."""
    onnx = require("onnx", "export")
    make, name = onnx.helper.make_node, feature.name
    missing, filled = f"{name}/missing", f"{name}/filled"
    centred, scaled = f"{name}/centred", f"{name}/standardized"
    nodes += [
        make("IsNaN", [name], [missing]),
        make("Where", [missing, constants.add("median", [[feature.median]]), name], [filled]),
        make("Sub", [filled, constants.add("mean", [[feature.mean]])], [centred]),
        make("Div", [centred, constants.add("std", [[feature.std]])], [scaled]),
    ]
    if not feature.indicator:
        return [scaled]
    nodes.append(make("Cast", [missing], [f"{name}/indicator"], to=onnx.TensorProto.FLOAT))
    return [scaled, f"{name}/indicator"]


def _categorical_nodes(feature: CategoricalFeature, nodes: list,
                       constants: Constants) -> list[str]:
    """One 0/1 input per training category (all 0 for one never seen), and "missing"."""
    onnx = require("onnx", "export")
    make, name = onnx.helper.make_node, feature.name
    code, onehot = f"{name}/code", f"{name}/onehot"
    nodes += [
        make("LabelEncoder", [name], [code], domain="ai.onnx.ml",
             keys_strings=list(feature.levels), values_int64s=list(range(len(feature.levels))),
             default_int64=-1),
        make("Equal", [code, constants.add("levels", [list(range(len(feature.levels)))],
                                           np.int64)], [f"{name}/equal"]),
        make("Cast", [f"{name}/equal"], [onehot], to=onnx.TensorProto.FLOAT),
    ]
    if not feature.missing_level:
        return [onehot]
    # A missing cell is any spelling of MISSING, in any case. Every casing is a key:
    # ONNX's StringNormalizer could lower-case the text, but needs an installed locale.
    nodes.append(make("LabelEncoder", [name], [f"{name}/missing"], domain="ai.onnx.ml",
                      keys_strings=MISSING_SPELLINGS, values_floats=[1.0] * len(MISSING_SPELLINGS),
                      default_float=0.0))
    return [onehot, f"{name}/missing"]


def network_graph(model: TableModel, opset: int) -> Any:
    """The network, ``x (N, width)`` -> ``network_output``, by PyTorch's exporter."""
    from torchbasics.inference.export import to_onnx_model

    example = torch.zeros(2, model.schema.width)
    return to_onnx_model(model.model.float().eval(), example, "x", NETWORK_OUTPUT, opset)


def output_graph(model: TableModel, opset: int) -> Any:
    """The network's output -> the target's units, or class probabilities."""
    onnx = require("onnx", "export")
    helper, proto, constants = onnx.helper, onnx.TensorProto, Constants("output/")
    target, out = model.schema.target, output_name(model)
    width = model.schema.outputs
    if model.schema.task == REGRESSION:  # the standardized value back in the target's units
        nodes = [helper.make_node("Mul", [NETWORK_OUTPUT, constants.add("std", [[target.std]])],
                                  ["scaled"]),
                 helper.make_node("Add", ["scaled", constants.add("mean", [[target.mean]])],
                                  [out])]
    else:
        nodes = [helper.make_node("Softmax", [NETWORK_OUTPUT], [out], axis=1)]
    graph = helper.make_graph(
        nodes, "output", [helper.make_tensor_value_info(NETWORK_OUTPUT, proto.FLOAT,
                                                        ["N", width])],
        [helper.make_tensor_value_info(out, proto.FLOAT, ["N", width])],
        initializer=constants.all)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def check_rows(model: TableModel, count: int = 64, seed: int = 0) -> dict[str, list[str]]:
    """Rows to check an exported file with: numbers around each column's training values,
    its categories, one never seen, and missing values of every kind."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[str]] = {}
    for feature in model.schema.features:
        if isinstance(feature, NumericFeature):
            values = feature.mean + feature.std * rng.normal(size=count)
            if feature.rule is not None and feature.rule.integer:
                values = np.round(values)
            if feature.rule is not None:
                values = np.clip(values, feature.rule.minimum if feature.rule.minimum is not None
                                 else -np.inf, feature.rule.maximum if feature.rule.maximum is
                                 not None else np.inf)
            cells = [repr(float(v)) for v in values]
        else:
            choices = [*feature.levels[:LEVELS_CHECKED], "never seen in training", "", "NA"]
            cells = [choices[i] for i in rng.integers(0, len(choices), size=count)]
        cells[0] = ""  # every column missing in the first row
        rows[feature.name] = cells
    return rows


def onnx_inputs(model: TableModel, rows: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """The file's inputs for rows given as CSV cells."""
    from torchbasics.tabular.schema import numbers

    inputs = {}
    for feature in model.schema.features:
        cells = rows[feature.name]
        if isinstance(feature, NumericFeature):
            inputs[feature.name] = numbers(cells)[0].astype(np.float32)[:, None]
        else:  # the text as it is: the file knows the spellings of "missing" itself
            inputs[feature.name] = np.array(cells, dtype=object)[:, None]
    return inputs


def check_table_export(model: TableModel, path: str | os.PathLike) -> dict[str, float]:
    """``{"onnxruntime": largest difference}`` between the file's outputs and the model's
    on :func:`check_rows` (relative to the target's std for a value); empty when ONNX
    Runtime is not installed."""
    import importlib.util

    from torchbasics.inference.table import OneRow

    if importlib.util.find_spec("onnxruntime") is None:
        return {}
    import onnxruntime

    rows = check_rows(model)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run([output_name(model)], onnx_inputs(model, rows))[0]
    encoded = model.schema.encode(OneRow("check", tuple(rows), rows))
    raw = model.outputs(encoded)
    difference = np.abs(theirs - model.answers(raw)).max() / model.answer_scale()
    return {"onnxruntime": float(difference)}


def refuse_torchscript() -> None:
    raise TorchbasicsError("a table model exports to ONNX only: its categorical inputs are "
                           "text, which TorchScript files do not take", where="--format",
                           fix="use --format onnx")
