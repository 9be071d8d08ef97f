"""What torchbasics knows about each data set, in one place: one :class:`DatasetSpec` each.

Files, checksums, mirrors and where OS packages put them; classes and normalization; how
pictures are prepared for its models; the training settings it wants (for every model, and
per model); and, for a table, its columns, loader and the rule that generated it. Adding a
data set is adding one spec here (what a spec holds: :mod:`torchbasics.data.spec`).

A user's own data (a folder of pictures, a CSV file) is a spec too, made when its path is
given instead of a name (:mod:`torchbasics.data.own`): :func:`get_dataset` answers both,
so every command downstream works the same on either.
"""

from __future__ import annotations

from pathlib import Path

from torchbasics.data.own import LISTED, listed_pictures, looks_like_path, own_dataset
from torchbasics.data.spec import TABLE_RECIPES, DatasetSpec, IdxFiles
from torchbasics.errors import lookup
from torchbasics.tabular import bonus
from torchbasics.tabular.source import declared_table

SPLITS = ("train", "test")


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
            # the same time (docs/results/02-records.md).
            recipes={
                # A convex model over many epochs (a time budget): at one-cycle's peak of 0.1
                # with momentum 0.9 its validation error wanders far above its best; 0.02
                # falls steadily to the same final error (docs/results/01-accuracy.md).
                "softmax": dict(epochs=30, lr=0.02, weight_decay=1e-3, augment=0.0),
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
    if name == LISTED:
        return listed_pictures()
    if looks_like_path(name):
        return own_dataset(name)
    return lookup(DATASETS, name, "data set", sorted(DATASETS),
                  hint="; or give the path of a folder of pictures or a CSV file")


def image_datasets() -> list[str]:
    """Names of the registered image (IDX) data sets."""
    return [name for name, spec in DATASETS.items() if spec.kind == "image"]


def shadowing_note(name: str | None) -> str | None:
    """A note when ``--dataset name`` is a registered data set and also a folder here:
    the registered one is meant (as :func:`get_dataset` rules), and the folder needs a path."""
    if name in DATASETS and Path(name).is_dir():
        return (f"note: '{name}' is the registered data set; for the folder of that name, "
                f"give --dataset ./{name}")
    return None
