"""Preprocessing: any picture comes back as the MNIST-like 28x28 the model was trained on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from benchmarks._scans import ScanStyle, render_scan
from tests.helpers import real_data_dir
from torchbasics.data.registry import get_dataset
from torchbasics.data.transforms import ModelInput
from torchbasics.errors import TorchbasicsError
from torchbasics.inference.preprocess import Preprocessing, preprocess

DIGITS = Preprocessing("digits", (1, 28, 28), ModelInput((0.1307,), (0.3081,)))
FIT = Preprocessing("fit", (1, 28, 28), ModelInput((0.2860,), (0.3530,)))
SAMPLE = range(0, 2000, 50)  # 40 test digits, all classes


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two images after a 1-pixel blur: shape agreement, sub-pixel shifts aside."""
    a = ndimage.gaussian_filter(a.astype(np.float64), 1.0)
    b = ndimage.gaussian_filter(b.astype(np.float64), 1.0)
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def ink_bbox(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the nonzero pixels."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def paper(height: int = 120, width: int = 160, level: int = 235) -> np.ndarray:
    """Light-gray paper, uint8."""
    return np.full((height, width), level, dtype=np.uint8)


def test_each_data_set_has_its_pipeline():
    assert get_dataset("mnist").picture_pipeline == "digits"
    assert get_dataset("fashion-mnist").picture_pipeline == "fit"
    checkpoint = {"dataset": "fashion-mnist", "input_shape": [1, 28, 28],
                  "input": {"mean": [0.286], "std": [0.353], "deskew": False}}
    assert Preprocessing.for_checkpoint(checkpoint).pipeline == "fit"


def test_scanned_digits_come_back_as_the_original(real_mnist_test):
    """Big, dark-on-light, off-centre, noisy, blurred, coloured: back to the MNIST digit."""
    images, _ = real_mnist_test
    rng = np.random.default_rng(0)
    scores, centres = [], []
    for index in SAMPLE:
        scan = render_scan(images[index], rng)
        assert scan.shape[0] >= 80 and scan.shape[1] >= 80
        result = preprocess(scan, DIGITS)
        assert result.inverted
        scores.append(similarity(result.seen, images[index]))
        centres.append(ndimage.center_of_mass(result.seen.astype(np.float64)))
    assert np.median(scores) > 0.95 and min(scores) > 0.8, sorted(scores)[:5]
    assert np.abs(np.array(centres) - 14).max() <= 1.0  # MNIST's centring: (14, 14) ± 1


def test_a_clean_mnist_digit_is_left_almost_as_it_is(real_mnist_test):
    images, _ = real_mnist_test
    scores = []
    for index in SAMPLE:
        result = preprocess(images[index], DIGITS)
        assert not result.inverted
        scores.append(similarity(result.seen, images[index]))
    assert np.median(scores) > 0.99 and min(scores) > 0.85


def test_an_off_centre_digit_is_moved_to_the_centre(mnist_test):
    images, _ = mnist_test
    canvas = np.zeros((28, 28), dtype=np.uint8)
    canvas[8:, 8:] = images[0][:20, :20]  # the digit pushed into the bottom-right corner
    seen = preprocess(canvas, DIGITS).seen
    assert np.allclose(ndimage.center_of_mass(seen.astype(np.float64)), (14, 14), atol=0.5)


def test_aspect_ratio_is_kept():
    picture = paper()
    picture[10:100, 60:78] = 20  # a dark bar 90 tall, 18 wide: 5 to 1
    digit = preprocess(picture, DIGITS).seen
    assert ink_bbox(digit > 127) == (20, 4)  # the long side fills MNIST's 20x20 box
    fitted = preprocess(picture, FIT).seen
    assert ink_bbox(fitted > 127) == (28, 6)  # Fashion-MNIST: the long side fills 28


def test_fit_centres_the_box_while_digits_centre_the_mass():
    """An L shape: its centre of mass is not its box's centre, so the two pipelines differ."""
    picture = paper()
    picture[10:110, 40:50] = 0  # the upright, 100 x 10
    picture[100:110, 40:100] = 0  # the foot, 10 x 60: mass sits low and left
    fitted = preprocess(picture, FIT).seen > 127
    rows, cols = np.flatnonzero(fitted.any(axis=1)), np.flatnonzero(fitted.any(axis=0))
    assert (rows[0], 27 - rows[-1]) == (0, 0)  # long side fills the frame
    assert abs(cols[0] - (27 - cols[-1])) <= 1  # padded evenly left and right
    digit = preprocess(picture, DIGITS).seen.astype(np.float64)
    assert np.allclose(ndimage.center_of_mass(digit), (14, 14), atol=0.5)
    assert ndimage.center_of_mass(fitted.astype(np.float64))[0] > 15  # box-centred: mass low


def test_fashion_images_pass_through_fit_almost_unchanged():
    from torchbasics.data.sources import load_split

    directory = real_data_dir("fashion-mnist")
    images = load_split("fashion-mnist", "test", directory, download=False,
                        progress=False).images[:400:10, 0].numpy()
    scores = [similarity(preprocess(image, FIT).seen, image) for image in images]
    assert np.median(scores) > 0.97 and min(scores) > 0.85


def test_every_input_type_gives_the_same_result(tmp_path):
    gray = paper(90, 70)
    gray[20:70, 30:40] = 30
    gray[20:30, 20:50] = 30  # a "T"
    rgb = np.stack([gray] * 3, axis=-1)
    rgba = np.concatenate([rgb, np.full_like(gray, 255)[..., None]], axis=-1)
    Image.fromarray(rgb).save(tmp_path / "t.png")
    Image.fromarray(rgb).save(tmp_path / "t.bmp")
    expected = preprocess(gray, DIGITS)
    inputs = [gray[..., None], rgb, rgba, gray / 255.0, gray.astype(np.float32),
              gray.astype(np.uint16) * 257, Image.fromarray(gray), Image.fromarray(rgb),
              Image.fromarray(rgba), tmp_path / "t.png", str(tmp_path / "t.bmp")]
    for image in inputs:
        result = preprocess(image, DIGITS)
        assert np.array_equal(result.seen, expected.seen), type(image)
        assert torch.equal(result.tensor, expected.tensor)
    assert expected.tensor.shape == (1, 1, 28, 28) and expected.tensor.dtype == torch.float32
    back = expected.tensor[0, 0] * 0.3081 + 0.1307  # normalized with the checkpoint's stats
    assert torch.allclose(back, torch.from_numpy(expected.seen).float() / 255, atol=1e-6)


def test_transparent_background_counts_as_white():
    rgba = np.zeros((60, 60, 4), dtype=np.uint8)  # transparent everywhere...
    rgba[10:50, 25:35] = (0, 0, 0, 255)  # ...but an opaque black stroke
    result = preprocess(Image.fromarray(rgba), DIGITS)
    assert result.inverted and ink_bbox(result.seen > 127) == (20, 5)


@pytest.mark.parametrize("blank", [
    paper(), np.zeros((50, 50), np.uint8), np.full((28, 28), 1.0),
    np.clip(np.random.default_rng(0).normal(200, 8, (100, 100)), 0, 255).astype(np.uint8),
], ids=["paper", "black", "white", "noisy paper"])
def test_a_blank_picture_is_refused(blank):
    with pytest.raises(TorchbasicsError, match="blank"):
        preprocess(blank, DIGITS)


def test_faint_noise_is_not_taken_for_ink():
    """Scattered noisy pixels on the paper must not stretch the crop."""
    rng = np.random.default_rng(1)
    picture = paper(150, 150)
    picture[40:110, 70:80] = 25  # a "1", 70 tall
    specks = rng.integers(0, 150, size=(2, 30))
    picture[specks[0], specks[1]] = 0  # 30 black dust pixels anywhere
    seen = preprocess(picture, DIGITS).seen
    assert ink_bbox(seen > 127) == (20, 3)


def test_a_thin_stroke_on_noisy_paper_is_found():
    """A 2-pixel line is a tiny share of the picture: it must still decide the polarity."""
    rng = np.random.default_rng(2)
    picture = rng.normal(0.75, 0.06, (110, 190))
    picture[20:60, 140:142] = 0.1  # a thin dark "1", far off-centre
    result = preprocess(np.clip(picture, 0, 1), DIGITS)
    assert result.inverted
    height, width = ink_bbox(result.seen > 127)
    assert height == 20 and width <= 3


@pytest.mark.parametrize(("image", "message"), [
    (np.zeros((2, 3, 4, 5)), "must be"), (np.full((9, 9), np.nan), "NaN"),
    (np.full((9, 9), -1.0), "out of range"), ("no/such/file.png", "not found"),
    ([[0, 1]], "cannot read a list"),
])
def test_bad_inputs_are_refused_clearly(image, message):
    with pytest.raises(TorchbasicsError, match=message):
        preprocess(image, DIGITS)


def test_a_file_that_is_not_an_image_is_refused(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(TorchbasicsError, match="not a picture"):
        preprocess(tmp_path / "notes.png", DIGITS)


def test_the_rendering_is_seeded(mnist_test):
    images, _ = mnist_test
    first = render_scan(images[0], np.random.default_rng(5), ScanStyle(color=1.0))
    second = render_scan(images[0], np.random.default_rng(5), ScanStyle(color=1.0))
    assert np.array_equal(first, second) and first.ndim == 3


@pytest.mark.parametrize("shape", [(5, 5), (28, 28), (40, 33), (280, 280), (21, 200), (900, 60)])
def test_the_noise_estimate_filters_only_the_border_with_the_same_result(shape):
    from torchbasics.inference.preprocess import _border, _border_residual

    image = np.random.default_rng(sum(shape)).random(shape)
    whole = _border(image - ndimage.median_filter(image, size=3, mode="nearest"))
    np.testing.assert_array_equal(_border_residual(image), whole)
