"""Names and model cards of the served runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from torchbasics.runs.trained import shown_dataset
from torchbasics.serve.served import load_served, unique_name, url_name


def test_url_names(tmp_path):
    run = tmp_path / "My Run (v2)"
    run.mkdir()
    (run / "best.pt").write_bytes(b"")
    (tmp_path / "fashion.pt").write_bytes(b"")
    assert url_name(run) == "my-run-v2"
    assert url_name(run / "best.pt") == "my-run-v2"  # a run's own checkpoint: the run's name
    assert url_name(tmp_path / "fashion.pt") == "fashion"
    assert unique_name("bonus", {"bonus": 1, "bonus-2": 1}) == "bonus-3"


@pytest.mark.slow
def test_a_bare_checkpoint_gets_a_card_from_the_model_itself(bonus_run, tmp_path):
    copy = tmp_path / "elsewhere" / "bonus-model.pt"
    copy.parent.mkdir()
    shutil.copy(bonus_run / "last.pt", copy)
    (served,) = load_served([copy]).values()
    assert served.name == "bonus-model" and served.describe()["kind"] == "tabular"
    assert served.card["parameters"] == 4  # counted from the weights: no summary.json here
    assert served.card["test_error"] is None and "formula" not in served.card
    assert served.card["trained"].startswith("20")


@pytest.mark.slow
def test_the_same_run_twice_gets_two_names(bonus_run):
    assert list(load_served([bonus_run, bonus_run])) == ["bonus", "bonus-2"]


def test_nothing_to_serve_is_an_error():
    from torchbasics.errors import TorchbasicsError

    with pytest.raises(TorchbasicsError, match="no runs to serve"):
        load_served([])
    with pytest.raises(TorchbasicsError, match="no such run directory"):
        load_served([Path("/nonexistent/run")])


@pytest.mark.parametrize(("dataset", "shown"), [
    ("mnist", "mnist"), ("/home/ann/data/houses.csv", "houses.csv"),
    ("/srv/pictures/", "pictures"), ("C:\\Users\\ann\\pets", "pets"), (None, None)])
def test_own_data_is_shown_by_its_name_not_its_path(dataset, shown):
    assert shown_dataset(dataset) == shown
