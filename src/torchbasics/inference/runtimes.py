"""Running an exported file in the runtimes people deploy with: ONNX Runtime, OpenCV's DNN
module, TorchScript. Each loads a file into a function from a batch of inputs to the
file's probabilities.

The runtimes are run in a child process (:func:`run_in_child`) wherever a crash must not
take the caller down: OpenCV can end the process (a segmentation fault) on a graph it cannot
handle, instead of raising. ``python -m torchbasics.inference.runtimes FILE IN.npy OUT.npz
REPEATS RUNTIME...`` is that child.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from torchbasics.errors import TorchbasicsError
from torchbasics.extras import require

INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"
OPENCV_ENGINES = ("auto", "new", "classic")  # OpenCV 5's DNN engines (4.x has one)
CHILD_SECONDS = 300


Model = Callable[[np.ndarray], np.ndarray]  # a loaded file: inputs -> probabilities


def load_onnxruntime(path: str | os.PathLike) -> Model:
    """An ONNX file, loaded in ONNX Runtime on the CPU."""
    onnxruntime = require("onnxruntime", "export")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda inputs: session.run([OUTPUT_NAME],
                                      {INPUT_NAME: np.asarray(inputs, np.float32)})[0]


def load_opencv(path: str | os.PathLike, engine: str = "auto") -> Model:
    """An ONNX file, loaded in OpenCV's DNN module (in this process).

    Args:
        engine: ``"auto"`` (OpenCV's default), or on OpenCV 5 ``"new"`` or ``"classic"``.
    """
    cv2 = require("cv2", "export")
    # By path: readNetFromONNX with the file's bytes crashes OpenCV 4.13 and 5.0.
    if engine == "auto" or not hasattr(cv2.dnn, "ENGINE_CLASSIC"):
        net = cv2.dnn.readNetFromONNX(str(path))
    else:
        net = cv2.dnn.readNetFromONNX(str(path), getattr(cv2.dnn, f"ENGINE_{engine.upper()}"))

    def forward(inputs: np.ndarray) -> np.ndarray:
        net.setInput(np.ascontiguousarray(inputs, dtype=np.float32))
        return net.forward()

    return forward


def opencv_engines() -> list[str]:
    """The DNN engines of the installed OpenCV."""
    cv2 = require("cv2", "export")
    return list(OPENCV_ENGINES) if hasattr(cv2.dnn, "ENGINE_CLASSIC") else ["auto"]


def load_torchscript(path: str | os.PathLike) -> Model:
    """A TorchScript file, loaded in PyTorch."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu")

    def forward(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(np.asarray(inputs, np.float32))).numpy()

    return forward


LOADERS: dict[str, Callable[[str | os.PathLike], Model]] = {
    "onnxruntime": load_onnxruntime, "torchscript": load_torchscript,
    **{f"opencv-{engine}": functools.partial(load_opencv, engine=engine)
       for engine in OPENCV_ENGINES},
}


def run(runtime: str, path: str | os.PathLike, inputs: np.ndarray) -> np.ndarray:
    """The probabilities of the file at ``path`` for ``inputs``, computed by ``runtime`` (one
    of :data:`LOADERS`) in this process."""
    return LOADERS[runtime](path)(inputs)


def run_in_child(runtimes: list[str], path: str | os.PathLike, inputs: np.ndarray, *,
                 python: str | os.PathLike = sys.executable) -> dict[str, np.ndarray]:
    """Each of :data:`LOADERS` named -> its outputs for ``inputs``, computed in one child
    process, so that a runtime that crashes on the file is an error, not the caller's end.

    Args:
        python: the interpreter to run them in: another environment's (one with OpenCV 4,
            say) needs only numpy and the runtimes; it finds this torchbasics.

    Raises:
        TorchbasicsError: a runtime failed or crashed, naming it and its last words.
    """
    return _in_child(runtimes, path, inputs, python, repeats=0)[0]


def time_in_child(runtimes: list[str], path: str | os.PathLike, inputs: np.ndarray, *,
                  python: str | os.PathLike = sys.executable,
                  repeats: int = 3) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """As :func:`run_in_child`, and each runtime's best time, in seconds, over ``repeats``
    more runs on the loaded file (loading and the first run not counted)."""
    return _in_child(runtimes, path, inputs, python, repeats)


def _in_child(runtimes: list[str], path: str | os.PathLike, inputs: np.ndarray,
              python: str | os.PathLike,
              repeats: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        given, taken = Path(folder) / "in.npy", Path(folder) / "out.npz"
        np.save(given, np.asarray(inputs, np.float32))
        done = subprocess.run([str(python), "-m", __name__, str(path), str(given),
                               str(taken), str(repeats), *runtimes], capture_output=True,
                              text=True, timeout=CHILD_SECONDS, env=_finding_torchbasics())
        if done.returncode != 0:
            # OpenCV's messages end in lines of ">" around the reason: skip the empty ones.
            lines = [line for line in done.stderr.splitlines() if line.strip(" >")]
            lines = lines or [f"exit code {done.returncode}"]
            running = [line for line in lines if line.startswith(RUNNING)]
            runtime = running[-1].removeprefix(RUNNING) if running else "a runtime"
            how = "crashed on" if done.returncode < 0 else "could not run"
            raise TorchbasicsError(f"{runtime} {how} the file ({lines[-1].strip()})",
                                   where=path)
        with np.load(taken) as saved:
            return ({runtime: saved[runtime] for runtime in runtimes},
                    {runtime: float(saved[f"{runtime} seconds"]) for runtime in runtimes})


def _finding_torchbasics() -> dict[str, str]:
    """The environment with this torchbasics first on the module path."""
    here = str(Path(__file__).resolve().parents[2])  # the folder holding torchbasics/
    path = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


RUNNING = "running: "  # what the child says before each runtime, to name one that crashes


def _main(arguments: list[str]) -> int:
    path, given, taken, repeats, *runtimes = arguments
    inputs, saved = np.load(given), {}
    for runtime in runtimes:
        print(f"{RUNNING}{runtime}", file=sys.stderr, flush=True)
        model = LOADERS[runtime](path)
        saved[runtime], seconds = model(inputs), []
        for _ in range(int(repeats)):
            started = time.perf_counter()
            model(inputs)
            seconds.append(time.perf_counter() - started)
        saved[f"{runtime} seconds"] = np.array(min(seconds, default=np.nan))
    np.savez(taken, **saved)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
