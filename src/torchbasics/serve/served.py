"""The runs a server serves: each opened once, under a URL-safe name, with its model card.

Each is a :class:`~torchbasics.runs.trained.TrainedRun`: what the page shows of it is its
``describe()``, and what a request sends it depends only on what it ``takes`` (pictures or
rows), never on asking which kind of model it is.
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
from torchbasics.runs.trained import TrainedRun, shown_dataset

NAME_LENGTH = 40  # model names appear in URLs and on buttons


@dataclass
class Served:
    """One served run: its name in URLs, the trained run, and its card."""

    name: str
    trained: TrainedRun
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> Any:
        """The loaded model (a Classifier or a table model)."""
        return self.trained.model

    @property
    def takes(self) -> str:
        """What its predictions are made from: ``PICTURES`` or ``ROWS``."""
        return self.trained.takes

    def describe(self) -> dict[str, Any]:
        """What ``GET /api/models`` says about this model (no file-system paths)."""
        about = self.trained.describe()
        return {"name": self.name, **about, "card": self.card,
                "dataset": self.card.get("dataset") or about.get("dataset")}


def load_served(runs: Sequence[str | os.PathLike]) -> dict[str, Served]:
    """Load every run (a run directory or ``.pt`` file) once; keys are unique URL names.

    Raises:
        TorchbasicsError: a run cannot be loaded (the message names it).
    """
    from torchbasics.runs.kinds import open_run

    if not runs:
        raise TorchbasicsError("no runs to serve", fix="give one or more run directories")
    served: dict[str, Served] = {}
    for run in runs:
        trained = open_run(run)
        name = unique_name(url_name(Path(run)), served)
        served[name] = Served(name, trained, run_card(Path(run), trained.model))
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


def run_card(run: Path, model: Any) -> dict[str, Any]:
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
