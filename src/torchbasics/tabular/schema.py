"""A table's columns as a model sees them: what each holds, and how it becomes numbers.

Reading a table is two steps, as scikit-learn's ``ColumnTransformer`` does them:

1. :func:`plan_columns` and :func:`plan_target` look at every cell and decide what each
   column is (numeric, categorical, or ignored, each with the reason shown to the user)
   and what the task is (regression or classification).
2. :meth:`TableSchema.fit` takes the statistics from the training rows only, and
   :meth:`TableSchema.encode` turns any rows with these columns into the model's input:

   - a numeric column: standardized with the training mean and standard deviation; a
     missing value becomes the training median, and, if the column had missing values in
     training, an extra 0/1 input says so;
   - a categorical column: one 0/1 input per value seen in training, plus one for "missing"
     if training had missing values; a value never seen in training (or missing, when
     training had none) sets none of them, so the model answers from the other columns;
   - a regression target: standardized too (predictions are turned back into its units);
     a classification target: the index of its class, classes in :func:`class_order`.

The fitted schema is plain data (:meth:`TableSchema.to_dict`): the checkpoint keeps it, so
``predict``, ``evaluate``, ``serve`` and ``export`` encode new rows exactly as training did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from torchbasics.errors import TorchbasicsError
from torchbasics.samples.classes import class_order
from torchbasics.tabular.csvfile import CsvTable, shorten
from torchbasics.tabular.table import Column

NUMERIC, CATEGORICAL, IGNORED = "numeric", "categorical", "ignored"
REGRESSION, CLASSIFICATION = "regression", "classification"
TASKS = (REGRESSION, CLASSIFICATION)
# Cells that mean "no value" (compared in lower case), as spreadsheets and pandas write them.
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
FEW_CLASSES = 10  # a numeric target of at most this many distinct whole numbers: classes
MAX_LEVELS = 100  # a text column with more distinct values is not one-hot encoded
STRAY_SHARE = 0.05  # a column this close to all numbers holds stray words, not categories
MISSING_LEVEL = "(missing)"


def is_missing(cell: str) -> bool:
    """Whether a cell holds no value."""
    return cell.lower() in MISSING


@dataclass(frozen=True)
class ColumnPlan:
    """What one column is taken for, and why (shown to the user)."""

    name: str
    kind: str  # NUMERIC, CATEGORICAL or IGNORED
    reason: str


@dataclass(frozen=True)
class Choices:
    """What the user said about the columns (``--features``, ``--numeric``, ...)."""

    features: tuple[str, ...] | None = None  # None: every column but the target
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    task: str | None = None


def numbers(cells: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(values, parsed)``: each cell as float64 (NaN when missing or not a number), and
    whether it was a number. Missing cells are neither."""
    values = np.full(len(cells), np.nan)
    parsed = np.zeros(len(cells), dtype=bool)
    for index, cell in enumerate(cells):
        if is_missing(cell):
            continue
        if "_" in cell:  # float() reads "1_000" as Python does; a table's cell is not Python
            continue
        try:
            values[index] = float(cell)
            parsed[index] = True
        except ValueError:
            pass
    return values, parsed


def plan_columns(table: CsvTable, target: str, choices: Choices) -> list[ColumnPlan]:
    """What each column but ``target`` is, from its cells and the user's choices.

    Raises:
        TorchbasicsError: an unknown column named in a choice, a column named twice, a
            forced-numeric column holding a word, or an almost-numeric column with a stray
            word (named by row and column: fix the cell, or say ``--categorical``).
    """
    _check_choices(table, target, choices)
    wanted = set(choices.features) if choices.features is not None else None
    plans = []
    for name in table.names:
        if name == target:
            continue
        if wanted is not None and name not in wanted:
            plans.append(ColumnPlan(name, IGNORED, "not in --features"))
        elif name in choices.ignore:
            plans.append(ColumnPlan(name, IGNORED, "--ignore"))
        else:
            plans.append(_plan(table, name, choices))
    return plans


