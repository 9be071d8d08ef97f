"""A small classifier trained on real MNIST in a few seconds, shared by these tests."""

from __future__ import annotations

import pytest

from tests.helpers import (
    is_stand_in,
    mnist_or_stand_in,
    real_data_dir,
    training_images,
    write_random_id_lists,
)

TRAIN_IMAGES, VAL_IMAGES, EPOCHS = 600, 200, 3
STAND_IN_EPOCHS = 10  # the UCI digits' stand-in, without MNIST: blurrier, so longer


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding MNIST, or the UCI digits' stand-in for it where it is absent."""
    return mnist_or_stand_in()


@pytest.fixture(scope="session")
def real_mnist_test():
    """MNIST's own test split, for the tests of what MNIST's digits are like (centred by
    their centre of mass, ...): these skip without MNIST."""
    from torchbasics.data.sources import load_split

    split = load_split("mnist", "test", real_data_dir("mnist"), download=False, progress=False)
    return split.images[:, 0].numpy(), split.labels.numpy()


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
    train_list, val_list = write_random_id_lists(folder, training_images(mnist_dir),
                                                 TRAIN_IMAGES, VAL_IMAGES, 0)
    # Small batches and no augmentation: enough steps in 3 epochs to reach ~90 % accuracy.
    epochs = STAND_IN_EPOCHS if is_stand_in(mnist_dir) else EPOCHS
    config = TrainConfig(dataset="mnist", model="cnn", epochs=epochs, batch_size=32, augment=0.0,
                         precision="fp32", data_dir=str(mnist_dir),
                         train_list=str(train_list), val_list=str(val_list))
    train(config, folder / "run", log=lambda line: None)
    return folder / "run"


@pytest.fixture(scope="session")
def classifier(mnist_run):
    """The trained run, loaded for prediction."""
    import torchbasics

    return torchbasics.load(mnist_run)
