"""Training with several processes under torchrun (DDP, gloo on CPU).

The sharding is checked in-process; the rest launches ``python -m torch.distributed.run
--nproc-per-node 2 -m torchbasics train`` for real: the same optimisation as one process
with the same global batch, files written once (by rank 0), and a killed, then a
SIGTERM-ed run that resume to exactly the uninterrupted two-process run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import wait_for_epochs
from tests.runs.test_interrupts import assert_same_run
from torchbasics.checkpoint import load_checkpoint
from torchbasics.data.idx import write_idx
from torchbasics.data.loaders import BatchSampler, TensorBatchLoader
from torchbasics.data.memmap import MemmapBatchLoader, MemmapIdxDataset
from torchbasics.data.sources import load_split
from torchbasics.errors import TorchbasicsError
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.rundir import read_metrics, read_metrics_records
from torchbasics.runs.tables import one_cpu_thread
from torchbasics.runs.train import train
from torchbasics.training import distributed, interrupts
from torchbasics.training.interrupts import stop_on_signals

EPOCHS = 6
# No dropout, augmentation or batch norm: then a 2-process run with the same global batch
# is the 1-process optimisation itself, up to the order of floating-point additions.
SETTINGS = dict(model="mlp-relu", model_settings={"hidden": 32}, epochs=EPOCHS, batch_size=32,
                lr=0.01, augment=0.0, val_fraction=0.2, precision="fp32", device="cpu")


def hard_idx_dataset(directory: Path, train: int = 5000, test: int = 20) -> Path:
    """MNIST-named IDX files whose class is a faint band in strong noise: the validation
    error after a few epochs depends on the training (not near 0 %, not near chance)."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = (np.arange(count) % 10).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.normal(100, 50, size=(count, 28, 28))
        for index, label in enumerate(labels):
            images[index, label * 2:(label + 1) * 2, :] += 20
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz",
                  images.clip(0, 255).astype(np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun(data: Path, out: Path, *extra: str, nproc: int = 2) -> list[str]:
    """The command line of a torchrun-launched run of SETTINGS (or of ``extra`` flags)."""
    flags = ["--model", "mlp-relu", "--hidden", "32", "--epochs", str(EPOCHS),
             "--batch-size", "32", "--lr", "0.01", "--augment", "0", "--val-fraction", "0.2",
             "--precision", "fp32", "--device", "cpu", "--data-dir", str(data)]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
            "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
            "-m", "torchbasics", "train", *(extra or flags), "--out", str(out)]


def start(command: list[str], cache: Path) -> subprocess.Popen:
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
                        "TORCHBASICS_CACHE": str(cache)}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def kill_all(process: subprocess.Popen) -> None:
    """SIGKILL torchrun's workers (each in a session of its own), then torchrun."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    for pid in map(int, children):
        os.kill(pid, signal.SIGKILL)
    process.kill()


def run(command: list[str], cache: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    process = start(command, cache)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_all(process)
        raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path, Path, subprocess.CompletedProcess]:
    """The data, a 1-process run in this process, and the same run by 2 torchrun processes."""
    root = tmp_path_factory.mktemp("ddp")
    data = hard_idx_dataset(root / "data")
    with pytest.MonkeyPatch.context() as patch, one_cpu_thread():
        patch.setenv("TORCHBASICS_CACHE", str(root / "cache"))
        train(TrainConfig(**SETTINGS, data_dir=str(data)), root / "one", log=lambda _: None)
    done = run(torchrun(data, root / "two"), root / "cache")
    assert done.returncode == 0, done.stderr
    return data, root / "one", root / "two", done


def test_ranks_share_every_batch_without_overlap():
    """Rank r's batch is the r-th slice of the 1-process batch; reshuffled every epoch."""
    def batches(rank: int, world: int, epoch: int, drop_last: bool) -> list[list[int]]:
        sampler = BatchSampler(10, batch_size=4, shuffle=True, seed=3, drop_last=drop_last,
                               transform=None, device="cpu", rank=rank, world_size=world)
        sampler.gather = lambda index: (index, index)
        sampler.set_epoch(epoch)
        assert len(sampler) == (2 if drop_last else 3)  # the same steps on every rank
        return [index.tolist() for index, _ in sampler]

    for epoch in (1, 2):
        whole = batches(0, 1, epoch, drop_last=True)
        first, second = batches(0, 2, epoch, True), batches(1, 2, epoch, True)
        assert [a + b for a, b in zip(first, second, strict=True)] == whole
        assert all(len(batch) == 2 for batch in first + second)
    assert batches(0, 1, 1, True) != batches(0, 1, 2, True)
    # A final batch of 2 over 4 ranks: two ranks get one sample, two skip it.
    tails = [batches(rank, 4, 1, drop_last=False) for rank in range(4)]
    assert [len(t) for t in tails] == [2, 3, 2, 3]
    served = [index for t in tails if len(t) == 3 for index in t[-1]]
    assert sorted(served) == sorted(batches(0, 1, 1, False)[-1])
    with pytest.raises(ValueError, match="does not split"):
        BatchSampler(10, batch_size=5, shuffle=False, seed=0, drop_last=False, transform=None,
                     device="cpu", rank=0, world_size=2)


