"""Your own pictures against the IDX files: the same results, as fast, decoded once, in bounded
memory. Fashion-MNIST is written out as PNG class folders (``torchbasics data export``), or
rendered as photo-like JPEGs, and then:

1. **same results**: ``cnn`` (its recipe, ``--augment 0``: the folder knows nothing of
   Fashion-MNIST's left-right flips) trained from the folder and from the IDX files, each
   evaluated on the test split; the mean test error over the seeds (goal: within 0.3
   points);
2. **as fast**: training images/s of the same runs (goal: the folder's at least 90 % of
   the IDX files');
3. **decoded once**: building the cache, in pictures/s, for the 70,000 28x28 PNGs and for
   photo-like JPEGs (256 px, a colour object on a textured background); and a second run's
   start-up: ``train --steps 1`` from the folder (its cache built) against the IDX files,
   the median wall time of a few runs (goal: at most 1 s more);
4. **bounded memory**: a run given less memory than its pictures' cache (a memory cgroup:
   Linux and root only, else skipped, saying so) builds the cache and trains one epoch
   from it memory-mapped (goal: it finishes); its peak anonymous memory and peak RSS.

    .venv/bin/python benchmarks/own_images.py                 # about 15 minutes
    .venv/bin/python benchmarks/own_images.py --seeds 0 --epochs 2 --photos 500 --quick

Needs Fashion-MNIST on the search path (Debian's dataset-fashion-mnist).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TORCHBASICS = [sys.executable, "-m", "torchbasics"]
ERROR_GOAL, SPEED_GOAL, STARTUP_GOAL = 0.003, 0.9, 1.0


def run(arguments: list[str], env: dict | None = None) -> float:
    """Seconds a command takes (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def export_folder(folder: Path) -> Path:
    """Fashion-MNIST as class folders of PNGs: ``folder/train`` and ``folder/test``."""
    from torchbasics.data.pngs import write_pngs
    from torchbasics.data.sources import load_split

    for split in ("train", "test"):
        write_pngs(load_split("fashion-mnist", split, download=False), folder / split,
                   list_name=f"{split}.txt")
    return folder


def render_photos(folder: Path, count: int, side: int, seed: int = 0) -> Path:
    """``count`` Fashion-MNIST test pictures as photo-like JPEGs of ``side`` pixels: the
    object enlarged, coloured, on a lit, grainy background, placed off-centre."""
    from PIL import Image, ImageFilter

    from torchbasics.data.sources import load_split

    data = load_split("fashion-mnist", "test", download=False)
    rng = np.random.default_rng(seed)
    for index in range(count):
        gray = data.images[index, 0].numpy()
        size = int(side * rng.uniform(0.6, 0.85))
        mask = np.asarray(Image.fromarray(gray).resize((size, size), Image.Resampling.BICUBIC),
                          dtype=np.float64)[..., None] / 255.0
        background = rng.uniform(150, 240, 3) * np.linspace(0.8, 1.1, side)[:, None, None]
        photo = np.broadcast_to(background, (side, side, 3)).copy()
        top, left = rng.integers(0, side - size + 1, 2)
        colour = rng.uniform(20, 200, 3)
        window = photo[top:top + size, left:left + size]
        photo[top:top + size, left:left + size] = window * (1 - mask) + colour * mask
        photo += rng.normal(0, 6, photo.shape)
        image = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))
        image = image.filter(ImageFilter.GaussianBlur(0.6))
        target = folder / data.class_names[int(data.labels[index])].replace("/", "_")
        target.mkdir(parents=True, exist_ok=True)
        image.save(target / f"{index:05d}.jpg", quality=90)
    return folder


def cache_rate(folder: Path, cache: Path, **options) -> tuple[float, int]:
    """Pictures/s of building ``folder``'s cache from nothing, and how many it holds."""
    os.environ["TORCHBASICS_CACHE"] = str(cache)
    from torchbasics.data.folder import index_folder
    from torchbasics.data.picture_cache import PictureOptions, load_or_build

    index = index_folder(folder)
    built = load_or_build(index, PictureOptions(**options), progress=False,
                          log=lambda line: None)
    return len(index.pictures) / built.seconds, int(built.usable.sum())


