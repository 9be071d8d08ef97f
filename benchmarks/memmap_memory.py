"""Peak memory and speed: the in-memory loader against the memory-mapped one on a big file.

Writes a synthetic MNIST-shaped IDX data set (default 4 GiB of 28x28 uint8 images, raw),
then runs one shuffled epoch of each loader in its own subprocess, so that their peaks do
not mix, and prints a markdown table of peak RSS (``ru_maxrss`` of the child) and images/s:

- ``memory``: the whole images file read into one uint8 tensor, served by
  :class:`~torchbasics.data.loaders.TensorBatchLoader` (the package's in-memory fast path);
- ``memmap``: :class:`~torchbasics.data.memmap.MemmapBatchLoader` over the mapped file.

Examples::

    .venv/bin/python benchmarks/memmap_memory.py               # 4 GiB, a few minutes
    .venv/bin/python benchmarks/memmap_memory.py --quick       # 0.25 GiB smoke test
    .venv/bin/python benchmarks/memmap_memory.py --cold --batches 200   # from disk

The parent process imports neither torch nor the package: Linux carries a parent's peak
RSS into a child it spawns (``ru_maxrss`` survives ``exec``), so the parent stays small.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IMAGES = "images-idx3-ubyte"
LABELS = "labels-idx1-ubyte"
NUM_CLASSES = 10
WRITE_CHUNK_BYTES = 64 << 20  # the writer's working set, whatever the file size
PATHS = ("memory", "memmap")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=4.0,
                        help="size of the synthetic images file in GiB (default: 4)")
    parser.add_argument("--quick", action="store_true",
                        help="a fast check on 0.25 GiB (overrides --size-gib)")
    parser.add_argument("--image-size", type=int, default=28,
                        help="images are SIZE x SIZE grayscale (default: 28)")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="images per batch (default: 256)")
    parser.add_argument("--batches", type=int, default=0,
                        help="stop each run after this many batches; 0 = one full epoch "
                        "(default: 0)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the data and the shuffle (default: 0)")
    parser.add_argument("--release-mib", type=int, default=256,
                        help="memmap loader: re-map the file after this many MiB mapped; "
                        "0 = never, to see why it matters (default: 256)")
    parser.add_argument("--paths", default=",".join(PATHS),
                        help=f"comma-separated runs among {', '.join(PATHS)} "
                        f"(default: {','.join(PATHS)})")
    parser.add_argument("--cold", action="store_true",
                        help="evict the files from the page cache before each run, so reads "
                        "come from disk (default: off, warm cache)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="write (and keep, and reuse) the data set here (default: a "
                        "temporary folder, removed afterwards)")
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    if args.quick:
        args.size_gib = 0.25
    if min(args.size_gib, args.image_size, args.batch_size) <= 0 or min(
            args.batches, args.release_mib) < 0:
        parser.error("--size-gib, --image-size and --batch-size must be positive, "
                     "--batches and --release-mib not negative")
    args.paths = [path.strip() for path in args.paths.split(",") if path.strip()]
    if unknown := set(args.paths) - set(PATHS):
        parser.error(f"unknown --paths {sorted(unknown)}; choose among {', '.join(PATHS)}")
    return args


# --- the data set (parent process) ---


def write_dataset(directory: Path, size_gib: float, image_size: int, seed: int) -> int:
    """Write the images and labels IDX files (raw) in constant memory; return the count.

    Files of the right size already there are kept, so a ``--workdir`` is written once.
    """
    image_bytes = image_size * image_size
    count = int(size_gib * (1 << 30)) // image_bytes
    images, labels = directory / IMAGES, directory / LABELS
    header = struct.pack(">IIII", 0x0803, count, image_size, image_size)
    if _has_size(images, len(header) + count * image_bytes) and _has_size(labels, 8 + count):
        print(f"reusing {images}", file=sys.stderr)
        return count
    rng = np.random.default_rng(seed)
    per_chunk = max(1, WRITE_CHUNK_BYTES // image_bytes)
    started = time.perf_counter()
    # Header then chunks straight to the file: write_idx would need the whole array.
    with open(images, "wb") as handle:
        handle.write(header)
        for start in range(0, count, per_chunk):
            rows = min(per_chunk, count - start)
            handle.write(rng.integers(0, 256, size=rows * image_bytes, dtype=np.uint8).data)
    with open(labels, "wb") as handle:
        handle.write(struct.pack(">II", 0x0801, count))
        handle.write(rng.integers(0, NUM_CLASSES, size=count, dtype=np.uint8).data)
    print(f"wrote {count:,} images ({images.stat().st_size / (1 << 30):.2f} GiB) in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return count


def _has_size(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def evict(path: Path) -> None:
    """Drop a file's pages from the page cache (Linux), so the next read hits the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run_in_child(path: str, args: argparse.Namespace, workdir: Path) -> dict:
    """Run one loader in a fresh interpreter and return what it measured."""
    command = [
        sys.executable, __file__, "--child", path, "--workdir", str(workdir),
        "--batch-size", str(args.batch_size), "--batches", str(args.batches),
        "--seed", str(args.seed), "--release-mib", str(args.release_mib),
    ]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.splitlines()[-1])


