"""A path instead of a registered name: the user's own data, as a :class:`DatasetSpec`.

``--dataset`` takes a registered name (``mnist``, ``bonus``, ...) or a path:

- an existing folder: pictures, one folder per class, or split folders (``train/``,
  ``test/``, ``val/``) holding class folders (:mod:`torchbasics.data.folder`);
- an existing ``.csv``, ``.tsv`` or ``.txt`` file: a table (:mod:`torchbasics.tabular`).

List files of pictures (``--train-list``, ``--val-list``) whose labels are not a registered
data set's classes are the user's own pictures too: the data set ``listed``.

A registered name always means the registered data set, even where a folder of that name
exists (``./mnist`` is the folder). The spec made here is what the registered data sets'
specs are, so training, evaluation, prediction, serving and export need no branch of their
own: what a model learned about the data (classes, statistics, the picture format, the
table's schema) is recorded in its checkpoint, and only reading the data is done here.
"""

from __future__ import annotations

import os
from pathlib import Path

from torchbasics.data.spec import TABLE_RECIPES, DatasetSpec
from torchbasics.errors import TorchbasicsError
from torchbasics.tabular.csvfile import CSV_SUFFIXES


def looks_like_path(name: str) -> bool:
    """Whether ``--dataset name`` means a path: it exists, holds a path separator, or ends
    in a table's suffix."""
    separators = {"/", os.sep, os.altsep} - {None}
    return (any(sep in name for sep in separators) or Path(name).exists()
            or Path(name).suffix.lower() in CSV_SUFFIXES)


def own_dataset(name: str) -> DatasetSpec:
    """The spec of the folder or table at ``name``.

    Raises:
        TorchbasicsError: nothing there, or a file that is not a table.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return picture_folder(path)
    if path.is_file():
        if path.suffix.lower() in CSV_SUFFIXES:
            return own_table(path)
        suffixes = ", ".join(CSV_SUFFIXES)
        raise TorchbasicsError(f"a {path.suffix or 'suffix-less'} file is neither a folder of "
                               "pictures nor a table", where=path,
                               fix=f"give a folder of pictures, or a table ({suffixes})")
    raise TorchbasicsError("no such folder or file", where=path,
                           fix="give a registered data set (see `torchbasics data info "
                           "--help`), a folder of pictures, or a CSV file")


def _absolute(path: Path) -> str:
    """The path as recorded in a run: absolute, so a later command finds it from any folder."""
    return str(path.resolve())


LISTED = "listed"  # the dataset of pictures named by --train-list and --val-list

# The seed's cnn with its MNIST recipe diverged on small folders of photos (issue #33);
# benchmarks/own_defaults.py measures this choice on folders of several sizes.
PICTURES_MODEL = "convnet"
PICTURES_MODEL_WHY = ("the default for your own pictures: its batch norm keeps training "
                      "stable on photos of any tint and size (--model picks another)")


def listed_pictures() -> DatasetSpec:
    """The user's pictures as list files name them, in classes of their own."""
    return DatasetSpec(name=LISTED, title="your pictures in the list files", kind="image",
                       default_model=PICTURES_MODEL, default_model_why=PICTURES_MODEL_WHY,
                       picture_pipeline="photo", own=True)


def picture_folder(path: Path) -> DatasetSpec:
    """A folder of the user's pictures (read by :mod:`torchbasics.data.folder`)."""
    return DatasetSpec(name=_absolute(path), title=f"your pictures in {path.name or path}/",
                       kind="image", default_model=PICTURES_MODEL,
                       default_model_why=PICTURES_MODEL_WHY, picture_pipeline="photo", own=True)


def own_table(path: Path) -> DatasetSpec:
    """A table of the user's: its columns and task come from its cells."""
    from torchbasics.tabular.source import inferred_table

    return DatasetSpec(name=_absolute(path), title=f"your table {path.name}", kind="tabular",
                       default_model="", recipes=TABLE_RECIPES, own=True, task="",
                       load_table=lambda target, choices: inferred_table(path, target, choices))
