"""The range test's plumbing shared by image and table runs: a throwaway setup at a
placeholder rate, the test on it, its curve written, and ``--lr auto`` resolved.

:mod:`torchbasics.runs.lr_find` is the command's entry point; the runs call these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from torchbasics.runs import rundir
from torchbasics.runs.config import AUTO_LR, TrainConfig, resolve
from torchbasics.training.loop import Task
from torchbasics.training.lr_find import RangeTest, range_test
from torchbasics.training.optim import build_optimizer

PLACEHOLDER_LR = 1.0  # builds the throwaway optimizer; the test sets every step's rate


def with_placeholder_lr(config: TrainConfig) -> TrainConfig:
    """``config`` resolved with a numeric learning rate, to build a throwaway setup."""
    return resolve(dataclasses.replace(config, lr=PLACEHOLDER_LR))


def test_on(model: torch.nn.Module, batches: Any, config: TrainConfig, task: Task, *,
            device: torch.device, precision: str, steps: int) -> RangeTest:
    """The range test on a throwaway ``model`` with ``config``'s optimizer settings."""
    optimizer = build_optimizer(model, config.optimizer, lr=PLACEHOLDER_LR,
                                momentum=config.momentum, weight_decay=config.weight_decay)
    return range_test(model, batches, optimizer, task, device=device, precision=precision,
                      steps=steps)


def write_curve(out: Path, found: RangeTest) -> tuple[Path, Path]:
    """``lr_find.png`` (the curve, the suggestion marked) and ``lr_find.json`` in ``out``."""
    from torchbasics.plots import lr_curve, save_figure

    out.mkdir(parents=True, exist_ok=True)
    figure, data = out / rundir.LR_CURVE, out / rundir.LR_DATA
    save_figure(lr_curve(found.rates, found.losses, found.suggestion), figure)
    rundir.write_json(data, found.to_dict())
    return figure, data


def resolve_auto(config: TrainConfig, test: Callable[[TrainConfig], RangeTest],
                 log: Callable[[str], None]) -> tuple[TrainConfig, RangeTest | None]:
    """``config`` with ``--lr auto`` replaced by the range test's suggestion (logged), and
    the test; unchanged, and None, for a given rate."""
    if config.lr != AUTO_LR:
        return config, None
    found = test(with_placeholder_lr(config))
    log(f"lr auto: {found.suggestion:.3g} ({found.reason})")
    return dataclasses.replace(config, lr=found.suggestion), found


def lr_facts(out: Path, found: RangeTest | None) -> dict[str, Any]:
    """For ``--lr auto``: write the range test's curve into ``out``; what config.json says
    about it."""
    if found is None:
        return {}
    write_curve(out, found)
    return {"lr_found": {"suggestion": found.suggestion, "reason": found.reason,
                         "curve": rundir.LR_DATA, "figure": rundir.LR_CURVE}}
