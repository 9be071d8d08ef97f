"""The runs a server serves: each loaded once, under a URL-safe name, with its model card.

``torchbasics.load`` is the one place that tells an image classifier from a table model;
here that answer is only read, with ``isinstance``.
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
from torchbasics.inference.table import TableModel

IMAGE, TABULAR = "image", "tabular"
NAME_LENGTH = 40  # model names appear in URLs and on buttons


@dataclass
class Served:
    """One served run: its name in URLs, its kind, the loaded model and its card."""

    name: str
    kind: str  # IMAGE or TABULAR
    model: Classifier | TableModel
    card: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What ``GET /api/models`` says about this model (no file-system paths)."""
        about: dict[str, Any] = {"name": self.name, "kind": self.kind, "card": self.card}
        if isinstance(self.model, Classifier):
            preprocessing = self.model.preprocessing
            about |= {"dataset": self.card.get("dataset") or shown_dataset(self.model.dataset),
                      "classes": list(self.model.class_names),
                      "deskew": bool(preprocessing.deskew),
                      "digits": self.model.dataset == "mnist",
                      "photo": preprocessing.pipeline == "photo",
                      "resize": preprocessing.resize,
                      "input_shape": list(preprocessing.input_shape)}
        else:
            schema = self.model.schema
            about |= {"dataset": self.card.get("dataset"), "target": schema.target.name,
                      "task": schema.task, "classes": list(schema.target.classes),
                      "inputs": [input_field(feature) for feature in schema.features]}
        return about


def input_field(feature: Any) -> dict[str, Any]:
    """A table model's input column as the page's form and API clients need it: a number
    (with its rule, if declared) or a category (with the values seen in training)."""
    from torchbasics.tabular.schema import CategoricalFeature

    if isinstance(feature, CategoricalFeature):
        return {"key": feature.name, "name": feature.name, "kind": "categorical",
                "levels": list(feature.levels),
                "allowed": f"one of the {len(feature.levels)} values seen in training"}
    rule = feature.rule
    return {"key": (rule.flag if rule is not None and rule.flag else feature.name),
            "name": feature.name, "kind": "numeric",
            "minimum": rule.minimum if rule is not None else None,
            "maximum": rule.maximum if rule is not None else None,
            "integer": bool(rule is not None and rule.integer),
            "allowed": rule.allowed() if rule is not None else "a number",
            "median": feature.median}


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
        elif isinstance(model, TableModel):
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


def shown_dataset(dataset: str | None) -> str | None:
    """What a stranger may see of the data a model was trained on: a shipped data set's
    name as it is, one's own data (a CSV or a folder) by its file or folder name only,
    never the path that would tell how the server's disk is laid out."""
    if not dataset:
        return dataset
    return re.split(r"[/\\]", dataset.rstrip("/\\"))[-1] or dataset


def run_card(run: Path, model: Classifier | TableModel) -> dict[str, Any]:
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
        "dataset": shown_dataset(summary.get("dataset") or getattr(model, "dataset", None)),
        "model": summary.get("model"),
        "parameters": int(parameters),
        "trained": datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds"),
        "test_error": summary.get("test_error"),
    }
    metrics = summary.get("metrics")
    test = metrics.get("test") if isinstance(metrics, dict) else None
    if isinstance(test, dict):
        card |= {key: test.get(name) for key, name in (
            ("test_rmse", "rmse"), ("test_r2", "r2"), ("test_accuracy", "accuracy"),
            ("test_log_loss", "log_loss")) if name in test}
    if summary.get("formula"):
        card["formula"] = str(LinearFormula.from_dict(summary["formula"]))
    return card
