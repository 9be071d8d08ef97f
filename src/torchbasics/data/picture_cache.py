"""The user's pictures decoded once, at training size, into a uint8 cache read like IDX files.

Decoding and resizing a JPEG costs more than a training step of these models, so no epoch
decodes a picture: the first run on a folder decodes every picture once (on every core,
with a progress bar) into an IDX file of ``(N, H, W)`` or ``(N, H, W, C)`` uint8 pixels in
the user cache (``$TORCHBASICS_CACHE/pictures/<key>/``), beside its labels and a
``meta.json`` that lists the files, their splits, and what was skipped and why. Later runs
map it (:mod:`torchbasics.data.memmap`), or read it whole when it fits in memory.

The cache is a pure function of its inputs: its key names every file (path, size,
modification time), its class and split, and the picture settings asked for (size,
channels, how to resize) and this module's :data:`CACHE_VERSION`, so a changed, added or
deleted file, or another setting, gets a cache of its own and never stale pixels. It is
built in a temporary folder and renamed into place when complete: Ctrl-C, a crash or
``kill -9`` during the build leaves nothing a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from torchbasics.data.decode import PictureFormat
from torchbasics.data.folder import PictureIndex, Skipped
from torchbasics.data.idx import header_bytes, read_idx
from torchbasics.data.locate import cache_dir
from torchbasics.errors import TorchbasicsError
from torchbasics.files import write_text

CACHE_VERSION = 1  # of what a cache holds: a new version never reads an older cache
IMAGES, LABELS, META = "images-idx3-ubyte", "labels-idx1-ubyte", "meta.json"
PARALLEL_FROM = 256  # pictures: fewer are decoded in this process (a worker takes ~0.2 s to start)
CHUNK = 64  # pictures per task sent to a worker
AUTO_SIZE, AUTO_LARGEST = 32, 64  # image size when not given (see PictureOptions)


@dataclass(frozen=True)
class PictureOptions:
    """What the user asked for: ``--image-size`` (``None``: the pictures' own square size
    when they all share one up to :data:`AUTO_LARGEST`, else :data:`AUTO_SIZE`),
    ``--channels`` (``"auto"``: 1 when every picture is stored gray), ``--resize`` and
    ``--strict`` (fail instead of skipping a file)."""

    image_size: int | None = None
    channels: str = "auto"
    resize: str = "pad"
    strict: bool = False

    def key(self) -> dict[str, object]:
        """What of these changes the pixels (``strict`` does not)."""
        return {"image_size": self.image_size, "channels": self.channels,
                "resize": self.resize}


@dataclass
class PictureCache:
    """A built cache: where its files are, what its pixels are, and what it holds."""

    folder: Path
    picture: PictureFormat
    index: PictureIndex
    usable: np.ndarray  # (N,) bool: the picture decoded (rows of the others are zeros)
    skipped: list[Skipped]  # the index's and the undecodable pictures', with reasons
    seconds: float = 0.0  # to build it (0: it was there)

    @property
    def images_path(self) -> Path:
        return self.folder / IMAGES

    @property
    def labels_path(self) -> Path:
        return self.folder / LABELS

    def nbytes(self) -> int:
        """The size of its pixels."""
        return self.images_path.stat().st_size

    def rows(self, split: str) -> np.ndarray:
        """The rows of the usable pictures of ``split``, in file order."""
        splits = np.array([picture.split for picture in self.index.pictures])
        return np.flatnonzero(self.usable & (splits == split))

    def labels(self) -> np.ndarray:
        """``(N,)`` int64 class indices of every row."""
        return read_idx(self.labels_path).astype(np.int64)

    def pixels(self) -> np.ndarray:
        """Every row's pixels, read whole into memory: ``(N, C, H, W)`` uint8."""
        values = read_idx(self.images_path)
        return values[:, None] if values.ndim == 3 else values.transpose(0, 3, 1, 2).copy()


