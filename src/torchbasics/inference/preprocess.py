"""Any picture -> the normalized ``(1, C, H, W)`` tensor a trained model expects.

A model of the user's own pictures (pipeline ``photo``) takes a picture as its training
pictures were made: decoded, upright, brought to its size by its resize policy
(:func:`torchbasics.data.decode.fit_picture`, the function the training cache used).

The models that learned from MNIST or Fashion-MNIST saw images made in a fixed way; a
photo or scan must be brought into the same form or the model sees something it never
met. Two pipelines, chosen by the data set (``DatasetSpec.picture_pipeline``):

``digits`` (MNIST's own recipe, LeCun et al.): light ink on black, the digit's bounding
box fitted into 20x20 keeping its aspect ratio, then placed in 28x28 so that its centre of
mass is at the centre (pixel (14, 14)).

``fit`` (Fashion-MNIST's recipe, Xiao et al.): the object's bounding box, longest side
fitted to 28, the short side padded equally on both ends; no centre-of-mass shift.

Both start alike: grayscale on [0, 1]; inverted when the ink is darker than the
background (dark ink on paper becomes light ink on black); the background level and the
paper's gray noise removed; contrast stretched so the ink reaches 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from scipy import ndimage

from torchbasics.data.decode import fit_picture, open_picture, to_mode
from torchbasics.data.registry import get_dataset
from torchbasics.data.transforms import ModelInput
from torchbasics.errors import TorchbasicsError

DIGIT_BOX = 20 / 28  # MNIST digits fill a 20x20 box inside the 28x28 image
BORDER = 0.05  # the outer 5 % of each side is taken as background
MIN_CONTRAST = 0.15  # ink must differ from the background by this much (of the full range)
NOISE_SIGMAS = 5  # and by this many standard deviations of the (blurred) noise
NOISE_MIN = 1 / 255  # noise below one gray level: a clean, digital picture
SMOOTHING = 1.0  # sigma, pixels, of the Gaussian blur that finds ink in a noisy picture
SMOOTHED_NOISE = 1 / (2 * np.sqrt(np.pi) * SMOOTHING)  # white noise's std left after it
INK_THRESHOLD = 0.05  # of the ink level: what counts as ink when cropping a clean picture
BLURRED_INK_THRESHOLD = 0.5  # ... a noisy one, blurred: half way is where an edge lies
SPECK_FRACTION = 0.02  # ink blobs smaller than this share of the largest are ignored
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601 weights, as Pillow's "L" conversion
PICTURE_FIX = "give a PNG, JPEG, BMP, ... picture"  # what to do about an unusable file

ImageInput = Any  # a PIL image, a numpy array (H, W) or (H, W, C), or a path


@dataclass(frozen=True)
class Preprocessing:
    """How to turn a picture into model input: the pipeline, the size, the model's input step."""

    pipeline: str  # "digits", "fit" or "photo"
    input_shape: tuple[int, int, int]  # (C, H, W) the model takes
    model_input: ModelInput  # deskewing (if trained so) and normalization, as in training
    resize: str = "pad"  # photo: how a picture of another shape reaches the model's

    @classmethod
    def for_checkpoint(cls, checkpoint: dict[str, Any]) -> Preprocessing:
        """The preprocessing a checkpoint's model needs (its picture preparation, shape and
        input step); a checkpoint of before 0.3.0 prepares pictures as its data set does."""
        from torchbasics.checkpoint import model_input

        picture = checkpoint.get("picture") or {
            "pipeline": get_dataset(checkpoint["dataset"]).picture_pipeline}
        return cls(picture["pipeline"], tuple(checkpoint["input_shape"]),
                   model_input(checkpoint), picture.get("resize", "pad"))

    @property
    def deskew(self) -> bool:
        """Whether the model straightens its input first (as it learned to)."""
        return self.model_input.deskew

    def __call__(self, image: ImageInput) -> Preprocessed:
        """``image`` preprocessed; see :func:`preprocess`."""
        return preprocess(image, self)

    def pixels(self, seen: np.ndarray) -> torch.Tensor:
        """``(N, H, W)`` (gray in every channel) or ``(N, H, W, 3)`` uint8 -> ``(N, C, H, W)``
        float32 on [0, 1]."""
        pixels = torch.from_numpy(np.ascontiguousarray(seen)).float().div_(255.0)
        if pixels.ndim == 4:
            return pixels.permute(0, 3, 1, 2).contiguous()
        return pixels[:, None].expand(-1, self.input_shape[0], -1, -1).contiguous()


