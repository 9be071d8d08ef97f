"""``torchbasics data``: look at, export and download the image data sets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from torchbasics.cli.pictures import add_cache_command, add_picture_flags

SEARCH_HELP = """\
Data sets are looked for, in this order, in: --data-dir; the folders listed in
$TORCHBASICS_DATA (separated by ':'); the user cache ($TORCHBASICS_CACHE or
~/.cache/torchbasics); ./data; and system folders (Debian's dataset-fashion-mnist
installs /usr/share/datasets/fashion-mnist). In each folder the four IDX files may sit
directly, in a folder named after the data set (mnist/, fashion-mnist/), or in
torchvision's layout (MNIST/raw/, FashionMNIST/raw/). What is not found is downloaded
(md5-checked) into --data-dir, or the user cache, unless --no-download is given."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``data`` and its subcommands to the top-level parser."""
    data = commands.add_parser(
        "data", help="inspect, show, export and download data sets",
        description="Inspect, show, export and download the image data sets.\n\n" + SEARCH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    info = _subcommand(sub, "info", "counts, classes, balance, statistics and where the files "
                       "are; for a folder of pictures, what was skipped and why")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_picture_flags(info)
    info.set_defaults(handler=run_info)

    show = _subcommand(sub, "show", "save a grid of sample images with their class names")
    show.add_argument("--split", default="train", choices=["train", "test"],
                      help="which split (default: train)")
    show.add_argument("--n", type=int, default=64, help="how many images (default: 64)")
    show.add_argument("--seed", type=int, default=0,
                      help="seed for picking the images at random (default: 0)")
    show.add_argument("--list", type=Path, metavar="FILE",
                      help="pick from the images this list file names instead (IDs or paths)")
    show.add_argument("--deskew", action="store_true",
                      help="show the images deskewed, as models trained with --deskew see "
                      "them (the MNIST recipes)")
    show.add_argument("--out", type=Path, default=Path("grid.png"),
                      help="output PNG (default: grid.png)")
    add_picture_flags(show)
    show.set_defaults(handler=run_show)

    export = _subcommand(sub, "export", "write a split as PNG files in class folders + a list "
                         "file, or a table as CSV")
    export.add_argument("--split", default="test", choices=["train", "test"],
                        help="which split of an image data set (default: test)")
    export.add_argument("--out", type=Path, required=True,
                        help="output folder (must be empty), or for a table the CSV file")
    export.add_argument("--force", action="store_true",
                        help="write into a folder that is not empty, or over a file "
                        "(default: refuse)")
    export.add_argument("--staff", action="store_true",
                        help="bonus only: the same employees as an HR spreadsheet has them, "
                        "with an employee_id, a department that moves the bonus, a constant "
                        "column and empty cells: a table to try `train --dataset FILE.csv "
                        "--target bonus` on (default: the bonus table as it ships)")
    export.set_defaults(handler=run_export)

    download = _subcommand(sub, "download", "fetch the files and verify their md5 checksums")
    download.add_argument("--mirror", action="append", metavar="URL",
                          help="base URL to fetch from instead of the built-in mirrors "
                               "(repeatable, tried in order)")
    download.set_defaults(handler=run_download)
    add_cache_command(sub)


def _subcommand(
    sub: argparse._SubParsersAction, name: str, summary: str
) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name, help=summary, description=f"{summary[0].upper()}{summary[1:]}.\n\n{SEARCH_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME|FOLDER",
                        help="a data set (mnist, fashion-mnist; bonus for export), or for info "
                        "and show a folder of your own pictures")
    parser.add_argument("--data-dir", type=Path, help="folder searched first, and where "
                        "downloads go (default: the user cache)")
    if name != "download":
        parser.add_argument("--no-download", action="store_true",
                            help="fail instead of downloading missing files (default: download)")
    return parser


def _locate(args: argparse.Namespace):
    from torchbasics.data.sources import locate

    return locate(args.name, args.data_dir, download=not getattr(args, "no_download", False),
                  progress=sys.stderr.isatty())


def _own(args: argparse.Namespace) -> bool:
    """Whether NAME is a folder of the user's pictures."""
    from torchbasics.data.registry import get_dataset

    return get_dataset(args.name).own


def run_info(args: argparse.Namespace) -> int:
    """Print what is known and measured about a data set."""
    from torchbasics.data.summary import dataset_summary

    if _own(args):
        from torchbasics.cli.pictures import run_info as info_of_folder

        return info_of_folder(args)
    summary = dataset_summary(_locate(args))
    print(json.dumps(summary, indent=2) if args.json else format_info(summary))
    return 0


