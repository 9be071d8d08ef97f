"""Bad input anywhere gives one clear line, exit code 2, and leaves every file as it was.

Each case below makes one bad input (a flag, an IDX file, a CSV, a list file, an image,
a checkpoint, a run directory, an unwritable folder, a full disk) and runs the command
line on it in-process. For every case: exit code 2; exactly one line on stderr, starting
``torchbasics: error:`` and saying what is expected; no traceback; and no file created,
changed or removed anywhere, neither in the case's own folder nor in the earlier runs and
data shared by all cases (hashed before and after), so no temporary file is left either.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import pathlib
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tests.helpers import make_idx_dataset
from torchbasics.checkpoint import load_checkpoint
from torchbasics.cli import main
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.tables import train_table
from torchbasics.runs.train import train

BONUS_HEADER = "performance_rating,years_experience,projects_completed,bonus\n"
IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


@dataclass(frozen=True)
class World:
    """Data and runs made once and shared by every case; none may change them."""

    root: Path
    data: Path  # synthetic MNIST-named IDX files, 200 train / 60 test images
    image: Path  # a finished image run (softmax, 2 epochs)
    unfinished: Path  # an image run stopped after epoch 1 of 3
    bonus: Path  # a finished bonus regression run


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("world")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHBASICS_CACHE", str(tmp_path_factory.mktemp("cache")))
        data = make_idx_dataset(root / "data")
        config = TrainConfig(model="softmax", epochs=2, batch_size=32, val_fraction=0.2,
                             data_dir=str(data), precision="fp32")
        train(config, root / "image", log=lambda _: None)

        def stop_after_epoch_1(line: str) -> None:
            if line.startswith("epoch 1/3"):
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            train(TrainConfig(**{**config.to_dict(), "epochs": 3}), root / "unfinished",
                  log=stop_after_epoch_1)
        train_table(TrainConfig(dataset="bonus", model="linear", epochs=5),
                    root / "bonus", log=lambda _: None)
    return World(root, data, root / "image", root / "unfinished", root / "bonus")


# --- helpers that make one bad input each; they return the argv to run -----------------

def train_argv(world: World, out: Path, *extra: str, data: Path | None = None) -> list[str]:
    return ["train", "--model", "softmax", "--epochs", "1", "--batch-size", "32",
            "--data-dir", str(data or world.data), "--out", str(out), *extra]


def raw(world: World, name: str) -> bytes:
    """The uncompressed bytes of one of the shared data set's IDX files."""
    return gzip.decompress((world.data / f"{name}.gz").read_bytes())


def data_with(world: World, tmp: Path, name: str, content: bytes) -> Path:
    """A copy of the shared data set whose file ``name`` (an IDX name, and ``.gz`` for a
    gzipped one) holds ``content`` in place of the original."""
    data = tmp / "data"
    shutil.copytree(world.data, data)
    (data / f"{name.removesuffix('.gz')}.gz").unlink()
    (data / name).write_bytes(content)
    return data


def idx_case(name: str, mutate: Callable[[bytes], bytes]):
    def setup(world: World, tmp: Path) -> list[str]:
        data = data_with(world, tmp, name, mutate(raw(world, name)))
        return train_argv(world, tmp / "run", data=data)
    return setup