@dataclass(frozen=True)
class Preprocessed:
    """A picture made ready for the model."""

    tensor: torch.Tensor  # (1, C, H, W) float32, normalized: the model's input
    seen: np.ndarray  # (H, W) or (H, W, 3) uint8: the same image before deskewing and
    # normalizing
    inverted: bool  # whether the picture was dark-on-light and so inverted


def preprocess(image: ImageInput, preprocessing: Preprocessing) -> Preprocessed:
    """Turn a picture of any size, colour and type into the model's input.

    Steps (each function below does one):
      1. :func:`to_gray` - grayscale float on [0, 1].
      2. :func:`ink_on_black` - invert a light background; remove the background level
         and its noise; stretch so the ink reaches 1.
      3. :func:`ink_box` - crop to the ink, ignoring specks of noise.
      4. :func:`place_digit` (``digits``) or :func:`fit_and_pad` (``fit``) - resize into
         the model's frame.
      5. :meth:`Preprocessing.pixels`, then ``Preprocessing.model_input`` - rounded to
         uint8 as the training images were, then (deskewed if training did, and)
         normalized with their mean and std.

    Raises:
        TorchbasicsError: an unreadable file or array, or a blank picture (no ink).
    """
    if preprocessing.pipeline == "photo":
        return prepare_photo(image, preprocessing)
    ink = ink_on_black(to_gray(image), where=_name(image))
    top, bottom, left, right = ink_box(ink)
    crop = ink.pixels[top:bottom, left:right]
    height, width = preprocessing.input_shape[1:]
    if preprocessing.pipeline == "digits":
        frame = place_digit(crop, (height, width))
    else:
        frame = fit_and_pad(crop, (height, width))
    seen = np.round(frame * 255).astype(np.uint8)  # (H, W); what training images were: uint8
    with torch.no_grad():
        tensor = preprocessing.model_input(preprocessing.pixels(seen[None]))  # (1, C, H, W)
    return Preprocessed(tensor, seen, ink.inverted)


def prepare_photo(image: ImageInput, preprocessing: Preprocessing) -> Preprocessed:
    """A picture for a model of the user's own pictures: as its training pictures were made
    (:func:`~torchbasics.data.decode.fit_picture`), nothing cropped or inverted."""
    pixels = fit_picture(as_picture(image), preprocessing.input_shape,
                         preprocessing.resize)  # (C, H, W)
    seen = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)  # (H, W[, 3])
    with torch.no_grad():
        tensor = preprocessing.model_input(preprocessing.pixels(seen[None]))  # (1, C, H, W)
    return Preprocessed(tensor, seen, False)


def as_picture(image: ImageInput) -> Image.Image:
    """A path, a PIL image or a numpy array as a decoded PIL image, upright (EXIF).

    Arrays: ``(H, W)`` or ``(H, W, 3/4)``; uint8 as they are, floats on [0, 1].

    Raises:
        TorchbasicsError: an unreadable file or an array that is not a picture.
    """
    if isinstance(image, (str, os.PathLike)):
        return open_picture(image, fix=PICTURE_FIX)
    if isinstance(image, Image.Image):
        return ImageOps.exif_transpose(image)
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
            raise TorchbasicsError(f"cannot read a {array.dtype} array as a picture",
                                   fix="give uint8 (0-255) or float (0-1) pixels")
        array = np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise TorchbasicsError(f"a picture array must be (H, W) or (H, W, 3/4), not "
                               f"{tuple(array.shape)}", fix="move the channels last")
    return Image.fromarray(np.ascontiguousarray(array))


def to_gray(image: ImageInput) -> np.ndarray:
    """Grayscale ``(H, W)`` float64 on [0, 1] from a path, a PIL image or an array.

    Arrays may be ``(H, W)``, or ``(H, W, C)`` with C = 1, 3 (RGB) or 4 (RGBA); uint8 is
    0-255, uint16 0-65535, other integers 0-255; floats are 0-1 (or 0-255 if any value
    is above 1); a torch tensor is read as its numpy array. Transparent pixels are shown
    over white, as image viewers do.
    """
    if isinstance(image, (str, os.PathLike)):
        return to_gray(open_picture(image, fix=PICTURE_FIX))
    if isinstance(image, Image.Image):  # to_mode: the data layer's 16-bit and transparency rules
        return np.asarray(to_mode(image, "L"), dtype=np.float64) / 255.0
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise TorchbasicsError(f"cannot read a {type(image).__name__} as an image",
                               fix="give a PIL image, a numpy array (H, W) or (H, W, C), "
                               "or the path of an image file")
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4):
        # Pillow's own conversion, so that an array and the same picture as a file or PIL
        # image give identical pixels (its integer rounding differs from float maths).
        return to_gray(Image.fromarray(np.ascontiguousarray(image)))
    return _array_to_gray(image)


