"""``evaluate``: the numbers agree with a direct computation; figures and summary are written."""

from __future__ import annotations

import json

import pytest
import torch

from tests.helpers import make_idx_dataset
from torchbasics.checkpoint import load_checkpoint, model_from_checkpoint
from torchbasics.cli import main
from torchbasics.data.sources import load_split
from torchbasics.data.transforms import standard_transform
from torchbasics.errors import TorchbasicsError
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.evaluate import evaluate_run
from torchbasics.runs.train import train


@pytest.fixture
def run(idx_dir, tmp_path):
    # deskew=False: the synthetic classes are bands at different heights, which deskewing
    # (it centres the ink) would make alike.
    config = TrainConfig(dataset="mnist", model="softmax", epochs=3, batch_size=32, lr=0.05,
                         val_fraction=0.2, data_dir=str(idx_dir), precision="fp32",
                         deskew=False)
    train(config, tmp_path / "run", log=lambda line: None)
    return tmp_path / "run"


def test_test_error_matches_a_direct_computation(run, idx_dir):
    result = evaluate_run(run)
    model = model_from_checkpoint(load_checkpoint(run / "best.pt"))
    test = load_split("mnist", "test", idx_dir, download=False)
    with torch.no_grad():
        logits = model(standard_transform(test.mean, test.std)(test.images))
    expected = (logits.argmax(1) != test.labels).float().mean().item()
    assert result["error"] == pytest.approx(expected)
    assert result["count"] == 60 and result["accuracy"] == pytest.approx(1 - expected)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_error"] == pytest.approx(expected)
    assert "Test error" in (run / "report.md").read_text()
    for name in ("confusion_matrix.png", "evaluation.json"):
        assert (run / name).is_file()


def test_list_file_evaluation_does_not_touch_the_summary(run, tmp_path):
    (tmp_path / "ids.txt").write_text("0\n1\n2\n3\n")
    result = evaluate_run(run, list_path=tmp_path / "ids.txt")
    assert result["count"] == 4
    assert "test_error" not in json.loads((run / "summary.json").read_text())


def test_a_list_of_training_ids_is_evaluated_on_the_training_split(idx_dir, tmp_path, capsys):
    """The run's own --val-list names training images: read as test-split IDs it would be
    other pictures under the same numbers, so that is refused; --split train reads it."""
    val_list = tmp_path / "val.txt"
    val_list.write_text("\n".join(map(str, range(150, 200))) + "\n")
    (tmp_path / "train.txt").write_text("\n".join(map(str, range(150))) + "\n")
    config = TrainConfig(dataset="mnist", model="softmax", epochs=1, data_dir=str(idx_dir),
                         precision="fp32", deskew=False, train_list=str(tmp_path / "train.txt"),
                         val_list=str(val_list))
    train(config, tmp_path / "run", log=lambda line: None)
    assert main(["evaluate", str(tmp_path / "run"), "--list", str(val_list)]) == 2
    assert ("is the run's --val-list file, whose IDs are in the training split"
            in capsys.readouterr().err)
    assert main(["evaluate", str(tmp_path / "run"), "--list", str(val_list), "--split",
                 "train", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 50
    validated = json.loads((tmp_path / "run" / "summary.json").read_text())["final_val_error"]
    assert result["error"] == pytest.approx(validated)  # the validation pictures themselves


def test_data_of_another_shape_is_refused(run, tmp_path):
    other = make_idx_dataset(tmp_path / "small", size=20)
    with pytest.raises(TorchbasicsError, match=r"expects images of shape \(1, 28, 28\)"):
        evaluate_run(run, data_dir=other)


def test_cli_evaluate(run, capsys):
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert "on test (60 images): error" in out and "precision" in out
    assert main(["evaluate", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 60
    assert main(["evaluate", str(run.parent / "nowhere")]) == 2
    assert "no such run directory or checkpoint" in capsys.readouterr().err


def test_a_checkpoint_file_is_evaluated_like_its_run_with_checkpoint(run, capsys):
    """``evaluate RUN/last.pt`` takes the file, as predict, export and serve do."""
    assert main(["evaluate", str(run / "last.pt"), "--json"]) == 0
    by_file = json.loads(capsys.readouterr().out)
    assert by_file["checkpoint"] == "last.pt"
    assert main(["evaluate", str(run), "--checkpoint", "last", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["error"] == by_file["error"]
    assert main(["evaluate", str(run / "last.pt")]) == 0
    assert capsys.readouterr().out.startswith(f"{run / 'last.pt'} on test (60 images)")


def test_a_bf16_trained_model_is_evaluated_in_fp32(idx_dir, tmp_path, monkeypatch):
    """The test error is that of the model as `predict` and exported files run it (fp32)."""
    import torchbasics.runs.evaluate_pictures as evaluation

    config = TrainConfig(dataset="mnist", model="softmax", epochs=1, data_dir=str(idx_dir),
                         precision="bf16", deskew=False)
    train(config, tmp_path / "run", log=lambda line: None)
    used = []
    real = evaluation.predict_probabilities
    monkeypatch.setattr(evaluation, "predict_probabilities",
                        lambda *args, **options: used.append(options["precision"])
                        or real(*args, **options))
    evaluate_run(tmp_path / "run")
    assert used == ["fp32"]
