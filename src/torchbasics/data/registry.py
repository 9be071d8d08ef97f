"""What torchbasics knows about each data set, in one place: one :class:`DatasetSpec` each.

Files, checksums, mirrors and where OS packages put them; classes and normalization; how
pictures are prepared for its models; the training settings it wants (for every model, and
per model); and, for a table, its columns, loader and the rule that generated it. Adding a
data set is adding one spec here.

A user's own data (a folder of pictures, a CSV file) is a spec too, made when its path is
given instead of a name (:mod:`torchbasics.data.own`): :func:`get_dataset` answers both,
so every command downstream works the same on either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torchbasics.errors import lookup
from torchbasics.tabular import bonus
from torchbasics.tabular.formula import LinearFormula
from torchbasics.tabular.source import TableData, declared_table
from torchbasics.tabular.table import Column

SPLITS = ("train", "test")
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


_MNIST_SPLITS = {
    "train": IdxFiles(
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
        "6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624", 60_000,
    ),
    "test": IdxFiles(
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c",
        "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637", 10_000,
    ),
}

_FASHION_SPLITS = {
    "train": IdxFiles(
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
        "f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9", 60_000,
    ),
    "test": IdxFiles(
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310",
        "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965", 10_000,
    ),
}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mnist",
            title="MNIST handwritten digits",
            kind="image",
            default_model="cnn",
            # Handwriting is slanted; sheared upright, digits look alike however written
            # (LeCun et al.'s classic preprocessing). It lowers every model's error.
            settings=dict(deskew=True),
            splits=_MNIST_SPLITS,
            class_names=tuple(str(digit) for digit in range(10)),
            mean=(0.1307,),
            std=(0.3081,),
            picture_pipeline="digits",
            # The original host often answers 403, so it comes last.
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ),
            folders=("mnist", "MNIST/raw"),
            how_to_get="run `torchbasics data download mnist` where there is internet, or copy "
            "the four official .gz files into a folder and pass it with --data-dir",
        ),
        DatasetSpec(
            name="fashion-mnist",
            title="Fashion-MNIST (Zalando article images)",
            kind="image",
            default_model="cnn",
            # Six times MNIST-10k's images, so fewer epochs; classes told apart by texture
            # more than shape, so gentler warps. Softmax regression gets no augmentation:
            # with flips, a linear model must draw both orientations of a shoe at once.
            # The convnet trains for a time, not a number of epochs: what fits in five
            # minutes on the machine at hand, the schedule laid over it. At half width
            # (a quarter of the work) it fits three times the epochs, which did better in
            # the same time (README, "Records").
            recipes={
                "softmax": dict(epochs=30, weight_decay=1e-3, augment=0.0),
                "mlp-relu": dict(epochs=30, augment=0.3),
                "mlp-sigmoid": dict(epochs=30, augment=0.3),
                "cnn": dict(epochs=15, augment=0.3),
                "convnet": dict(time_budget=300, model_settings=dict(width=16), batch_size=256,
                                lr=0.2, warmup=0.25, label_smoothing=0.0, augment=0.2,
                                mirror_average=True),
            },
            splits=_FASHION_SPLITS,
            class_names=(
                "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
            ),
            mean=(0.2860,),
            std=(0.3530,),
            mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            folders=("fashion-mnist", "FashionMNIST/raw"),
            system_dirs=("/usr/share/datasets/fashion-mnist",),
            picture_pipeline="fit",
            mirror_invariant=True,
            how_to_get="on Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist`; "
            "elsewhere `torchbasics data download fashion-mnist` where there is internet",
        ),
        DatasetSpec(
            name="bonus",
            title="Employee bonus (synthetic, tabular)",
            kind="tabular",
            default_model="linear",
            load_table=lambda target, choices: declared_table(bonus.default_csv(),
                                                              bonus.FEATURES, bonus.TARGET),
            features=bonus.FEATURES,
            recipes={name: recipe for name, recipe in TABLE_RECIPES.items()
                     if name.startswith("mlp")},  # the classifiers' recipe has no use here
            task="regression",
            true_formula=bonus.TRUE_FORMULA,
            csv_file=bonus.CSV,
        ),
    )
}


def get_dataset(name: str) -> DatasetSpec:
    """The registry entry called ``name``, or the user's own data at the path ``name``
    (see :func:`~torchbasics.data.own.own_dataset`); a clear error suggesting the closest
    name otherwise. A registered name always means the registered data set."""
    if name in DATASETS:
        return DATASETS[name]
    from torchbasics.data.own import LISTED, listed_pictures, looks_like_path, own_dataset

    if name == LISTED:
        return listed_pictures()
    if looks_like_path(name):
        return own_dataset(name)
    return lookup(DATASETS, name, "data set", sorted(DATASETS),
                  hint="; or give the path of a folder of pictures or a CSV file")


def image_datasets() -> list[str]:
    """Names of the registered image (IDX) data sets."""
    return [name for name, spec in DATASETS.items() if spec.kind == "image"]


def tabular_datasets() -> list[str]:
    """Names of the registered tabular (CSV) data sets."""
    return [name for name, spec in DATASETS.items() if spec.kind == "tabular"]
