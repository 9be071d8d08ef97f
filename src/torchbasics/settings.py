"""A setting's one source of truth: type, default, allowed range or choices, help text.

Training settings (:class:`torchbasics.runs.config.TrainConfig`) and model settings
(``hidden``, ``width``, ... in :mod:`torchbasics.models`) are declared as :class:`Setting`
objects. The command line builds its flags from them (:mod:`torchbasics.cli.flags`), and
:meth:`Setting.check` refuses a bad value with the same one-line error whether it came from
a flag or from Python, before anything is read or written.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torchbasics.errors import TorchbasicsError, closest

# The data a setting may be limited to: a kind of data set, or the user's own of that kind.
SCOPES = ("image", "tabular", "pictures", "table")
SCOPE_WORDS = {"image": "image data sets", "tabular": "tables",
               "pictures": "your own pictures", "table": "your own tables"}


@dataclass(frozen=True)
class SearchRange:
    """Where ``torchbasics tune`` looks for a setting's value unless told otherwise.

    A number lies between ``low`` and ``high`` (on a log scale when ``log``: rates and
    decays, whose useful values span decades), or ``around`` the recipe's own value (that
    factor below and above it: a good learning rate depends on the optimizer and model); any
    other setting takes one of ``choices``. A setting of several values (an MLP's hidden
    layers) also searches how many: ``layers`` is the fewest and most.
    """

    low: float | None = None
    high: float | None = None
    log: bool = False
    around: float | None = None
    choices: tuple[Any, ...] = ()
    layers: tuple[int, int] | None = None

    def describe(self) -> str:
        """Where it searches, in words (the documentation's table)."""
        if self.choices:
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.around is not None:
            text = f"from 1/{self.around:g} to {self.around:g} times the recipe's value"
        else:
            text = f"{self.low:g} to {self.high:g}"
        if self.log:
            text += ", log scale"
        if self.layers:
            text += f"; {self.layers[0]} to {self.layers[1]} layers where several are taken"
        return text


@dataclass(frozen=True)
class Setting:
    """What one setting may be.

    Attributes:
        type: ``int``, ``float``, ``str`` or ``bool`` (paths are ``str``).
        help: one sentence for ``--help``; the default and range are added to it.
        default: the value when neither the user nor a recipe gives one (``None``: unset).
        low, high: the allowed range (either may be ``None``: unbounded).
        low_inclusive, high_inclusive: whether ``low`` and ``high`` themselves are allowed.
        choices: the allowed values of a ``str`` setting (a callable for registries that
            are filled at import time, such as the data sets).
        applies_to: ``"image"`` or ``"tabular"`` when only that kind of data set uses it,
            ``"pictures"`` or ``"table"`` when only the user's own (a folder of pictures, a
            CSV file) does; giving it elsewhere is refused rather than ignored.
        group: the ``--help`` section of its flag.
        metavar: the placeholder shown in ``--help``.
        flag: whether the command line offers it as ``--name`` (some are set otherwise).
        parse: how the command line reads it, when not by ``type`` (e.g. ``5m`` -> 300.0).
        words: values in words a number setting also takes (``--lr auto``); the command
            line then reads a number or one of them (see :meth:`reader`).
        many: one value or several (``--hidden 256 128``): a list of values of ``type``,
            each in the range; one value given alone is kept as it is (not a list).
        search: where ``torchbasics tune`` searches it (``None``: it does not, unless asked
            with ``--search``).
    """

    type: type
    help: str
    default: Any = None
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    applies_to: str | None = None
    group: str = "optimization"
    metavar: str | None = None
    flag: bool = True
    parse: Callable[[str], Any] | None = None  # the command line's text -> value
    words: tuple[str, ...] = ()
    many: bool = False
    search: SearchRange | None = None

    def reader(self) -> Callable[[str], Any]:
        """How the command line reads the setting's text: ``parse``, else a number or one
        of ``words``, else ``type``."""
        if self.parse is not None:
            return self.parse
        return number_or(*self.words) if self.words else self.type

    def allowed_choices(self) -> list[str] | None:
        """The choices as a list (calling the callable), or ``None`` when any value goes."""
        if self.choices is None:
            return None
        return list(self.choices() if callable(self.choices) else self.choices)

    def range_text(self) -> str:
        """The allowed range in words, e.g. ``"at least 1"`` or ``"above 0 and below 1"``."""
        parts = []
        if self.low is not None:
            parts.append(f"{'at least' if self.low_inclusive else 'above'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'at most' if self.high_inclusive else 'below'} {self.high:g}")
        return " and ".join(parts)

    def check(self, where: str, value: Any) -> None:
        """Refuse ``value`` unless it has this setting's type and lies in its range.

        Args:
            where: how to name the setting in the error, e.g. ``"--lr"``.

        Raises:
            TorchbasicsError: ``"--lr: must be above 0, got nan"`` and the like.
        """
        if value is None or (isinstance(value, str) and value in self.words):
            return
        if self.many and isinstance(value, (list, tuple)):
            if not value:
                raise TorchbasicsError("needs at least one value", where=where)
            for one in value:
                self.check(where, one)
            return
        _check_type(self.type, where, value)
        choices = self.allowed_choices()
        if choices is not None and value not in choices:
            raise TorchbasicsError(f"unknown value '{value}'", where=where,
                                   fix=closest(str(value), choices))
        if self.type in (int, float):
            self._check_range(where, value)

    def _check_range(self, where: str, value: float) -> None:
        if not math.isfinite(value):
            raise TorchbasicsError(f"must be a finite number, got {value}", where=where)
        too_low = self.low is not None and (value < self.low or (
            value == self.low and not self.low_inclusive))
        too_high = self.high is not None and (value > self.high or (
            value == self.high and not self.high_inclusive))
        if too_low or too_high:
            raise TorchbasicsError(f"must be {self.range_text()}, got {value}", where=where)


def _check_type(kind: type, where: str, value: Any) -> None:
    """Refuse a value of the wrong type (``True`` is not a number; ``3`` is a float)."""
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise TorchbasicsError(f"must be {_type_words(kind)}, got {value!r}", where=where)


def _type_words(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number",
            str: "a text"}.get(kind, kind.__name__)


def parse_duration(text: str) -> float:
    """Seconds from ``"300"``, ``"300s"``, ``"5m"``, ``"1.5h"`` (the unit is optional)."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1].lower()) if text[-1:].isalpha() else (text, "s")
    try:
        if unit not in units:
            raise ValueError(unit)
        return float(number) * units[unit]
    except ValueError:
        raise TorchbasicsError(f"not a duration: '{text}'",
                               fix="write seconds, minutes or hours: 300, 300s, 5m or 1h") from None


def number_or(*words: str) -> Callable[[str], float | str]:
    """A command-line reader of a number that also takes ``words`` (e.g. ``auto``)."""

    def read(text: str) -> float | str:
        if text in words:
            return text
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number or {' or '.join(words)}, got '{text}'") from None

    read.__name__ = "number"  # what argparse names in its error
    return read


def comma_list(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``: a list of names on the command line."""
    return [part.strip() for part in text.split(",") if part.strip()]


def setting(kind: type, help: str, **options: Any) -> Any:
    """A dataclass field declared by a :class:`Setting`; its value is ``None`` until set.

    ``None`` means "not given": a recipe, then ``Setting.default``, fills it in when the
    configuration is resolved.
    """
    return dataclasses.field(default=None, metadata={"setting": Setting(kind, help, **options)})


def settings_of(cls: type) -> dict[str, Setting]:
    """Field name -> :class:`Setting` of a dataclass declared with :func:`setting`."""
    return {field.name: field.metadata["setting"] for field in dataclasses.fields(cls)
            if "setting" in field.metadata}


def flag_name(name: str) -> str:
    """The command-line flag of a setting: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")
