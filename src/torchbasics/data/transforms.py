"""Image transforms that work on one image ``(C, H, W)`` or a whole batch ``(N, C, H, W)``.

The same objects serve the classic per-sample ``Dataset`` and the fast batch loader; on a
batch they run as a handful of tensor operations, with no Python loop over images.
:class:`ModelInput` is the part a trained model keeps: training, evaluation, ``predict``
and exported files all call it, so a model sees the same input wherever it is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from torchbasics.data.geometry import compose, deskew, deskew_theta, warp

Transform = Callable[[torch.Tensor], torch.Tensor]


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        for transform in self.transforms:
            images = transform(images)
        return images

    def __repr__(self) -> str:
        return f"Compose({self.transforms})"


class ToFloat:
    """uint8 pixels 0..255 -> float32 on [0, 1]."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().div_(255.0)

    def __repr__(self) -> str:
        return "ToFloat()"


class Normalize:
    """Subtract the per-channel mean and divide by the std, so inputs are roughly N(0, 1)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError(f"need one positive std per mean, got mean={mean} std={std}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        # Shape (C, 1, 1) broadcasts over (C, H, W) and (N, C, H, W) alike.
        mean = torch.tensor(self.mean, dtype=images.dtype, device=images.device)[:, None, None]
        std = torch.tensor(self.std, dtype=images.dtype, device=images.device)[:, None, None]
        return (images - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class RandomAffine:
    """Random small rotation, scaling and shift, drawn independently for every image.

    One :func:`warp` resamples the whole batch. Expects float images; the background
    (outside the image) is filled with ``fill``.

    Args:
        degrees: rotations are uniform in ``[-degrees, degrees]``.
        translate: shifts are uniform in ``[-translate, translate]`` of the image size.
        scale: zoom factors uniform in ``[scale[0], scale[1]]``.
        fill: value for pixels moved in from outside (0 for black before normalizing).
        deskew: deskew each image first (:func:`deskew`), in the same resampling: one
            interpolation instead of two, so less blur and less work.
        generator: seeded source of randomness, for reproducible runs.
    """

    def __init__(
        self,
        degrees: float = 10.0,
        translate: float = 0.1,
        scale: tuple[float, float] = (0.9, 1.1),
        fill: float = 0.0,
        deskew: bool = False,
        generator: torch.Generator | None = None,
    ):
        self.degrees = degrees
        self.translate = translate
        self.scale = scale
        self.fill = fill
        self.deskew = deskew
        self.generator = generator

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        single = images.ndim == 3
        batch = images.unsqueeze(0) if single else images  # (N, C, H, W)
        theta = self.draw(batch.shape[0]).to(batch.device)
        if self.deskew:
            theta = compose(deskew_theta(batch), theta)
        warped = warp(batch - self.fill, theta) + self.fill if self.fill else warp(batch, theta)
        return warped[0] if single else warped

    def draw(self, count: int) -> torch.Tensor:
        """``count`` random maps ``(count, 2, 3)`` for :func:`warp`, from the generator."""
        draws = torch.rand(count, 4, generator=self.generator)  # (N, 4) on [0, 1)
        angle = (draws[:, 0] * 2 - 1) * math.radians(self.degrees)
        zoom = self.scale[0] + draws[:, 1] * (self.scale[1] - self.scale[0])
        # In normalized coordinates a shift of t image widths is 2t.
        shift = (draws[:, 2:] * 2 - 1) * self.translate * 2  # (N, 2)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        return torch.stack(
            [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
        )  # (N, 2, 3): maps output coordinates to input coordinates

    def __repr__(self) -> str:
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}" + (", deskew=True)" if self.deskew else ")"))


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p`` (for data where that is harmless)."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None):
        self.p = p
        self.generator = generator

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        single = images.ndim == 3
        batch = images.unsqueeze(0) if single else images
        flip = torch.rand(batch.shape[0], generator=self.generator) < self.p  # (N,)
        flipped = torch.where(flip.to(batch.device)[:, None, None, None], batch.flip(-1), batch)
        return flipped[0] if single else flipped

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class ChannelsLast:
    """Store a batch channels-last (NHWC): the layout fast CPU/GPU convolution kernels use."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if images.ndim == 4 else images

    def __repr__(self) -> str:
        return "ChannelsLast()"


