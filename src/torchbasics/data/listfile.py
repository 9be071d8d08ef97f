"""List files: a subset of a split by ID, or a data set of image files with their labels.

A list file is UTF-8 text with one entry per line; blank lines and lines starting with
``#`` are skipped (there are no end-of-line comments). Either every entry is an ID, or
every entry is an image path::

    # IDs: indices into a split (0-based), one per line, nothing else on the line
    12
    7

    # image paths, relative to the list file's folder (or absolute), then a class
    # index, a class name (or its folder-safe slug), or nothing: the folder names it
    Sneaker/00012.png 7
    Sneaker/00012.png Sneaker
    Sneaker/00012.png
    my photos/shoe 1.png, Ankle boot

Columns are separated by a comma when the line has one, else by whitespace; so a path
or class name containing spaces needs the comma form, and a path cannot contain a comma.
A label (second column or folder name) is matched against the class names, then their
slugs (:func:`class_slug`, as the export writes them), then read as a class index.
An ID may appear more than once: the image is then used more than once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Image files are recognized by name (IMAGE_SUFFIXES), so that a typo in an ID list
# (``12a``) or a header line (``path,label``) is reported as such, not as a missing image.
from torchbasics.data.decode import IMAGE_SUFFIXES
from torchbasics.data.image_data import ImageData
from torchbasics.errors import TorchbasicsError, closest

_INTEGER = re.compile(r"[+-]?\d+")
_MAX_ID = 2**63 - 1  # IDs are stored as int64
_UNSAFE = re.compile(r"[^\w.-]+")  # anything but letters, digits, '_', '.', '-'
_ONE = {"ids": "a split ID", "paths": "an image path"}
_ALL = {"ids": "split IDs", "paths": "image files"}
_USE = {
    "ids": "select from a split with torchbasics.data.listfile.subset_from_list",
    "paths": "read it with torchbasics.data.image_files.load_image_list",
}


@dataclass(frozen=True)
class ListFile:
    """The parsed entries of a list file: IDs, or image paths with labels.

    Attributes:
        source: the list file.
        lines: the line number of each entry, for messages.
        ids: ``(N,)`` int64 indices into a split, for an ID list; else ``None``.
        paths: image paths (joined to the list file's folder), for a path list; else ``None``.
        labels: ``(N,)`` int64 class indices, for a path list; else ``None``.
    """

    source: Path
    lines: tuple[int, ...]
    ids: np.ndarray | None = None
    paths: tuple[Path, ...] | None = None
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def kind(self) -> str:
        """``"ids"`` or ``"paths"``."""
        return "ids" if self.ids is not None else "paths"

    def where(self, index: int) -> str:
        """``path:LINE`` of entry ``index``, for messages."""
        return f"{self.source}:{self.lines[index]}"


def class_slug(name: str) -> str:
    """A folder-safe version of a class name: ``"T-shirt/top"`` -> ``"T-shirt_top"``.

    Runs of characters other than letters, digits, ``_``, ``.`` and ``-`` become one
    ``_``; leading dots and underscores are dropped so a name never becomes ``..``.
    """
    slug = _UNSAFE.sub("_", name.strip()).lstrip("._").rstrip("_")
    return slug or "_"


def read_list_file(
    path: str | os.PathLike,
    *,
    class_names: Sequence[str] | None = None,
    num_ids: int | None = None,
    expect: str | None = None,
) -> ListFile:
    """Parse a list file (see the module docstring for the format).

    Args:
        path: the list file.
        class_names: the classes labels refer to; needed for a list of image paths.
        num_ids: the length of the split IDs index into; when given, every ID is checked
            to be below it.
        expect: ``"ids"`` or ``"paths"`` to refuse a list of the other kind.

    Returns:
        A :class:`ListFile`; a path list has every image checked to exist.

    Raises:
        TorchbasicsError: a missing or empty list, or a bad entry (named ``path:LINE``).
    """
    source = Path(path)
    entries = _entries(source)
    if not entries:
        raise TorchbasicsError(
            "the list has no entries", where=source,
            fix="put one split ID or image path on each line",
        )
    kind = _one_kind(source, entries)
    if expect is not None and kind != expect:
        raise TorchbasicsError(
            f"this lists {_ALL[kind]}, not {_ALL[expect]}", where=source, fix=_USE[kind],
        )
    if kind == "ids":
        return _parse_ids(source, entries, num_ids)
    if class_names is None:
        raise ValueError("a list of image paths needs class_names to read its labels")
    return _parse_paths(source, entries, tuple(class_names))


def labelled_paths(path: str | os.PathLike) -> list[tuple[str, Path, str]]:
    """``(where, image path, label text)`` of every entry of a path list, the label from the
    second column or else the image's folder name; nothing is looked up or opened.

    Raises:
        TorchbasicsError: a missing or empty list, an ID list, or a malformed line.
    """
    source = Path(path)
    entries = _entries(source)
    if not entries:
        raise TorchbasicsError("the list has no entries", where=source,
                               fix="put one image path (and its class) on each line")
    if _one_kind(source, entries) != "paths":
        raise TorchbasicsError("this lists split IDs, and pictures of your own need image "
                               "paths", where=source, fix="write `path class` on each line")
    found = []
    for number, fields in entries:
        image = source.parent / fields[0]  # an absolute path stays as it is
        found.append((f"{source}:{number}", image,
                      fields[1] if len(fields) == 2 else image.parent.name))
    return found


def names_classes_of(path: str | os.PathLike, class_names: Sequence[str]) -> bool:
    """Whether a list's labels all name classes of ``class_names`` (a name, its slug or an
    index): an ID list always does; a path list of other labels is the user's own data."""
    source = Path(path)
    entries = _entries(source)  # a missing or unreadable list is refused here
    if not entries or _one_kind(source, entries) == "ids":
        return True
    entries = labelled_paths(path)
    lookup = _label_lookup(tuple(class_names))
    return all(label in lookup or (_INTEGER.fullmatch(label) is not None
                                   and 0 <= _whole(label) < len(class_names))
               for _, _, label in entries)


