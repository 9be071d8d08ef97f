"""Each command pays only for what it uses: the heavy libraries a command imports, and when.

Every case runs in a fresh interpreter (what a user's command is), with a spy on the
training step that notes which modules are loaded when the first step begins. The costs
behind these rules are measured by ``benchmarks/startup.py`` (docs/results/04-startup.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Each costs a noticeable share of `import torch` to import (benchmarks/startup.py).
HEAVY = ("sklearn", "matplotlib", "torch._dynamo", "pandas", "scipy")

SPY = f"""
import json, sys
import torchbasics.training.loop as loop
first_step = []
step = loop.training_step
def spy(*args, **kwargs):
    if not first_step:
        first_step.append(sorted(sys.modules))
    return step(*args, **kwargs)
loop.training_step = spy
from torchbasics.cli import main
code = main(sys.argv[1:])
def loaded(names):
    return [h for h in {HEAVY} if any(m == h or m.startswith(h + ".") for m in names)]
print(json.dumps({{"code": code, "before_first_step": loaded(first_step[0]) if first_step
                  else None, "at_exit": loaded(sys.modules)}}))
"""


def imports_of(*arguments: str) -> dict:
    """Run the command line in a new interpreter; the heavy modules loaded before its first
    training step (``None`` if it trains none) and at its end."""
    done = subprocess.run([sys.executable, "-c", SPY, *arguments], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, dict]:
    """A small trained image run, the synthetic data it was trained on, and what its
    training imported."""
    from tests.helpers import make_idx_dataset

    folder = tmp_path_factory.mktemp("graph")
    data = make_idx_dataset(folder / "data")
    result = imports_of("train", "--data-dir", str(data), "--model", "cnn", "--epochs", "1",
                        "--out", str(folder / "run"), "--quiet")
    return folder / "run", data, result


def test_an_image_run_imports_none_of_them_before_its_first_step(trained):
    _, _, result = trained
    assert result["code"] == 0
    assert result["before_first_step"] == []
    assert "torch._dynamo" not in result["at_exit"]  # the optimizer never needs it


def test_a_table_run_imports_none_of_them_before_its_first_step(tmp_path):
    result = imports_of("train", "--dataset", "bonus", "--out", str(tmp_path / "bonus"),
                        "--quiet")
    assert result["code"] == 0
    assert result["before_first_step"] == []
    # After it only the loss curves' matplotlib: a regression's figures need nothing else.
    assert set(result["at_exit"]) == {"matplotlib"}


def test_predicting_a_picture_imports_only_what_preparing_it_needs(trained, tmp_path):
    import numpy as np
    from PIL import Image

    run, _, _ = trained
    picture = tmp_path / "digit.png"
    Image.fromarray(np.pad(np.full((20, 4), 255, np.uint8), 4)).save(picture)
    result = imports_of("predict", str(run), str(picture))
    assert result["code"] == 0 and result["before_first_step"] is None
    assert set(result["at_exit"]) <= {"scipy"}  # the digit pipeline's filters


def test_help_imports_nothing_heavy_not_even_torch():
    script = ("import sys\nfrom torchbasics.cli import main\ntry:\n    main(['--help'])\n"
              "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"