# --- one run (child process) ---


def child(args: argparse.Namespace) -> dict:
    """Build the loader named by ``--child``, run it, and measure peak RSS and speed."""
    images_path, labels_path = args.workdir / IMAGES, args.workdir / LABELS
    started = time.perf_counter()
    loader = (_memory_loader if args.child == "memory" else _memmap_loader)(
        images_path, labels_path, args)
    load_seconds = time.perf_counter() - started

    batches = len(loader) if args.batches == 0 else min(args.batches, len(loader))
    images_seen = checksum = 0
    started = time.perf_counter()
    for number, (images, labels) in enumerate(loader):  # (B, 1, H, W) uint8, (B,) int64
        if number == batches:
            break
        images_seen += len(labels)
        # Touch the data (and check both loaders served the same images and labels).
        checksum += int(images[:, 0, -1, -1].sum()) + int(labels.sum())
    epoch_seconds = time.perf_counter() - started
    return {
        "path": args.child,
        "peak_rss_bytes": _peak_rss_bytes(),
        "load_seconds": load_seconds,
        "epoch_seconds": epoch_seconds,
        "images": images_seen,
        "batches": batches,
        "checksum": checksum,
    }


def _memory_loader(images_path: Path, labels_path: Path, args: argparse.Namespace):
    """The whole file in one uint8 tensor (exactly 1x the payload: read in place)."""
    import torch

    from torchbasics.data.idx import read_header, read_idx
    from torchbasics.data.image_data import ImageData
    from torchbasics.data.loaders import TensorBatchLoader

    with open(images_path, "rb") as handle:
        header = read_header(handle, images_path)
        count, height, width = header.shape
        images = torch.empty((count, 1, height, width), dtype=torch.uint8)  # (N, 1, H, W)
        flat = memoryview(images.numpy()).cast("B")
        # readinto in chunks: one read() call returns at most ~2 GiB on Linux.
        for start in range(0, len(flat), 1 << 30):
            view = flat[start:start + (1 << 30)]
            if handle.readinto(view) != len(view):
                raise SystemExit(f"{images_path}: truncated")
    labels = torch.from_numpy(read_idx(labels_path).astype(np.int64))  # (N,)
    data = ImageData(images, labels, class_names=tuple(map(str, range(NUM_CLASSES))),
                     mean=(0.5,), std=(0.25,), source=str(images_path))
    return TensorBatchLoader(data, batch_size=args.batch_size, shuffle=True, seed=args.seed)


def _memmap_loader(images_path: Path, labels_path: Path, args: argparse.Namespace):
    from torchbasics.data.memmap import MemmapBatchLoader, MemmapIdxDataset

    release_bytes = (args.release_mib << 20) or (1 << 62)  # 0: never re-map
    dataset = MemmapIdxDataset(images_path, labels_path, num_classes=NUM_CLASSES,
                               release_bytes=release_bytes)
    return MemmapBatchLoader(dataset, batch_size=args.batch_size, shuffle=True, seed=args.seed)


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS: bytes; Linux: KiB


# --- the report ---


def table(results: list[dict], size_bytes: int) -> str:
    """A markdown table of the runs."""
    lines = [
        "| loader | data file | peak RSS | load | epoch | images | images/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result['path']} | {size_bytes / (1 << 30):.2f} GiB "
            f"| {result['peak_rss_bytes'] / (1 << 30):.2f} GiB "
            f"| {result['load_seconds']:.1f} s | {result['epoch_seconds']:.1f} s "
            f"| {result['images']:,} | {result['images'] / result['epoch_seconds']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="torchbasics-memmap-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        write_dataset(workdir, args.size_gib, args.image_size, args.seed)
        results = []
        for path in args.paths:
            if args.cold:
                evict(workdir / IMAGES)
                evict(workdir / LABELS)
            print(f"running {path} ...", file=sys.stderr)
            results.append(run_in_child(path, args, workdir))
        print(f"\n`{' '.join([Path(sys.executable).name, *sys.argv])}` — batch size "
              f"{args.batch_size}, shuffled, {'cold' if args.cold else 'warm'} page cache, "
              f"memmap re-map every {args.release_mib or 'never'} MiB\n")
        print(table(results, (workdir / IMAGES).stat().st_size))
        if len({result["checksum"] for result in results}) > 1:
            print("\nWARNING: the loaders served different data (checksums differ)")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
