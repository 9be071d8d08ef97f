"""torchbasics: the foundational deep-learning models in PyTorch, done properly."""

from __future__ import annotations

import os
from typing import Any

__version__ = "0.1.0"  # the one place: pyproject.toml reads it (tool.setuptools.dynamic)


def load(run: str | os.PathLike) -> Any:
    """The trained model of a run directory, ready to predict.

    ``torchbasics.load("runs/mnist-cnn").predict("digit.png")`` gives the label, class
    name and probabilities; see :func:`torchbasics.inference.loading.load`. The import is
    done here, on first use, so that ``import torchbasics`` stays light.
    """
    from torchbasics.inference.loading import load as load_run

    return load_run(run)
