"""Memory-mapped IDX data, for data sets larger than RAM.

A gzipped IDX file is decompressed once into the cache; the raw file is then mapped into
memory and read on demand, so only the rows a batch needs are ever copied.

Mapping alone does not bound memory: every page of a mapping that has been touched counts
toward the process's resident set (and ``ru_maxrss``) until it is unmapped, so one epoch
over a 4 GiB file would end with 4 GiB resident. Worse, recent Linux kernels (measured on
6.18, ext4) keep the page cache in large folios and map a whole folio, up to 2 MiB, on one
fault: reading 256 random 784-byte images mapped 450 MB. :class:`_MappedRows` therefore
counts an upper bound of what each read maps and re-maps the file before the bound passes
``release_bytes``, which keeps peak RSS at about ``release_bytes`` above the baseline.
The pages stay in the kernel's page cache (reclaimable, not ours), so a warm re-read is
cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import mmap
import operator
import os
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from torchbasics.data.idx import IdxHeader, is_gzipped, read_header, read_idx
from torchbasics.data.image_data import ImageSplit, Indices, check_images, check_labels
from torchbasics.data.loaders import BatchSampler
from torchbasics.data.locate import cache_dir
from torchbasics.data.transforms import Transform
from torchbasics.errors import TorchbasicsError
from torchbasics.files import atomic_write

# Re-map after (an upper bound of) this many bytes have been mapped: the cap on what the
# mapping adds to the resident set.
RELEASE_BYTES = 256 << 20
# The most one page fault may map: Linux maps a whole page-cache folio, up to a PMD
# (2 MiB with 4 KiB pages), and fault-around maps neighbouring cached pages too.
_FAULT_BYTES = 2 << 20
_COPY_CHUNK = 1 << 20  # decompression buffer: constant memory whatever the file size


def decompressed_cache(path: str | os.PathLike) -> Path:
    """A raw (uncompressed) copy of an IDX file that can be memory-mapped.

    A gzipped file is decompressed once, streaming, into
    ``cache_dir() / "memmap" / "<name without .gz>-<key>"``; the key changes with the
    source's absolute path, size and modification time, so an edited source gets a fresh
    copy. The copy is written atomically: an interrupted decompression is never reused.
    A raw file is used in place.

    Returns:
        The raw file, its header checked and its size equal to what the header promises.

    Raises:
        TorchbasicsError: missing file, bad header, corrupt gzip data, or a payload
            shorter or longer than the header promises.
    """
    path = Path(path)
    if not path.is_file():
        raise TorchbasicsError("file not found", where=path)
    if not is_gzipped(path):
        _checked_header(path)
        return path
    stat = path.stat()
    source = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    target = cache_dir() / "memmap" / f"{path.name.removesuffix('.gz')}-{key}"
    if target.is_file():
        # Complete by construction (atomic write); the check costs one stat and 16 bytes,
        # and rebuilds a copy damaged by something else rather than failing forever.
        with contextlib.suppress(TorchbasicsError):
            _checked_header(target)
            return target
    _decompress(path, target)
    return target


def open_idx_memmap(path: str | os.PathLike) -> np.memmap:
    """Map an IDX file (``.gz`` via :func:`decompressed_cache`) read-only into memory.

    Returns:
        A read-only ``np.memmap`` of the header's shape and (big-endian) dtype; index it
        to copy values out. Multi-byte values stay big-endian: numpy decodes them on access.
    """
    raw = decompressed_cache(path)
    header = _checked_header(raw)
    return np.memmap(raw, dtype=header.dtype, mode="r", offset=header.offset, shape=header.shape)


class MemmapIdxDataset(Dataset):
    """``dataset[i]`` -> ``(image, label)`` read from a memory-mapped images IDX file.

    The images stay on disk (decompressed once into the cache when gzipped); the labels
    are small and loaded whole. The dataset pickles without its mapping, so each
    ``DataLoader`` worker maps the file itself on first use.

    Args:
        images_path: uint8 images, ``(N, H, W)`` (grayscale) or ``(N, H, W, C)``.
        labels_path: integer labels ``(N,)``.
        num_classes: labels must lie in ``0..num_classes - 1``.
        transform: applied to each ``(C, H, W)`` uint8 image; ``None`` returns it as is.
            (:class:`MemmapBatchLoader` ignores it and takes a batch-wise transform.)
        release_bytes: re-map the file after about this many bytes have been mapped,
            bounding what reading adds to the resident set.
    """

    def __init__(
        self,
        images_path: str | os.PathLike,
        labels_path: str | os.PathLike,
        *,
        num_classes: int = 10,
        transform: Transform | None = None,
        release_bytes: int = RELEASE_BYTES,
    ):
        self.images_path = decompressed_cache(images_path)
        self.labels_path = Path(labels_path)
        header = _checked_header(self.images_path)
        check_images(header.dtype, header.shape, images_path)
        labels = check_labels(read_idx(self.labels_path), header.shape[0], num_classes,
                              self.labels_path, images_path)
        self.labels = torch.from_numpy(labels.astype(np.int64))  # (N,)
        self.num_classes = num_classes
        self.transform = transform
        height, width = header.shape[1:3]
        channels = header.shape[3] if len(header.shape) == 4 else 1
        self.image_shape = (channels, height, width)
        self._rows = _MappedRows(self.images_path, header, release_bytes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        index %= len(self)
        image = self.take(np.array([index]))[0]  # (C, H, W) uint8
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])

    def take(self, indices: np.ndarray) -> torch.Tensor:
        """The images at ``indices`` (in that order) as a ``(B, C, H, W)`` uint8 tensor.

        The rows are read in ascending file order (fewer, forward-moving page faults),
        then put back in the order asked for.
        """
        indices = np.asarray(indices, dtype=np.int64)
        sorter = np.argsort(indices, kind="stable")
        rows = self._rows.take(indices[sorter])  # (B, H, W) or (B, H, W, C), file order
        ordered = np.empty_like(rows)
        ordered[sorter] = rows
        pixels = torch.from_numpy(ordered)
        if pixels.ndim == 3:
            return pixels.unsqueeze(1)  # (B, 1, H, W)
        return pixels.permute(0, 3, 1, 2).contiguous()  # (B, H, W, C) -> (B, C, H, W)


@dataclass(frozen=True)
class MappedImageData(ImageSplit):
    """A split of images read from an IDX file on disk as they are needed: what a run trains
    on when its pixels do not fit in memory. An :class:`~torchbasics.data.image_data.ImageSplit`
    like the in-memory one, served by :class:`MemmapBatchLoader`.

    Attributes:
        dataset: the mapped file.
        rows: the file's rows in this split, in order.
        labels: ``(N,)`` int64 class indices of those rows.
    """

    dataset: MemmapIdxDataset
    rows: np.ndarray
    labels: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str = ""

    @classmethod
    def of(cls, images: str | os.PathLike, labels: str | os.PathLike, rows: np.ndarray,
           class_names: tuple[str, ...], mean: tuple[float, ...], std: tuple[float, ...],
           source: str = "") -> MappedImageData:
        """The split ``rows`` of an images and a labels IDX file."""
        dataset = MemmapIdxDataset(images, labels, num_classes=len(class_names))
        rows = np.asarray(rows, dtype=np.int64)
        return cls(dataset, rows, dataset.labels[torch.from_numpy(rows)], tuple(class_names),
                   tuple(mean), tuple(std), source)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return self.dataset.image_shape

    def take(self, indices: Indices) -> torch.Tensor:
        """The images at ``indices`` of this split, ``(B, C, H, W)`` uint8."""
        return self.dataset.take(self.rows[np.asarray(indices, dtype=np.int64)])

    def subset(self, indices: Indices, label: str = "") -> MappedImageData:
        """The images at ``indices`` of this split, still on disk."""
        index = self._checked(indices)
        return dataclasses.replace(self, rows=self.rows[index],
                                   labels=self.labels[torch.from_numpy(index)],
                                   source=self._labelled(label))

    def batches(self, **options: Any) -> BatchSampler:
        """Batches gathered from the file, as few pages mapped as they need."""
        return MemmapBatchLoader(self, **options)


class MemmapBatchLoader(BatchSampler):
    """Iterate over ``(images, labels)`` batches read from a memory-mapped split.

    The out-of-RAM twin of :class:`torchbasics.data.loaders.TensorBatchLoader`: the same
    arguments, the same order for the same ``seed`` and epoch (so the two yield identical
    batches), but each batch is gathered from the file with one numpy fancy-index, and
    peak memory stays near ``data``'s ``release_bytes`` whatever the data set's size.

    Within a batch the images come in the shuffled order (rows are read sorted, then
    restored), not in file order.

    Args:
        data: the memory-mapped split (its per-image ``transform`` is not used).
        options: how to batch it, as for every loader (see
            :class:`~torchbasics.data.loaders.BatchSampler`); sharded, each rank reads only
            its own rows.
    """

    def __init__(self, data: MemmapIdxDataset | MappedImageData, **options: Any):
        super().__init__(len(data), **options)
        self.data = data

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = self.data.take(index.numpy())  # (B, C, H, W)
        return images.to(self.device), self.data.labels[index].to(self.device)


class _MappedRows:
    """Copies of rows of a raw IDX file, through a mapping released every so often.

    Holds the mapping only after first use and never pickles it, so a copy sent to a
    worker process maps the file afresh there.
    """

    def __init__(self, path: Path, header: IdxHeader, release_bytes: int):
        if release_bytes < 1:
            raise ValueError(f"release_bytes must be at least 1, got {release_bytes}")
        self.path = path
        self.header = header
        self.release_bytes = release_bytes
        self.row_bytes = header.payload_bytes // max(header.shape[0], 1)
        self.releases = 0  # how many times the mapping was dropped (for tests and tuning)
        self._map: mmap.mmap | None = None
        self._array: np.ndarray | None = None
        self._mapped = 0  # upper bound of bytes mapped since the mapping was (re)made

    def take(self, index: np.ndarray) -> np.ndarray:
        """Copy the rows at ascending ``index``: ``(B, *row_shape)``."""
        out = np.empty((len(index), *self.header.shape[1:]), dtype=np.uint8)
        # Pieces small enough that even one row per 2 MiB folio stays within budget.
        piece = max(1, self.release_bytes // (self.row_bytes + _FAULT_BYTES))
        for start in range(0, len(index), piece):
            part = index[start:start + piece]
            # Mapped bytes are bounded both per row and by the span the rows cover.
            span = int(part[-1] - part[0] + 1) * self.row_bytes + 2 * _FAULT_BYTES
            bound = min(len(part) * (self.row_bytes + _FAULT_BYTES), span)
            if self._array is None or self._mapped + bound > self.release_bytes:
                self._remap()
            out[start:start + len(part)] = self._array[part]  # one gather per piece
            self._mapped += bound
        return out

    def _remap(self) -> None:
        # munmap is what returns the pages to the kernel: re-mapping measured as fast as
        # madvise(MADV_DONTNEED) on Linux, and unlike it behaves the same on every OS.
        if self._map is not None:
            self._array = None  # drop the only view first, or close() refuses
            self._map.close()
            self.releases += 1
        with open(self.path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self._array = np.ndarray(self.header.shape, dtype=np.uint8, buffer=self._map,
                                 offset=self.header.offset)
        self._mapped = 0

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_map=None, _array=None, _mapped=0)
        return state


def _checked_header(path: Path) -> IdxHeader:
    """The header of a raw IDX file whose size is exactly what the header promises."""
    with open(path, "rb") as handle:
        header = read_header(handle, path)
    _check_size(path.stat().st_size, header, path, "bytes")
    return header


def _check_size(size: int, header: IdxHeader, where: Path, what: str) -> None:
    """Refuse a file whose size is not exactly the header's offset plus its payload."""
    expected = header.offset + header.payload_bytes
    if size != expected:
        problem = "truncated" if size < expected else "trailing data"
        raise TorchbasicsError(
            f"{problem}: {size} {what}, but the header promises {expected} for shape "
            f"{header.shape}",
            where=where, fix="the file is corrupt or incomplete; delete it and get it again",
        )


def _decompress(source: Path, target: Path) -> None:
    """Stream-decompress ``source`` into ``target``, atomically, checking the size."""
    # The gzip errors are converted inside atomic_write: BadGzipFile is an OSError, which
    # atomic_write would otherwise report as a failure to write.
    with atomic_write(target) as out, _gzip_errors(source), gzip.open(source, "rb") as src:
        header = read_header(src, source)
        src.seek(0)  # rewinds the gzip stream: copy the header bytes too
        shutil.copyfileobj(src, out, _COPY_CHUNK)
        _check_size(out.tell(), header, source, "bytes decompressed")


@contextlib.contextmanager
def _gzip_errors(where: Path) -> Iterator[None]:
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise TorchbasicsError(
            f"corrupt or truncated gzip data ({exc})", where=where,
            fix="delete the file and download it again",
        ) from exc