def accuracy_runs(folder: Path, scratch: Path, seeds: list[int], epochs: int) -> list[dict]:
    """cnn from the folder and from the IDX files, per seed: test error and images/s."""
    rows = []
    for seed in seeds:
        for source, dataset in (("folder", str(folder)), ("IDX files", "fashion-mnist")):
            out = scratch / f"{source.split()[0]}-{seed}"
            run([*TORCHBASICS, "train", "--dataset", dataset, "--model", "cnn", "--epochs",
                 str(epochs), "--augment", "0", "--seed", str(seed), "--quiet", "--out",
                 str(out)])
            evaluated = subprocess.run([*TORCHBASICS, "evaluate", str(out), "--json"],
                                       check=True, capture_output=True, text=True)
            summary = json.loads((out / "summary.json").read_text())
            rows.append({"source": source, "seed": seed,
                         "test_error": json.loads(evaluated.stdout)["error"],
                         "images_per_second": summary["images_per_second"]})
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def startup(folder: Path, scratch: Path, repeats: int) -> dict[str, float]:
    """Median wall time of ``train --steps 1`` from the folder (cache built) and the IDX."""
    times: dict[str, list[float]] = {"folder": [], "IDX files": []}
    for _ in range(repeats):
        for source, dataset in (("folder", str(folder)), ("IDX files", "fashion-mnist")):
            times[source].append(run([*TORCHBASICS, "train", "--dataset", dataset, "--model",
                                      "cnn", "--steps", "1", "--quiet", "--force", "--out",
                                      str(scratch / "startup")]))
    return {source: statistics.median(values) for source, values in times.items()}


def memory_cgroup() -> Path | None:
    """This process's memory cgroup folder, if a child may be made in it (root, Linux)."""
    from torchbasics.memory import _cgroup_folder

    for limit in ("memory.max", "memory.limit_in_bytes"):
        folder = _cgroup_folder(limit)
        if folder is not None and os.access(folder, os.W_OK):
            return folder
    return None


BOUNDED = """\
import sys, threading, time
from torchbasics.cli import main
peak = {"RssAnon": 0, "VmRSS": 0}
def sample():  # the peaks of the memory the process holds, and of its resident pages
    while True:
        for line in open("/proc/self/status"):
            name, _, value = line.partition(":")
            if name in peak:
                peak[name] = max(peak[name], int(value.split()[0]))
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()
code = main(sys.argv[1:])
print(peak["RssAnon"], peak["VmRSS"])
sys.exit(code)
"""


def bounded_run(folder: Path, scratch: Path, limit_mib: int, size: int) -> dict | None:
    """One epoch of softmax on ``folder`` in a cgroup of ``limit_mib`` (the cache built
    there too); whether it finished, and its peak anonymous memory and resident set (which
    counts the mapped cache's pages, file pages the kernel drops when memory runs short),
    or ``None`` where a cgroup cannot be made."""
    parent = memory_cgroup()
    if parent is None:
        return None
    group = parent / f"torchbasics-bench-{os.getpid()}"
    group.mkdir()
    limit_file = "memory.max" if (group / "memory.max").exists() else "memory.limit_in_bytes"
    (group / limit_file).write_text(str(limit_mib << 20))
    arguments = ["train", "--dataset", str(folder), "--model", "softmax", "--image-size",
                 str(size), "--epochs", "1", "--quiet", "--force", "--out",
                 str(scratch / "bounded")]
    try:
        done = subprocess.run(["sh", "-c", f'echo $$ > "{group}/cgroup.procs" && exec '
                               f'"{sys.executable}" -c "$0" "$@"', BOUNDED, *arguments],
                              capture_output=True, text=True)
    finally:
        group.rmdir()
    if done.returncode != 0:
        return {"limit_mib": limit_mib, "finished": False, "code": done.returncode}
    anonymous, resident = (int(value) / 1024 for value in done.stdout.split()[-2:])
    return {"limit_mib": limit_mib, "finished": True, "peak_anonymous_mib": anonymous,
            "peak_rss_mib": resident}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8, help="cnn epochs (default: 8)")
    parser.add_argument("--photos", type=int, default=3000,
                        help="photo-like JPEGs to render (default: 3000)")
    parser.add_argument("--repeats", type=int, default=5, help="start-up runs (default: 5)")
    parser.add_argument("--memory-mib", type=int, default=1024,
                        help="memory given to the bounded run (default: 1024)")
    parser.add_argument("--quick", action="store_true", help="skip the bounded-memory run")
    parser.add_argument("--bounded-only", action="store_true",
                        help="only the bounded-memory run (measure 4)")
    args = parser.parse_args()

    if args.bounded_only:
        with tempfile.TemporaryDirectory() as name:
            scratch = Path(name)
            os.environ["TORCHBASICS_CACHE"] = str(scratch / "cache")
            big = render_photos(scratch / "big", 10_000, 256, seed=1)
            print_bounded(bounded_run(big, scratch, args.memory_mib, 224), args)
        return 0
    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        os.environ["TORCHBASICS_CACHE"] = str(scratch / "cache")
        folder = export_folder(scratch / "fashion")
        png_rate, _ = cache_rate(folder, scratch / "cache")
        photos = render_photos(scratch / "photos", args.photos, 256)
        jpeg_rate, _ = cache_rate(photos, scratch / "photo-cache", image_size=64)
        os.environ["TORCHBASICS_CACHE"] = str(scratch / "cache")
        rows = accuracy_runs(folder, scratch, args.seeds, args.epochs)
        started = startup(folder, scratch, args.repeats)
        bounded = None
        if not args.quick:
            big = render_photos(scratch / "big", 10_000, 256, seed=1)
            bounded = bounded_run(big, scratch, args.memory_mib, 224)
    report(rows, png_rate, jpeg_rate, started, bounded, args)
    return 0


