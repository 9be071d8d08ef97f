"""A split as PNG files in class folders plus a list file, readable by any tool.

The layout is ``out_dir/<class slug>/<index:05d>.png`` (``index``: the image's position in
the split) and ``out_dir/<list name>`` with one ``<relative path> <label index>`` line per
image; :func:`torchbasics.data.image_files.load_image_list` reads it back pixel-exact.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm  # text bars: tqdm.auto warns in notebooks without ipywidgets

from torchbasics.data.image_data import ImageData
from torchbasics.data.listfile import class_slug
from torchbasics.errors import TorchbasicsError
from torchbasics.files import write_text

_PNG_CHANNELS = (1, 3)  # grayscale or RGB


def write_pngs(
    data: ImageData,
    out_dir: str | os.PathLike,
    list_name: str = "test.txt",
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write every image of ``data`` as a PNG in its class folder, then the list file.

    The list file is written last and atomically, so an interrupted export has none.

    Args:
        data: the split (1 or 3 channels).
        out_dir: the folder to create; it must be missing or empty.
        list_name: the list file's name inside ``out_dir`` (no folders).
        overwrite: write into a non-empty ``out_dir`` anyway, replacing files of the same
            names (other files are left alone, but are not in the new list).
        progress: show a progress bar.

    Returns:
        The list file's path.

    Raises:
        TorchbasicsError: ``out_dir`` not empty (without ``overwrite``), or not writable.
    """
    out_dir = Path(out_dir)
    if data.image_shape[0] not in _PNG_CHANNELS:
        raise TorchbasicsError(
            f"cannot save {data.image_shape[0]}-channel images as PNG", where=data.source or None,
            fix="export grayscale (1 channel) or RGB (3 channel) images",
        )
    if Path(list_name).name != list_name or not list_name:
        # The list's paths are relative to its folder, so it must sit in out_dir itself.
        raise TorchbasicsError(f"'{list_name}' is not a plain file name", where="list_name",
                               fix="give a name like test.txt, without folders")
    slugs = _slugs(data.class_names)
    _prepare(out_dir, list_name, overwrite)
    lines = [f"# {len(data)} images of {data.source or 'a split'}: <path> <label index>",
             "# classes: " + ", ".join(f"{i}={name}" for i, name in enumerate(data.class_names))]
    images, labels = data.images.cpu().numpy(), data.labels.tolist()  # (N, C, H, W), (N,)
    bar = tqdm(range(len(data)), desc=f"exporting to {out_dir.name}", unit="image",
               disable=not progress or not sys.stderr.isatty())
    for index in bar:
        relative = f"{slugs[labels[index]]}/{index:05d}.png"
        _save_png(images[index], out_dir / relative)
        lines.append(f"{relative} {labels[index]}")
    list_path = out_dir / list_name
    write_text(list_path, "\n".join(lines) + "\n")
    return list_path


def _slugs(class_names: tuple[str, ...]) -> list[str]:
    """One folder name per class; distinct, or two classes would share a folder."""
    slugs = [class_slug(name) for name in class_names]
    for index, slug in enumerate(slugs):
        if slugs.index(slug) != index:
            raise TorchbasicsError(
                f"classes '{class_names[slugs.index(slug)]}' and '{class_names[index]}' "
                f"would share the folder '{slug}'",
                fix="give the classes names that differ in letters or digits",
            )
    return slugs


def _prepare(out_dir: Path, list_name: str, overwrite: bool) -> None:
    """Create ``out_dir``; refuse a non-empty one unless ``overwrite``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise TorchbasicsError("exists and is not a folder", where=out_dir,
                               fix="choose a folder path for the export")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise TorchbasicsError(
                "the output folder is not empty", where=out_dir,
                fix="choose a new or empty folder, or overwrite it with --force "
                "(overwrite=True in Python)",
            )
        # An old list file would describe half-replaced images if we are interrupted.
        (out_dir / list_name).unlink(missing_ok=True)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TorchbasicsError(f"cannot create the folder ({exc.strerror or exc})",
                               where=out_dir, fix="choose a folder you can write to") from None


def _save_png(pixels, path: Path) -> None:
    """Save ``(C, H, W)`` uint8 pixels as a lossless PNG, creating its folder."""
    channels = pixels.shape[0]
    array = pixels[0] if channels == 1 else pixels.transpose(1, 2, 0)  # (H, W) or (H, W, 3)
    try:
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(array).save(path, format="PNG")
    except OSError as exc:
        raise TorchbasicsError(f"cannot write the image ({exc.strerror or exc})", where=path,
                               fix="check free disk space and permissions") from None