def _array_to_gray(array: np.ndarray) -> np.ndarray:
    """See :func:`to_gray`: the numpy case."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise TorchbasicsError(f"an image array must be (H, W) or (H, W, 1/3/4), not "
                               f"{tuple(array.shape)}", fix="move the channels last")
    if array.dtype == np.bool_:
        values = array.astype(np.float64)
    elif array.dtype == np.uint16:
        values = array / 65535.0
    elif np.issubdtype(array.dtype, np.integer):
        values = array / 255.0
    elif np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float64)
        if not np.isfinite(values).all():
            raise TorchbasicsError("the image array holds NaN or infinite values")
        if values.size and values.max() > 1:
            values = values / 255.0
    else:
        raise TorchbasicsError(f"cannot read a {array.dtype} array as an image",
                               fix="give uint8 (0-255) or float (0-1) pixels")
    if values.size and (values.min() < 0 or values.max() > 1):
        raise TorchbasicsError("pixel values out of range", fix="give 0-255 integers or "
                               "floats on [0, 1]")
    if values.ndim == 3:
        if values.shape[2] == 4:  # RGBA: composite over white
            alpha = values[:, :, 3:]
            values = values[:, :, :3] * alpha + (1 - alpha)
        values = values @ _LUMA
    return values


def ink_on_black(gray: np.ndarray, where: str | None = None) -> Ink:
    """Light ink on a black background, ink at 1, background and its noise at 0.

    The background is the median of the border (outer 5 %). Noise is what a 3x3 median
    filter removes from the border (robustly: the median absolute residual), so an object
    touching the border does not count as noise. A clean picture is used as it is; a
    noisy one is also blurred (Gaussian, sigma 1 px), which averages the noise away but
    keeps even a 2-pixel stroke. The ink is what departs furthest from the background in
    that picture: if darker (ink on paper, at any exposure), the picture is inverted. The
    ink level is that furthest point; on a noisy picture a floor of 3 noise standard
    deviations is also cut off, so gray paper texture becomes clean black as in MNIST.

    Raises:
        TorchbasicsError: the picture is blank (the ink does not stand out of the noise).
    """
    background = float(np.median(_border(gray)))
    # 1.4826 x median absolute deviation estimates a normal distribution's std; the
    # residual of a 3x3 median filter has about the noise's own std.
    residual = _border_residual(gray)
    noise = 1.4826 * float(np.median(np.abs(residual)))
    noisy = noise > NOISE_MIN
    smooth = ndimage.gaussian_filter(gray, SMOOTHING) if noisy else gray
    inverted = background - float(smooth.min()) > float(smooth.max()) - background
    if inverted:
        gray, smooth, background = 1.0 - gray, 1.0 - smooth, 1.0 - background
    smooth_noise = noise * SMOOTHED_NOISE if noisy else noise  # the std left after the blur
    contrast = float(smooth.max()) - background
    if contrast < max(MIN_CONTRAST, NOISE_SIGMAS * smooth_noise):
        raise TorchbasicsError(
            "the image is blank: nothing stands out of the background", where=where,
            fix="give a picture with a visible digit or object in it",
        )
    pixels = _levels(gray, background, contrast, floor=3 * noise)
    mask = _levels(smooth, background, contrast, floor=3 * smooth_noise) if noisy else pixels
    return Ink(pixels, mask, inverted, noisy)


def _levels(image: np.ndarray, background: float, contrast: float,
            floor: float) -> np.ndarray:
    """``image`` with ``background + floor`` at 0 and ``background + contrast`` at 1."""
    floor = min(floor, contrast / 2)
    return np.clip((image - background - floor) / (contrast - floor), 0.0, 1.0)


@dataclass(frozen=True)
class Ink:
    """A picture as light ink on black, on [0, 1]."""

    pixels: np.ndarray  # (H, W) float64
    smooth: np.ndarray  # (H, W): the same, blurred if it was noisy, to find the ink in
    inverted: bool  # it was dark on light
    noisy: bool  # it had noise, so ``smooth`` is blurred


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels of the outer :data:`BORDER` share of each side (at least one pixel)."""
    height, width = image.shape
    rows = max(1, round(BORDER * height))
    cols = max(1, round(BORDER * width))
    return np.concatenate([image[:rows].ravel(), image[-rows:].ravel(),
                           image[rows:-rows, :cols].ravel(), image[rows:-rows, -cols:].ravel()])


