"""A small classifier trained on real MNIST in a few seconds, shared by these tests."""

from __future__ import annotations

import pytest

from tests.helpers import real_data_dir, write_random_id_lists

TRAIN_IMAGES, VAL_IMAGES, EPOCHS = 600, 200, 3


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding MNIST (the test skips, saying how to provide it, when absent)."""
    return real_data_dir("mnist")


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    """The MNIST test split: ``(N, 28, 28)`` uint8 images and ``(N,)`` labels."""
    from torchbasics.data.sources import load_split

    split = load_split("mnist", "test", mnist_dir, download=False, progress=False)
    return split.images[:, 0].numpy(), split.labels.numpy()


@pytest.fixture(scope="session")
def mnist_run(mnist_dir, tmp_path_factory):
    """A run directory: the seed CNN, 3 epochs on 600 real training images.

    It is made by ``torchbasics train``'s own function, so prediction and export are tested
    on a checkpoint made the real way; in fp32, which is several times faster than bf16
    autocast for this small model and batch (the benchmark covers a bf16-trained convnet).
    """
    from torchbasics.runs.config import TrainConfig
    from torchbasics.runs.train import train

    folder = tmp_path_factory.mktemp("mnist-run")
    train_list, val_list = write_random_id_lists(folder, 10_000, TRAIN_IMAGES, VAL_IMAGES, 0)
    # Small batches and no augmentation: enough steps in 3 epochs to reach ~90 % accuracy.
    config = TrainConfig(dataset="mnist", model="cnn", epochs=EPOCHS, batch_size=32, augment=0.0,
                         precision="fp32", data_dir=str(mnist_dir),
                         train_list=str(train_list), val_list=str(val_list))
    train(config, folder / "run", log=lambda line: None)
    return folder / "run"


@pytest.fixture(scope="session")
def classifier(mnist_run):
    """The trained run, loaded for prediction."""
    import torchbasics

    return torchbasics.load(mnist_run)
