"""Optimizers chosen by name: PyTorch's SGD, Adam and AdamW, without ``torch.compile``'s cost.

PyTorch wraps several optimizer methods so that ``torch.compile`` can trace around them:
``step`` (``_use_grad_for_differentiable``) and ``zero_grad``, ``add_param_group``,
``state_dict`` and ``load_state_dict`` (``torch._disable_dynamo``). Each wrapper imports
``torch._dynamo`` on its first call, which costs about as much as ``import torch`` itself
(``benchmarks/startup.py`` measures it) and is never used: torchbasics does not compile.
The classes below call the methods those wrappers wrap, with what the wrappers do outside
compilation (``step`` runs with gradients off, as ``_use_grad`` sets them), so the
arithmetic is PyTorch's own, bit for bit, and a step still runs the hooks registered on
the optimizer.

Those wrappers are private to torch: ``tests/training/test_optim_torch.py`` checks each
one this module relies on, and that a step equals torch's own, on the installed torch;
``pyproject.toml`` allows the torch releases it has passed on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchbasics.errors import TorchbasicsError, closest

OPTIMIZERS = ("sgd", "adam", "adamw")

# Devices whose optimizers have a fused kernel: the whole update of every parameter in one
# call, instead of a few element-wise passes per parameter tensor (measured on CPU: an
# SGD step of the 400k-parameter MLP takes 130 us fused, 375 us otherwise).
FUSED_DEVICES = ("cpu", "cuda")


def _unwrapped(method: Callable[..., Any]) -> Callable[..., Any]:
    """The function PyTorch's compile wrappers wrap (``functools.wraps`` records it); the
    method itself where it is not wrapped."""
    return inspect.unwrap(method)


class EagerOptimizer:
    """Mixed into a ``torch.optim`` optimizer: its methods without the compile wrappers.

    ``_use_grad`` sets gradients to ``defaults["differentiable"]`` (off for these
    optimizers) around the step and marks graph breaks for the compiler; outside
    ``torch.compile`` the rest of it does nothing.
    """

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        base = _unwrapped(super().step)  # type: ignore[misc]
        with torch.set_grad_enabled(self.defaults["differentiable"]):  # type: ignore[attr-defined]
            return base(self, closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _unwrapped(torch.optim.Optimizer.zero_grad)(self, set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _unwrapped(torch.optim.Optimizer.add_param_group)(self, param_group)

    def state_dict(self) -> dict[str, Any]:
        return _unwrapped(torch.optim.Optimizer.state_dict)(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _unwrapped(torch.optim.Optimizer.load_state_dict)(self, state_dict)


class SGD(EagerOptimizer, torch.optim.SGD):
    """:class:`torch.optim.SGD`, see :class:`EagerOptimizer`."""


class Adam(EagerOptimizer, torch.optim.Adam):
    """:class:`torch.optim.Adam`, see :class:`EagerOptimizer`."""


class AdamW(EagerOptimizer, torch.optim.AdamW):
    """:class:`torch.optim.AdamW`, see :class:`EagerOptimizer`."""


def build_optimizer(model: nn.Module, name: str, *, lr: float, momentum: float = 0.9,
                    weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum (plain SGD with ``momentum=0``), Adam or AdamW; weight
    decay skips biases and norm parameters.

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
        # Nesterov's look-ahead needs a momentum to look ahead with.
        return SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0, fused=fused)
    if name == "adam":
        return Adam(groups, lr=lr, fused=fused)
    if name == "adamw":
        return AdamW(groups, lr=lr, fused=fused)
    raise TorchbasicsError(f"unknown optimizer '{name}'", where="--optimizer",
                           fix=closest(str(name), list(OPTIMIZERS)))
