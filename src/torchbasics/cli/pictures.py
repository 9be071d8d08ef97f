"""``torchbasics data info|show FOLDER`` and ``data cache``: the user's own pictures."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

SIZES_SHOWN = 5  # most common picture sizes listed


def add_picture_flags(parser: argparse.ArgumentParser) -> None:
    """``--image-size``, ``--channels``, ``--resize`` for the commands that read a folder."""
    parser.add_argument("--image-size", type=int, metavar="N",
                        help="folders of pictures: the side they are brought to (default: "
                        "their own when all one square size up to 64, else 32)")
    parser.add_argument("--channels", choices=["auto", "1", "3"], default="auto",
                        help="folders of pictures: 1 gray, 3 colour (default: auto)")
    parser.add_argument("--resize", choices=["pad", "crop", "squash"], default="pad",
                        help="folders of pictures: how they reach the size (default: pad)")


def add_cache_command(sub: argparse._SubParsersAction) -> None:
    """``data cache [--clear]``."""
    cache = sub.add_parser("cache", help="how much the cache of decoded pictures holds; "
                           "--clear empties it",
                           description="The pictures of your folders are decoded once into "
                           "the user cache, so that later runs start at once. This says how "
                           "much it holds, or empties it (downloaded data sets stay).")
    cache.add_argument("--clear", action="store_true",
                       help="remove every cache of decoded pictures (default: only show)")
    cache.set_defaults(handler=run_cache)


def cache_of(args: argparse.Namespace):
    """The folder's index and its picture cache (built now if need be)."""
    from torchbasics.data.picture_cache import PictureOptions, load_or_build
    from torchbasics.data.pictures import index_of
    from torchbasics.data.registry import get_dataset

    index = index_of(get_dataset(args.name))
    options = PictureOptions(image_size=args.image_size, channels=args.channels,
                             resize=args.resize)
    return index, load_or_build(index, options, progress=sys.stderr.isatty(),
                                log=lambda line: print(line, file=sys.stderr))


def run_info(args: argparse.Namespace) -> int:
    """What is in a folder of pictures."""
    from torchbasics.data.pictures import folder_summary

    summary = folder_summary(*cache_of(args))
    print(json.dumps(summary, indent=2) if args.json else format_info(summary))
    return 0


def format_info(summary: dict[str, Any]) -> str:
    """The text form of ``data info FOLDER``."""
    cached = summary["cached_as"]
    lines = [f"your pictures in {summary['source']}  ({summary['layout']})",
             f"classes:     {len(summary['classes'])}"
             + (", ordered as numbers" if summary["classes_ordered_as_numbers"] else ""),
             "sizes:       " + ", ".join(f"{size} ({count:,})" for size, count in list(
                 summary["picture_sizes"].items())[:SIZES_SHOWN])
             + (", ..." if len(summary["picture_sizes"]) > SIZES_SHOWN else ""),
             f"cached as:   {cached['size']}x{cached['size']}, {cached['channels']} channel(s), "
             f"resized by {cached['resize']}  ({cached['folder']})", ""]
    splits = list(summary["counts"])
    width = max(len(name) for name in summary["classes"]) + 4
    lines.append(f"{'class':<{width}}" + "".join(f"{split:>10}" for split in splits))
    for label, name in enumerate(summary["classes"]):
        lines.append(f"{name:<{width}}" + "".join(f"{summary['counts'][s][label]:>10,}"
                                                  for s in splits))
    lines.append(f"{'all':<{width}}" + "".join(f"{sum(summary['counts'][s]):>10,}"
                                               for s in splits))
    skipped = summary["skipped"]
    lines += ["", f"skipped: {len(skipped):,} file{'s' * (len(skipped) != 1)}"]
    lines += [f"  {item['file']}: {item['reason']}" for item in skipped]
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    """A grid of pictures of a folder, as the models see them (from the cache)."""
    import numpy as np
    import torch

    from torchbasics.errors import TorchbasicsError
    from torchbasics.plots import image_grid, save_figure

    index, cache = cache_of(args)
    rows = cache.rows(args.split)
    if not len(rows):
        raise TorchbasicsError(f"no {args.split} pictures here", where=index.source,
                               fix="a folder without split folders has train pictures only")
    pick = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(args.seed))
                .numpy()[:args.n]]
    pixels = torch.from_numpy(cache.pixels()[np.sort(pick)])
    labels = cache.labels()[np.sort(pick)]
    figure = image_grid(pixels, labels.tolist(), index.classes,
                        title=f"{args.split}: {len(pick)} of {len(rows):,} pictures, "
                        f"{cache.picture.size}x{cache.picture.size}")
    save_figure(figure, args.out)
    print(f"saved {len(pick)} pictures to {args.out}")
    return 0


def run_cache(args: argparse.Namespace) -> int:
    """Say how much the picture caches hold, or empty them."""
    from torchbasics.data.picture_cache import cache_root, cache_size, clear_caches

    if args.clear:
        caches, size = clear_caches()
        print(f"removed {caches} picture cache(s), {size / 2**20:,.1f} MiB, from {cache_root()}")
        return 0
    caches, size = cache_size()
    print(f"{caches} picture cache(s), {size / 2**20:,.1f} MiB, in {cache_root()} "
          "(`torchbasics data cache --clear` empties it; they are rebuilt when needed)")
    return 0