def _border_residual(image: np.ndarray) -> np.ndarray:
    """``_border(image - median_filter(image, 3x3))``, filtering only the border strips.

    Only the border is used, and a photo is mostly not border: filtering four thin strips
    (each with the one row or column of neighbours its edge needs) gives the same values
    for a fraction of the work.
    """
    height, width = image.shape
    rows, cols = max(1, round(BORDER * height)), max(1, round(BORDER * width))
    if height <= 2 * rows + 2 or width <= 2 * cols + 2:  # small: the strips would overlap
        return _border(image - ndimage.median_filter(image, size=3, mode="nearest"))

    def residual(slab: np.ndarray, keep: tuple[slice, slice]) -> np.ndarray:
        return (slab - ndimage.median_filter(slab, size=3, mode="nearest"))[keep].ravel()

    every = slice(None)
    return np.concatenate([
        residual(image[:rows + 1], (slice(0, rows), every)),
        residual(image[height - rows - 1:], (slice(1, None), every)),
        residual(image[rows - 1:height - rows + 1, :cols + 1], (slice(1, -1), slice(0, cols))),
        residual(image[rows - 1:height - rows + 1, width - cols - 1:],
                 (slice(1, -1), slice(1, None))),
    ])


def ink_box(ink: Ink) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` (bottom/right exclusive) of the ink, specks ignored.

    Ink is what is above :data:`INK_THRESHOLD` in a clean picture, and above
    :data:`BLURRED_INK_THRESHOLD` in the blurred copy of a noisy one (the blur widens
    every stroke; half its height is where the edge was). Connected blobs (8 neighbours)
    smaller than :data:`SPECK_FRACTION` of the largest are noise or dust.
    """
    mask = ink.smooth > (BLURRED_INK_THRESHOLD if ink.noisy else INK_THRESHOLD)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count > 1:
        sizes = np.bincount(labels.ravel())[1:]  # size of each blob, label 1 first
        keep = np.flatnonzero(sizes >= SPECK_FRACTION * sizes.max()) + 1
        mask = np.isin(labels, keep)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` resized to ``(height, width)``, antialiased (Lanczos), kept on [0, 1]."""
    picture = Image.fromarray(image.astype(np.float32))  # mode "F"
    resized = picture.resize((width, height), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)  # Lanczos overshoots


def fitted_size(shape: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest ``(height, width)`` of ``shape``'s aspect ratio that fits ``box``."""
    scale = min(box[0] / shape[0], box[1] / shape[1])
    return (max(1, min(box[0], round(shape[0] * scale))),
            max(1, min(box[1], round(shape[1] * scale))))


def place_digit(crop: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """MNIST's recipe: fit into the 20/28 box, then centre the centre of mass in ``size``.

    The shift is in whole pixels, as MNIST's was (its test digits' centres of mass lie
    within half a pixel of (14, 14)); it stops where the digit would leave the frame.
    """
    height, width = size
    box = (round(DIGIT_BOX * height), round(DIGIT_BOX * width))
    digit = resize(crop, *fitted_size(crop.shape, box))
    if digit.sum() == 0:  # nothing left after resizing: centre the box instead
        center = ((digit.shape[0] - 1) / 2, (digit.shape[1] - 1) / 2)
    else:
        center = ndimage.center_of_mass(digit)
    top = int(np.clip(round(height / 2 - center[0]), 0, height - digit.shape[0]))
    left = int(np.clip(round(width / 2 - center[1]), 0, width - digit.shape[1]))
    frame = np.zeros(size)
    frame[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    return frame


def fit_and_pad(crop: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fashion-MNIST's recipe: longest side fitted to ``size``, the other padded evenly.

    An odd padding puts the extra pixel on the top or left, as Fashion-MNIST's images have it.
    """
    height, width = size
    fitted = resize(crop, *fitted_size(crop.shape, size))
    top = (height - fitted.shape[0] + 1) // 2
    left = (width - fitted.shape[1] + 1) // 2
    frame = np.zeros(size)
    frame[top:top + fitted.shape[0], left:left + fitted.shape[1]] = fitted
    return frame


def _name(image: ImageInput) -> str | None:
    """How to name ``image`` in an error: its path, when it is one."""
    return str(image) if isinstance(image, (str, os.PathLike)) else None
