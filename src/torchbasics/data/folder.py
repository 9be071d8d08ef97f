"""A folder of the user's pictures (or list files naming them): which files, which classes.

Two layouts, as torchvision's ``ImageFolder`` and the Hugging Face ``imagefolder`` builder
read them::

    pictures/cats/001.jpg            pictures/train/cats/001.jpg
    pictures/cats/more/002.png       pictures/train/dogs/...
    pictures/dogs/...                pictures/test/cats/...   (and val/ or validation/)

A class folder's pictures may sit in subfolders of it. Hidden files and folders (names
starting with ".": ``.DS_Store``, ``.ipynb_checkpoints``) are not looked at; files that are
not pictures (by their suffix), and files outside a class folder, are listed as skipped
with the reason. Whether a picture decodes is found when the cache is built
(:mod:`torchbasics.data.picture_cache`), which skips and lists the ones that do not.

Classes are in :func:`~torchbasics.samples.classes.class_order`: folders named by numbers are
ordered as numbers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from torchbasics.data.decode import IMAGE_SUFFIXES, os_reason
from torchbasics.errors import TorchbasicsError
from torchbasics.samples.classes import class_order

SPLIT_FOLDERS = {"train": "train", "training": "train", "test": "test", "testing": "test",
                 "val": "val", "valid": "val", "validation": "val", "dev": "val"}
SPLITS = ("train", "val", "test")


class Picture(NamedTuple):
    """One picture file: where it is, how to name it, its class and split.

    A named tuple, not a dataclass: a folder may hold hundreds of thousands, and every run
    indexes them again (a tuple is made several times faster).
    """

    path: str  # absolute, to open (may hold undecodable bytes of the file system's names)
    name: str  # relative to the root, printable
    label: int
    split: str  # train, val or test
    size: int  # bytes and modification time: what the cache key is made of
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """A file left out, and why."""

    name: str
    reason: str


@dataclass
class PictureIndex:
    """The pictures of a folder or of list files, their classes and splits, what was skipped."""

    source: str  # the folder, or the training list
    layout: str  # "class folders", "split folders" or "list files"
    classes: tuple[str, ...]
    numeric_order: bool  # the classes are numbers, ordered as numbers
    pictures: list[Picture]
    skipped: list[Skipped] = field(default_factory=list)

    def splits(self) -> list[str]:
        """The splits the pictures are in, in :data:`SPLITS` order."""
        found = {picture.split for picture in self.pictures}
        return [split for split in SPLITS if split in found]

    def counts(self) -> dict[str, list[int]]:
        """Split -> pictures per class, in class order."""
        counts = {split: [0] * len(self.classes) for split in self.splits()}
        for picture in self.pictures:
            counts[picture.split][picture.label] += 1
        return counts


def printable(name: str) -> str:
    """A file name as text that can be printed: bytes that are not UTF-8 as ``\\xe9``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def index_folder(root: str | os.PathLike) -> PictureIndex:
    """The pictures of a folder of class folders, or of split folders of class folders.

    Raises:
        TorchbasicsError: no class folders, a class folder without pictures (named), one
            class only, split folders mixed with other folders, or a split whose classes
            differ from the training split's.
    """
    root = Path(os.path.abspath(root))  # so every path found under it is absolute
    folders, loose = _listing(root)
    skipped = [Skipped(printable(name), "not in a class folder") for name in loose]
    splits = {name: SPLIT_FOLDERS[name.lower()] for name in folders
              if name.lower() in SPLIT_FOLDERS}
    if splits and len(splits) != len(folders):
        others = sorted(set(folders) - set(splits))
        raise TorchbasicsError(
            f"holds split folders ({', '.join(sorted(splits))}) and other folders "
            f"({', '.join(map(printable, others[:3]))}) side by side", where=root,
            fix="put every class folder inside train/ (and test/, val/), or use class "
            "folders only")
    if splits:
        return _index_splits(root, splits, skipped)
    classes = _class_folders(root, folders, "train", skipped)
    return _indexed(str(root), "class folders", {"train": classes}, skipped)


def _index_splits(root: Path, splits: dict[str, str], skipped: list[Skipped]) -> PictureIndex:
    if "train" not in splits.values():
        raise TorchbasicsError(f"split folders without a train/ folder ({', '.join(splits)})",
                               where=root, fix="name the folder of training pictures train/")
    found = {}
    for name, split in splits.items():
        if split in found:
            raise TorchbasicsError(f"two folders for the {split} split", where=root,
                                   fix="keep one of " + ", ".join(
                                       n for n, s in splits.items() if s == split))
        folders, loose = _listing(root / name)
        skipped += [Skipped(f"{printable(name)}/{printable(f)}", "not in a class folder")
                    for f in loose]
        found[split] = _class_folders(root / name, folders, split, skipped, prefix=f"{name}/")
    return _indexed(str(root), "split folders", found, skipped)


