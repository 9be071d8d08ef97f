"""Exported ONNX files load and run in every runtime tested (ONNX Runtime, OpenCV's DNN
module 5.x with each of its engines, and OpenCV 4.x from another environment), giving
``predict``'s probabilities on 1,000 real test pictures, for every image model and every
preprocessing a run can record (deskewing, mirror averaging), as a full graph (pixels in)
and as the network alone (model input in)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import mnist_or_stand_in, pixels_of, real_data_dir
from torchbasics.data.transforms import ModelInput
from torchbasics.errors import TorchbasicsError
from torchbasics.inference.export import export
from torchbasics.inference.predictor import Classifier
from torchbasics.inference.preprocess import Preprocessing
from torchbasics.inference.runtimes import opencv_engines, run_in_child, time_in_child
from torchbasics.models import create_model
from torchbasics.models.mirror import MirrorAveraged

pytestmark = pytest.mark.slow
TOLERANCE = 1e-4  # the bound on any probability's difference
IMAGES = 1_000
OPENCV4 = "TORCHBASICS_OPENCV4_PYTHON"  # an interpreter with OpenCV 4 (.ci/run makes one)
REFERENCE_MARK = "<!-- the network graph's input in numpy: run by tests -->"

for needed in ("onnx", "onnxscript", "onnxruntime", "cv2"):
    pytest.importorskip(needed)

# (data set, model, deskew, mirror averaging): every preprocessing a run can record.
CASES = [
    ("mnist", "softmax", True, False),
    ("mnist", "mlp-sigmoid", True, False),
    ("mnist", "mlp-relu", True, False),
    ("mnist", "cnn", True, False),
    ("mnist", "convnet", True, False),
    ("mnist", "cnn", False, False),
    ("fashion-mnist", "cnn", False, True),
    ("fashion-mnist", "convnet", False, True),
]
NETWORK_CASES = [CASES[3], CASES[7]]  # the network graph: one deskewing, one mirroring


def _name(case: tuple) -> str:
    dataset, model, deskew, mirror = case
    return "-".join([dataset, model] + ["deskew"] * deskew + ["mirror"] * mirror)


@pytest.fixture(scope="module")
def sample_pictures():
    """``pictures(dataset)``: the first 1,000 test images of a real data set, uint8 (for
    MNIST, the UCI digits' stand-in where it is absent: the files are compared with
    PyTorch, not scored)."""
    from torchbasics.data.sources import load_split

    loaded = {}

    def get(dataset: str) -> np.ndarray:
        if dataset not in loaded:
            folder = mnist_or_stand_in() if dataset == "mnist" else real_data_dir(dataset)
            split = load_split(dataset, "test", folder, download=False, progress=False)
            loaded[dataset] = split.images[:IMAGES, 0].numpy()
        return loaded[dataset]

    return get


def make_classifier(case: tuple, pictures: np.ndarray) -> Classifier:
    """An untrained model of the case, with its data set's preprocessing; its batch-norm
    statistics moved away from 0 and 1, and its last layer set so that on ``pictures`` the
    logits are centred and spread by about 3: probabilities neither uniform nor saturated,
    so that any difference in the graph shows."""
    dataset, model_name, deskew, mirror = case
    torch.manual_seed(0)
    model = create_model(model_name, (1, 28, 28), 10)
    mean, std = ([0.1307], [0.3081]) if dataset == "mnist" else ([0.2860], [0.3530])
    pipeline = "digits" if dataset == "mnist" else "fit"
    preprocessing = Preprocessing(pipeline, (1, 28, 28), ModelInput(mean, std, deskew=deskew))
    classifier = Classifier(MirrorAveraged(model) if mirror else model,
                            [str(k) for k in range(10)], preprocessing, dataset)
    last = [module for module in model.modules() if isinstance(module, torch.nn.Linear)][-1]
    with torch.no_grad():
        model.train()(torch.randn(256, 1, 28, 28) * 2 + 0.5)
        logits = classifier.model.eval()(preprocessing.model_input(
            pixels_of(classifier, pictures[:256])))  # (256, 10), linear in the last layer
        scale = 3 / (logits - logits.mean(0)).std()
        last.weight.mul_(scale)
        last.bias.sub_(logits.mean(0)).mul_(scale)
    return classifier


def runtimes_here() -> list[str]:
    """ONNX Runtime and each engine of the installed OpenCV (5.x with the dev extra)."""
    return ["onnxruntime"] + [f"opencv-{engine}" for engine in opencv_engines()]


def assert_runtimes_agree(path, inputs: np.ndarray, expected: np.ndarray) -> None:
    """Every runtime here, and OpenCV 4 where given, loads ``path`` and gives ``expected``."""
    outputs = run_in_child(runtimes_here(), path, inputs)
    if os.environ.get(OPENCV4):
        outputs |= {"opencv4": run_in_child(["opencv-auto"], path, inputs,
                                            python=os.environ[OPENCV4])["opencv-auto"]}
    for runtime, got in outputs.items():
        assert got.shape == expected.shape, runtime
        difference = np.abs(got - expected).max()
        assert difference <= TOLERANCE, f"{runtime}: {difference:.1e}"
        assert (got.argmax(1) == expected.argmax(1)).mean() > 0.999, runtime


@pytest.fixture(scope="module")
def predicted(sample_pictures):
    """``predicted(case)``: the case's classifier, its pictures and ``predict``'s
    probabilities of them, made once for both graphs' tests."""
    made = {}

    def get(case: tuple) -> tuple[Classifier, np.ndarray, np.ndarray]:
        if case not in made:
            pictures = sample_pictures(case[0])
            classifier = make_classifier(case, pictures)
            expected = np.stack([p.probabilities for p in classifier.predict_many(pictures)])
            made[case] = classifier, pictures, expected
        return made[case]

    return get


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_full_graph_gives_predicts_probabilities_in_every_runtime(case, predicted, tmp_path):
    classifier, pictures, expected = predicted(case)
    # Neither uniform (0.1) nor saturated: differences in the graph would show.
    assert 0.2 < expected.max(1).mean() < 0.99
    path = export(classifier, tmp_path / "model.onnx", "onnx")
    assert_runtimes_agree(path, pixels_of(classifier, pictures).numpy(), expected)


