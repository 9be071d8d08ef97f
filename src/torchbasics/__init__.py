"""torchbasics: the foundational deep-learning models in PyTorch, done properly.

The short way in (each name is imported on first use, so ``import torchbasics`` stays light):

    import torchbasics
    summary = torchbasics.train(torchbasics.TrainConfig(dataset="mnist", model="cnn"), "runs/cnn")
    model = torchbasics.load("runs/cnn")          # a Classifier (tables: a Regressor or a
                                                  # TableClassifier)
    model.predict("digit.png")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.3.0.dev0"  # the one place: pyproject.toml reads it (tool.setuptools.dynamic)

# name -> the module that defines it
_API = {
    "TrainConfig": "torchbasics.runs.config",
    "train": "torchbasics.runs.train",
    "load": "torchbasics.inference.loading",
    "open_run": "torchbasics.runs.kinds",
    "Classifier": "torchbasics.inference.predictor",
    "Regressor": "torchbasics.inference.table",
    "TableClassifier": "torchbasics.inference.table",
    "evaluate_run": "torchbasics.runs.evaluate",
    "explain_run": "torchbasics.runs.explain",
    "compare": "torchbasics.runs.compare",
    "lr_find": "torchbasics.runs.lr_find",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'torchbasics' has no attribute {name!r}")