def subset_from_list(data: ImageData, list_path: str | os.PathLike) -> ImageData:
    """The images of ``data`` whose IDs (indices) an ID list file names, in its order."""
    listed = read_list_file(list_path, num_ids=len(data), expect="ids")
    return data.subset(listed.ids, label=listed.source.name)


def _entries(source: Path) -> list[tuple[int, list[str]]]:
    """``(line number, columns)`` of every entry line."""
    try:
        # utf-8-sig: files saved by Windows Notepad start with a byte-order mark.
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TorchbasicsError(
            "list file not found", where=source, fix="check the path"
        ) from None
    except UnicodeDecodeError as exc:
        raise TorchbasicsError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", where=source,
            fix="save the list as UTF-8 text",
        ) from None
    except OSError as exc:
        raise TorchbasicsError(
            f"cannot read the list file ({exc.strerror or exc})", where=source,
            fix="pass a readable text file",
        ) from None
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            entries.append((number, _columns(line, f"{source}:{number}")))
    return entries


def _columns(line: str, where: str) -> list[str]:
    """Split one entry line into its one or two columns."""
    fields = [f.strip() for f in line.split(",")] if "," in line else line.split()
    if len(fields) > 2 or not all(fields):
        raise TorchbasicsError(
            f"expected 1 or 2 columns, found {len(fields)} in '{line}'", where=where,
            fix="write `ID`, `path` or `path label`; separate the columns with a comma "
            "if the path or class name contains spaces",
        )
    return fields


def _one_kind(source: Path, entries: list[tuple[int, list[str]]]) -> str:
    """``"ids"`` or ``"paths"``: what every entry is; an error at the first that differs."""
    first = _kind(entries[0][1][0], f"{source}:{entries[0][0]}")
    for number, fields in entries[1:]:
        kind = _kind(fields[0], f"{source}:{number}")
        if kind != first:
            raise TorchbasicsError(
                f"'{fields[0]}' is {_ONE[kind]}, but line {entries[0][0]} is {_ONE[first]}",
                where=f"{source}:{number}",
                fix="a list holds either split IDs or image paths, not both",
            )
    return first


def _kind(first: str, where: str) -> str:
    """``"ids"`` or ``"paths"``: what the first column of a line is."""
    if _INTEGER.fullmatch(first):
        return "ids"
    if Path(first).suffix.lower() in IMAGE_SUFFIXES:
        return "paths"
    raise TorchbasicsError(
        f"'{first}' is neither a split ID nor an image file name", where=where,
        fix=f"write an integer, or a path ending in one of {', '.join(IMAGE_SUFFIXES)}",
    )


