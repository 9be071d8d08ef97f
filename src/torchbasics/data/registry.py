"""What torchbasics knows about each data set: files, checksums, statistics, classes, mirrors."""

from __future__ import annotations

from dataclasses import dataclass, field

from torchbasics.errors import TorchbasicsError, closest

SPLITS = ("train", "test")


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
    """Everything needed to find, verify, download and normalize one data set.

    Attributes:
        name: registry key, e.g. ``"fashion-mnist"``.
        title: human name for reports.
        kind: ``"image"`` (IDX files) or ``"tabular"`` (a CSV).
        splits: split name -> its IDX files (image data sets).
        class_names: one name per label, in label order.
        mean, std: per-channel pixel statistics of the official training set, on [0, 1].
        mirrors: base URLs tried in order; each must serve every file name.
        folders: folder names a data root may hold the files in (ours, then torchvision's
            ``<Name>/raw``).
        system_dirs: fixed places an OS package installs the files (e.g. Debian's).
    """

    name: str
    title: str
    kind: str
    splits: dict[str, IdxFiles] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    mirrors: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    csv_file: str | None = None  # tabular data sets: the CSV shipped in torchbasics.resources
    mirror_invariant: bool = False  # a left-right mirrored image keeps its class (not digits)
    how_to_get: str = ""

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
            splits=_MNIST_SPLITS,
            class_names=tuple(str(digit) for digit in range(10)),
            mean=(0.1307,),
            std=(0.3081,),
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
            mirror_invariant=True,
            how_to_get="on Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist`; "
            "elsewhere `torchbasics data download fashion-mnist` where there is internet",
        ),
        DatasetSpec(
            name="bonus",
            title="Employee bonus (synthetic, tabular)",
            kind="tabular",
            csv_file="bonus.csv",
        ),
    )
}


def get_dataset(name: str) -> DatasetSpec:
    """The registry entry called ``name``; a clear error suggesting the closest name otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise TorchbasicsError(
            f"unknown data set '{name}'", fix=closest(name, sorted(DATASETS))
        ) from None


def image_datasets() -> list[str]:
    """Names of the registered image (IDX) data sets."""
    return [name for name, spec in DATASETS.items() if spec.kind == "image"]
