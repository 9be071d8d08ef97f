"""A table run's data: its table read and planned, split, and encoded for the model.

What training (:mod:`.tables`) and evaluation (:mod:`.table_results`) both need: a run's
test rows are found again by reading its table and splitting it as its settings say, so
the split lives here, below both, and is the same every time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from torchbasics.data.registry import DatasetSpec, get_dataset
from torchbasics.runs.config import TrainConfig
from torchbasics.tabular.prepare import split_rows
from torchbasics.tabular.schema import CLASSIFICATION, Choices, TableSchema
from torchbasics.tabular.source import TableData

SPLITS = ("train", "val", "test")


@dataclass
class TableParts:
    """A table encoded for training: each split's model inputs and targets."""

    schema: TableSchema
    rows: dict[str, np.ndarray]  # split -> row indices into the table
    inputs: dict[str, torch.Tensor]  # split -> (N, width) float32
    targets: dict[str, torch.Tensor]  # split -> (N, 1) float32, or (N,) int64 classes
    notes: dict[str, str]  # split -> what had to be filled in, or ""


def choices_of(config: TrainConfig) -> Choices:
    """What the user said about the table's columns."""
    def names(values: list[str] | None) -> tuple[str, ...]:
        return tuple(values or ())

    return Choices(features=tuple(config.features) if config.features is not None else None,
                   numeric=names(config.numeric), categorical=names(config.categorical),
                   ignore=names(config.ignore), task=config.task)


def read_table(config: TrainConfig) -> tuple[TrainConfig, DatasetSpec, TableData]:
    """The table ``config`` names, read and planned; the config with its task set."""
    spec = get_dataset(config.dataset or TrainConfig.default_dataset())
    data = spec.load_table(config.target, choices_of(config))
    if spec.own and config.task is None:  # recorded, so a rerun reads the table alike
        config = dataclasses.replace(config, task=data.target.task)
    return config, spec, data


def split_of(data: TableData, config: TrainConfig) -> dict[str, np.ndarray]:
    """Split name -> the table's rows in it: the rows with a target, split as ``config``
    says (seeded, stratified for classes), the same every time."""
    rows = data.rows
    labels = None
    if data.target.task == CLASSIFICATION:
        index = {name: label for label, name in enumerate(data.target.classes)}
        labels = np.array([index[data.table.columns[data.target.name][row]] for row in rows])
    parts = split_rows(len(rows), test_fraction=config.test_fraction,
                       val_fraction=config.val_fraction, seed=config.seed, labels=labels,
                       class_names=data.target.classes or None)
    return {name: rows[part] for name, part in zip(SPLITS, parts, strict=True)}


def encode_parts(data: TableData, config: TrainConfig) -> TableParts:
    """Split the rows (:func:`split_of`), fit the schema on the training rows, and encode
    every split."""
    split = split_of(data, config)
    schema = TableSchema.fit(data.table, data.plans, data.target, split["train"], data.rules)
    encoded = {name: schema.encode(data.table, part) for name, part in split.items()}
    return TableParts(
        schema, split, {name: torch.from_numpy(e.features) for name, e in encoded.items()},
        {name: torch.from_numpy(schema.encode_target(data.table, part))
         for name, part in split.items()},
        {name: e.notes() for name, e in encoded.items()})