def _check_choices(table: CsvTable, target: str, choices: Choices) -> None:
    named = {"--features": choices.features or (), "--numeric": choices.numeric,
             "--categorical": choices.categorical, "--ignore": choices.ignore}
    for flag, names in named.items():
        unknown = [name for name in names if name not in table.columns]
        if unknown:
            table.require(unknown, fix=f"{flag} takes the table's column names")
        if target in names:
            raise TorchbasicsError(f"{shorten(target)} is the target", where=flag,
                                   fix="name feature columns only")
    twice = set(choices.numeric) & set(choices.categorical) | (
        set(choices.numeric) | set(choices.categorical)) & set(choices.ignore)
    if twice:
        raise TorchbasicsError(f"{', '.join(map(shorten, sorted(twice)))} given two kinds",
                               fix="name each column in one of --numeric, --categorical, "
                               "--ignore")


def _plan(table: CsvTable, name: str, choices: Choices) -> ColumnPlan:
    cells = table.columns[name]
    values, parsed = numbers(cells)
    present = int(sum(not is_missing(cell) for cell in cells))
    if present == 0:
        return ColumnPlan(name, IGNORED, "every cell is empty")
    if name in choices.categorical:
        return _categorical(name, cells, "--categorical")
    words = present - int(parsed.sum())
    if name in choices.numeric or (words and words <= STRAY_SHARE * present):
        if words:  # a number column with a word in it: report the cell, guess nothing
            _refuse_cell(table, name, cells, parsed, forced=name in choices.numeric)
        return _numeric(table, name, values, "--numeric")
    if words:
        return _categorical(name, cells, "text values")
    return _numeric(table, name, values, "numbers")


def _refuse_cell(table: CsvTable, name: str, cells: Sequence[str], parsed: np.ndarray,
                 *, forced: bool) -> None:
    row = next(i for i, cell in enumerate(cells) if not parsed[i] and not is_missing(cell))
    fix = ("fix or empty the cell" if forced else
           f"fix or empty the cell, or pass --categorical {name} if its values are names")
    raise TorchbasicsError(f"{shorten(cells[row])} is not a number, and the rest of the "
                           "column is", where=table.where(row, name), fix=fix)


def _numeric(table: CsvTable, name: str, values: np.ndarray, why: str) -> ColumnPlan:
    present = values[~np.isnan(values)]
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        raise TorchbasicsError(f"{table.columns[name][infinite[0]]} is not a finite number",
                               where=table.where(int(infinite[0]), name),
                               fix="give a number, or leave the cell empty")
    distinct = np.unique(present)
    if len(distinct) == 1:
        return ColumnPlan(name, IGNORED, f"constant ({distinct[0]:g} in every row)")
    whole = bool(np.all(distinct == np.round(distinct)))
    if (whole and len(distinct) == len(values) > 2
            and distinct[-1] - distinct[0] == len(distinct) - 1):
        return ColumnPlan(name, IGNORED, "a row number or ID (a different whole number in "
                          "each row, counting up); --numeric keeps it")
    return ColumnPlan(name, NUMERIC, why)


def _categorical(name: str, cells: Sequence[str], why: str) -> ColumnPlan:
    distinct = {cell for cell in cells if not is_missing(cell)}
    if len(distinct) == 1:
        return ColumnPlan(name, IGNORED, f"constant ({shorten(next(iter(distinct)))} in "
                          "every row)")
    if why != "--categorical":
        if len(distinct) == len(cells) > 2:
            return ColumnPlan(name, IGNORED, "unique in every row (an ID or a name); "
                              "--categorical keeps it")
        if len(distinct) > MAX_LEVELS:
            return ColumnPlan(name, IGNORED, f"{len(distinct):,} distinct values, too many to "
                              "one-hot encode; --categorical keeps it")
    return ColumnPlan(name, CATEGORICAL, f"{why}, {len(distinct)} values")


@dataclass(frozen=True)
class TargetPlan:
    """The column to predict: the task, why, and (for classification) its classes."""

    name: str
    task: str
    reason: str
    classes: tuple[str, ...] = ()
    warning: str = ""  # a guess the user should know about, naming --task
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # rows kept


