"""Ctrl-C, SIGTERM and kill -9 during training: stop cleanly, resume, end bit for bit the same.

In-process tests send the signal from inside the run at an exact step (through a spy on
the loader), so they are deterministic and fast. The subprocess tests do it the real way,
to ``python -m torchbasics train``: exit code 130, the printed resume command, and
``kill -9`` at an arbitrary moment after the first checkpoint.
"""

from __future__ import annotations

import collections
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import make_idx_dataset, wait_for_epochs
from torchbasics.checkpoint import load_checkpoint
from torchbasics.data.image_data import ImageData
from torchbasics.data.loaders import TensorBatchLoader
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.tables import one_cpu_thread
from torchbasics.runs.train import train
from torchbasics.training.interrupts import TrainingInterrupted

TIMING_COLUMNS = ("seconds", "images_per_second")  # the only columns allowed to differ


def _config(data_dir: Path, **overrides) -> TrainConfig:
    """Dropout and augmentation on, so both the torch and the augmentation RNG matter."""
    settings = dict(model="mlp-relu", model_settings={"hidden": 32, "dropout": 0.2}, epochs=3,
                    batch_size=16, lr=0.05, augment=1.0, val_fraction=0.2,
                    data_dir=str(data_dir), precision="fp32")
    return TrainConfig(**(settings | overrides))


def metrics_without_timing(run: Path) -> list[list[str]]:
    """metrics.csv as text cells, without the timing columns."""
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
    keep = [index for index, name in enumerate(rows[0]) if name not in TIMING_COLUMNS]
    return [[row[index] for index in keep] for row in rows]


def assert_same_run(run: Path, reference: Path) -> None:
    """Final weights bit for bit, and every non-timing figure of metrics.csv, identical."""
    weights = load_checkpoint(reference / "last.pt")["model_state"]
    again = load_checkpoint(run / "last.pt")["model_state"]
    assert weights.keys() == again.keys()
    assert all(torch.equal(weights[name], again[name]) for name in weights)
    assert metrics_without_timing(run) == metrics_without_timing(reference)


def signal_at_step(monkeypatch, number: int, epoch: int, step: int, times: int = 1) -> None:
    """Send ``number`` to this process while batch ``step`` (1-based) of ``epoch`` loads."""
    gather = TensorBatchLoader.gather
    loaded = collections.Counter()

    def spy(self, index):
        if self.shuffle:  # the training loader, not validation
            loaded[self.epoch] += 1
            if (self.epoch, loaded[self.epoch]) == (epoch, step):
                for _ in range(times):
                    os.kill(os.getpid(), number)
        return gather(self, index)

    monkeypatch.setattr(TensorBatchLoader, "gather", spy)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """A small data set (10 steps per epoch) and its uninterrupted run, shared by the
    in-process tests."""
    root = tmp_path_factory.mktemp("small")
    data = make_idx_dataset(root / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHBASICS_CACHE", str(root / "cache"))
        train(_config(data), root / "reference", log=lambda _: None)
    return data, root / "reference"


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_epoch_stops_after_that_step_and_resumes_exactly(
        small, tmp_path, monkeypatch, number, capsys):
    (data, reference), run = small, tmp_path / "run"
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal_at_step(monkeypatch, number, epoch=2, step=4)
    with pytest.raises(TrainingInterrupted) as stopped:
        train(_config(data), run, log=lambda _: None)
    assert str(stopped.value) == (f"interrupted at epoch 2, step 4; resume with: torchbasics "
                                  f"train --resume --out {run}")
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # put back
    assert "stopping after the current step" in capsys.readouterr().err

    saved = load_checkpoint(run / "last.pt")
    assert saved["epoch"] == 1 and saved["partial_epoch"]["steps"] == 4
    assert saved["partial_epoch"]["samples"] == 4 * 16 and not saved["finished"]
    assert len(metrics_without_timing(run)) == 2  # header + epoch 1: epoch 2 is not done
    assert load_checkpoint(run / "best.pt")["epoch"] == 1

    monkeypatch.undo()
    lines = []
    summary = train(TrainConfig(), run, resume=True, log=lines.append)
    assert lines[0].startswith(f"resuming {run} at epoch 2, step 5 ")
    assert summary["epochs"] == 3
    assert_same_run(run, reference)


def test_a_signal_between_epochs_resumes_at_the_next_epoch(small, tmp_path):
    (data, reference), run = small, tmp_path / "run"

    def signal_after_epoch_1(line: str) -> None:
        if line.startswith("epoch 1/3"):
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted, match="interrupted after epoch 1; resume with"):
        train(_config(data), run, log=signal_after_epoch_1)
    assert load_checkpoint(run / "last.pt")["partial_epoch"]["steps"] == 0
    train(TrainConfig(), run, resume=True, log=lambda _: None)
    assert_same_run(run, reference)


