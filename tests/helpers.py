"""Test helpers: small synthetic IDX data sets, and real data when it is on the search path."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from torchbasics.data.idx import write_idx
from torchbasics.data.locate import find_dataset
from torchbasics.data.registry import get_dataset

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def make_idx_dataset(
    directory: Path, *, train: int = 200, test: int = 60, size: int = 28, seed: int = 0,
    num_classes: int = 10,
) -> Path:
    """Write an MNIST-named IDX data set whose class is visible in the pixels.

    Each class lights a different horizontal band, plus noise, so that even a linear
    model learns it: useful to check that training really lowers the error.
    """
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    band = max(size // num_classes, 1)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = (np.arange(count) % num_classes).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(count, size, size), dtype=np.uint8)
        for index, label in enumerate(labels):
            images[index, label * band:(label + 1) * band, :] = 255
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


def write_random_id_lists(folder: Path, total: int, train: int, val: int,
                          seed: int) -> tuple[Path, Path]:
    """``train.txt`` and ``val.txt``: disjoint random IDs out of ``range(total)``."""
    ids = np.random.default_rng(seed).permutation(total)[:train + val]
    paths = folder / "train.txt", folder / "val.txt"
    for path, chosen in zip(paths, (ids[:train], ids[train:]), strict=True):
        path.write_text("\n".join(map(str, chosen)) + "\n")
    return paths


def pixels_of(classifier, images: np.ndarray):
    """``images`` as the classifier's model gets them before its own deskewing and
    normalization: ``(N, C, H, W)`` float32 on [0, 1], what exported files take."""
    return classifier.preprocessing.pixels(
        np.stack([classifier.preprocess(image).seen for image in images]))


def assert_predict_and_torchscript_give(classifier, images: np.ndarray, expected: np.ndarray,
                                        folder: Path) -> None:
    """``predict`` on ``images``, and the classifier exported to TorchScript on their pixels,
    both give the probabilities ``expected``."""
    from torchbasics.inference.export import export
    from torchbasics.inference.runtimes import run

    predicted = np.stack([p.probabilities for p in classifier.predict_many(images)])
    np.testing.assert_allclose(predicted, expected, atol=1e-5)
    exported = export(classifier, folder / "model.pt", "torchscript")
    pixels = pixels_of(classifier, images).numpy()
    np.testing.assert_allclose(run("torchscript", exported, pixels), expected, atol=1e-5)


def real_data_dir(name: str) -> Path:
    """The folder holding a real data set, or skip the test saying how to provide it."""
    located = find_dataset(get_dataset(name))
    if located is None:
        if os.environ.get("TORCHBASICS_REQUIRE_DATA") == "1":  # set by .ci/run
            pytest.fail(f"{name} not found on the search path, and TORCHBASICS_REQUIRE_DATA=1")
        pytest.skip(
            f"{name} not found on the search path: set TORCHBASICS_DATA to a folder holding "
            f"it (CI uses ../shared/data for MNIST-10k and apt's dataset-fashion-mnist)"
        )
    return located.directory


def mnist_or_stand_in() -> Path:
    """MNIST's folder; without it (outside CI), a stand-in made of scikit-learn's UCI digits
    (``tests/uci_digits.py``), for the tests that need *a* digit model rather than MNIST
    itself: the server's, export's and prediction's. In CI (``TORCHBASICS_REQUIRE_DATA=1``)
    MNIST must be there, and is used."""
    located = find_dataset(get_dataset("mnist"))
    if located is not None:
        return located.directory
    if os.environ.get("TORCHBASICS_REQUIRE_DATA") == "1":
        pytest.fail("mnist not found on the search path, and TORCHBASICS_REQUIRE_DATA=1")
    return _stand_in()


@functools.cache
def _stand_in() -> Path:
    """The session's stand-in for MNIST (see :func:`mnist_or_stand_in`), made once."""
    import atexit
    import shutil
    import tempfile

    from tests.uci_digits import stand_in_mnist

    folder = Path(tempfile.mkdtemp(prefix="torchbasics-stand-in-mnist-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return stand_in_mnist(folder / "mnist")


def is_stand_in(folder: Path) -> bool:
    """Whether ``folder`` is the stand-in for MNIST, not MNIST."""
    return folder.name == "mnist" and folder.parent.name.startswith("torchbasics-stand-in")


def training_images(folder: Path) -> int:
    """How many training images the MNIST files in ``folder`` hold (10,000 for MNIST-10k)."""
    from torchbasics.data.sources import load_split

    return len(load_split("mnist", "train", folder, download=False, progress=False))


def wait_for_epochs(run_dir: Path, epochs: int, process: subprocess.Popen) -> float:
    """Wait until the run's metrics.csv holds ``epochs`` rows; return the last one's seconds.

    For tests that signal a training subprocess at a known point; fails if the process
    exits first or no such row appears within 120 s.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        path = run_dir / "metrics.csv"
        rows = path.read_text().splitlines()[1:] if path.is_file() else []
        if len(rows) >= epochs:
            return float(rows[-1].split(",")[6])  # the "seconds" column
        time.sleep(0.02)
    raise AssertionError(f"no epoch {epochs} within 120 s")


@contextlib.contextmanager
def benchmark_module(name: str):
    """``benchmarks/NAME.py`` as a module, with benchmarks/ on the path while in use (a
    benchmark imports its helpers from there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        yield importlib.import_module(name)


ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and quiet: without the last four, Chromium keeps calling home on a closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def require_browser() -> None:
    """Skip (or, in CI, fail) when a browser test cannot run here."""
    required = os.environ.get("TORCHBASICS_REQUIRE_BROWSER") == "1" or bool(os.environ.get("CI"))
    missing = None
    if not Path(CHROMIUM).is_file():
        missing = "chromium is not installed (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (pip install -e '.[dev]')"
    if missing and required:
        pytest.fail(f"{missing}, and the browser test must run in CI")
    if missing:
        pytest.skip(missing)


def docs_hook(name: str):
    """``docs/hooks/NAME.py``, the documentation build's hook, as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_site(out: Path, *, execute: bool, timeout: float = 300,
               executed: Path | None = None) -> Path:
    """The documentation site built ``--strict`` into ``out``; the lessons executed or not
    (``TORCHBASICS_DOCS_EXECUTE``), those the test session already ran (``executed``, see
    :func:`run_lesson_once`) rendered from their executed copies. Fails the test with
    MkDocs' error output."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "TORCHBASICS_DOCS_EXECUTE": "1" if execute else "0",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           **({"TORCHBASICS_DOCS_EXECUTED": str(executed)} if executed else {})}
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                            "--site-dir", str(out)], cwd=ROOT, capture_output=True, text=True,
                           env=env, timeout=timeout)
    assert built.returncode == 0, built.stderr[-5000:]
    return out


def run_lesson_once(source: Path, shared: Path) -> tuple[str | None, list[str]]:
    """Run a lesson at most once per test session, whichever test asks first (the notebook
    tests, the docs build's): (the failure described, or None; the kernel's report).

    ``shared`` (one folder for every worker of ``pytest -n``) keeps each executed lesson as
    ``NAME``, the sha256 of the notebook it ran from as ``NAME.sha256`` (what the docs
    build checks before it renders that copy instead of running the lesson again; see
    ``docs/hooks/lessons.py``) and the report as ``NAME.report``. A failure is not kept.
    """
    import fcntl

    from tests.notebook_runner import execute

    shared.mkdir(parents=True, exist_ok=True)
    stamp = hashlib.sha256(source.read_bytes()).hexdigest()
    executed, stamped = shared / source.name, shared / f"{source.name}.sha256"
    report = shared / f"{source.name}.report"
    with open(shared / f"{source.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker running it: wait for its copy
        if stamped.exists() and stamped.read_text() == stamp:
            return None, report.read_text().split()
        folder = shared / f"run-{source.stem}"  # runs/ and the rest go beside it
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        copy = Path(shutil.copy(source, folder / source.name))
        with one_thread_unless_told():
            failure, lines = execute(copy, save_to=executed)
        if failure:
            return failure, []
        report.write_text("\n".join(lines))
        stamped.write_text(stamp)  # last: the copy and its report are whole
        return None, lines


@contextlib.contextmanager
def one_thread_unless_told():
    """``OMP_NUM_THREADS=1`` for the processes started inside (a notebook's kernel), unless
    it is set: on this 2-core machine shared with other jobs, two threads made the digits
    notebook take 76 s instead of 24 s (measured)."""
    told = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = told or "1"
    try:
        yield
    finally:
        if told is None:
            del os.environ["OMP_NUM_THREADS"]
