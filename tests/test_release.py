"""Release checks: the sdist and wheel build and pass ``twine check``, and the wheel works
installed in a fresh virtual environment, from a folder outside the repository.

The fresh environment reuses the packages already installed here instead of downloading
torch again: the wheel goes in with ``--no-deps``, and a ``.pth`` line puts this
environment's site-packages after the new one's on ``sys.path``. The wheel's torchbasics
therefore shadows the editable install (checked: ``torchbasics.__file__`` is inside the new
environment), while torch, numpy, nbclient and the rest come from here. ``.pth`` files in
the reused folder are not processed, so the editable install's import hook stays out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import torchbasics
from tests.helpers import real_data_dir

pytestmark = pytest.mark.slow
REPOSITORY = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).resolve().parent / "notebook_runner.py"
SHIPPED = ["torchbasics/resources/bonus.csv", "torchbasics/resources/notebooks/README.md",
           "torchbasics/resources/notebooks/bonus_prediction_nn.ipynb",
           "torchbasics/resources/notebooks/datasets_dataloader.ipynb",
           "torchbasics/resources/notebooks/digits_classification.ipynb",
           "torchbasics/resources/notebooks/pytorch_deep_learning_models.ipynb"]


def run(command: list, *, cwd: Path | None = None, env: dict | None = None,
        timeout: float = 300) -> str:
    """Run ``command``; its standard output, or a failure showing everything it printed."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited {result.returncode}\n"
                    f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}",
                    pytrace=False)
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """``python -m build``: the sdist, and the wheel built from it. Without build isolation,
    so that the check needs no download (this environment has setuptools)."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, REPOSITORY])
    version = torchbasics.__version__
    return {"wheel": out / f"torchbasics-{version}-py3-none-any.whl",
            "sdist": out / f"torchbasics-{version}.tar.gz"}


def test_twine_check_passes(dist):
    printed = run([sys.executable, "-m", "twine", "check", "--strict", dist["wheel"],
                   dist["sdist"]])
    assert printed.count("PASSED") == 2


def test_the_wheel_and_sdist_carry_the_data_and_notebooks(dist):
    wheel = set(zipfile.ZipFile(dist["wheel"]).namelist())
    assert set(SHIPPED) <= wheel
    assert not any(name.startswith(("tests/", "notebooks/", "data/")) for name in wheel)
    top = f"torchbasics-{torchbasics.__version__}"
    with tarfile.open(dist["sdist"]) as sdist:
        names = set(sdist.getnames())
    assert {f"{top}/src/{name}" for name in SHIPPED} <= names
    assert {f"{top}/CHANGELOG.md", f"{top}/README.md", f"{top}/pyproject.toml"} <= names


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel (and nothing else) installed in it."""
    root = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", root])
    python = root / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
         "--no-index", "--disable-pip-version-check", dist["wheel"]])
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .strip())
    (site / "reuse_the_test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


@pytest.fixture(scope="module")
def outside(tmp_path_factory, venv) -> tuple[Path, dict[str, str]]:
    """A working folder outside the repository, and an environment whose ``torchbasics`` and
    ``python`` are the fresh virtual environment's."""
    folder = tmp_path_factory.mktemp("elsewhere")
    assert REPOSITORY not in folder.parents
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env |= {"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(venv),
            "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1")}
    return folder, env


def test_the_wheel_shadows_the_editable_install(venv, outside):
    folder, env = outside
    printed = run(["python", "-c", "import importlib.util, torchbasics; "
                   "print(torchbasics.__file__); print(importlib.util.find_spec('torch').origin)"],
                  cwd=folder, env=env)
    package, torch_file = (Path(line) for line in printed.split())
    assert venv in package.parents  # the wheel's copy, not the repository's
    assert venv not in torch_file.parents  # torch reused, not installed again


def test_installed_commands_work_from_another_folder(venv, outside):
    folder, env = outside
    version = run(["torchbasics", "--version"], cwd=folder, env=env)
    assert version == f"torchbasics {torchbasics.__version__}\n"

    doctor = run(["torchbasics", "doctor"], cwd=folder, env=env)
    assert str(venv) in doctor and "(shipped in the package)" in doctor

    real_data_dir("fashion-mnist")
    info = run(["torchbasics", "data", "info", "fashion-mnist"], cwd=folder, env=env)
    assert "60,000" in info

    run(["torchbasics", "train", "--dataset", "bonus", "--model", "linear", "--epochs", "1",
         "--out", "runs/bonus", "--quiet"], cwd=folder, env=env)
    assert (folder / "runs" / "bonus" / "last.pt").is_file()
    predicted = run(["torchbasics", "predict", "runs/bonus", "--set", "rating=8", "--set",
                     "years=5", "--set", "projects=12"], cwd=folder, env=env)
    assert predicted.startswith("predicted bonus: ")


def test_notebooks_are_written_out_and_run_there(venv, outside):
    folder, env = outside
    run(["torchbasics", "notebooks", "notebooks"], cwd=folder, env=env)
    notebook = folder / "notebooks" / "bonus_prediction_nn.ipynb"
    printed = run(["python", RUNNER, notebook], cwd=folder, env=env)
    executable, package = printed.split()
    assert Path(executable) == venv / "bin" / "python"  # the kernel is the new environment's
    assert venv in Path(package).parents
    assert (folder / "notebooks" / "runs" / "bonus" / "last.pt").is_file()  # beside it
