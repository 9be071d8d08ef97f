"""Test-time mirror averaging: a classifier's logits, averaged over an image and its mirror image.

For data whose classes survive a left-right flip (clothes, not digits), a model trained with
random flips can look at both views of each image when it predicts. The mean of the two
logit vectors is a better guess than either, for twice the work per prediction (the README
has the figures).

The wrapper has no weights of its own and only acts in eval mode: in training, the random
flips of the augmentation do the job, and the loss sees one view per image as usual.
"""

from __future__ import annotations

import torch
from torch import nn


class MirrorAveraged(nn.Module):
    """``model``, whose eval-mode logits are the mean over the image and its mirror image."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.model(images)  # (B, K)
        if self.training:
            return logits
        return (logits + self.model(images.flip(-1))) / 2  # flip(-1): along the width
