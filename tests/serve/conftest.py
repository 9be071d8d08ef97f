"""Tiny trained runs for the server's tests (made once per session), an in-process client,
and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import (
    is_stand_in,
    mnist_or_stand_in,
    real_data_dir,
    training_images,
    write_random_id_lists,
)

pytest.importorskip("fastapi", reason="the 'serve' extra is not installed: "
                    "pip install -e '.[serve]' (it is in '.[dev]')")

# Starlette's TestClient now prefers the httpx2 package and warns when it imports httpx;
# httpx (which these tests also use on real sockets) works, so one HTTP library is enough.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import fastapi.testclient  # noqa: F401

# The cnn on 3,000 real MNIST-10k images for 2 epochs: ~2 % validation error, and it reads
# pen-drawn 1s and 7s at 75-99 % (checked on the canvas in test_browser.py).
MNIST_IMAGES, FASHION_IMAGES, VAL_IMAGES, EPOCHS = 3000, 3000, 300, 2
STAND_IN_EPOCHS = 20  # without MNIST: the UCI digits' stand-in (tests/uci_digits.py)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Train with one thread: on a loaded 2-core machine, two threads are several times
    slower than one for these small models (they wait on each other)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_image_run(dataset: str, model: str, images: int, folder: Path) -> Path:
    """A run of ``model`` on ``images`` real training images of ``dataset``, in
    ``folder/DATASET-MODEL`` (so that it is served under that name). Without MNIST, the
    digits are the UCI stand-in's (fewer, so seen for more epochs)."""
    from torchbasics.runs.config import TrainConfig
    from torchbasics.runs.train import train

    data_dir = mnist_or_stand_in() if dataset == "mnist" else real_data_dir(dataset)
    total = training_images(data_dir) if dataset == "mnist" else 60_000
    epochs, augment = EPOCHS, 0.0
    if is_stand_in(data_dir):  # 1,100 blurry upscaled digits: pen strokes need more
        images, epochs, augment = total - VAL_IMAGES, STAND_IN_EPOCHS, 0.5
    train_list, val_list = write_random_id_lists(folder, total, images, VAL_IMAGES, 0)
    config = TrainConfig(dataset=dataset, model=model, epochs=epochs, batch_size=32,
                         augment=augment, precision="fp32", data_dir=str(data_dir),
                         train_list=str(train_list), val_list=str(val_list))
    with one_thread():
        train(config, folder / f"{dataset}-{model}", log=lambda line: None)
    return folder / f"{dataset}-{model}"


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """The seed CNN trained on real MNIST-10k (deskewing, MNIST's default)."""
    return train_image_run("mnist", "cnn", MNIST_IMAGES, tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="session")
def fashion_run(tmp_path_factory) -> Path:
    """Softmax regression trained on real Fashion-MNIST."""
    return train_image_run("fashion-mnist", "softmax", FASHION_IMAGES,
                           tmp_path_factory.mktemp("fashion"))


@pytest.fixture(scope="session")
def bonus_run(tmp_path_factory) -> Path:
    """The bonus linear regression, trained on the shipped bonus table."""
    from torchbasics.runs.config import TrainConfig
    from torchbasics.runs.tables import train_table

    out = tmp_path_factory.mktemp("bonus") / "bonus"
    with one_thread():
        train_table(TrainConfig(dataset="bonus", model="linear", epochs=50), out,
                    log=lambda line: None)
    return out


@pytest.fixture(scope="session")
def houses_run(tmp_path_factory) -> Path:
    """A table classifier with a categorical column (houses: expensive or not)."""
    from tests.tabular.tables import mixed_table
    from torchbasics.runs.config import TrainConfig
    from torchbasics.runs.tables import train_table

    folder = tmp_path_factory.mktemp("houses")
    out = folder / "houses"
    with one_thread():
        train_table(TrainConfig(dataset=str(mixed_table(folder / "houses.csv",
                                                        task="classification")),
                                target="expensive", epochs=50), out, log=lambda line: None)
    return out


@pytest.fixture(scope="session")
def runs(digits_run, fashion_run, bonus_run, houses_run) -> list[Path]:
    """The four runs, as given to ``torchbasics serve``."""
    return [digits_run, fashion_run, bonus_run, houses_run]


@pytest.fixture(scope="session")
def served(runs):
    """The runs loaded for serving, as ``mnist-cnn``, ``fashion-mnist-softmax``, ``bonus``."""
    from torchbasics.serve.served import load_served

    return load_served(runs)


@pytest.fixture
def client(served):
    """An in-process client of the app (lifespan run, so the batchers are up)."""
    from fastapi.testclient import TestClient

    from torchbasics.serve.app import create_app

    with TestClient(create_app(served), base_url="http://localhost",
                    raise_server_exceptions=False) as test_client:
        yield test_client


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yields its URL."""
    import uvicorn

    from torchbasics.serve.server import bind, url_of

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def server_url(served) -> Iterator[str]:
    """A real server (uvicorn, sockets) for the tests that need the wire."""
    from torchbasics.serve.app import create_app

    with live_server(create_app(served)) as url:
        yield url


def png_bytes(pixels: np.ndarray, **save) -> bytes:
    """``pixels`` (H, W) or (H, W, C) uint8 as a PNG file's bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=save.pop("format", "PNG"), **save)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def mnist_digits() -> dict[int, np.ndarray]:
    """One real MNIST test digit per class (the stand-in's without MNIST), as dark ink on
    white paper, 28x28 uint8."""
    from torchbasics.data.sources import load_split

    split = load_split("mnist", "test", mnist_or_stand_in(), download=False, progress=False)
    labels = split.labels.numpy()
    return {k: 255 - split.images[int(np.flatnonzero(labels == k)[0]), 0].numpy()
            for k in range(10)}
