"""Checkpoints are never trusted blindly: pickled code is refused unrun, and weights that do
not match the model, input shape or class count the checkpoint describes are refused by name.
"""

from __future__ import annotations

import pathlib
import shutil

import pytest
import torch

from tests.helpers import make_idx_dataset
from torchbasics.checkpoint import load_checkpoint, model_from_checkpoint
from torchbasics.cli import main
from torchbasics.errors import TorchbasicsError
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.tables import train_table
from torchbasics.runs.train import train


class TouchOnLoad:
    """Unpickling this calls ``Path.touch(marker)``: what a malicious checkpoint would do."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def write_malicious(path: pathlib.Path, marker: pathlib.Path) -> None:
    """A file that looks like a torchbasics checkpoint and runs code when unpickled."""
    torch.save({"format": "torchbasics-checkpoint", "model": "softmax",
                "payload": TouchOnLoad(marker)}, path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An image run (softmax, 1 epoch) and a bonus regression run, shared by the tests."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHBASICS_CACHE", str(root / "cache"))
        data = make_idx_dataset(root / "data")
        train(TrainConfig(model="softmax", epochs=1, batch_size=32, val_fraction=0.2,
                          data_dir=str(data), precision="fp32"), root / "image", log=lambda _: None)
        train_table(TrainConfig(dataset="bonus", model="linear", epochs=5),
                    root / "bonus", log=lambda _: None)
    return root


def test_the_malicious_file_really_runs_code_when_unpickled_unsafely(tmp_path):
    """The premise of the tests below: a plain (unsafe) load creates the marker."""
    marker = tmp_path / "pwned"
    write_malicious(tmp_path / "evil.pt", marker)
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


def test_load_checkpoint_refuses_pickled_code_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    write_malicious(tmp_path / "evil.pt", marker)
    with pytest.raises(TorchbasicsError, match=r"refused.*nothing was executed"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.mark.parametrize("command", [
    ["evaluate", "{run}"],
    ["evaluate", "{run}", "--checkpoint", "last"],
    ["predict", "{run}", "--set", "rating=8", "--set", "years=5"],
    ["train", "--resume", "--out", "{run}"],
], ids=["evaluate", "evaluate-last", "predict", "resume"])
def test_commands_refuse_a_run_holding_a_malicious_checkpoint(runs, tmp_path, capsys, command):
    run, marker = tmp_path / "run", tmp_path / "pwned"
    kind = "bonus" if command[0] == "predict" else "image"
    shutil.copytree(runs / kind, run)
    for name in ("best.pt", "last.pt"):
        write_malicious(run / name, marker)
    assert main([part.format(run=run) for part in command]) == 2
    err = capsys.readouterr().err
    assert err.startswith("torchbasics: error: ") and "nothing was executed" in err
    assert not marker.exists()


def _describing(runs, **changes) -> dict:
    """The image run's checkpoint with some of its describing fields changed."""
    return load_checkpoint(runs / "image" / "best.pt") | changes


@pytest.mark.parametrize(("changes", "message"), [
    ({"model": "mlp-relu"}, r"not those of model 'mlp-relu' \(missing '3.weight', '3.bias'"),
    ({"input_shape": [1, 20, 20]},
     r"not for input shape \(1, 20, 20\) of model 'softmax': '1.weight' has shape \(10, 784\), "
     r"the model needs \(10, 400\)"),
    ({"class_names": list("abcde")}, "the weights have 10 outputs, but the checkpoint names "
                                     "5 classes"),
    ({"input_shape": [3, 28, 28]}, r"not for input shape \(3, 28, 28\)"),
], ids=["other-model", "other-input-shape", "other-class-count", "other-channels"])
def test_weights_that_do_not_match_the_description_are_refused(runs, changes, message):
    with pytest.raises(TorchbasicsError, match=message):
        model_from_checkpoint(_describing(runs, **changes), "x.pt")


def test_the_cli_names_the_mismatch(runs, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs / "image", run)
    torch.save(_describing(runs, model="mlp-relu"), run / "best.pt")
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "the weights are not those of model 'mlp-relu'" in err


def test_evaluating_data_of_another_shape_names_both_shapes(runs, tmp_path, capsys):
    other = make_idx_dataset(tmp_path / "small", size=20)
    run = tmp_path / "run"
    shutil.copytree(runs / "image", run)
    assert main(["evaluate", str(run), "--data-dir", str(other)]) == 2
    err = capsys.readouterr().err
    assert "the model expects images of shape (1, 28, 28), the data has (1, 20, 20)" in err


@pytest.mark.parametrize(("field", "value"), [
    ("model_state", None), ("input_shape", "28x28"), ("input_shape", [1, 0, 28]),
    ("model_state", {"1.weight": [0.0]}), ("class_names", None),
])
def test_damaged_describing_fields_are_refused(runs, tmp_path, field, value):
    checkpoint = load_checkpoint(runs / "image" / "best.pt")
    if value is None:
        del checkpoint[field]
    else:
        checkpoint[field] = value
    torch.save(checkpoint, tmp_path / "damaged.pt")
    with pytest.raises(TorchbasicsError, match="damaged checkpoint"):
        load_checkpoint(tmp_path / "damaged.pt")


@pytest.mark.parametrize("version", [1, 2, 99])
def test_a_checkpoint_of_another_format_is_refused_saying_to_train_again(runs, tmp_path,
                                                                         version):
    checkpoint = torch.load(runs / "image" / "best.pt", weights_only=True)
    torch.save(checkpoint | {"format_version": version}, tmp_path / "old.pt")
    with pytest.raises(TorchbasicsError, match=f"checkpoint format {version}.* Train the "
                       "model again"):
        load_checkpoint(tmp_path / "old.pt")


@pytest.mark.parametrize("statistics", [
    {"mean": [0.1], "std": [0.0], "deskew": False},  # std must be positive
    {"mean": [0.1, 0.2], "std": [0.3], "deskew": False},  # one std per mean
    {"mean": ["x"], "std": [0.3], "deskew": False},
    {"mean": [0.1], "std": [0.3], "deskew": "yes"},
])
def test_damaged_input_statistics_are_refused(runs, tmp_path, statistics):
    checkpoint = torch.load(runs / "image" / "best.pt", weights_only=True)
    torch.save(checkpoint | {"input": statistics}, tmp_path / "damaged.pt")
    with pytest.raises(TorchbasicsError, match="damaged checkpoint: its mean and std"):
        load_checkpoint(tmp_path / "damaged.pt")
