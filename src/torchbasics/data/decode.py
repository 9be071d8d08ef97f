"""One picture file -> the uint8 pixels a model takes: the package's one way to open a
picture file (:func:`open_picture`) and to bring it to a size (:func:`fit_picture`).

:func:`fit_picture` serves the picture cache that training reads, ``predict``, ``serve``
and ``export``'s checks, and the list files of pictures (squashed, as they always were): a
model sees every picture prepared exactly as its training pictures were.

Decoding is strict (:func:`open_picture`, for every picture file the package reads): a
file is fully decoded when opened, so a
truncated one fails at the door and not in the seventh epoch; a picture larger than
Pillow's decompression-bomb limit is refused from its header, before its pixels are
decoded; the EXIF orientation is applied (a phone's portrait photo is read upright); every
mode (L, LA, P, RGB, RGBA, CMYK, I;16, ...) becomes gray or RGB (:func:`to_mode`), the
first frame of an animation is the picture.

This module imports neither PyTorch nor the rest of the package's heavy parts: the worker
processes that build the cache import it alone.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from torchbasics.errors import TorchbasicsError

# Picture files are recognized by name; anything else in a folder of pictures is skipped.
IMAGE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
    ".pgm", ".pbm", ".ppm", ".pnm",
)
RESIZE = ("pad", "crop", "squash")  # how a picture is brought to the model's square
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_MODES = {1: "L", 3: "RGB"}


class PictureProblem(TorchbasicsError):
    """A file that is not a usable picture; ``what`` is the reason, as a skip report says it."""


@dataclass(frozen=True)
class PictureFormat:
    """What a model's pictures are: ``size`` x ``size`` pixels, ``channels`` (1 or 3), and
    how a picture of another shape reaches that size (``resize``, one of :data:`RESIZE`)."""

    size: int
    channels: int
    resize: str = "pad"

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return (self.channels, self.size, self.size)


def limit() -> int:
    """The most pixels a picture may have: Pillow's decompression-bomb limit."""
    return int(Image.MAX_IMAGE_PIXELS or 2**31)


def header(path: str | os.PathLike) -> tuple[int, int, bool]:
    """``(width, height, gray)`` from the file's header (upright, as its EXIF says), without
    decoding its pixels; ``gray``: the picture is stored in gray.

    Raises:
        PictureProblem: not a picture, or too large to decode.
    """
    with _opened(path) as image:
        width, height = image.size
        try:
            orientation = image.getexif().get(0x0112, 1)
        except Exception as exc:  # damaged data can fail anywhere in Pillow's parsers
            raise PictureProblem(f"cannot be decoded ({_short(exc)})") from None
        if orientation in (5, 6, 7, 8):  # turned by a quarter: sides swap
            width, height = height, width
        return width, height, is_gray(image)


def is_gray(image: Image.Image) -> bool:
    """Whether a picture is stored in gray: a gray mode, or a palette of grays only."""
    if image.mode in GRAY_MODES:
        return True
    if image.mode in ("P", "PA"):
        palette = np.array(image.getpalette() or [], dtype=np.int64).reshape(-1, 3)
        return bool(np.all(palette == palette[:, :1]))
    return False


def open_picture(path: str | os.PathLike, *, fix: str | None = None) -> Image.Image:
    """A picture file fully decoded, upright (EXIF), its first frame if animated: the one
    way the package opens a picture file.

    Args:
        fix: what the error tells the user to do about a file that is not usable.

    Raises:
        PictureProblem: unreadable, missing, empty, not a picture, truncated, or too large;
            ``what`` is the reason (as a skip report says it), ``where`` the path.
    """
    try:
        with _opened(path) as image:
            return _decoded(image)
    except PictureProblem as problem:
        raise PictureProblem(problem.what, where=path, fix=fix) from None