def plan_target(table: CsvTable, target: str, task: str | None = None) -> TargetPlan:
    """The task ``target`` asks for: given, or inferred from its cells (see
    docs/guides/08-own-table.md, "What the task is").

    Rows whose target is missing are left out (``rows`` lists the others).

    Raises:
        TorchbasicsError: no such column, every target cell missing, a regression target
            with a word or an infinite value in it, one class only, a constant target.
    """
    table.require([target], fix="name the column to predict with --target")
    cells = table.columns[target]
    kept = np.flatnonzero([not is_missing(cell) for cell in cells])
    if len(kept) == 0:
        raise TorchbasicsError(f"every cell of the target {shorten(target)} is empty",
                               where=table.source, fix="choose another --target")
    values, parsed = numbers([cells[i] for i in kept])
    if task is None:
        task, reason, warning = _infer_task(values, parsed, target)
    else:
        reason, warning = "--task", ""
    if task == REGRESSION:
        return _regression_target(table, target, cells, kept, values, parsed, reason)
    classes, numeric = class_order(cells[i] for i in kept)
    if len(classes) < 2:
        raise TorchbasicsError(f"the target {shorten(target)} has one class only "
                               f"({shorten(classes[0])})", where=table.source,
                               fix="a classifier needs at least two classes in the data")
    note = ", ordered as numbers" if numeric else ""
    return TargetPlan(target, CLASSIFICATION, f"{reason}: {len(classes)} classes{note}",
                      tuple(classes), warning, kept)


def _infer_task(values: np.ndarray, parsed: np.ndarray, target: str) -> tuple[str, str, str]:
    """``(task, reason, warning)`` from the target's present cells."""
    if not parsed.all():
        return CLASSIFICATION, "text values", ""
    distinct = np.unique(values)
    if len(distinct) <= FEW_CLASSES and np.all(distinct == np.round(distinct)):
        shown = ", ".join(f"{value:g}" for value in distinct[:FEW_CLASSES])
        return (CLASSIFICATION, f"only {len(distinct)} distinct whole numbers ({shown})",
                f"the target '{target}' holds only {len(distinct)} distinct whole numbers, "
                f"so it is taken for classes; pass --task regression to predict it as a "
                "number")
    return REGRESSION, "numbers", ""


def _regression_target(table: CsvTable, target: str, cells: Sequence[str], kept: np.ndarray,
                       values: np.ndarray, parsed: np.ndarray, reason: str) -> TargetPlan:
    bad = np.flatnonzero(~parsed | ~np.isfinite(values))
    if len(bad):
        row = int(kept[bad[0]])
        raise TorchbasicsError(f"{shorten(cells[row])} is not a finite number, and a "
                               "regression target must be one", where=table.where(row, target),
                               fix="fix the cell, or pass --task classification")
    if np.all(values == values[0]):
        raise TorchbasicsError(f"the target {shorten(target)} is {values[0]:g} in every row",
                               where=table.source, fix="there is nothing to predict: choose "
                               "another --target")
    return TargetPlan(target, REGRESSION, reason, (), "", kept)


@dataclass(frozen=True)
class NumericFeature:
    """A numeric input: standardized with the training statistics, missing -> median.

    ``rule`` (declared tables such as the bonus): the values it may take; a value outside
    it is refused rather than predicted from. ``alias``: a short name for the command line.
    """

    name: str
    mean: float
    std: float
    median: float
    indicator: bool  # training had missing values: an extra 0/1 input says "missing"
    rule: Column | None = None

    def width(self) -> int:
        return 1 + self.indicator

    def names(self) -> list[str]:
        return [self.name] + [f"{self.name} missing"] * self.indicator


@dataclass(frozen=True)
class CategoricalFeature:
    """A categorical input: one 0/1 input per level seen in training (and for "missing")."""

    name: str
    levels: tuple[str, ...]
    missing_level: bool

    def width(self) -> int:
        return len(self.levels) + self.missing_level

    def names(self) -> list[str]:
        return [f"{self.name}={level}" for level in self.levels] + (
            [f"{self.name} missing"] if self.missing_level else [])


Feature = NumericFeature | CategoricalFeature


@dataclass(frozen=True)
class Target:
    """The column to predict: regression (``mean``/``std`` to standardize) or classes."""

    name: str
    task: str
    classes: tuple[str, ...] = ()
    mean: float = 0.0
    std: float = 1.0
    rule: Column | None = None


@dataclass
class Encoded:
    """Rows as model input, and what had to be filled in on the way."""

    features: np.ndarray  # (N, D) float32
    missing: dict[str, int]  # column -> cells filled in because they were missing
    unseen: dict[str, int]  # categorical column -> cells with a value training never saw

    def notes(self) -> str:
        """One line about what was filled in, or ``""``."""
        parts = []
        for what, counts in (("missing", self.missing),
                             ("never seen in training", self.unseen)):
            if counts:
                cells = sum(counts.values())
                where = ", ".join(f"{name} {count:,}" for name, count in counts.items())
                parts.append(f"{cells:,} value{'s' * (cells != 1)} {what} ({where})")
        return "; ".join(parts)


