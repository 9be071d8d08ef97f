"""``scripts/setup.sh``: the CPU build by default, a CUDA or ROCm build on request.

The GPU builds cannot be installed here (no GPU, and PyTorch's own index is out of reach),
so these tests check the commands the script would run (``--dry-run``) and its refusals.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "setup.sh"


def _setup(*args: str, venv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "VENV": str(venv)}, timeout=60)


def _pip_commands(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if " -m pip install " in line]


def test_default_is_the_pinned_cpu_build_and_the_package_alone(tmp_path):
    result = _setup("--dry-run", venv=tmp_path / "venv")
    assert result.returncode == 0, result.stderr
    torch_install, package_install = _pip_commands(result)
    assert torch_install.endswith(" torch==2.13.0")
    assert package_install.endswith(" -e .") and "--constraint" in package_install
    assert f"+ python3 -m venv {tmp_path / 'venv'}" in result.stderr
    assert not (tmp_path / "venv").exists()  # a dry run changes nothing


def test_dev_adds_the_extras_and_test_tools(tmp_path):
    result = _setup("--dev", "--dry-run", venv=tmp_path / "venv")
    assert result.returncode == 0, result.stderr
    assert _pip_commands(result)[1].endswith("-e .\\[dev\\]")


def test_dev_installs_debians_chromium_for_the_browser_test(tmp_path):
    dev = _setup("--dev", "--dry-run", venv=tmp_path / "venv")
    if shutil.which("chromium", path="/usr/bin:/bin"):
        assert "Chromium already installed" in dev.stdout
    else:
        assert "apt-get install -y -qq chromium" in dev.stderr
    plain = _setup("--dry-run", venv=tmp_path / "venv")
    assert "hromium" not in plain.stdout + plain.stderr


@pytest.mark.parametrize(("option", "build"), [("--cuda", "cu126"), ("--cuda", "cu130"),
                                               ("--cuda", "cu132"), ("--rocm", "rocm7.2")])
def test_a_gpu_build_of_the_same_version_from_pytorchs_index(tmp_path, option, build):
    result = _setup(option, build, "--dry-run", venv=tmp_path / "venv")
    assert result.returncode == 0, result.stderr
    torch_install = _pip_commands(result)[0]
    assert torch_install.endswith(
        f" torch==2.13.0+{build} --index-url https://download.pytorch.org/whl/{build}")


@pytest.mark.parametrize(("args", "message"), [
    (["--cuda", "cu128"], "torch 2.13.0 has no --cuda build 'cu128'. Use one of: cu126 cu130 "
     "cu132"),
    (["--rocm", "rocm6.4"], "torch 2.13.0 has no --rocm build 'rocm6.4'. Use one of: rocm7.2"),
    (["--cuda"], "--cuda needs a build: one of cu126 cu130 cu132"),
    (["--gpu"], "unknown option '--gpu'. See 'bash scripts/setup.sh --help'"),
])
def test_bad_options_are_refused_before_anything_runs(tmp_path, args, message):
    result = _setup(*args, venv=tmp_path / "venv")
    assert (result.returncode, result.stderr) == (2, f"setup.sh: error: {message}\n")
    assert result.stdout == ""


def test_help_names_the_builds_and_macos():
    result = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True,
                            check=True)
    assert result.stdout.startswith(
        "usage: bash scripts/setup.sh [--dev] [--cuda BUILD | --rocm BUILD]")
    for text in ("cu126", "cu130", "cu132", "rocm7.2", "MPS", "--dev"):
        assert text in result.stdout
