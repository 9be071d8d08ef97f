"""Optional packages: a missing one is one line naming the extra's pip command."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from torchbasics import extras
from torchbasics.cli import main
from torchbasics.errors import TorchbasicsError
from torchbasics.extras import ALL, EXTRAS, installed_versions, is_installed, require

tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python >= 3.11")
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]


def test_every_extra_in_pyproject_is_described_and_installs_what_it_says():
    optional = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    for name, extra in EXTRAS.items():
        assert tuple(_requirement_name(r) for r in optional[name]) == extra.packages, name
    assert optional[ALL] == [f"torchbasics[{','.join(EXTRAS)}]"]
    assert set(optional) == {*EXTRAS, ALL, "dev"}


def test_require_returns_the_module_when_installed():
    pytest.importorskip("tensorboard")
    assert require("tensorboard", "tensorboard") is sys.modules["tensorboard"]


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_a_missing_module_names_the_pip_command(extra, monkeypatch):
    module = EXTRAS[extra].modules[-1]
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(TorchbasicsError) as caught:
        require(module, extra, where="--flag")
    message = caught.value.message
    assert message.startswith(f"--flag: {EXTRAS[extra].purpose} needs the '{extra}' extra")
    assert f"{module} is not installed" in message
    assert message.endswith(f"Install it with `pip install 'torchbasics[{extra}]'`")
    assert "\n" not in message


def test_a_missing_submodule_names_the_extras_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(TorchbasicsError, match="and tensorboard is not installed"):
        require("torch.utils.tensorboard", "tensorboard")


def test_an_installed_but_broken_package_is_told_apart(monkeypatch):
    def broken(name):
        raise ImportError("libonnxruntime.so: cannot open shared object file")

    monkeypatch.setattr(extras.importlib, "import_module", broken)
    with pytest.raises(TorchbasicsError, match=r"installed but does not import \(libonnx.*"
                       r"--force-reinstall 'torchbasics\[export\]'"):
        require("onnxruntime", "export")


def test_installed_versions_and_is_installed_import_nothing(monkeypatch):
    pytest.importorskip("tensorboard")
    imported = []
    monkeypatch.setattr(importlib, "import_module", lambda name: imported.append(name))
    assert installed_versions("tensorboard")["tensorboard"]
    assert is_installed("tensorboard")
    assert set(installed_versions("serve")) == {"fastapi", "uvicorn", "python-multipart",
                                                "fastapi-offline", "captum"}
    assert imported == []


def test_cli_says_it_in_one_line_with_exit_code_2(idx_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    code = main(["train", "--dataset", "mnist", "--model", "softmax", "--data-dir",
                 str(idx_dir), "--epochs", "1", "--out", str(tmp_path / "run"),
                 "--tensorboard"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert error.startswith("torchbasics: error: --tensorboard: TensorBoard logging")
    assert "pip install 'torchbasics[tensorboard]'" in error
