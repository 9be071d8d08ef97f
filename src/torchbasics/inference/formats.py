"""What ``export`` writes: its formats, graphs and ONNX operator sets, declared once and
without importing PyTorch, so that the command line's ``--help`` can read them."""

from __future__ import annotations

SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}  # format -> file suffix
FORMATS = tuple(SUFFIXES)
GRAPHS = ("full", "network")  # pixels in, or the model input in
OPSETS = range(18, 24)  # what torch 2.13's exporter writes as asked (below 18 it cannot)
DEFAULT_OPSET = 18  # the exporter's own: no version conversion, and every runtime runs it
