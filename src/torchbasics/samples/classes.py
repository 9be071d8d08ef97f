"""The order of a user's classes: the one rule for class folders, list-file labels and the
classes of a table's target column.

Classes are indexed in sorted order, so that the same names always give the same model
outputs. Names that are all numbers are sorted as numbers ("2" before "10"), where sorting
them as text would put "10" before "2" and make a digit's folder "7" class 5.
"""

from __future__ import annotations

from collections.abc import Iterable


def _number(name: str) -> float | None:
    try:
        value = float(name)
    except ValueError:
        return None
    return value if value == value else None  # NaN is not a class number


def class_order(names: Iterable[str]) -> tuple[list[str], bool]:
    """The distinct ``names`` in class order, and whether they were ordered as numbers."""
    distinct = sorted(set(names))
    numbers = [_number(name) for name in distinct]
    if distinct and all(number is not None for number in numbers):
        return [name for _, name in sorted(zip(numbers, distinct, strict=True))], True
    return distinct, False
