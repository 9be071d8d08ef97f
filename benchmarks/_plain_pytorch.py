"""The baselines of benchmarks/speed.py: PyTorch written the way tutorials and learners do.

Kept apart from speed.py so the two sides cannot share a shortcut by accident. Nothing
here uses torchbasics' fast paths: images come one at a time from a map-style ``Dataset``
(torchbasics' ``ImageDataset``, whose default per-sample transform is to-float + normalize,
the ``ToTensor()`` + ``Normalize()`` of torchvision) through ``DataLoader`` with no worker
processes, in fp32 and the default NCHW layout, and the running loss is read back with
``loss.item()`` after every step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from torchbasics.data.datasets import ImageDataset
from torchbasics.data.image_data import ImageData
from torchbasics.data.transforms import Compose, Normalize, ToFloat

EXAMPLES_MEAN, EXAMPLES_STD = (0.1307,), (0.3081,)  # pytorch/examples' MNIST statistics
EXAMPLES_LOG_INTERVAL = 10  # its train() prints loss.item() every 10 batches


def plain_sgd_epoch(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer, device: torch.device,
) -> tuple[int, float]:
    """One epoch as the classic examples write it; returns (images, mean loss)."""
    model.train()
    running_loss, images_seen, steps = 0.0, 0, 0
    for images, labels in batches:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()  # a host sync every step, as in the tutorials
        images_seen += len(labels)
        steps += 1
    return images_seen, running_loss / max(steps, 1)


class ExamplesNet(nn.Module):
    """The network of pytorch/examples' ``mnist/main.py``, restated: two convs, dropout, FC."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)  # (B, 32, 26, 26)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)  # (B, 64, 24, 24)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(64 * 12 * 12, 128)  # 9216 inputs after 2x2 max-pooling
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)  # (B, 64, 12, 12)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)  # (B, 10) log-probabilities


def examples_loaders(
    train: ImageData, test: ImageData, *, seed: int
) -> tuple[DataLoader, DataLoader]:
    """Training batches of 64, shuffled (seeded), and test batches of 1000, per-sample."""
    transform = Compose([ToFloat(), Normalize(EXAMPLES_MEAN, EXAMPLES_STD)])
    generator = torch.Generator().manual_seed(seed)
    return (
        DataLoader(ImageDataset(train, transform), batch_size=64, shuffle=True,
                   generator=generator),
        DataLoader(ImageDataset(test, transform), batch_size=1000),
    )


def examples_optimizer(
    model: nn.Module,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adadelta at lr 1.0, the rate multiplied by 0.7 after every epoch."""
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)


def examples_train_epoch(
    model: nn.Module, batches: DataLoader, optimizer: torch.optim.Optimizer,
    device: torch.device,
) -> list[float]:
    """pytorch/examples' ``train()``: NLL loss; the loss read back every 10 batches."""
    model.train()
    logged = []
    for batch_index, (images, labels) in enumerate(batches):
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(images), labels)
        loss.backward()
        optimizer.step()
        if batch_index % EXAMPLES_LOG_INTERVAL == 0:
            logged.append(loss.item())  # the examples print it here
    return logged


@torch.no_grad()
def examples_test(model: nn.Module, batches: DataLoader, device: torch.device) -> float:
    """pytorch/examples' ``test()``: the fraction of test images classified correctly."""
    model.eval()
    correct = total = 0
    for images, labels in batches:
        images, labels = images.to(device), labels.to(device)
        correct += int((model(images).argmax(dim=1) == labels).sum())
        total += len(labels)
    return correct / max(total, 1)