def _decoded(image: Image.Image) -> Image.Image:
    """An opened picture decoded now (a truncated file fails here, not in an epoch), upright."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd but readable files
            image.load()
            return ImageOps.exif_transpose(image)
    except Exception as exc:  # damaged data can fail anywhere in Pillow's decoders
        raise PictureProblem(f"cannot be decoded ({_short(exc)})") from None


class _opened:
    """``Image.open`` as a context manager whose failures are :class:`PictureProblem`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.image: Image.Image | None = None

    def __enter__(self) -> Image.Image:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError as exc:
            # A name that is not there at all was mistyped; one that is there and leads
            # nowhere is a broken link (os_reason says so).
            reason = os_reason(exc) if self.path.is_symlink() else "file not found"
            raise PictureProblem(f"cannot be read ({reason})") from None
        except OSError as exc:
            raise PictureProblem(f"cannot be read ({os_reason(exc)})") from None
        if size == 0:
            raise PictureProblem("an empty file (0 bytes)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self.image = Image.open(self.path)
        except UnidentifiedImageError:
            raise PictureProblem("not a picture (Pillow does not recognize its content)") from None
        except Image.DecompressionBombError:
            raise PictureProblem(f"too large to decode safely (more than twice {limit():,} "
                                 "pixels: a decompression bomb?)") from None
        except OSError as exc:
            raise PictureProblem(f"cannot be read ({os_reason(exc)})") from None
        except Exception as exc:  # damaged data can fail anywhere in Pillow's parsers
            raise PictureProblem(f"cannot be decoded ({_short(exc)})") from None
        width, height = self.image.size
        if width * height > limit():
            self.image.close()
            raise PictureProblem(f"too large to decode safely: {width:,}x{height:,} pixels "
                                 f"(the limit is {limit():,}; a decompression bomb?)")
        if width < 1 or height < 1:
            raise PictureProblem(f"{width}x{height} pixels")
        return self.image

    def __exit__(self, *exc: object) -> None:
        if self.image is not None:
            self.image.close()


def to_mode(image: Image.Image, mode: str) -> Image.Image:
    """``image`` in ``mode`` ("L" or "RGB"), with 16-bit scaled and transparency on white."""
    if image.mode in _SIXTEEN_BIT:
        # Pillow's own conversion clips 16-bit values at 255, which turns most pixels white.
        eight = np.round(np.asarray(image, dtype=np.float64) / 257).clip(0, 255)
        image = Image.fromarray(eight.astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert(mode)


def fit_picture(image: Image.Image, shape: tuple[int, int, int],
                resize: str = "pad") -> np.ndarray:
    """A decoded picture as ``shape`` ``(C, H, W)`` uint8 pixels (C: 1 gray, 3 RGB), brought
    to that size as ``resize`` (one of :data:`RESIZE`) says:

    - ``pad``: scaled so that it fits whole, its shape kept, the rest black (nothing of
      the picture is lost; the default);
    - ``crop``: scaled so that it covers the frame, the middle kept;
    - ``squash``: stretched to the frame.

    Scaling is Lanczos (antialiased when shrinking). The one resizing the package does to
    a picture file: the picture cache, ``predict`` and list files of pictures all call it.
    """
    channels, height, width = shape
    if channels not in _MODES:
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    image = to_mode(image, _MODES[channels])
    side = (width, height)  # Pillow's order
    method = Image.Resampling.LANCZOS
    if resize == "pad":
        image = _pad(image, side)
    elif resize == "crop":
        image = ImageOps.fit(image, side, method=method)
    else:
        image = image.resize(side, method)
    pixels = np.asarray(image, dtype=np.uint8)  # (H, W) or (H, W, 3)
    return pixels[None].copy() if channels == 1 else pixels.transpose(2, 0, 1).copy()


def _pad(image: Image.Image, side: tuple[int, int]) -> Image.Image:
    """``image`` scaled to fit ``side`` (width, height) whole, centred on black; a side never
    shrinks below one pixel (Pillow's ``ImageOps.pad`` loses a 20000x20 picture whole)."""
    width, height = side
    scale = min(width / image.width, height / image.height)
    fitted = (max(1, min(width, round(image.width * scale))),
              max(1, min(height, round(image.height * scale))))
    if fitted != image.size:
        image = image.resize(fitted, Image.Resampling.LANCZOS)
    canvas = Image.new(image.mode, side, 0)
    canvas.paste(image, ((width - fitted[0]) // 2, (height - fitted[1]) // 2))
    return canvas


def decode_file(path: str, picture: PictureFormat) -> tuple[np.ndarray | None, str]:
    """``(pixels, "")`` for a usable picture file, else ``(None, the reason)``: what the
    cache's worker processes run for each file."""
    try:
        return fit_picture(open_picture(path), picture.shape, picture.resize), ""
    except PictureProblem as problem:
        return None, problem.what
    except Exception as exc:  # a mode Pillow cannot convert, and the like
        return None, f"cannot be converted ({_short(exc)})"


def decode_chunk(paths: list[str], picture: PictureFormat) -> list[tuple[bytes | None, str]]:
    """:func:`decode_file` of each path, the pixels as bytes (what crosses a process pipe)."""
    results = []
    for path in paths:
        pixels, reason = decode_file(path, picture)
        results.append((None if pixels is None else pixels.tobytes(), reason))
    return results


def header_chunk(paths: list[str]) -> list[tuple[tuple[int, int, bool] | None, str]]:
    """:func:`header` of each path, or ``None`` and the reason it fails."""
    results: list[tuple[tuple[int, int, bool] | None, str]] = []
    for path in paths:
        try:
            results.append((header(path), ""))
        except PictureProblem as problem:
            results.append((None, problem.what))
    return results


def os_reason(exc: OSError) -> str:
    """An OS error in a few words: ``permission denied``, ``a symlink loop``, ..."""
    import errno

    words = {errno.EACCES: "permission denied", errno.ELOOP: "a symlink loop",
             errno.ENOENT: "no such file (a broken link?)", errno.EISDIR: "a folder"}
    return words.get(exc.errno, (exc.strerror or str(exc)).lower())


def _short(exc: BaseException) -> str:
    """An exception as a short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."