def _parse_ids(
    source: Path, entries: list[tuple[int, list[str]]], num_ids: int | None
) -> ListFile:
    """Check and collect the IDs of an ID list."""
    ids = []
    for number, fields in entries:
        where = f"{source}:{number}"
        if len(fields) != 1:
            raise TorchbasicsError(
                f"an ID line holds only the ID, found '{' '.join(fields)}'", where=where,
                fix="remove the second column (labels come from the split itself)",
            )
        value, shown = _whole(fields[0]), _shorten(fields[0])
        if value < 0:
            raise TorchbasicsError(f"negative ID {shown}", where=where,
                                   fix="IDs count from 0")
        if num_ids is not None and value >= num_ids:
            raise TorchbasicsError(
                f"ID {shown} is out of range: the split has {num_ids} images (0..{num_ids - 1})",
                where=where, fix="is this list meant for another split or data set?",
            )
        if value > _MAX_ID:
            raise TorchbasicsError(f"ID {shown} is too large", where=where,
                                   fix="IDs are indices into a split, counted from 0")
        ids.append(value)
    ids = np.array(ids, dtype=np.int64)
    return ListFile(source, tuple(number for number, _ in entries), ids=ids)


def _parse_paths(
    source: Path, entries: list[tuple[int, list[str]]], class_names: tuple[str, ...]
) -> ListFile:
    """Resolve the paths and labels of a path list, checking every image exists."""
    lookup = _label_lookup(class_names)
    paths, labels = [], []
    for number, fields in entries:
        where = f"{source}:{number}"
        image = source.parent / fields[0]  # an absolute path stays as it is
        try:
            found = image.is_file()
        except OSError as exc:  # e.g. a name longer than the file system allows
            raise TorchbasicsError(f"unusable image path ({exc.strerror})", where=where,
                                   fix="check the path") from None
        if not found:
            raise TorchbasicsError(
                f"image file not found: {image}", where=where,
                fix="paths are relative to the list file's folder",
            )
        if len(fields) == 2:
            label = _label(fields[1], lookup, class_names, where, "label")
        else:
            label = _label(image.parent.name, lookup, class_names, where, "folder name")
        paths.append(image)
        labels.append(label)
    return ListFile(
        source, tuple(number for number, _ in entries), paths=tuple(paths),
        labels=np.array(labels, dtype=np.int64),
    )


def _label_lookup(class_names: tuple[str, ...]) -> dict[str, int]:
    """Label text -> class index: the names win over their slugs (if they ever clash)."""
    lookup = {class_slug(name): index for index, name in enumerate(class_names)}
    lookup.update({name: index for index, name in enumerate(class_names)})
    return lookup


def _label(
    text: str, lookup: dict[str, int], class_names: tuple[str, ...], where: str, what: str
) -> int:
    """The class index ``text`` names: a class name, its slug, or an integer index."""
    if text in lookup:
        return lookup[text]
    if _INTEGER.fullmatch(text):
        index = _whole(text)
        if 0 <= index < len(class_names):
            return index
        raise TorchbasicsError(
            f"{what} {_shorten(text)} is outside 0..{len(class_names) - 1}", where=where,
            fix=f"there are {len(class_names)} classes",
        )
    hint = closest(text, list(class_names))
    if what == "folder name":
        hint = f"name the class in a second column, or rename the folder; {hint}"
    raise TorchbasicsError(f"unknown class {what} '{text}'", where=where, fix=hint)


def _whole(text: str) -> int:
    """The integer ``text`` spells (it matches ``_INTEGER``); past 20 digits, ±10**20.

    Python refuses to convert more than 4,300 digits, and no ID or class index has more
    than 19: longer numbers are out of range whatever their exact value.
    """
    if len(text.lstrip("+-")) > 20:
        return -(10**20) if text.startswith("-") else 10**20
    return int(text)


def _shorten(text: str, limit: int = 24) -> str:
    """``text``, cut to ``limit`` characters for a message."""
    return text if len(text) <= limit else f"{text[:limit]}..."
