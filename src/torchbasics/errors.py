"""The package's own error type: every bad input ends up here, never as a wrong result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TypeVar

T = TypeVar("T")


class TorchbasicsError(Exception):
    """Bad input or an unmet precondition, with what went wrong, where, and how to fix it.

    The CLI prints ``str(error)`` as one line and exits with code 2.

    Args:
        what: what is wrong, e.g. ``"bad magic number 0x00000000"``.
        where: the file, flag or setting concerned (a path is fine).
        fix: how to put it right, e.g. ``"re-download with `torchbasics data download mnist`"``.
    """

    def __init__(self, what: str, *, where: str | PathLike | None = None, fix: str | None = None):
        self.what = what
        self.where = None if where is None else str(where)
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The one-line message: ``where: what. fix``, any control character in it (a
        newline in a quoted CSV cell or a file name) written as its escape, ``\\n``."""
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            text = f"{text.rstrip('.')}. {self.fix[:1].upper()}{self.fix[1:]}"
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def lookup(table: Mapping[str, T], name: str, what: str,
           choices: Sequence[str] | None = None, *, hint: str = "") -> T:
    """``table[name]``, or the error ``unknown WHAT 'name'`` naming the closest of ``choices``
    (default: the table's keys, in order), then ``hint``."""
    try:
        return table[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise TorchbasicsError(f"unknown {what} '{name}'",
                               fix=closest(str(name), list(choices or table)) + hint) from None


def closest(name: str, choices: list[str]) -> str:
    """A hint naming the valid choice closest to ``name`` (or listing them all)."""
    import difflib

    near = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    listed = ", ".join(choices)
    return f"did you mean '{near[0]}'? (choices: {listed})" if near else f"choices: {listed}"
