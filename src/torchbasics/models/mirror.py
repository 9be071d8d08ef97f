"""Test-time mirror averaging: a classifier's logits, averaged over an image and its mirror image.

For data whose classes survive a left-right flip (clothes, not digits), a model trained with
random flips can look at both views of each image when it predicts. The mean of the two
logit vectors is a better guess than either, for twice the work per prediction (the figures
are in docs/results/01-accuracy.md).

The wrapper has no weights of its own and only acts in eval mode: in training, the random
flips of the augmentation do the job, and the loss sees one view per image as usual.

The mirror image is taken by gathering the columns in reverse (``index_select``), the same
values as ``flip``: exported, ``flip`` is a Slice with a negative step, which OpenCV's
ONNX runtime gets wrong, while a Gather runs in every runtime tested.
"""

from __future__ import annotations

import torch
from torch import nn


def mirror_images(images: torch.Tensor) -> torch.Tensor:
    """``images.flip(-1)`` (left-right), written so that every ONNX runtime tested runs it."""
    reverse = torch.arange(images.shape[-1] - 1, -1, -1, device=images.device)
    return images.index_select(images.dim() - 1, reverse)


class MirrorAveraged(nn.Module):
    """``model``, whose eval-mode logits are the mean over the image and its mirror image."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.model(images)  # (B, K)
        if self.training:
            return logits
        return (logits + self.model(mirror_images(images))) / 2
