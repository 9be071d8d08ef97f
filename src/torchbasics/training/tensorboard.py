"""Optional TensorBoard logging: one scalar per metric per epoch, under ``RUN_DIR/tensorboard``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torchbasics.extras import require
from torchbasics.training.loop import EpochRecord


def writer_class() -> type:
    """``SummaryWriter``, or a clear error when the tensorboard extra is not installed."""
    return require("torch.utils.tensorboard", "tensorboard", where="--tensorboard").SummaryWriter


def open_writer(run_dir: Path) -> Any:
    """A ``SummaryWriter`` logging into ``run_dir/tensorboard``."""
    return writer_class()(log_dir=str(run_dir / "tensorboard"))


def log_epoch(writer: Any, record: EpochRecord) -> None:
    """Write every metric of the epoch (``loss/train``, ``error/val``, ``lr``, ...)."""
    for name, value in dataclasses.asdict(record).items():
        if name == "epoch" or value is None:
            continue
        tag = name.replace("train_", "").replace("val_", "") + (
            "/train" if name.startswith("train_") else "/val" if name.startswith("val_") else ""
        )
        writer.add_scalar(tag, value, record.epoch)
    writer.flush()
