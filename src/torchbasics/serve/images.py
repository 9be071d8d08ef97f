"""Untrusted bytes from a client -> a PIL image small enough to predict on, or a clear refusal.

Every check happens before the pixels are decoded where it can: the format is sniffed from
the bytes (the client's content type is not trusted), the size is read from the header and
refused when too large (a decompression bomb: a small file that decodes to gigabytes), and
animations are refused (which frame would be "the" picture?). Whatever Pillow raises while
decoding damaged data becomes a 400: a broken upload is the client's problem, never a 500.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from torchbasics.serve.errors import RequestError

# Formats a photo, a scan or a browser canvas comes in. Pillow reads many more (TIFF, PSD,
# ICO, ...), each more code facing untrusted bytes; these are enough.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; Pillow's own bomb limit is 89 M
MAX_SIDE = 10_000  # pixels on either side
# Larger pictures are shrunk to this first: preprocessing costs grow with the pixels, and
# the model sees 28x28 anyway (a stroke of a 512-pixel picture is still several wide).
WORK_SIDE = 512


@dataclass(frozen=True)
class ImageLimits:
    """How large a decoded picture may be."""

    max_pixels: int = MAX_PIXELS
    max_side: int = MAX_SIDE
    work_side: int | None = WORK_SIDE  # None: keep every pixel (a model of your own pictures)


def decode_image(data: bytes, limits: ImageLimits = ImageLimits(), name: str = "") -> Image.Image:
    """Decode one uploaded picture, upright (EXIF), at most ``limits.work_side`` on a side.

    Raises:
        RequestError: 400 empty or damaged, 413 too large (or a bomb), 415 not a still
            picture in one of :data:`FORMATS`.
    """
    where = name or None
    if not data:
        raise RequestError(400, "the image is empty (0 bytes)", where=where,
                           fix="send the picture's bytes")
    image = _open(data, where)
    _check_size(image, limits, where)
    if getattr(image, "is_animated", False):
        raise RequestError(415, f"an animated {image.format} ({image.n_frames} frames) is not "
                           "one picture", where=where, fix="send a still PNG or JPEG")
    if image.format == "JPEG" and limits.work_side:  # decode at a reduced scale when that
        image.draft(image.mode, (limits.work_side, limits.work_side))  # still exceeds it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd but readable files
            image.load()
            image = ImageOps.exif_transpose(image)
    except Exception as exc:  # any failure on damaged data is the data's fault
        raise _failure(exc, where) from None
    if limits.work_side and max(image.size) > limits.work_side:
        image.thumbnail((limits.work_side, limits.work_side), Image.Resampling.LANCZOS)
    if image.mode == "RGBA" and image.getextrema()[3] == (255, 255):
        # A browser canvas sends RGBA with nothing transparent: dropping the alpha channel
        # here, in the decoding threads, spares the model's thread compositing it on white.
        image = image.convert("RGB")
    return image


def _open(data: bytes, where: str | None) -> Image.Image:
    """Read the header; refuse what is not a picture in an accepted format."""
    try:
        with warnings.catch_warnings():
            # Above Pillow's warning limit: refused by _check_size with our own message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise RequestError(415, f"not a picture in a supported format ({_kind(data)})",
                           where=where, fix=f"send {', '.join(FORMATS)}") from None
    except Exception as exc:  # a header Pillow chokes on is a damaged file
        raise _failure(exc, where) from None


def _failure(exc: Exception, where: str | None) -> RequestError:
    """What Pillow raised on an upload, as a 413 (it would decode too much) or a 400."""
    # Pillow's own bomb limits: the pixel count, and the size of compressed PNG text
    # chunks (ValueError "Decompressed data too large ..."; it has no type of its own).
    if isinstance(exc, Image.DecompressionBombError) or (
            isinstance(exc, ValueError) and "too large" in str(exc).lower()):
        return RequestError(413, f"the image is too large ({_short(exc)})", where=where,
                            fix="send a smaller picture")
    return RequestError(400, f"the image is damaged or truncated ({_short(exc)})",
                        where=where, fix="send the whole file, unchanged")


def _check_size(image: Image.Image, limits: ImageLimits, where: str | None) -> None:
    """Refuse a picture whose header promises too many pixels, before decoding them."""
    width, height = image.size
    if width < 1 or height < 1:
        raise RequestError(400, f"the image is {width}x{height} pixels", where=where)
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise RequestError(413, f"the image is too large: {width:,}x{height:,} pixels",
                           where=where, fix=f"send at most {limits.max_pixels:,} pixels and "
                           f"{limits.max_side:,} on a side")


def _kind(data: bytes) -> str:
    """A guess at what the bytes are, for the error message."""
    head = data[:512].lstrip().lower()
    if head.startswith(b"<?xml") or b"<svg" in head:
        return "SVG is a drawing, not pixels"
    if head[:1] in (b"{", b"["):
        return "it looks like JSON"
    return f"{len(data):,} bytes of something else"


def _short(exc: Exception) -> str:
    """An exception as a short single line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
