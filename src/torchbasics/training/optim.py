"""Optimizers and learning-rate schedules, chosen by name."""

from __future__ import annotations

import torch
from torch import nn

from torchbasics.errors import TorchbasicsError, closest

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")

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


def build_scheduler(
    optimizer: torch.optim.Optimizer, name: str, *, total_steps: int, warmup: float = 0.25,
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step schedule over ``total_steps``: one-cycle (warm up for the ``warmup`` share
    of the steps to the optimizer's rate, then anneal), cosine, or constant."""
    total = max(1, total_steps)
    peak = optimizer.param_groups[0]["lr"]
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peak, total_steps=total, pct_start=warmup,
            # Momentum cycling is for SGD-like optimizers; Adam's betas are left alone.
            cycle_momentum=isinstance(optimizer, torch.optim.SGD),
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise TorchbasicsError(f"unknown schedule '{name}'", where="--schedule",
                           fix=closest(str(name), list(SCHEDULES)))
