"""Reading image files: any size and colour in, (C, H, W) uint8 out; list files of them."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from torchbasics.data.image_files import load_image_list, read_image
from torchbasics.errors import TorchbasicsError

NAMES = ("zero", "one", "two")


def _save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def _gray(seed=0, shape=(28, 28)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _image_folder(tmp_path, count=6):
    """``count`` random 28x28 PNGs in class folders, their list file, pixels and labels."""
    lines, pixels, labels = [], [], []
    for index in range(count):
        label = index % len(NAMES)
        array = _gray(index)
        _save(tmp_path / NAMES[label] / f"{index}.png", array)
        lines.append(f"{NAMES[label]}/{index}.png")
        pixels.append(array)
        labels.append(label)
    listed = tmp_path / "list.txt"
    listed.write_text("\n".join(lines) + "\n")
    return listed, np.stack(pixels)[:, None], labels


# read_image ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_grayscale_is_read_exactly(tmp_path, suffix):
    array = _gray()
    pixels = read_image(_save(tmp_path / f"a{suffix}", array))
    assert pixels.shape == (1, 28, 28) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels[0], array)


def test_jpeg_is_read_approximately(tmp_path):
    array = np.full((28, 28), 180, np.uint8)
    pixels = read_image(_save(tmp_path / "a.jpg", array, quality=95))
    assert np.abs(pixels.astype(int) - 180).max() <= 2


def test_rgb_becomes_grayscale_by_luma(tmp_path):
    colour = np.zeros((28, 28, 3), np.uint8)
    colour[..., 0], colour[..., 1], colour[..., 2] = 200, 100, 50
    pixels = read_image(_save(tmp_path / "c.png", colour))
    luma = 200 * 0.299 + 100 * 0.587 + 50 * 0.114  # ITU-R 601, as Pillow's "L"
    assert pixels.shape == (1, 28, 28) and np.abs(pixels.astype(float) - luma).max() <= 1


def test_grayscale_to_three_channels(tmp_path):
    array = _gray()
    pixels = read_image(_save(tmp_path / "g.png", array), channels=3)
    assert pixels.shape == (3, 28, 28)
    for channel in pixels:
        np.testing.assert_array_equal(channel, array)


def test_rgb_kept_as_rgb(tmp_path):
    colour = np.random.default_rng(0).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    pixels = read_image(_save(tmp_path / "c.png", colour), channels=3)
    np.testing.assert_array_equal(pixels, colour.transpose(2, 0, 1))


def test_larger_image_is_resized_keeping_the_picture(tmp_path):
    array = np.zeros((100, 60), np.uint8)  # (H, W): white left half, black right half
    array[:, :30] = 255
    pixels = read_image(_save(tmp_path / "big.png", array), size=(28, 28))
    assert pixels.shape == (1, 28, 28)
    assert pixels[0, :, :12].min() >= 250 and pixels[0, :, 16:].max() <= 5


def test_size_is_height_width(tmp_path):
    pixels = read_image(_save(tmp_path / "a.png", _gray()), size=(10, 20))
    assert pixels.shape == (1, 10, 20)


def test_transparent_background_is_white(tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)  # transparent black...
    rgba[10:18, 10:18] = (0, 0, 0, 255)  # ...around an opaque black square
    pixels = read_image(_save(tmp_path / "t.png", rgba))
    assert pixels[0, 0, 0] == 255 and pixels[0, 14, 14] == 0


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    array = np.array([[0, 257 * 100, 65535]], np.uint16)
    pixels = read_image(_save(tmp_path / "s.png", array), size=(1, 3))
    assert pixels[0, 0].tolist() == [0, 100, 255]


def test_corrupt_png_names_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(TorchbasicsError, match=re.escape(f"{bad}: not a picture")):
        read_image(bad)


def test_truncated_png_names_the_file(tmp_path):
    good = _save(tmp_path / "good.png", _gray())
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(TorchbasicsError, match=re.escape(f"{cut}: cannot be decoded")):
        read_image(cut)


def test_missing_image(tmp_path):
    message = re.escape("none.png: cannot be read (file not found)")
    with pytest.raises(TorchbasicsError, match=message):
        read_image(tmp_path / "none.png")


# load_image_list --------------------------------------------------------------------------


def test_load_image_list_reads_pixels_and_labels(tmp_path):
    listed, pixels, labels = _image_folder(tmp_path)
    data = load_image_list(listed, NAMES, mean=(0.5,), std=(0.25,))
    assert data.images.shape == (6, 1, 28, 28) and data.images.dtype == torch.uint8
    np.testing.assert_array_equal(data.images.numpy(), pixels)
    assert data.labels.tolist() == labels and data.class_names == NAMES
    assert data.mean == (0.5,) and data.source == str(listed)


def test_load_image_list_names_the_line_of_a_corrupt_image(tmp_path):
    listed, _, _ = _image_folder(tmp_path, count=3)
    (tmp_path / "one" / "1.png").write_bytes(b"garbage")
    message = re.escape(f"{listed}:2: {tmp_path / 'one' / '1.png'}: not a picture")
    with pytest.raises(TorchbasicsError, match=message):
        load_image_list(listed, NAMES, (0.5,), (0.25,))


def test_load_image_list_refuses_an_id_list(tmp_path):
    listed = tmp_path / "ids.txt"
    listed.write_text("1\n2\n")
    with pytest.raises(TorchbasicsError, match="this lists split IDs, not image files"):
        load_image_list(listed, NAMES, (0.5,), (0.25,))


# load_list --------------------------------------------------------------------------------


def test_load_list_selects_ids_or_reads_paths(idx_dir, tmp_path):
    from torchbasics.data.image_files import load_list
    from torchbasics.data.pngs import write_pngs
    from torchbasics.data.sources import load_split

    split = load_split("mnist", "test", idx_dir, download=False)
    (tmp_path / "ids.txt").write_text("4\n1\n")
    picked = load_list(tmp_path / "ids.txt", split)
    assert torch.equal(picked.images, split.images[[4, 1]])
    listed = write_pngs(split, tmp_path / "png", progress=False)
    read_back = load_list(listed, split)
    assert torch.equal(read_back.images, split.images)
    assert torch.equal(read_back.labels, split.labels)