@pytest.mark.slow
def test_two_processes_train_like_one_with_the_same_global_batch(two_runs):
    _, one, two, done = two_runs
    single, double = read_metrics(one / "metrics.csv"), read_metrics(two / "metrics.csv")
    assert list(double["epoch"]) == list(range(1, EPOCHS + 1))  # one row per epoch: rank 0's
    assert 0.02 < single["val_error"][-1] < 0.5  # the comparison means something
    assert abs(double["val_error"][-1] - single["val_error"][-1]) <= 0.003
    # Stricter: every epoch's global loss and error are the 1-process ones, up to rounding
    # (each rank's share alone, or unaveraged gradients, would be far off).
    for column in ("train_loss", "val_loss"):
        assert np.allclose(double[column], single[column], rtol=1e-4), column
    assert np.abs(double["train_error"] - single["train_error"]).max() <= 0.003
    config = json.loads((two / "config.json").read_text())
    assert (config["world_size"], config["batch_size_per_rank"], config["global_batch_size"],
            config["lr"]) == (2, 16, 32, 0.01)
    assert json.loads((one / "config.json").read_text())["world_size"] == 1
    assert done.stdout.count(f"epoch 1/{EPOCHS}") == 1  # only rank 0 logs
    weights = load_checkpoint(two / "best.pt")["model_state"]
    assert not any(name.startswith("module.") for name in weights)
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())


@pytest.mark.slow
def test_a_refusal_on_rank_0_stops_every_rank_with_one_message(two_runs, tmp_path):
    data, _, two, _ = two_runs
    taken = run(torchrun(data, two), tmp_path / "cache", timeout=60)  # exists: no --force
    assert taken.returncode != 0
    assert taken.stderr.count("already holds a run") == 1, taken.stderr


def test_both_loaders_serve_the_same_shares(idx_dir):
    """The memory-mapped loader shards exactly as the in-memory one (the sampler's code)."""
    mapped = MemmapIdxDataset(idx_dir / "train-images-idx3-ubyte.gz",
                              idx_dir / "train-labels-idx1-ubyte.gz")
    in_memory = load_split("mnist", "train", idx_dir, download=False)
    for rank in (0, 1):
        settings = dict(batch_size=48, shuffle=True, seed=5, drop_last=True, rank=rank,
                        world_size=2)
        first, second = MemmapBatchLoader(mapped, **settings), TensorBatchLoader(in_memory,
                                                                                 **settings)
        first.set_epoch(3)
        second.set_epoch(3)
        for (images, labels), (expected, expected_labels) in zip(first, second, strict=True):
            assert len(labels) == 24
            assert torch.equal(images, expected) and torch.equal(labels, expected_labels)


def test_a_global_batch_that_does_not_split_is_refused(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    assert distributed.per_rank_batch(32) == 16
    with pytest.raises(TorchbasicsError, match="--batch-size: the global batch of 33 does not "
                                               "split evenly over 2 processes"):
        distributed.per_rank_batch(33)


@pytest.mark.slow
def test_killed_then_sigtermed_two_process_run_resumes_bit_identical(two_runs, tmp_path):
    data, _, reference, _ = two_runs
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    killed = start(torchrun(data, run_dir), cache)
    seconds = wait_for_epochs(run_dir, 1, killed)  # last.pt exists; epoch 2 running
    time.sleep(min(max(0.3 * seconds, 0.1), 1.0))
    kill_all(killed)  # both workers and torchrun, no warning
    killed.communicate(timeout=60)
    assert 1 <= load_checkpoint(run_dir / "last.pt")["epoch"] < EPOCHS - 1

    resume = torchrun(data, run_dir, "--resume")
    resumed = start(resume, cache)
    done = len(read_metrics_records(run_dir / "metrics.csv"))
    seconds = wait_for_epochs(run_dir, done + 1, resumed)
    time.sleep(min(max(0.3 * seconds, 0.1), 1.0))
    resumed.send_signal(signal.SIGTERM)  # to torchrun, which passes it on to the workers
    _, err = resumed.communicate(timeout=60)
    assert "interrupted" in err and "resume with" in err, err
    saved = load_checkpoint(run_dir / "last.pt")
    assert saved["world_size"] == 2 and saved["epoch"] < EPOCHS, err
    assert saved["augment_rng"].shape[0] == 2  # each rank's own random state
    with pytest.raises(TorchbasicsError, match="trained by 2 process"):
        train(TrainConfig(), run_dir, resume=True, log=lambda _: None)  # one process here

    final = run(resume, cache)
    assert final.returncode == 0, final.stderr
    assert_same_run(run_dir, reference)



def test_a_repeated_stop_signal_counts_once_then_aborts(monkeypatch):
    """torchrun forwards the signal it gets: a worker may receive the same request twice."""
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with stop_on_signals(**distributed.stop_signal_settings()) as flag:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # the forwarded copy: not an abort
        assert flag()
        later = time.monotonic() + distributed.REPEAT_GRACE_SECONDS
        monkeypatch.setattr(interrupts.time, "monotonic", lambda: later)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # a real second request: abort at once