@pytest.mark.parametrize("case", NETWORK_CASES, ids=_name)
def test_network_graph_takes_the_model_input_the_metadata_describes(case, predicted,
                                                                    tmp_path):
    """The network graph, fed model input made from the metadata alone (the export guide's
    numpy reference), gives ``predict``'s probabilities."""
    import onnx

    classifier, pictures, expected = predicted(case)
    path = export(classifier, tmp_path / "network.onnx", "onnx", graph="network")
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    inputs = model_input_from_metadata(pixels_of(classifier, pictures).numpy(), meta)
    assert_runtimes_agree(path, inputs, expected)


def model_input_from_metadata(pixels: np.ndarray, meta: dict[str, str]) -> np.ndarray:
    """What a user without torchbasics writes: the export guide's numpy reference, run as
    given (the Python block after ``REFERENCE_MARK`` in docs/guides/12-export.md)."""
    page = Path(__file__).parents[2] / "docs" / "guides" / "12-export.md"
    page = page.read_text(encoding="utf-8")
    assert REFERENCE_MARK in page, "the export guide's reference for the network graph is gone"
    code = page.split(REFERENCE_MARK, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(code, namespace)
    return namespace["model_input"](pixels, meta)


def test_an_opset_the_exporter_cannot_write_is_refused(sample_pictures, tmp_path):
    classifier = make_classifier(CASES[3], sample_pictures("mnist"))
    with pytest.raises(TorchbasicsError, match=r"opset 17 is not offered.*18 to 23"):
        export(classifier, tmp_path / "old.onnx", "onnx", opset=17)
    assert not (tmp_path / "old.onnx").exists()


@pytest.mark.parametrize("opset", [20, 23])
def test_a_newer_opset_is_written_as_asked_and_runs(opset, sample_pictures, tmp_path):
    import onnx

    pictures = sample_pictures("mnist")[:64]
    classifier = make_classifier(CASES[3], pictures)
    expected = np.stack([p.probabilities for p in classifier.predict_many(pictures)])
    path = export(classifier, tmp_path / "model.onnx", "onnx", opset=opset)
    written = {entry.domain: entry.version for entry in onnx.load(str(path)).opset_import}
    assert written[""] == opset
    assert_runtimes_agree(path, pixels_of(classifier, pictures).numpy(), expected)


def test_a_runtime_that_cannot_load_the_file_fails_naming_it(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07not a model")
    with pytest.raises(TorchbasicsError, match="opencv-auto could not run the file"):
        run_in_child(["opencv-auto"], broken, np.zeros((1, 1, 28, 28), np.float32))


def test_time_in_child_gives_the_same_outputs_and_a_time(sample_pictures, tmp_path):
    pictures = sample_pictures("mnist")[:32]
    classifier = make_classifier(CASES[0], pictures)
    path = export(classifier, tmp_path / "model.onnx", "onnx")
    pixels = pixels_of(classifier, pictures).numpy()
    outputs, seconds = time_in_child(["onnxruntime"], path, pixels, repeats=2)
    np.testing.assert_array_equal(outputs["onnxruntime"],
                                  run_in_child(["onnxruntime"], path, pixels)["onnxruntime"])
    assert 0 < seconds["onnxruntime"] < 10
