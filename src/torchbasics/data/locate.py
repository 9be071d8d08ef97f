"""Where a data set's files are: the search path, in a fixed and documented order.

Roots are searched in this order:

1. ``--data-dir`` (the ``data_dir`` argument);
2. each root in ``TORCHBASICS_DATA`` (a path list, like ``PATH``);
3. the user cache, ``TORCHBASICS_CACHE`` or ``~/.cache/torchbasics`` (downloads land here);
4. ``./data`` under the current directory;
5. the data set's system folders (Debian's ``/usr/share/datasets/fashion-mnist``).

Inside a root, the files may sit directly in it, in a folder named after the data set
(``mnist/``, ``fashion-mnist/``) or in torchvision's layout (``MNIST/raw/``,
``FashionMNIST/raw/``), so data is shared with torchvision users. Each file may be gzipped
(``.gz``, the official form) or already decompressed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from platformdirs import user_cache_dir

from torchbasics.data.idx import open_idx
from torchbasics.data.registry import DATASETS, DatasetSpec
from torchbasics.errors import TorchbasicsError

DATA_ENV = "TORCHBASICS_DATA"
CACHE_ENV = "TORCHBASICS_CACHE"


def cache_dir() -> Path:
    """The user cache root: ``$TORCHBASICS_CACHE`` or the platform's cache folder."""
    return Path(os.environ.get(CACHE_ENV) or user_cache_dir("torchbasics"))


@dataclass(frozen=True)
class Root:
    """A place to look, and why it is on the search path (shown to users)."""

    path: Path
    origin: str


@dataclass(frozen=True)
class Located:
    """A folder that holds every file of a data set."""

    spec: DatasetSpec
    directory: Path
    origin: str

    def path(self, split: str, part: str) -> Path:
        """The file of ``split`` (``train``/``test``) and ``part`` (``images``/``labels``)."""
        name = getattr(self.spec.splits[split], part)
        return _existing_variant(self.directory, name) or self.directory / name

    def official_files(self) -> dict[str, bool]:
        """File name -> whether its content is the official release's (any compression)."""
        result = {}
        for split in self.spec.splits:
            for part in ("images", "labels"):
                path = self.path(split, part)
                result[path.name] = content_md5(path) == getattr(
                    self.spec.splits[split], f"{part}_raw_md5"
                )
        return result


def search_roots(data_dir: str | os.PathLike | None = None) -> list[Root]:
    """The data roots in search order (existing or not)."""
    roots: list[Root] = []
    if data_dir is not None:
        roots.append(Root(Path(data_dir).expanduser(), "--data-dir"))
    for entry in os.environ.get(DATA_ENV, "").split(os.pathsep):
        if entry.strip():
            roots.append(Root(Path(entry.strip()).expanduser(), f"${DATA_ENV}"))
    roots.append(Root(cache_dir(), "user cache"))
    roots.append(Root(Path.cwd() / "data", "./data"))
    return roots


def candidate_dirs(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> list[Root]:
    """Every folder that may hold ``spec``'s files, in search order."""
    candidates: list[Root] = []
    for root in search_roots(data_dir):
        candidates.append(root)
        candidates.extend(Root(root.path / folder, root.origin) for folder in spec.folders)
    candidates.extend(Root(Path(folder), "system package") for folder in spec.system_dirs)
    return candidates


def find_dataset(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> Located | None:
    """The first folder on the search path holding all of ``spec``'s files, or None.

    Raises:
        TorchbasicsError: ``data_dir`` does not exist, or a folder holds another data set's
            files under the same names (MNIST and Fashion-MNIST share file names).
    """
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise TorchbasicsError(
            "no such folder", where=data_dir, fix="create it, or pass an existing --data-dir"
        )
    for candidate in candidate_dirs(spec, data_dir):
        if all(_existing_variant(candidate.path, name) for name, _ in spec.files()):
            located = Located(spec, candidate.path, candidate.origin)
            _refuse_other_dataset(located)
            return located
    return None


def describe_search(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> str:
    """Where ``spec`` was looked for and what each place lacks, as one line."""
    places = []
    for candidate in candidate_dirs(spec, data_dir):
        if not candidate.path.is_dir():
            places.append(f"{candidate.path} ({candidate.origin}): no such folder")
            continue
        names = [name for name, _ in spec.files()]
        missing = [name for name in names if not _existing_variant(candidate.path, name)]
        lacks = "none of its files" if len(missing) == len(names) else ", ".join(missing)
        places.append(f"{candidate.path} ({candidate.origin}): {lacks}")
    return "; ".join(places)


def file_md5(path: str | os.PathLike) -> str:
    """The md5 hex digest of a file's bytes, read in chunks."""
    with open(path, "rb") as handle:
        return _md5_of_stream(handle)


def content_md5(path: str | os.PathLike) -> str:
    """The md5 hex digest of a file's content, decompressed first when it is gzipped."""
    with open_idx(path) as handle:
        return _md5_of_stream(handle)


def _md5_of_stream(handle: BinaryIO) -> str:
    digest = hashlib.md5()
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _existing_variant(directory: Path, gz_name: str) -> Path | None:
    """``directory/gz_name`` or its decompressed twin (torchvision keeps both), if present."""
    for name in (gz_name, gz_name.removesuffix(".gz")):
        path = directory / name
        if path.is_file():
            return path
    return None


def _refuse_other_dataset(located: Located) -> None:
    """Refuse label files whose content is *another* data set's official labels.

    MNIST and Fashion-MNIST use the same file names, so a folder of one is easily passed
    for the other; label files are small, so checking them costs a few milliseconds.
    """
    for split in located.spec.splits:
        md5 = content_md5(located.path(split, "labels"))
        for other in DATASETS.values():
            if other.name == located.spec.name or split not in other.splits:
                continue
            if md5 == other.splits[split].labels_raw_md5:
                raise TorchbasicsError(
                    f"these are {other.title} files, not {located.spec.title}",
                    where=located.directory,
                    fix=f"use the data set '{other.name}' for them, or point --data-dir at "
                    f"the {located.spec.name} files",
                )
