"""speed.py's plain-PyTorch baselines, each measured in a fresh Python process.

A learner's own loop runs in a plain interpreter. torchbasics' side of speed.py raises
glibc's allocator thresholds (``torchbasics.allocator``), and that setting stays with the
process; glibc also adapts its thresholds to whatever ran before. Measured in speed.py's
own process, a baseline would run faster than it does anywhere else, and by an amount
that depends on the parts before it. So speed.py starts this script once per baseline
and reads back the one JSON line it prints:

    python benchmarks/_fresh_baseline.py plain-epoch '{"model": "cnn", "batch_size": 128, ...}'

``"keep_freed_memory": true`` in the settings measures the same baseline with torchbasics'
allocator setting, to show how much of a speed-up is that setting alone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from typing import Any

import torch
from _plain_pytorch import (  # benchmarks/: sys.path[0] when run as a script
    ExamplesNet,
    examples_loaders,
    examples_optimizer,
    examples_test,
    examples_train_epoch,
    plain_sgd_epoch,
)
from speed import Data, EpochResult, load_data, synchronize

from torchbasics.allocator import keep_freed_memory
from torchbasics.data.datasets import classic_loader
from torchbasics.models import create_model


def plain_epoch(data: Data, device: torch.device, *, model: str, batch_size: int, lr: float,
                momentum: float, warmup: int, seed: int) -> dict[str, float]:
    """images/s of one epoch of the plain loop: per-sample DataLoader, fp32, NCHW, SGD."""
    torch.manual_seed(seed)
    net = create_model(model, data.train.image_shape, data.train.num_classes).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    loader = classic_loader(data.train, batch_size=batch_size, shuffle=True, seed=seed)
    plain_sgd_epoch(net, itertools.islice(loader, warmup), optimizer, device)
    started = time.perf_counter()
    images, _ = plain_sgd_epoch(net, loader, optimizer, device)  # syncs every step
    return {"images_per_second": images / (time.perf_counter() - started)}


def examples_recipe(data: Data, device: torch.device, *, epochs: int, seed: int,
                    stop_at: float | None) -> dict[str, Any]:
    """pytorch/examples' MNIST recipe on every training image; test after each epoch, untimed."""
    torch.manual_seed(seed)
    model = ExamplesNet().to(device)
    optimizer, scheduler = examples_optimizer(model)
    train_batches, test_batches = examples_loaders(data.full, data.test, seed=seed)
    results, seconds = [], 0.0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        logged = examples_train_epoch(model, train_batches, optimizer, device)
        scheduler.step()
        synchronize(device)
        seconds += time.perf_counter() - started
        accuracy = examples_test(model, test_batches, device)
        results.append(EpochResult(epoch, seconds, accuracy, statistics.fmean(logged)))
        if stop_at is not None and accuracy >= stop_at:
            break
    return {"epochs": [vars(result) for result in results]}


MEASURES = {"plain-epoch": plain_epoch, "examples": examples_recipe}


def main(argv: list[str]) -> None:
    name, settings = argv[0], json.loads(argv[1])
    data_args = argparse.Namespace(**settings.pop("data"))  # quick, data_dir, seed
    if settings.pop("keep_freed_memory", False):
        keep_freed_memory()
    device = torch.device(settings.pop("device"))
    result = MEASURES[name](load_data(data_args), device, **settings)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
