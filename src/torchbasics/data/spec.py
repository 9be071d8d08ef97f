"""What a data set is: the :class:`DatasetSpec` every data set has, registered or the user's.

The registered ones are listed in :mod:`torchbasics.data.registry`; a user's own (a folder
of pictures, list files, a CSV table) is made from its path by :mod:`torchbasics.data.own`.
Both build on this module and neither on the other, so the registry may answer a path by
asking ``own`` without ``own`` knowing the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torchbasics.tabular.formula import LinearFormula
from torchbasics.tabular.source import TableData
from torchbasics.tabular.table import Column

# The model trained when none is named, where a data set has none of its own: the linear
# models, the lesson of the seed projects.
TASK_MODELS = {"classification": "softmax", "regression": "linear"}
# Table models on any table (a data set's recipes for them), over their image recipes:
# rows are few, so many epochs; the linear models converge full-batch to their optimum.
TABLE_RECIPES: dict[str, dict[str, Any]] = {
    "softmax": dict(epochs=1000, batch_size=65_536, optimizer="sgd", lr=0.5, momentum=0.9,
                    weight_decay=1e-3, schedule="constant"),
    "mlp-relu": dict(epochs=150, batch_size=64, optimizer="adamw", lr=3e-3,
                     weight_decay=1e-2, schedule="onecycle", warmup=0.1),
    "mlp-sigmoid": dict(epochs=150, batch_size=64, optimizer="adamw", lr=1e-2,
                        weight_decay=1e-2, schedule="onecycle", warmup=0.1),
}


@dataclass(frozen=True)
class IdxFiles:
    """The two IDX files of one split and their official md5 checksums.

    ``*_md5`` are the published checksums of the ``.gz`` files (what a download must
    match); ``*_raw_md5`` are those of the decompressed content, which identify the data
    whatever the compression (Debian's package, for one, re-gzips the official files).
    """

    images: str
    labels: str
    images_md5: str
    labels_md5: str
    images_raw_md5: str
    labels_raw_md5: str
    count: int  # images in the official release


@dataclass(frozen=True)
class DatasetSpec:
    """Everything torchbasics knows about one data set.

    Attributes:
        name: registry key, e.g. ``"fashion-mnist"``.
        title: human name for reports.
        kind: ``"image"`` (pictures) or ``"tabular"`` (a CSV).
        default_model: the model ``train`` uses when none is named (empty: the task's own,
            :data:`TASK_MODELS`).
        default_model_why: why that model, for the training header (empty: nothing said).
        settings: training settings for every model on this data set (e.g. MNIST's
            ``deskew``), over the settings' defaults and under the model's recipe.
        recipes: model name -> settings for that model on this data set, over its recipe.
        splits: split name -> its IDX files (image data sets).
        class_names: one name per label, in label order.
        mean, std: per-channel pixel statistics of the official training set, on [0, 1].
        picture_pipeline: how ``predict`` prepares a photo for its models (see
            :mod:`torchbasics.inference.preprocess`): ``"digits"`` or ``"fit"``.
        mirror_invariant: a left-right mirrored image keeps its class (clothes, not
            digits), so flips may augment it and predictions may average over mirror images.
        mirrors: base URLs tried in order; each must serve every file name.
        folders: folder names a data root may hold the files in (ours, then torchvision's
            ``<Name>/raw``).
        system_dirs: fixed places an OS package installs the files (e.g. Debian's).
        how_to_get: what to tell a user who does not have the files.
        load_table: tabular data sets: ``(target name or None, Choices) ->
            TableData``, the table read and its columns planned.
        features: declared tables: the feature columns, in order (their ``flag`` is a
            short name ``predict --set`` takes).
        true_formula: the rule that generated a synthetic table, when known.
        own: the user's own data, made from a path (see :mod:`torchbasics.data.own`).
        task: what its models do: ``"classification"``, ``"regression"``, or ``""`` when
            the data says (a user's table, by its target column).
    """

    name: str
    title: str
    kind: str
    default_model: str
    default_model_why: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)
    splits: dict[str, IdxFiles] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    picture_pipeline: str = "fit"
    mirror_invariant: bool = False
    mirrors: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    csv_file: str | None = None  # tables: the CSV shipped in torchbasics.resources
    how_to_get: str = ""
    load_table: Callable[..., TableData] | None = None
    features: tuple[Column, ...] = ()
    true_formula: LinearFormula | None = None
    own: bool = False
    task: str = "classification"

    def model_for(self, task: str) -> str:
        """The model trained when none is named, for ``task``."""
        return self.default_model or TASK_MODELS[task]

    def in_scope(self, scope: str | None) -> bool:
        """Whether a setting for ``scope`` applies here: ``"image"`` or ``"tabular"`` (any
        data set of that kind), ``"pictures"`` or ``"table"`` (the user's own only)."""
        if scope is None:
            return True
        own = {"pictures": "image", "table": "tabular"}
        return self.kind == own[scope] and self.own if scope in own else self.kind == scope

    @property
    def num_classes(self) -> int:
        """How many classes (0 for regression data)."""
        return len(self.class_names)

    def raw_md5s(self) -> dict[str, str]:
        """File name -> md5 of its decompressed content (identifies the data, any gzip)."""
        return {
            name: md5
            for split in self.splits.values()
            for name, md5 in ((split.images, split.images_raw_md5),
                              (split.labels, split.labels_raw_md5))
        }

    def files(self) -> list[tuple[str, str]]:
        """Every (file name, md5) of the data set, train split first."""
        return [
            (name, md5)
            for split in self.splits.values()
            for name, md5 in ((split.images, split.images_md5), (split.labels, split.labels_md5))
        ]