def test_a_second_signal_aborts_at_once_keeping_the_last_checkpoint(small, tmp_path,
                                                                    monkeypatch):
    (data, reference), run = small, tmp_path / "run"
    before = signal.getsignal(signal.SIGINT)  # ignored, not the default, under nohup or `&`
    signal_at_step(monkeypatch, signal.SIGINT, epoch=2, step=4, times=2)
    with pytest.raises(KeyboardInterrupt) as aborted:
        train(_config(data), run, log=lambda _: None)
    assert not isinstance(aborted.value, TrainingInterrupted)  # nothing saved for it
    saved = load_checkpoint(run / "last.pt")  # the end of epoch 1, whole
    assert saved["epoch"] == 1 and saved["partial_epoch"] is None
    assert signal.getsignal(signal.SIGINT) is before  # the handler is given back
    monkeypatch.undo()
    train(TrainConfig(), run, resume=True, log=lambda _: None)
    assert_same_run(run, reference)


def test_a_nan_loss_without_recovery_stops_with_epoch_and_step_keeping_the_last_good_checkpoint(
        small, tmp_path, monkeypatch):
    from torchbasics.training.loop import ClassificationTask, TrainingDiverged

    loss, calls = ClassificationTask.loss, collections.Counter()

    def nan_at_step_13(self, outputs, targets):  # epoch 2, step 3 (10 steps per epoch)
        value = loss(self, outputs, targets)
        if torch.is_grad_enabled():
            calls["train"] += 1
            if calls["train"] == 13:
                value = value * float("nan")
        return value

    monkeypatch.setattr(ClassificationTask, "loss", nan_at_step_13)
    with pytest.raises(TrainingDiverged, match=r"NaN or infinite at epoch 2, step 3. Lower the "
                                               r"learning rate"):
        train(_config(small[0], recover=False), tmp_path / "run", log=lambda _: None)
    kept = load_checkpoint(tmp_path / "run" / "last.pt")
    assert kept["epoch"] == 1 and kept["partial_epoch"] is None
    assert all(torch.isfinite(value).all() for value in kept["model_state"].values())


def test_skipped_batches_are_not_loaded_or_transformed():
    """set_epoch(e, start_step=k) yields the rest of epoch e's batches, touching no others."""
    data = ImageData(images=torch.arange(20, dtype=torch.uint8).reshape(20, 1, 1, 1),
                     labels=torch.zeros(20, dtype=torch.long), class_names=("a",),
                     mean=(0.0,), std=(1.0,))
    calls = []
    loader = TensorBatchLoader(data, batch_size=3, shuffle=True, seed=5,
                               transform=lambda images: calls.append(len(images)) or images)
    loader.set_epoch(4)
    full = [images.flatten().tolist() for images, _ in loader]
    calls.clear()
    loader.set_epoch(4, start_step=5)
    assert [images.flatten().tolist() for images, _ in loader] == full[5:]
    assert calls == [3, 2]  # only the two batches served were transformed
    assert len(loader) == 7  # still the whole epoch, for the scheduler and the progress bar


# --- the real thing: signals to a `python -m torchbasics train` process -------------------

# Subprocess runs get more epochs than the in-process ones: a signal sent "a little into the
# next epoch" may land an epoch later on a fast machine, and there must still be one left.
PROCESS_EPOCHS = 6


def _command(data: Path, out: Path) -> list[str]:
    """The CLI form of ``_config(data, batch_size=8, epochs=PROCESS_EPOCHS)``."""
    return [sys.executable, "-m", "torchbasics", "train", "--model", "mlp-relu", "--hidden",
            "32", "--dropout", "0.2", "--epochs", str(PROCESS_EPOCHS), "--batch-size", "8",
            "--lr", "0.05",
            "--augment", "1", "--val-fraction", "0.2", "--precision", "fp32",
            "--data-dir", str(data), "--out", str(out)]


def _start(command: list[str]) -> subprocess.Popen:
    # One thread, as the in-process reference runs: the same arithmetic, bit for bit.
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def _into_next_epoch(seconds: float) -> None:
    """Sleep into the epoch that has just begun, well before its end."""
    time.sleep(min(max(0.3 * seconds, 0.2), 1.0))


