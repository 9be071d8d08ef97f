"""The reference of ``benchmarks/records.py mnist``: tuomaso/train_mnist_fast's final
recipe, reimplemented in plain PyTorch, on MNIST as torchbasics finds it.

    python benchmarks/_tuomaso_mnist.py --epochs 8 --seed 0

Two 5x5 and 3x3 convolutions (24 and 32 channels, each max-pooled), FC 256, Adam lr 0.01
betas (0.7, 0.9), one-cycle without momentum cycling over all steps, batch 256, the whole
training split normalized and held in memory, shuffled each epoch. Prints one JSON line:
the test accuracy after the last epoch and the seconds that test evaluation took (the
caller does not count them).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

from torchbasics.data.sources import load_split


class Net(nn.Module):
    """conv 1->24 (5x5), pool, relu; conv 24->32 (3x3), pool, relu; fc 800->256->10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 24, 5)
        self.conv2 = nn.Conv2d(24, 32, 3)
        self.fc1 = nn.Linear(800, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))  # (N, 24, 12, 12)
        x = F.relu(F.max_pool2d(self.conv2(x), 2))  # (N, 32, 5, 5)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def normalized(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_split("mnist", split, progress=False)
    return (data.images.float() / 255 - 0.1307) / 0.3081, data.labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    images, labels = normalized("train")
    model, batch = Net(), 256
    steps = args.epochs * -(-len(images) // batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.7, 0.9))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=steps,
                                                   cycle_momentum=False)
    model.train()
    for _ in range(args.epochs):
        order = torch.randperm(len(images))
        for start in range(0, len(images), batch):
            chosen = order[start:start + batch]
            loss = F.cross_entropy(model(images[chosen]), labels[chosen])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    evaluating = time.perf_counter()
    test_images, test_labels = normalized("test")
    model.eval()
    with torch.no_grad():
        correct = sum((model(test_images[i:i + 1000]).argmax(1) == test_labels[i:i + 1000])
                      .sum().item() for i in range(0, len(test_images), 1000))
    print(json.dumps({"accuracy": correct / len(test_images),
                      "eval_seconds": time.perf_counter() - evaluating}))


if __name__ == "__main__":
    main()