def cache_key(index: PictureIndex, options: PictureOptions) -> str:
    """The key of the cache of ``index`` read with ``options`` (see the module docstring)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_VERSION, index.source, index.classes, options.key()])
                  .encode())
    digest.update(b"".join(
        os.fsencode(picture.path) + b"\0" + (
            f"{picture.size}\0{picture.mtime_ns}\0{picture.label}\0{picture.split}\n".encode())
        for picture in index.pictures))
    return digest.hexdigest()[:24]


def cache_root() -> Path:
    """Where the picture caches are kept."""
    return cache_dir() / "pictures"


def load_or_build(index: PictureIndex, options: PictureOptions, *, progress: bool = True,
                  log=print) -> PictureCache:
    """The cache of ``index`` with ``options``: found, or built now.

    Raises:
        TorchbasicsError: no picture decodes, or (``strict``) one does not; Ctrl-C while
            building leaves no cache behind.
    """
    folder = cache_root() / cache_key(index, options)
    cache = _read(folder, index)
    if cache is None:
        cache = _build(folder, index, options, progress=progress, log=log)
    if not cache.usable.any():
        raise TorchbasicsError("none of the pictures could be decoded", where=index.source,
                               fix=f"see why in the list of skipped files: {cache.skipped[0].name}:"
                               f" {cache.skipped[0].reason}" if cache.skipped else None)
    if options.strict and cache.skipped:
        first = cache.skipped[0]
        raise TorchbasicsError(f"{first.name}: {first.reason} ({len(cache.skipped)} file(s) "
                               "in all are not usable pictures)", where=index.source,
                               fix="remove or fix them, or leave out --strict to skip them")
    return cache


def _read(folder: Path, index: PictureIndex) -> PictureCache | None:
    """The complete cache in ``folder``, or ``None``: it is complete once renamed into place."""
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("version") != CACHE_VERSION or len(meta.get("usable", [])) != len(index.pictures):
        return None
    return PictureCache(folder, PictureFormat(**meta["picture"]), index,
                        np.array(meta["usable"], dtype=bool),
                        [Skipped(*pair) for pair in meta["skipped"]])


def resolve_format(index: PictureIndex, options: PictureOptions) -> tuple[PictureFormat,
                                                                           dict[int, str]]:
    """The picture format ``options`` ask for, "auto" settled from the pictures' headers
    (read on every core); and the pictures whose header already fails (row -> reason)."""
    from torchbasics.data.decode import header_chunk

    sizes, gray, failed = set(), True, {}
    if options.image_size is None or options.channels == "auto":
        every = list(range(len(index.pictures)))
        for row, (found, reason) in _in_workers(header_chunk, index, every):
            if found is None:
                failed[row] = reason
                continue
            sizes.add(found[:2])
            gray &= found[2]
    size = options.image_size
    if size is None:
        (width, height), = sizes if len(sizes) == 1 else {(0, 1)}
        size = width if width == height and 0 < width <= AUTO_LARGEST else AUTO_SIZE
    channels = (1 if gray else 3) if options.channels == "auto" else int(options.channels)
    return PictureFormat(size, channels, options.resize), failed


def _build(folder: Path, index: PictureIndex, options: PictureOptions, *, progress: bool,
           log) -> PictureCache:
    """Decode every picture into a new cache in ``folder`` (see the module docstring)."""
    started = time.perf_counter()
    picture, failed = resolve_format(index, options)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(folder.parent)
    building = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    try:
        usable = _fill(building, index, picture, failed, progress=progress)
        _write_labels(building, index)
        skipped = list(index.skipped) + [
            Skipped(index.pictures[row].name, failed[row]) for row in sorted(failed)]
        seconds = time.perf_counter() - started
        meta = {"version": CACHE_VERSION, "source": index.source, "layout": index.layout,
                "classes": list(index.classes), "picture": asdict(picture),
                "asked": options.key(), "usable": usable.tolist(),
                "skipped": [[s.name, s.reason] for s in skipped], "seconds": round(seconds, 2),
                "names": [p.name for p in index.pictures],
                "splits": [p.split for p in index.pictures]}
        write_text(building / META, json.dumps(meta) + "\n")
        if folder.exists():  # built meanwhile by another process: theirs is as good
            shutil.rmtree(building)
        else:
            os.replace(building, folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    rate = len(index.pictures) / max(seconds, 1e-9)
    log(f"read {int(usable.sum()):,} pictures into the cache in {seconds:.1f} s "
        f"({rate:,.0f} pictures/s), {picture.size}x{picture.size}, {picture.channels} "
        f"channel{'s' * (picture.channels > 1)}: {folder}")
    return PictureCache(folder, picture, index, usable, skipped, seconds)


def _fill(building: Path, index: PictureIndex, picture: PictureFormat, failed: dict[int, str],
          *, progress: bool) -> np.ndarray:
    """Decode the pictures into ``building``'s images file; which rows decoded."""
    count = len(index.pictures)
    shape = ((count, picture.size, picture.size) if picture.channels == 1
             else (count, picture.size, picture.size, picture.channels))
    head = header_bytes(np.dtype(np.uint8), shape)
    path = building / IMAGES
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(len(head) + int(np.prod(shape)))
    rows = np.memmap(path, dtype=np.uint8, mode="r+", offset=len(head), shape=shape)
    usable = np.zeros(count, dtype=bool)
    from tqdm import tqdm  # text bars: tqdm.auto warns in notebooks without ipywidgets

    todo = [row for row in range(count) if row not in failed]
    bar = tqdm(total=len(todo), desc="reading pictures", unit="picture", leave=False,
               disable=not progress or not sys.stderr.isatty())
    for row, (data, reason) in _decoded(index, todo, picture):
        if data is None:
            failed[row] = reason
        else:
            values = np.frombuffer(data, dtype=np.uint8).reshape(picture.shape)
            rows[row] = values[0] if picture.channels == 1 else values.transpose(1, 2, 0)
            usable[row] = True
        bar.update()
    bar.close()
    rows.flush()
    del rows
    return usable