@pytest.fixture(scope="module")
def process_data(tmp_path_factory) -> tuple[Path, Path]:
    """A data set big enough for ~1 s epochs (270 steps), and its uninterrupted run."""
    root = tmp_path_factory.mktemp("interrupts")
    data = make_idx_dataset(root / "data", train=2400, test=20)
    config = _config(data, batch_size=8, epochs=PROCESS_EPOCHS)
    with pytest.MonkeyPatch.context() as patch, one_cpu_thread():
        patch.setenv("TORCHBASICS_CACHE", str(root / "cache"))
        train(config, root / "reference", log=lambda _: None)
    return data, root / "reference"


@pytest.mark.slow
def test_sigint_and_sigterm_to_the_cli_then_resume_ends_bit_identical(process_data, tmp_path):
    data, reference = process_data
    run = tmp_path / "run"

    first = _start(_command(data, run))
    _into_next_epoch(wait_for_epochs(run, 1, first))  # into epoch 2 (or a little later)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert "Traceback" not in err
    printed = re.search(r"torchbasics: interrupted (?:at|after) epoch (\d+)(?:, step \d+)?; "
                        r"resume with: (torchbasics train --resume --out .+)$", err, re.MULTILINE)
    assert printed, err
    stopped_in = int(printed[1])
    assert 2 <= stopped_in <= PROCESS_EPOCHS - 2, err  # room for the second signal
    resume = [sys.executable, "-m", *shlex.split(printed[2])]  # the command, as printed

    # Wait for an epoch the resumed run finished itself: until then it may still be starting,
    # before its handlers are installed (a signal then ends it as SIGTERM's default does).
    done = len(metrics_without_timing(run)) - 1  # epochs finished before the first signal
    second = _start(resume)
    _into_next_epoch(wait_for_epochs(run, done + 1, second))
    second.send_signal(signal.SIGTERM)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 130, err
    assert re.search(r"interrupted (at|after) epoch \d+(, step [1-9]\d*)?; resume with", err), err

    third = _start(resume)
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0, err
    assert "resuming" in out and f"epoch {PROCESS_EPOCHS}/{PROCESS_EPOCHS}" in out
    assert_same_run(run, reference)


@pytest.mark.slow
def test_kill_9_then_resume_ends_bit_identical(process_data, tmp_path):
    data, reference = process_data
    run = tmp_path / "run"
    killed = _start(_command(data, run))
    _into_next_epoch(wait_for_epochs(run, 1, killed))  # last.pt exists; epoch 2 running
    killed.kill()
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert load_checkpoint(run / "last.pt")["epoch"] >= 1  # whole, whenever the kill came

    resumed = _start([*_command(data, run)[:3], "train", "--resume", "--out", str(run)])
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert not list(run.glob(".*.tmp"))  # a write cut short by the kill is cleaned up
    assert_same_run(run, reference)


def test_fp16_with_gradient_scaling_trains_and_resumes_exactly(small, tmp_path, monkeypatch):
    """The fp16 path (a GPU's, here with CPU autocast): the loss is scaled, the scaler's state
    is saved in last.pt and restored, so an interrupted run ends as an uninterrupted one."""
    from torchbasics.device import Precision
    from torchbasics.runs import images

    def fp16(name, device):
        return Precision("fp16", device.type, "test")

    data = small[0]
    monkeypatch.setattr(images, "choose_precision", fp16)
    train(_config(data), tmp_path / "reference", log=lambda _: None)
    saved = load_checkpoint(tmp_path / "reference" / "last.pt")
    assert saved["scaler_state"]["scale"] > 0  # a real, enabled scaler was used and saved
    signal_at_step(monkeypatch, signal.SIGINT, epoch=2, step=4)
    with pytest.raises(TrainingInterrupted):
        train(_config(data), tmp_path / "run", log=lambda _: None)
    monkeypatch.undo()  # no more signals; fp16 again for the resumed part
    monkeypatch.setattr(images, "choose_precision", fp16)
    train(TrainConfig(), tmp_path / "run", resume=True, log=lambda _: None)
    assert_same_run(tmp_path / "run", tmp_path / "reference")
    assert not torch.equal(load_checkpoint(small[1] / "last.pt")["model_state"]["1.weight"],
                           saved["model_state"]["1.weight"])  # fp16 is not fp32's run
