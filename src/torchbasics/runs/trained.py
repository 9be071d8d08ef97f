"""A trained run opened for use: the one interface that every command calls.

``predict``, ``evaluate``, ``explain``, ``export`` and ``serve`` each take a run directory
or a checkpoint file and do their job through a :class:`TrainedRun`, never by asking what
kind of model it holds. Each kind of model implements the interface once:
:class:`~torchbasics.runs.trained_images.TrainedImages` for image classifiers and
:class:`~torchbasics.runs.trained_table.TrainedTable` for table models;
:func:`~torchbasics.runs.kinds.open_run` is the one place that picks between them. A new
kind of data is one more subclass; a new command is one more method here.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from torchbasics.errors import TorchbasicsError
from torchbasics.inference.formats import DEFAULT_OPSET, GRAPHS

PICTURES, ROWS = "pictures", "rows"  # what a model's predictions are made from


@dataclass(frozen=True)
class PredictRequest:
    """What ``predict`` was asked: the files, and how to answer."""

    inputs: Sequence[Path] = ()  # pictures or folders of them, or one CSV of rows
    values: Sequence[str] = ()  # COLUMN=VALUE pairs: one row given on the command line
    top: int = 3  # classes listed per picture
    json: bool = False  # answer in JSON
    show: Path | None = None  # where to draw the pictures beside what the model saw
    out: Path | None = None  # where the answer is written (else standard output)


@dataclass
class Predicted:
    """What ``predict`` answers: the text, what it says when written to a file, notes."""

    text: str
    written: str  # e.g. "12 predictions", after "wrote OUT: "
    notes: list[str] = field(default_factory=list)  # said on standard error
    as_csv: bool = False  # the text is a CSV table (written to --out or printed)
    figure: Callable[[], None] | None = None  # draws --show, after the answer is written


@dataclass(frozen=True)
class EvaluateRequest:
    """What ``evaluate`` was asked: which rows or pictures, where from, on which device."""

    split: str = "test"
    list_path: str | os.PathLike | None = None  # a list file of pictures
    csv: str | os.PathLike | None = None  # a table of rows with the target
    data_dir: str | os.PathLike | None = None  # searched first for a registered data set
    device: str = "auto"


@dataclass(frozen=True)
class ExplainRequest:
    """What ``explain`` was asked (its defaults are :func:`~.explain.explain_run`'s)."""

    checked: int  # test pictures the sanity checks run on
    steps: int  # Integrated Gradients' first integration points
    pictures: Sequence[str | os.PathLike] = ()  # pictures to explain (image models)
    seed: int = 0
    log: Callable[[str], None] = print


@dataclass(frozen=True)
class ExportRequest:
    """What ``export`` was asked."""

    format: str = "onnx"
    graph: str = GRAPHS[0]
    opset: int = DEFAULT_OPSET


@dataclass
class Exported:
    """An exported file, what was written, and each runtime's largest difference from
    PyTorch on the check inputs (described in ``checked_on``)."""

    path: Path
    lines: list[str]
    differences: dict[str, float]
    checked_on: str


class TrainedRun(ABC):
    """A trained model and the checkpoint it came from, with everything a command does
    with it (see the module docstring).

    Args:
        model: what :func:`~torchbasics.inference.loading.load` returned for the checkpoint.
        checkpoint: the checkpoint file; its folder is where results are written.
    """

    kind: ClassVar[str]  # the checkpoint's kind of model: "image" or "table"
    takes: ClassVar[str]  # what predictions are made from: PICTURES or ROWS

    def __init__(self, model: Any, checkpoint: Path):
        self.model = model
        self.checkpoint = checkpoint

    @property
    def run_dir(self) -> Path:
        """The folder of the checkpoint: the run directory, where results go."""
        return self.checkpoint.parent

    @property
    def checkpoint_name(self) -> str:
        """The checkpoint's file name, e.g. ``best.pt``."""
        return self.checkpoint.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.checkpoint}, {self.model!r})"

    @abstractmethod
    def predict(self, request: PredictRequest) -> Predicted:
        """Predictions for the files or values of ``request``, as text."""

    @abstractmethod
    def evaluate(self, request: EvaluateRequest) -> dict[str, Any]:
        """Evaluate on held-out data; write the figures and ``evaluation.json``."""

    @abstractmethod
    def evaluation_lines(self, result: dict[str, Any]) -> list[str]:
        """What ``evaluate`` prints of the ``result`` :meth:`evaluate` gave."""

    @abstractmethod
    def explain(self, out: Path, request: ExplainRequest) -> dict[str, Any]:
        """Write the figures into ``out``; the facts for ``explain.json``."""

    @classmethod
    @abstractmethod
    def explanation_lines(cls, result: dict[str, Any]) -> list[str]:
        """What ``explain`` prints of ``explain.json``."""

    @abstractmethod
    def export(self, out: Path, request: ExportRequest) -> Exported:
        """Write the model as a file that runs without torchbasics, and check it."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the page and ``GET /api/models`` show of the model (never a path)."""


def shown_dataset(dataset: str | None) -> str | None:
    """What a stranger may see of the data a model was trained on: a shipped data set's
    name as it is, one's own data (a CSV or a folder) by its file or folder name only,
    never the path that would tell how the disk is laid out."""
    if not dataset:
        return dataset
    return re.split(r"[/\\]", dataset.rstrip("/\\"))[-1] or dataset


def refuse(what: str, run: TrainedRun, fix: str) -> TorchbasicsError:
    """The error for a request this kind of model cannot answer, naming the checkpoint."""
    return TorchbasicsError(what, where=str(run.checkpoint), fix=fix)