class ModelInput(nn.Module):
    """A model's own input step: pixels on [0, 1] -> deskewed (if it learned so) -> normalized.

    Deterministic, so unlike augmentation it belongs wherever the model is used: training
    validates through it, ``evaluate`` and ``predict`` call it, exported files contain it,
    and checkpoints record its :meth:`settings`.

    Args:
        mean, std: per-channel statistics of the training images, on [0, 1].
        deskew: straighten each image first (:func:`~torchbasics.data.geometry.deskew`).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], deskew: bool = False):
        super().__init__()
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError(f"need one positive std per mean, got mean={mean} std={std}")
        self.deskew = bool(deskew)
        self._statistics = ([float(m) for m in mean], [float(s) for s in std])  # as given
        # (C, 1, 1) broadcasts over one image (C, H, W) and a batch (N, C, H, W) alike.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32)[:, None, None],
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32)[:, None, None],
                             persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` or ``(C, H, W)`` floats on [0, 1], light ink on black -> model input."""
        if self.deskew:
            pixels = deskew(pixels) if pixels.dim() == 4 else deskew(pixels[None])[0]
        return self.normalize(pixels)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Subtract the mean and divide by the std, per channel (inputs roughly N(0, 1))."""
        return (pixels - self.mean.to(pixels)) / self.std.to(pixels)

    def settings(self) -> dict[str, Any]:
        """What a checkpoint records: ``{"mean": [...], "std": [...], "deskew": bool}``."""
        mean, std = self._statistics
        return {"mean": list(mean), "std": list(std), "deskew": self.deskew}

    def batches(self, *, augment: float = 0.0, flips: bool = False,
                generator: torch.Generator | None = None,
                channels_last: bool = False) -> Compose:
        """uint8 pixels -> model input, with random augmentation for training.

        Args:
            augment: strength of the random affine warp; 1.0 means rotations up to 10°,
                shifts up to 10 % and zoom of ±10 %, 0.5 half of each, 0 none (then the
                result is exactly this module's, as evaluation needs).
            flips: also mirror half the images left-right (only when ``augment`` > 0).
            generator: seeded source of the augmentation's randomness.
            channels_last: lay batches out for convolutional models (:class:`ChannelsLast`).
        """
        steps: list[Transform] = [ToFloat()]
        if augment > 0:
            # Deskewing folds into the random warp: one resampling, so less blur and work.
            steps.append(RandomAffine(degrees=10 * augment, translate=0.1 * augment,
                                      scale=(1 - 0.1 * augment, 1 + 0.1 * augment),
                                      deskew=self.deskew, generator=generator))
            if flips:
                steps.append(RandomHorizontalFlip(generator=generator))
            steps.append(self.normalize)
        else:
            steps.append(self)
        if channels_last:
            steps.append(ChannelsLast())
        return Compose(steps)

    def extra_repr(self) -> str:
        return f"mean={self.settings()['mean']}, std={self.settings()['std']}, deskew={self.deskew}"


def standard_transform(
    mean: Sequence[float],
    std: Sequence[float],
    *,
    deskew: bool = False,
    augment: float = 0.0,
    flips: bool = False,
    generator: torch.Generator | None = None,
    channels_last: bool = False,
) -> Compose:
    """uint8 pixels -> normalized floats: ``ModelInput(mean, std, deskew).batches(...)``.

    See :meth:`ModelInput.batches` for the arguments.
    """
    return ModelInput(mean, std, deskew).batches(augment=augment, flips=flips,
                                                 generator=generator, channels_last=channels_last)