def _listing(folder: Path) -> tuple[list[str], list[str]]:
    """The visible folders and files directly in ``folder``."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        raise TorchbasicsError(f"cannot read the folder ({exc.strerror})", where=folder) from None
    folders, files = [], []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            (folders if entry.is_dir() else files).append(entry.name)
        except OSError:
            files.append(entry.name)
    return folders, files


def _class_folders(folder: Path, names: list[str], split: str, skipped: list[Skipped],
                   prefix: str = "") -> dict[str, list[tuple[str, str, os.stat_result]]]:
    """Class name -> its pictures ``(path, printable name, stat)``; non-pictures skipped."""
    classes = {}
    for name in names:
        pictures = []
        for path, shown, stat, reason in _walk(folder / name, f"{prefix}{printable(name)}/"):
            if reason:
                skipped.append(Skipped(shown, reason))
            else:
                pictures.append((path, shown, stat))
        if not pictures:
            raise TorchbasicsError("a class folder without pictures", where=folder / name,
                                   fix="put pictures in it, or remove it (suffixes: "
                                   + " ".join(IMAGE_SUFFIXES) + ")")
        classes[printable(name)] = pictures
    return classes


def _walk(folder: Path, shown: str,
          seen: frozenset[tuple[int, int]] = frozenset()) -> Iterator[tuple[str, str, object, str]]:
    """``(path, printable name, stat, reason to skip or "")`` of every visible file under
    ``folder``, following links to folders but never into one already being walked."""
    try:
        stat = folder.stat()
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        yield str(folder), shown.rstrip("/"), None, f"cannot be read ({exc.strerror})"
        return
    seen = seen | {(stat.st_dev, stat.st_ino)}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        name = f"{shown}{printable(entry.name)}"
        try:
            if entry.is_dir():
                inner = entry.stat()
                if (inner.st_dev, inner.st_ino) in seen:
                    yield entry.path, name, None, "a link back into a folder above it"
                else:
                    yield from _walk(Path(entry.path), f"{name}/", seen)
                continue
            file_stat = entry.stat()
        except OSError as exc:
            yield entry.path, name, None, f"cannot be read ({os_reason(exc)})"
            continue
        suffix = os.path.splitext(entry.name)[1].lower()
        if suffix not in IMAGE_SUFFIXES:
            yield entry.path, name, None, f"not a picture file ({suffix or 'no suffix'})"
        else:
            yield entry.path, name, file_stat, ""


def _same_classes(split: str, found: set[str], classes: set[str], source: str) -> None:
    """Refuse a split whose classes are not the training split's."""
    if found == classes:
        return
    missing, extra = sorted(classes - found), sorted(found - classes)
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"not in train: {', '.join(extra)}"] if extra else [])
    raise TorchbasicsError(f"the {split} split's classes differ from the training split's: "
                           + "; ".join(parts), where=source,
                           fix="give every split the same class folders")


def _indexed(source: str, layout: str, found: dict[str, dict[str, list]],
             skipped: list[Skipped]) -> PictureIndex:
    """The index of the class folders ``found`` per split, classes checked across splits."""
    classes, numeric = class_order(found["train"])
    if not classes:
        raise TorchbasicsError("no class folders here", where=source,
                               fix="put the pictures of each class in a folder of its own, "
                               "named after the class")
    if len(classes) < 2:
        raise TorchbasicsError(f"one class only ('{classes[0]}'): a classifier needs two or "
                               "more", where=source, fix="add a folder for every class")
    for split, folders in found.items():
        _same_classes(split, set(folders), set(classes), source)
    label = {name: index for index, name in enumerate(classes)}
    pictures = [Picture(path, shown, label[name], split, stat.st_size, stat.st_mtime_ns)
                for split, folders in found.items() for name, files in folders.items()
                for path, shown, stat in files]
    return PictureIndex(source, layout, tuple(classes), numeric, pictures, skipped)


def index_lists(lists: dict[str, str | os.PathLike],
                classes: tuple[str, ...] | None = None) -> PictureIndex:
    """The pictures that list files name (``split -> list file``), with the classes their
    labels give: the training list's (in class order), or ``classes`` (a trained model's).

    Raises:
        TorchbasicsError: a bad list, a listed file that does not exist, or a label that is
            not one of the classes (named by line).
    """
    from torchbasics.data.listfile import labelled_paths

    entries = {split: labelled_paths(path) for split, path in lists.items()}
    numeric = False
    if classes is None:
        classes, numeric = class_order(label for _, _, label in entries["train"])
    label = {name: index for index, name in enumerate(classes)}
    pictures = []
    for split, found in entries.items():
        for where, image, text in found:
            if text not in label:
                raise TorchbasicsError(f"class '{text}' is not one of the model's classes",
                                       where=where, fix="its classes are " + ", ".join(classes))
            try:
                stat = image.stat()
            except OSError as exc:
                raise TorchbasicsError(f"image file not found: {printable(str(image))} "
                                       f"({os_reason(exc)})", where=where,
                                       fix="paths are relative to the list file's folder") from None
            pictures.append(Picture(os.path.abspath(image), printable(str(image)),
                                    label[text], split, stat.st_size, stat.st_mtime_ns))
    first = next(iter(lists.values()))
    if len(classes) < 2:
        raise TorchbasicsError(f"one class only ('{classes[0]}'): a classifier needs two or "
                               "more", where=first, fix="list pictures of every class")
    return PictureIndex(str(Path(first).resolve()), "list files", tuple(classes), numeric,
                        pictures)
