"""benchmarks/speed.py: its quick run works, and it trains exactly as `torchbasics train` does."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re

import pytest
import torch

from tests.helpers import benchmark_module, real_data_dir
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.evaluate import evaluate_run
from torchbasics.runs.train import train


@pytest.fixture(scope="module")
def speed():
    """benchmarks/speed.py as a module."""
    with benchmark_module("speed") as module:
        yield module


def _table_rows(output: str) -> list[list[str]]:
    """The cells of each data row of the printed markdown table."""
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


@pytest.mark.slow
def test_quick_run_measures_parts_1_to_3(speed, idx_dir, capsys):
    assert speed.main(["--quick", "--only", "1,2,3", "--data-dir", str(idx_dir)]) == 0
    rows = _table_rows(capsys.readouterr().out)
    measures = [row[0] for row in rows]
    assert measures[:4] == [
        "images/s, one training epoch of `cnn`, batch 128",
        "images/s, one training epoch of `convnet`, batch 128",
        "images/s, one epoch of `mlp-relu`: torchbasics vs the classic Dataset + "
        "DataLoader(batch_size=64, shuffle=True)",
        "… the loaders alone: `mlp-relu`, batch 64, fp32, the same loop (train_one_epoch), "
        "one process",
    ]
    assert "training time to 98.0 % test accuracy" in measures
    for row in rows[:4]:  # both sides measured, and the ratio is theirs
        ours, baseline = (float(re.match(r"[\d,.]+", cell)[0].replace(",", ""))
                          for cell in row[1:3])
        assert ours > 0 and baseline > 0
        assert float(row[3].rstrip("×")) == pytest.approx(ours / baseline, rel=0.06, abs=0.06)
    accuracy = re.match(r"([\d.]+) %", rows[-1][1])
    assert accuracy and 0 <= float(accuracy[1]) <= 100


@pytest.mark.slow
def test_recipe_trains_exactly_as_torchbasics_train(speed, idx_dir, tmp_path):
    config = TrainConfig(dataset="mnist", model="convnet", epochs=2, data_dir=str(idx_dir))
    summary = train(config, tmp_path / "run", log=lambda line: None)
    data = speed.load_data(speed.parse_args(["--data-dir", str(idx_dir)]))
    recipe = speed.build_recipe(config, data, torch.device("cpu"))
    results = speed.train_recipe(recipe, data, torch.device("cpu"), test_every_epoch=False)
    assert [r.epoch for r in results] == [1, 2]
    assert results[-1].train_loss == summary["final_train_loss"]
    assert results[0].test_accuracy is None and 0 <= results[-1].test_accuracy <= 1


@pytest.mark.slow
def test_test_accuracy_is_measured_as_torchbasics_evaluate_does(speed, tmp_path):
    """Deskewed as the model was trained, in fp32: the same figure as `evaluate`."""
    mnist_dir = real_data_dir("mnist")
    config = TrainConfig(dataset="mnist", model="softmax", epochs=2, deskew=True,
                         data_dir=str(mnist_dir))
    train(config, tmp_path / "run", log=lambda line: None)
    data = speed.load_data(speed.parse_args(["--data-dir", str(mnist_dir)]))
    results = speed.train_recipe(speed.build_recipe(config, data, torch.device("cpu")), data,
                                 torch.device("cpu"), test_every_epoch=False)
    tested = evaluate_run(tmp_path / "run", checkpoint_name="last.pt", device="cpu")
    assert results[-1].test_accuracy == pytest.approx(1 - tested["error"], abs=1e-12)


def test_time_to_mark_is_the_first_epoch_at_the_mark(speed):
    results = [speed.EpochResult(1, 2.0, 0.95, 0.3), speed.EpochResult(2, 4.0, None, 0.2),
               speed.EpochResult(3, 6.0, 0.981, 0.1), speed.EpochResult(4, 8.0, 0.99, 0.1)]
    assert speed.first_at_mark(results, 0.98).epoch == 3
    assert speed.first_at_mark(results, 0.995) is None


def test_examples_net_is_pytorch_examples_network(speed):
    net = importlib.import_module("_plain_pytorch").ExamplesNet()
    # pytorch/examples' mnist Net has 1,199,882 parameters.
    assert sum(p.numel() for p in net.parameters()) == 1_199_882
    log_probabilities = net(torch.zeros(2, 1, 28, 28))
    assert log_probabilities.shape == (2, 10)
    assert torch.allclose(log_probabilities.exp().sum(1), torch.ones(2))


def test_missed_goal_exits_1_except_in_quick_runs(speed, idx_dir, monkeypatch, capsys):
    def missed(args, data, device):
        return [speed.Row("a measure", "1", "2", "0.5×", "≥ 3×", False)]

    monkeypatch.setattr(speed, "part_loader", missed)
    assert speed.main(["--only", "2", "--data-dir", str(idx_dir)]) == 1
    assert speed.main(["--quick", "--only", "2", "--data-dir", str(idx_dir)]) == 0
    assert "| a measure | 1 | 2 | 0.5× | ≥ 3× | NO |" in capsys.readouterr().out


def test_json_holds_the_rows_machine_date_and_command(speed, idx_dir, monkeypatch, tmp_path,
                                                      capsys):
    row = speed.Row("a measure", "1", "2", "0.5×", "≥ 3×", False)
    monkeypatch.setattr(speed, "part_loader", lambda args, data, device: [row])
    path = tmp_path / "speed.json"
    argv = ["--quick", "--only", "2", "--data-dir", str(idx_dir), "--json", str(path)]
    assert speed.main(argv) == 0
    written = json.loads(path.read_text())
    measured = written["measurements"][0]
    assert written["benchmark"] == "speed" and measured["quick"]
    assert measured["command"] == "python benchmarks/speed.py " + " ".join(argv)
    assert measured["rows"] == [dataclasses.asdict(row)] and measured["device"] == "cpu"
    assert "180 training / 20 validation images" in measured["data"]
    printed = capsys.readouterr().out
    speed.print_results(written)  # the file prints the table the run printed
    assert capsys.readouterr().out.strip() == printed.strip()


def test_parts_and_disk_space_are_checked(speed, capsys):
    assert speed.parse_parts("3,1") == [1, 3]
    for bad in ("6", "x", ""):
        with pytest.raises(SystemExit):
            speed.parse_args(["--only", bad])
    assert "GiB free" in speed.memory_part_problem(1e9)
