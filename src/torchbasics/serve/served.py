"""The runs a server serves: each loaded once, under a URL-safe name, with its model card.

``torchbasics.load`` is the one place that tells an image classifier from the bonus
regression; here that answer is only read, with ``isinstance``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torchbasics.errors import TorchbasicsError
from torchbasics.inference.predictor import Classifier
from torchbasics.inference.regressor import Regressor

IMAGE, TABULAR = "image", "tabular"
NAME_LENGTH = 40  # model names appear in URLs and on buttons


@dataclass
class Served:
    """One served run: its name in URLs, its kind, the loaded model and its card."""

    name: str
    kind: str  # IMAGE or TABULAR
    model: Classifier | Regressor
    card: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What ``GET /api/models`` says about this model (no file-system paths)."""
        about: dict[str, Any] = {"name": self.name, "kind": self.kind, "card": self.card}
        if isinstance(self.model, Classifier):
            about |= {"dataset": self.model.dataset, "classes": list(self.model.class_names),
                      "deskew": bool(self.model.preprocessing.deskew),
                      "digits": self.model.dataset == "mnist"}
        else:
            about |= {"dataset": self.card.get("dataset"), "target": self.model.target.name,
                      "inputs": [input_field(column) for column in self.model.columns]}
        return about


def input_field(column: Any) -> dict[str, Any]:
    """A regression input as the page's form and API clients need it."""
    return {"key": column.flag or column.name, "name": column.name,
            "minimum": column.minimum, "maximum": column.maximum,
            "integer": column.integer, "allowed": column.allowed()}


def load_served(runs: Sequence[str | os.PathLike]) -> dict[str, Served]:
    """Load every run (a run directory or ``.pt`` file) once; keys are unique URL names.

    Raises:
        TorchbasicsError: a run cannot be loaded (the message names it).
    """
    import torchbasics

    if not runs:
        raise TorchbasicsError("no runs to serve", fix="give one or more run directories")
    served: dict[str, Served] = {}
    for run in runs:
        model = torchbasics.load(run)
        if isinstance(model, Classifier):
            kind = IMAGE
        elif isinstance(model, Regressor):
            kind = TABULAR
        else:  # a kind torchbasics.load learned after this module was written
            raise TorchbasicsError(f"cannot serve a {type(model).__name__}", where=run)
        name = unique_name(url_name(Path(run)), served)
        served[name] = Served(name, kind, model, run_card(Path(run), model))
    return served


def url_name(run: Path) -> str:
    """``runs/mnist-cnn`` -> ``mnist-cnn``; ``runs/fm/best.pt`` -> ``fm``; ``a.pt`` -> ``a``."""
    path = run.resolve()
    if path.is_file():
        path = path.parent if path.stem in ("best", "last") else path.with_suffix("")
    name = re.sub(r"[^a-z0-9._-]+", "-", path.name.lower()).strip("-.")[:NAME_LENGTH]
    return name or "model"


def unique_name(name: str, taken: dict[str, Any]) -> str:
    """``name``, or ``name-2``, ``name-3``, ... when it is taken."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}-{number}"
    return candidate


def run_card(run: Path, model: Classifier | Regressor) -> dict[str, Any]:
    """A model card from the run directory's ``summary.json`` and file times.

    The public model objects do not carry these (test error, parameters, when trained,
    the learned formula), so they are read here, in this one place; a bare ``.pt`` file
    outside a run directory gets what the model itself tells (its parameter count).
    """
    from torchbasics.tabular.formula import LinearFormula

    folder = run if run.is_dir() else run.parent
    summary_file = folder / "summary.json"
    try:
        summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    except (OSError, ValueError):
        summary = {}  # a card is nice to have; a broken summary does not stop the server
    if not isinstance(summary, dict):
        summary = {}
    # When training ended: last.pt is written last (evaluating rewrites summary.json later).
    written = [p for p in (run, folder / "last.pt", folder / "best.pt") if p.is_file()]
    stamp = written[0].stat().st_mtime
    parameters = summary.get("parameters") or sum(p.numel() for p in model.model.parameters())
    card: dict[str, Any] = {
        "dataset": summary.get("dataset") or getattr(model, "dataset", None),
        "model": summary.get("model"),
        "parameters": int(parameters),
        "trained": datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds"),
        "test_error": summary.get("test_error"),
    }
    metrics = summary.get("metrics")
    test = metrics.get("test") if isinstance(metrics, dict) else None
    if isinstance(test, dict):
        card |= {"test_rmse": test.get("rmse"), "test_r2": test.get("r2")}
    if summary.get("formula"):
        card["formula"] = str(LinearFormula.from_dict(summary["formula"]))
    return card