def format_info(summary: dict[str, Any]) -> str:
    """The text form of ``data info``."""
    splits = summary["splits"]
    lines = [
        f"{summary['title']}  [{summary['name']}]",
        f"found in:    {summary['found_in']}  (via {summary['found_via']})",
    ]
    differing = [name for name, official in summary["official_files"].items() if not official]
    lines.append("files:       " + (
        "content identical to the official release" if not differing
        else f"differ from the official release: {', '.join(differing)}"
    ))
    channels, height, width = summary["image_shape"]
    lines.append(f"image shape: {channels} x {height} x {width}, uint8")
    mean = ", ".join(f"{m:.4f}" for m in summary["normalize_mean"])
    std = ", ".join(f"{s:.4f}" for s in summary["normalize_std"])
    train = splits["train"]
    measured = (", ".join(f"{m:.4f}" for m in train["measured_mean"]) + " / "
                + ", ".join(f"{s:.4f}" for s in train["measured_std"]))
    lines.append(f"normalize:   mean {mean} / std {std}  (measured on this train split: "
                 f"{measured})")
    lines.append("")
    lines.append(f"{'split':<8}{'images':>10}{'official':>10}")
    for name, split in splits.items():
        note = "" if split["count"] == split["official_count"] else "  <- a reduced copy"
        lines.append(f"{name:<8}{split['count']:>10,}{split['official_count']:>10,}{note}")
    lines.append("")
    width_name = max(len(name) for name in summary["classes"]) + 4
    header = "".join(f"{name:>10}" for name in splits)
    lines.append(f"{'class':<{width_name}}{header}")
    for label, name in enumerate(summary["classes"]):
        counts = "".join(f"{split['class_counts'][label]:>10,}" for split in splits.values())
        tag = name if name == str(label) else f"{label} {name}"
        lines.append(f"{tag:<{width_name}}{counts}")
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    """Save a grid of sample images, captioned with their class names."""
    import torch

    from torchbasics.data.sources import load_located
    from torchbasics.plots import image_grid, save_figure

    if args.n < 1:
        from torchbasics.errors import TorchbasicsError

        raise TorchbasicsError(f"--n must be at least 1, got {args.n}", where="--n")
    if _own(args):
        from torchbasics.cli.pictures import run_show as show_folder

        return show_folder(args)
    located = _locate(args)
    data = load_located(located, args.split)
    if args.list is not None:
        from torchbasics.data.image_files import load_list

        data = load_list(args.list, data)
    generator = torch.Generator().manual_seed(args.seed)
    pick = torch.randperm(len(data), generator=generator)[: args.n]
    images = data.images[pick]  # (n, C, H, W) uint8
    if args.deskew:
        from torchbasics.data.geometry import deskew_pixels

        images = deskew_pixels(images)
    figure = image_grid(
        images, data.labels[pick].tolist(), data.class_names,
        title=f"{located.spec.name} {args.split}: {len(pick)} of {len(data):,} images"
        + (", deskewed" if args.deskew else ""),
    )
    save_figure(figure, args.out)
    print(f"saved {len(pick)} images to {args.out}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write a split as PNG files in class folders, with a list file to read them back; or
    a table as a CSV file."""
    from torchbasics.data.pngs import write_pngs
    from torchbasics.data.registry import get_dataset
    from torchbasics.data.sources import load_located
    from torchbasics.errors import TorchbasicsError

    if get_dataset(args.name).kind == "tabular":
        return export_table(args)
    if args.staff:
        raise TorchbasicsError("--staff is for the bonus table", where="--staff",
                               fix="leave it out")
    data = load_located(_locate(args), args.split)
    list_path = write_pngs(data, args.out, list_name=f"{args.split}.txt", overwrite=args.force,
                             progress=sys.stderr.isatty())
    print(f"wrote {len(data):,} PNG files to {args.out}; list file: {list_path}")
    return 0


def export_table(args: argparse.Namespace) -> int:
    """``data export bonus``: the shipped CSV, or with ``--staff`` the staff table."""
    import csv
    import io

    from torchbasics.errors import TorchbasicsError
    from torchbasics.files import write_text
    from torchbasics.tabular.bonus import default_csv, generate_staff

    if args.out.exists() and not args.force:
        raise TorchbasicsError("already exists", where=args.out,
                               fix="choose another --out, or pass --force to overwrite it")
    if args.staff:
        header, rows = generate_staff()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([header, *rows])
        text = buffer.getvalue()
    else:
        text = default_csv().read_text()
    write_text(args.out, text)
    print(f"wrote {args.out}: {text.count(chr(10)) - 1:,} rows"
          + ("; try: torchbasics train --dataset " f"{args.out} --target bonus --out runs/staff"
             if args.staff else ""))
    return 0


def run_download(args: argparse.Namespace) -> int:
    """Download (or confirm) the data set's files, verifying their checksums."""
    from torchbasics.data.download import download_dataset
    from torchbasics.data.locate import cache_dir
    from torchbasics.data.registry import get_dataset

    spec = get_dataset(args.name)
    target = args.data_dir or cache_dir() / spec.folders[0]
    directory = download_dataset(spec, target, mirrors=args.mirror, progress=sys.stderr.isatty())
    print(f"{spec.title}: all {len(spec.files())} files present and verified in {directory}")
    return 0