@dataclass(frozen=True)
class TableSchema:
    """The fitted columns of a table model (see the module docstring)."""

    features: tuple[Feature, ...]
    target: Target
    ignored: tuple[tuple[str, str], ...] = ()  # (column, why), for reports

    @property
    def task(self) -> str:
        return self.target.task

    @property
    def width(self) -> int:
        """Model inputs per row."""
        return sum(feature.width() for feature in self.features)

    @property
    def outputs(self) -> int:
        """Model outputs: 1 for regression, one per class."""
        return 1 if self.task == REGRESSION else len(self.target.classes)

    def input_names(self) -> list[str]:
        """The name of each model input, e.g. ``age``, ``age missing``, ``region=north``."""
        return [name for feature in self.features for name in feature.names()]

    @classmethod
    def fit(cls, table: CsvTable, plans: Sequence[ColumnPlan], target: TargetPlan,
            train_rows: np.ndarray, rules: dict[str, Column] | None = None) -> TableSchema:
        """The statistics of the training rows ``train_rows`` (indices into ``table``)."""
        rules = rules or {}
        features = tuple(_fit_feature(table.columns[plan.name], plan, train_rows,
                                      rules.get(plan.name))
                         for plan in plans if plan.kind != IGNORED)
        if not features:
            raise TorchbasicsError("no column is left to learn from", where=table.source,
                                   fix="see the columns listed above: --numeric or "
                                   "--categorical keeps an ignored one")
        ignored = tuple((plan.name, plan.reason) for plan in plans if plan.kind == IGNORED)
        return cls(features, _fit_target(table, target, train_rows, rules.get(target.name)),
                   ignored)

    def encode(self, table: CsvTable, rows: np.ndarray | None = None) -> Encoded:
        """The model input ``(N, width)`` of ``rows`` of ``table`` (default: every row).

        Raises:
            TorchbasicsError: a missing column, a word in a numeric column, or a value a
                column's rule refuses, named by row and column.
        """
        table.require([feature.name for feature in self.features],
                      fix="the table needs the columns the model was trained on: "
                      + ", ".join(feature.name for feature in self.features))
        rows = np.arange(len(table)) if rows is None else rows
        parts, missing, unseen = [], {}, {}
        for feature in self.features:
            cells = [table.columns[feature.name][row] for row in rows]
            if isinstance(feature, NumericFeature):
                part, gaps = _encode_numeric(feature, cells, table, rows)
                new = 0
            else:
                part, gaps, new = _encode_categorical(feature, cells)
            parts.append(part)
            if gaps:
                missing[feature.name] = gaps
            if new:
                unseen[feature.name] = new
        features = np.concatenate(parts, axis=1).astype(np.float32)
        return Encoded(features, missing, unseen)

    def encode_target(self, table: CsvTable, rows: np.ndarray) -> np.ndarray:
        """The target of ``rows``: standardized float32 ``(N, 1)``, or int64 class indices."""
        cells = [table.columns[self.target.name][row] for row in rows]
        if self.task == CLASSIFICATION:
            index = {name: label for label, name in enumerate(self.target.classes)}
            unknown = [i for i, cell in enumerate(cells) if cell not in index]
            if unknown:
                raise TorchbasicsError(
                    f"class {shorten(cells[unknown[0]])} was not among the training classes",
                    where=table.where(int(rows[unknown[0]]), self.target.name),
                    fix=f"the model knows {', '.join(map(shorten, self.target.classes))}")
            return np.array([index[cell] for cell in cells], dtype=np.int64)
        values = _checked_numbers(cells, table, rows, self.target.name, self.target.rule)
        return ((values - self.target.mean) / self.target.std).astype(np.float32)[:, None]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (``weights_only`` loads it)."""
        return {"features": [_feature_dict(feature) for feature in self.features],
                "target": _with_rule(asdict(self.target), self.target.rule),
                "ignored": [list(pair) for pair in self.ignored]}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TableSchema:
        """Rebuild from :meth:`to_dict` output."""
        features = tuple(_feature_from(entry) for entry in values["features"])
        target = dict(values["target"])
        target["classes"] = tuple(target.get("classes", ()))
        target["rule"] = Column.from_dict(target["rule"]) if target.get("rule") else None
        return cls(features, Target(**target),
                   tuple((str(a), str(b)) for a, b in values.get("ignored", [])))


def _fit_feature(cells: Sequence[str], plan: ColumnPlan, train_rows: np.ndarray,
                 rule: Column | None) -> Feature:
    train = [cells[row] for row in train_rows]
    absent = any(is_missing(cell) for cell in train)
    if plan.kind == CATEGORICAL:
        levels, _ = class_order(cell for cell in train if not is_missing(cell))
        return CategoricalFeature(plan.name, tuple(levels), absent)
    values, _ = numbers(train)
    present = values[~np.isnan(values)]
    if len(present) == 0:  # every training cell missing: it teaches nothing
        present = np.zeros(1)
    std = float(present.std())
    return NumericFeature(plan.name, float(present.mean()), std if std > 0 else 1.0,
                          float(np.median(present)), absent, rule)


def _fit_target(table: CsvTable, target: TargetPlan, train_rows: np.ndarray,
                rule: Column | None) -> Target:
    if target.task == CLASSIFICATION:
        return Target(target.name, CLASSIFICATION, target.classes, rule=rule)
    values, _ = numbers([table.columns[target.name][row] for row in train_rows])
    std = float(values.std())
    return Target(target.name, REGRESSION, (), float(values.mean()), std if std > 0 else 1.0,
                  rule)


def _checked_numbers(cells: Sequence[str], table: CsvTable, rows: np.ndarray, name: str,
                     rule: Column | None) -> np.ndarray:
    """Cells that must be numbers (and keep ``rule``), NaN where missing."""
    values, parsed = numbers(cells)
    for index, cell in enumerate(cells):
        if is_missing(cell):
            continue
        problem = (f"{shorten(cell)} is not a number" if not parsed[index]
                   else f"{cell} is not a finite number" if not math.isfinite(values[index])
                   else rule.problem(values[index]) if rule is not None else None)
        if problem:
            allowed = rule.allowed() if rule is not None else "a number"
            raise TorchbasicsError(problem, where=table.where(int(rows[index]), name),
                                   fix=f"give {allowed}")
    return values


def _encode_numeric(feature: NumericFeature, cells: Sequence[str], table: CsvTable,
                    rows: np.ndarray) -> tuple[np.ndarray, int]:
    values = _checked_numbers(cells, table, rows, feature.name, feature.rule)
    absent = np.isnan(values)
    standardized = (np.where(absent, feature.median, values) - feature.mean) / feature.std
    columns = [standardized] + ([absent.astype(np.float64)] if feature.indicator else [])
    return np.stack(columns, axis=1), int(absent.sum())


def _encode_categorical(feature: CategoricalFeature,
                        cells: Sequence[str]) -> tuple[np.ndarray, int, int]:
    slots = {level: index for index, level in enumerate(feature.levels)}
    out = np.zeros((len(cells), feature.width()))
    gaps = new = 0
    for row, cell in enumerate(cells):
        if is_missing(cell):
            gaps += 1
            if feature.missing_level:
                out[row, len(feature.levels)] = 1.0
        elif cell in slots:
            out[row, slots[cell]] = 1.0
        else:
            new += 1
    return out, gaps, new


def _with_rule(values: dict[str, Any], rule: Column | None) -> dict[str, Any]:
    values = dict(values)
    values["rule"] = rule.to_dict() if rule is not None else None
    for key, value in values.items():
        if isinstance(value, tuple):
            values[key] = list(value)
    return values


def _feature_dict(feature: Feature) -> dict[str, Any]:
    kind = NUMERIC if isinstance(feature, NumericFeature) else CATEGORICAL
    return {"kind": kind, **_with_rule(asdict(feature), getattr(feature, "rule", None))}


def _feature_from(entry: dict[str, Any]) -> Feature:
    values = {key: value for key, value in entry.items() if key != "kind"}
    if entry["kind"] == NUMERIC:
        values["rule"] = Column.from_dict(values["rule"]) if values.get("rule") else None
        return NumericFeature(**values)
    values.pop("rule", None)
    values["levels"] = tuple(values["levels"])
    return CategoricalFeature(**values)