def eval_list(text: str, images: dict[str, bytes] | None = None):
    """``evaluate`` of the shared image run on a list file (and image files beside it)."""
    def setup(world: World, tmp: Path) -> list[str]:
        for name, content in (images or {}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(content)
        (tmp / "list.txt").write_text(text)
        return ["evaluate", str(world.image), "--list", str(tmp / "list.txt")]
    return setup


def run_copy(world: World, tmp: Path, source: Path | None = None) -> Path:
    run = tmp / "run"
    shutil.copytree(source or world.image, run)
    return run


class TouchOnLoad:
    """Unpickling this would create a file: the snapshot check sees it if it ever runs."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def eval_checkpoint(make: Callable[[dict, Path], object]):
    """``evaluate`` of a copy of the image run whose best.pt is ``make(checkpoint, tmp)``."""
    def setup(world: World, tmp: Path) -> list[str]:
        run = run_copy(world, tmp)
        made = make(load_checkpoint(run / "best.pt"), tmp)
        if isinstance(made, bytes):
            (run / "best.pt").write_bytes(made)
        else:
            torch.save(made, run / "best.pt")
        return ["evaluate", str(run)]
    return setup


def predict_bonus(*flags: str):
    def setup(world: World, tmp: Path) -> list[str]:
        (tmp / "staff.csv").write_text(BONUS_HEADER.replace(",bonus", "") + "8,5,x\n")
        (tmp / "missing-column.csv").write_text("performance_rating,years_experience\n8,5\n")
        return ["predict", str(world.bonus),
                *(flag.format(tmp=tmp) for flag in flags)]
    return setup


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def disk_full(make_argv: Callable[[World, Path], list[str]]):
    """``make_argv``'s command on a full disk: every fsync of a file fails with ENOSPC."""
    def setup(world: World, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        argv = make_argv(world, tmp)
        monkeypatch.setattr(os, "fsync", enospc)
        return argv
    setup.needs_monkeypatch = True
    return setup


def flags(*extra: str):
    return lambda world, tmp: train_argv(world, tmp / "run", *extra)


def header(code: int = 0x08, ndim: int = 3, sizes: tuple[int, ...] = (200, 28, 28)) -> bytes:
    return struct.pack(">HBB", 0, code, ndim) + struct.pack(f">{len(sizes)}I", *sizes)


CASES = [
    # Flags.
    pytest.param(flags("--epochs", "x"), "argument --epochs: invalid int value: 'x'",
                 id="flag-not-a-number"),
    pytest.param(flags("--epochs", "0"), "--epochs: must be at least 1, got 0",
                 id="flag-out-of-range"),
    pytest.param(flags("--lr", "-1"), "--lr: must be above 0", id="flag-negative-lr"),
    pytest.param(flags("--optimizer", "adm"), "invalid choice 'adm'. Did you mean 'adam'?",
                 id="flag-bad-choice"),
    pytest.param(lambda w, t: ["trian", "--out", str(t / "run")],
                 "invalid choice 'trian'. Did you mean 'train'?", id="unknown-command"),
    pytest.param(flags("--model", "cnnn"), "unknown model 'cnnn'. Did you mean 'cnn'?",
                 id="unknown-model"),
    pytest.param(flags("--dataset", "fashion-mnst"),
                 "unknown data set 'fashion-mnst'. Did you mean 'fashion-mnist'?",
                 id="unknown-dataset"),
    pytest.param(lambda w, t: ["train", "--dataset", "bonus", "--model", "softmax", "--out",
                               str(t / "run")], "'softmax' does not do regression",
                 id="model-for-another-task"),
    pytest.param(flags("--target", "price"), "--target is for your own tables",
                 id="flag-for-other-data"),
    pytest.param(flags("--hidden", "8"), "--hidden: model 'softmax' does not take this setting",
                 id="setting-the-model-lacks"),
    pytest.param(flags("--val-fraction", "1.5"), "--val-fraction: must be above 0 and below 1",
                 id="val-fraction-above-1"),
    pytest.param(flags("--device", "tpu"), "unknown device 'tpu'", id="unknown-device"),
    pytest.param(flags("--train-list", "ids.txt"), "--train-list and --val-list go together",
                 id="train-list-alone"),
    pytest.param(predict_bonus("--set", "rating=11", "--set", "years=5"),
                 "performance_rating: 11 is out of range", id="predict-value-out-of-range"),
    # IDX files.
    pytest.param(idx_case(IMAGES, lambda b: b[:5000]),
                 "truncated: expected 156800 bytes of the values", id="idx-truncated"),
    pytest.param(idx_case(IMAGES, lambda b: b"\x08\x03" + b[2:]),
                 "not an IDX file: magic number 0x0803", id="idx-wrong-magic"),
    pytest.param(idx_case(IMAGES, lambda b: header(code=0x0A) + b[16:]),
                 "unknown IDX value type 0x0a", id="idx-unknown-type"),
    pytest.param(idx_case(IMAGES, lambda b: b + b"\0" * 10), "trailing data after the 156800",
                 id="idx-trailing-data"),
    pytest.param(idx_case(LABELS, lambda b: header(ndim=1, sizes=(190,)) + b[8:198]),
                 "190 labels for 200 images", id="idx-count-mismatch"),
    pytest.param(idx_case(LABELS, lambda b: b[:8] + b"\x0c" + b[9:]),
                 "label 12 at index 0 is outside 0..9", id="idx-label-out-of-range"),
    pytest.param(idx_case(IMAGES, lambda b: b[:10]),
                 "truncated: expected 12 bytes of the sizes, found 6", id="idx-header-cut-short"),
    pytest.param(lambda w, t: train_argv(w, t / "run", data=data_with(
        w, t, IMAGES, raw(w, LABELS))), "expected uint8 images of shape (N, H, W)",
                 id="idx-labels-as-images"),
    pytest.param(lambda w, t: train_argv(w, t / "run", data=data_with(
        w, t, "train-images-idx3-ubyte.gz", b"\x1f\x8b\x08\x00garbage")),
                 "corrupt or truncated gzip data", id="idx-corrupt-gzip"),
    # Rows given to a table model (hostile tables to train on: tests/tabular/test_hostile_csv.py).
    pytest.param(predict_bonus("{tmp}/staff.csv", "--out", "{tmp}/out.csv"),
                 "column 'projects_completed': 'x' is not a number", id="predict-csv-bad-cell"),
    pytest.param(predict_bonus("{tmp}/missing-column.csv"),
                 "no column 'projects_completed'", id="predict-csv-missing-column"),
    # List files and image files.
    pytest.param(eval_list("0\n60\n"), "ID 60 is out of range: the split has 60 images",
                 id="list-id-out-of-range"),
    pytest.param(eval_list("3\n-1\n"), "negative ID -1", id="list-negative-id"),
    pytest.param(eval_list("3\n12a\n"), "'12a' is neither a split ID nor an image file name",
                 id="list-bad-line"),
    pytest.param(eval_list("3\na.png 1\n", {"a.png": b""}), "is an image path, but line 1 is "
                 "a split ID", id="list-mixed-kinds"),
    pytest.param(eval_list("# nothing\n\n"), "the list has no entries", id="list-empty"),
    pytest.param(lambda w, t: ["evaluate", str(w.image), "--list", str(t / "none.txt")],
                 "list file not found", id="list-missing-file"),
    pytest.param(eval_list("1/a.png\n"), "image file not found", id="list-unknown-path"),
    pytest.param(eval_list("a.png 1O\n", {"a.png": b""}),
                 "unknown class label '1O'. Did you mean '1'?", id="list-unknown-class"),
    pytest.param(eval_list("1/a.png\n", {"1/a.png": b"this is text, not a PNG"}),
                 "not a picture", id="image-not-an-image"),
    # Checkpoints.
    pytest.param(eval_checkpoint(lambda c, t: b"not a checkpoint at all"),
                 "not a readable checkpoint", id="checkpoint-not-a-checkpoint"),
    pytest.param(eval_checkpoint(lambda c, t: b"PK\x03\x04" + b"\0" * 100),
                 "not a readable checkpoint", id="checkpoint-truncated-zip"),
    pytest.param(eval_checkpoint(lambda c, t: {**c, "payload": TouchOnLoad(t / "pwned")}),
                 "refused: the file holds objects other than tensors", id="checkpoint-malicious"),
    pytest.param(eval_checkpoint(lambda c, t: c["model_state"]), "not a torchbasics checkpoint",
                 id="checkpoint-bare-state-dict"),
    pytest.param(eval_checkpoint(lambda c, t: {**c, "model": "mlp-relu"}),
                 "the weights are not those of model 'mlp-relu'", id="checkpoint-other-model"),
    pytest.param(eval_checkpoint(lambda c, t: {**c, "input_shape": [1, 20, 20]}),
                 "the weights are not for input shape (1, 20, 20) of model 'softmax'",
                 id="checkpoint-other-input-shape"),
    pytest.param(eval_checkpoint(lambda c, t: {**c, "class_names": list("abcde")}),
                 "but the checkpoint names 5 classes", id="checkpoint-other-class-count"),
    pytest.param(eval_checkpoint(lambda c, t: {k: v for k, v in c.items() if k != "input"}),
                 "damaged checkpoint: 'input' is missing", id="checkpoint-missing-field"),
    # Run directories.
    pytest.param(lambda w, t: train_argv(w, w.image), "already holds a run", id="run-exists"),
    pytest.param(lambda w, t: train_argv(w, run_copy(w, t), "--force", data=data_with(
        w, t, IMAGES, b"")), "truncated: expected 4 bytes of the 4-byte magic number",
                 id="force-over-a-run-with-bad-data"),
    pytest.param(lambda w, t: ["train", "--resume", "--out", str(t)],
                 "nothing to resume: no last.pt here", id="resume-nothing"),
    pytest.param(lambda w, t: ["train", "--resume", "--out", str(_with_file(
        t / "run", "config.json", "{}"))], "the run stopped before its first epoch ended",
                 id="resume-run-without-an-epoch"),
    pytest.param(lambda w, t: ["train", "--resume", "--out", str(w.image)],
                 "the run has already finished (after epoch 2)", id="resume-finished-run"),
    pytest.param(lambda w, t: ["train", "--resume", "--out", str(w.bonus)],
                 "this is a regression run", id="resume-regression-run"),
    pytest.param(lambda w, t: ["train", "--resume", "--out", str(
        _without(run_copy(w, t, w.unfinished), "metrics.csv"))],
                 "metrics.csv has 0 epochs, but last.pt was saved after 1",
                 id="resume-run-missing-metrics"),
    pytest.param(lambda w, t: ["train", "--resume", "--out", str(_resaved(
        run_copy(w, t, w.unfinished), partial_epoch={"epoch": 2}))],
                 "damaged checkpoint: its unfinished epoch does not add up",
                 id="resume-damaged-partial-epoch"),
    pytest.param(lambda w, t: ["evaluate", str(t)], "no best.pt or last.pt here",
                 id="evaluate-not-a-run"),
    pytest.param(lambda w, t: ["predict", str(t / "nowhere"), "--set", "rating=8"],
                 "no such run directory or checkpoint", id="predict-no-run"),
    # Unwritable output and a full disk.
    pytest.param(lambda w, t: train_argv(w, w.data / "train-labels-idx1-ubyte.gz"),
                 "exists and is not a folder", id="out-is-a-file"),
    pytest.param(lambda w, t: train_argv(w, w.data / "train-labels-idx1-ubyte.gz" / "run"),
                 "cannot create the folder (Not a directory)", id="out-under-a-file"),
    pytest.param(disk_full(lambda w, t: train_argv(w, t / "run")),
                 "could not write the file (No space left on device)", id="disk-full-train"),
    pytest.param(disk_full(lambda w, t: ["evaluate", str(w.image)]),
                 "could not write the file (No space left on device)", id="disk-full-evaluate"),
    pytest.param(disk_full(lambda w, t: ["predict", str(w.bonus), str(_bonus_rows(t)),
                                         "--out", str(w.bonus / "predicted.csv")]),
                 "could not write the file (No space left on device)", id="disk-full-predict"),
]


def _with_file(folder: Path, name: str, text: str) -> Path:
    folder.mkdir()
    (folder / name).write_text(text)
    return folder


def _resaved(run: Path, **changes) -> Path:
    """``run`` with its last.pt changed."""
    torch.save(load_checkpoint(run / "last.pt") | changes, run / "last.pt")
    return run


def _without(run: Path, name: str) -> Path:
    (run / name).unlink()
    return run


def _bonus_rows(tmp: Path) -> Path:
    (tmp / "staff.csv").write_text(BONUS_HEADER.replace(",bonus", "") + "8,5,12\n")
    return tmp / "staff.csv"


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under ``folders`` -> the hash of its bytes."""
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(("setup", "expected"), CASES)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(world, tmp_path, capsys, monkeypatch,
                                                          setup, expected):
    case = tmp_path / "case"
    case.mkdir()
    if getattr(setup, "needs_monkeypatch", False):
        argv = setup(world, case, monkeypatch)
    else:
        argv = setup(world, case)
    before = snapshot(world.root, case)  # with the inputs the case wrote
    capsys.readouterr()

    code = main(argv)
    monkeypatch.undo()  # a full disk ends with the command
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("torchbasics: error: "), err
    assert expected in lines[0]
    assert snapshot(world.root, case) == before  # nothing written, changed or left behind


def test_there_are_at_least_30_distinct_cases():
    ids = [case.id for case in CASES]
    assert len(set(ids)) == len(ids) >= 30


def test_debug_shows_the_traceback(world, tmp_path, capsys):
    assert main(["--debug", *train_argv(world, tmp_path / "run", "--epochs", "0")]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "TorchbasicsError" in err
    assert err.splitlines()[-1] == "torchbasics: error: --epochs: must be at least 1, got 0"


def test_debug_shows_the_traceback_of_a_bad_flag(capsys):
    assert main(["--debug", "train", "--epochs", "x", "--out", "run"]) == 2
    assert "Traceback" in capsys.readouterr().err