def report(rows, png_rate, jpeg_rate, started, bounded, args) -> None:
    import torch

    from torchbasics.cpu import cpu_info

    print(f"{cpu_info().describe()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}, {os.cpu_count()} cores for the cache\n")
    mean = {source: statistics.mean(r["test_error"] for r in rows if r["source"] == source)
            for source in ("folder", "IDX files")}
    speed = {source: statistics.mean(r["images_per_second"] for r in rows
                                     if r["source"] == source) for source in mean}
    gap = abs(mean["folder"] - mean["IDX files"])
    print("| measure | folder | IDX files | goal | met |\n|---|---:|---:|---|---|")
    print(f"| cnn test error, mean of seeds {', '.join(map(str, args.seeds))} ({args.epochs} "
          f"epochs) | {100 * mean['folder']:.2f} % | {100 * mean['IDX files']:.2f} % | within "
          f"{100 * ERROR_GOAL:.1f} points | {'yes' if gap <= ERROR_GOAL else '**no**'} |")
    ratio = speed["folder"] / speed["IDX files"]
    print(f"| training images/s | {speed['folder']:,.0f} ({100 * ratio:.0f} %) | "
          f"{speed['IDX files']:,.0f} | ≥ 90 % | {'yes' if ratio >= SPEED_GOAL else '**no**'} |")
    extra = started["folder"] - started["IDX files"]
    print(f"| a second run's start-up (`train --steps 1`, median of {args.repeats}) | "
          f"{started['folder']:.2f} s | {started['IDX files']:.2f} s | ≤ +1 s | "
          f"{'yes' if extra <= STARTUP_GOAL else '**no**'} |")
    print(f"| building the cache: 70,000 PNGs, 28x28 gray | {png_rate:,.0f} pictures/s | | | |")
    print(f"| building the cache: {args.photos:,} JPEGs, 256x256 colour, to 64x64 | "
          f"{jpeg_rate:,.0f} pictures/s | | | |")
    print_bounded(bounded, args)


def print_bounded(bounded: dict | None, args) -> None:
    """The bounded-memory run's row of the table."""
    if bounded is None:
        why = ("skipped (--quick)" if args.quick
               else "no memory cgroup can be made here (Linux, as root)")
        print(f"| peak RSS, a run given less memory than its cache | not measured: {why} "
              "| | | |")
    else:
        cache_mib = 10_000 * 224 * 224 * 3 / 2**20
        what = (f"one softmax epoch on 10,000 JPEGs cached at 224x224x3 ({cache_mib:,.0f} "
                f"MiB), the cache built and the run trained in {bounded['limit_mib']:,} MiB")
        if bounded["finished"]:
            print(f"| {what}: peak anonymous memory (peak RSS, the mapped cache's pages "
                  f"counted) | {bounded['peak_anonymous_mib']:,.0f} MiB "
                  f"({bounded['peak_rss_mib']:,.0f} MiB) | | it finishes | yes |")
        else:
            print(f"| {what} | killed (exit {bounded['code']}) | | it finishes | **no** |")


if __name__ == "__main__":
    sys.exit(main())