def _decoded(index: PictureIndex, todo: list[int],
             picture: PictureFormat) -> Iterator[tuple[int, tuple[bytes | None, str]]]:
    """``(row, (pixels or None, reason))`` of every row in ``todo``, in order."""
    from torchbasics.data.decode import decode_chunk

    return _in_workers(decode_chunk, index, todo, picture)


def _in_workers(work: Callable[..., list], index: PictureIndex, todo: list[int],
                *arguments: object) -> Iterator[tuple[int, object]]:
    """``(row, work's answer for it)`` for every row in ``todo``, in order: ``work(paths,
    *arguments)`` run on chunks of paths in worker processes, one per core, or here for a
    few pictures."""
    chunks = [todo[start:start + CHUNK] for start in range(0, len(todo), CHUNK)]
    paths = [[index.pictures[row].path for row in chunk] for chunk in chunks]
    workers = os.cpu_count() or 1
    if len(todo) < PARALLEL_FROM or workers == 1:
        for chunk, part in zip(chunks, paths, strict=True):
            yield from zip(chunk, work(part, *arguments), strict=True)
        return
    import multiprocessing
    import warnings
    from concurrent.futures import ProcessPoolExecutor

    with warnings.catch_warnings(), ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context(_start_method())) as pool:
        # Python 3.12+ warns that forking a process with threads may deadlock the child: the
        # workers run Pillow and numpy only, none of the locks PyTorch's threads hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        extra = [[argument] * len(paths) for argument in arguments]
        try:
            for chunk, answers in zip(chunks, pool.map(work, paths, *extra), strict=True):
                yield from zip(chunk, answers, strict=True)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _start_method() -> str:
    """How worker processes start: forked where the OS can (Linux), so that nothing is
    imported again and a user's script is not run again in each worker (spawning does that
    unless the script guards its code with ``if __name__ == "__main__"``); spawned elsewhere
    (macOS, Windows), where forking is unsafe or missing."""
    import multiprocessing

    return "fork" if sys.platform.startswith("linux") and "fork" in (
        multiprocessing.get_all_start_methods()) else "spawn"


def _write_labels(building: Path, index: PictureIndex) -> None:
    labels = np.array([picture.label for picture in index.pictures])
    dtype = np.dtype(np.uint8) if len(index.classes) <= 256 else np.dtype(">i4")
    with open(building / LABELS, "wb") as handle:
        handle.write(header_bytes(dtype, labels.shape))
        handle.write(labels.astype(dtype).tobytes())


def _remove_abandoned(root: Path) -> None:
    """Remove builds that a process killed while building left (their process is gone)."""
    for stale in root.glob(".*.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def cache_size() -> tuple[int, int]:
    """``(caches, bytes)`` of the picture caches kept."""
    root = cache_root()
    if not root.is_dir():
        return 0, 0
    caches = [folder for folder in root.iterdir() if (folder / META).is_file()]
    size = sum(path.stat().st_size for folder in root.iterdir() if folder.is_dir()
               for path in folder.iterdir() if path.is_file())
    return len(caches), size


def clear_caches() -> tuple[int, int]:
    """Remove every picture cache (and unfinished builds); ``(caches, bytes)`` removed."""
    caches, size = cache_size()
    shutil.rmtree(cache_root(), ignore_errors=True)
    return caches, size
