"""A table to train on, read and understood: its cells, what each column is, the task.

Two ways in, one result (:class:`TableData`): a table whose columns are declared (the
shipped bonus data: three numeric columns with their rules, the bonus to predict), and any
CSV, whose columns and task are inferred (:mod:`.schema`) and can be overridden.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from torchbasics.errors import TorchbasicsError
from torchbasics.tabular.csvfile import CsvTable, columns_text, read_csv, shorten
from torchbasics.tabular.schema import (
    NUMERIC,
    REGRESSION,
    Choices,
    ColumnPlan,
    TargetPlan,
    plan_columns,
    plan_target,
)
from torchbasics.tabular.table import Column


@dataclass
class TableData:
    """A table read for training: its cells, the plan for each column, the target."""

    table: CsvTable
    plans: list[ColumnPlan]
    target: TargetPlan
    rules: dict[str, Column] = field(default_factory=dict)  # declared columns' rules
    declared: bool = False  # the columns were declared, not inferred

    @property
    def rows(self) -> np.ndarray:
        """The rows that have a target value (the others are left out)."""
        return self.target.rows

    def lines(self) -> list[str]:
        """What was decided about the table, for the command's output and report.md."""
        target = self.target
        dropped = len(self.table) - len(target.rows)
        lines = [f"target '{target.name}': {target.task} ({target.reason})"
                 + (f"; {dropped:,} rows without a target left out" if dropped else "")]
        if self.declared:
            return lines
        width = max(len(plan.name) for plan in self.plans)
        lines += [f"  {plan.name:<{width}}  {plan.kind:<11}  {plan.reason}"
                  for plan in self.plans]
        return lines


def declared_table(path: str | os.PathLike, features: Sequence[Column],
                   target: Column) -> TableData:
    """A table of exactly these numeric columns (each cell checked against its rule later,
    when encoded), predicting ``target``.

    Raises:
        TorchbasicsError: a missing or an extra column (named), or what :func:`read_csv`
            refuses.
    """
    table = read_csv(path)
    expected = [*(column.name for column in features), target.name]
    table.require(expected, fix=f"the CSV needs the columns {', '.join(expected)}")
    extra = [name for name in table.names if name not in expected]
    if extra:
        raise TorchbasicsError(f"unexpected {columns_text(extra)}: the columns must be exactly "
                               f"{', '.join(expected)}", where=path,
                               fix="remove the other columns, or train on it as your own "
                               "table: --dataset FILE.csv --target NAME")
    plans = [ColumnPlan(column.name, NUMERIC, "declared") for column in features]
    rules = {column.name: column for column in (*features, target)}
    target_plan = dataclasses.replace(plan_target(table, target.name, REGRESSION),
                                      reason="declared")
    return TableData(table, plans, target_plan, rules, declared=True)


def inferred_table(path: str | os.PathLike, target: str | None,
                   choices: Choices) -> TableData:
    """Any CSV: every column's kind and the task inferred, as ``choices`` allow.

    Raises:
        TorchbasicsError: no ``--target`` given, or what the reading and planning refuse.
    """
    table = read_csv(path)
    if target is None:
        raise TorchbasicsError("which column should the model predict?", where="--target",
                               fix="give --target NAME; the columns are "
                               + ", ".join(map(shorten, table.names)))
    if len(table.names) < 2:
        raise TorchbasicsError(f"the table has one column only ({shorten(table.names[0])})",
                               where=path, fix="a model needs a column to predict and at "
                               "least one to predict it from; is the delimiter a comma, a "
                               "semicolon or a tab?")
    target_plan = plan_target(table, target, choices.task)
    return TableData(table, plan_columns(table, target, choices), target_plan)
