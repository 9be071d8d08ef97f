"""Hostile files and folders among the user's pictures, each with its expected outcome: kept
and read right, skipped with the right reason, or a one-line error before training.

Every case builds a folder of three good classes plus its hostile part, indexes it and
builds its cache as ``train`` does (in this process: the parallel path is tested in
test_picture_cache.py), and checks what became of the hostile part.
"""

from __future__ import annotations

import errno
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.data.pictures import picture_folder
from torchbasics.data.folder import index_folder
from torchbasics.data.picture_cache import PictureOptions, load_or_build
from torchbasics.errors import TorchbasicsError


def build(root: Path, **options):
    """The index and cache of ``root``, as a run makes them."""
    index = index_folder(root)
    return index, load_or_build(index, PictureOptions(**options), progress=False,
                                log=lambda line: None)


def skipped(root: Path) -> dict[str, str]:
    """File -> reason, for every file left out."""
    _, cache = build(root)
    return {item.name: item.reason for item in cache.skipped}


def kept(root: Path, name: str, **options) -> np.ndarray:
    """The cached pixels ``(C, H, W)`` of the picture ``name``, which must have been kept."""
    index, cache = build(root, **options)
    row = next(i for i, p in enumerate(index.pictures) if p.name == name)
    assert cache.usable[row], {s.name: s.reason for s in cache.skipped}
    return cache.pixels()[row]


def png_bomb(path: Path, side: int = 100_000) -> None:
    """A tiny PNG whose header promises ``side`` x ``side`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


@pytest.fixture
def root(tmp_path) -> Path:
    return picture_folder(tmp_path / "pics", per_class=4)


# --- skipped, with the reason -------------------------------------------------------------

def test_a_truncated_png(root):
    data = (root / "red" / "000.png").read_bytes()
    (root / "red" / "cut.png").write_bytes(data[: len(data) // 2])
    assert skipped(root)["red/cut.png"].startswith("cannot be decoded")


def test_a_zero_byte_file(root):
    (root / "red" / "empty.jpg").write_bytes(b"")
    assert skipped(root)["red/empty.jpg"] == "an empty file (0 bytes)"


def test_a_text_file_named_png(root):
    (root / "red" / "fake.png").write_text("this is not a picture\n")
    assert skipped(root)["red/fake.png"].startswith("not a picture (Pillow does not recognize")


def test_a_decompression_bomb_is_refused_from_its_header(root):
    png_bomb(root / "red" / "bomb.png")
    reason = skipped(root)["red/bomb.png"]
    assert reason.startswith("too large to decode safely") and "decompression bomb" in reason


def test_a_file_that_is_not_a_picture(root):
    (root / "green" / "labels.csv").write_text("a,b\n")
    assert skipped(root)["green/labels.csv"] == "not a picture file (.csv)"


def test_a_symlink_loop_file(root):
    (root / "blue" / "loop.png").symlink_to(root / "blue" / "loop.png")
    assert skipped(root)["blue/loop.png"] == "cannot be read (a symlink loop)"


def test_a_broken_link(root):
    (root / "blue" / "gone.png").symlink_to(root / "nowhere.png")
    assert skipped(root)["blue/gone.png"] == "cannot be read (no such file (a broken link?))"


def test_a_folder_linked_back_into_itself_is_walked_once(root):
    (root / "red" / "again").symlink_to(root / "red", target_is_directory=True)
    assert skipped(root)["red/again"] == "a link back into a folder above it"


def test_a_file_outside_the_class_folders(root):
    (root / "cover.png").write_bytes((root / "red" / "000.png").read_bytes())
    assert skipped(root)["cover.png"] == "not in a class folder"


def test_a_file_without_read_permission(root, monkeypatch):
    secret = root / "red" / "secret.png"
    secret.write_bytes((root / "red" / "000.png").read_bytes())
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads anything: the OS answers as it would anyone else
        opener = Image.open

        def refuse(path, *args, **kwargs):
            if Path(path) == secret:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return opener(path, *args, **kwargs)
        monkeypatch.setattr(Image, "open", refuse)
    assert skipped(root)["red/secret.png"] == "cannot be read (permission denied)"


def test_a_jpeg_named_png_is_read_by_its_content(root):
    (root / "red" / "mislabelled.png").write_bytes(_jpeg_bytes(Image.new("RGB", (32, 32),
                                                                         (250, 0, 0))))
    assert kept(root, "red/mislabelled.png", image_size=32)[0].mean() > 200


def test_an_upper_case_suffix_and_a_one_pixel_picture(root):
    Image.new("RGB", (1, 1), (0, 0, 255)).save(root / "blue" / "DOT.PNG")
    pixels = kept(root, "blue/DOT.PNG", image_size=32)
    assert pixels[2].mean() > 200  # one pixel, scaled up to the whole square


def test_hidden_files_and_folders_are_not_even_listed(root):
    (root / ".ipynb_checkpoints").mkdir()
    (root / ".ipynb_checkpoints" / "000-checkpoint.png").write_bytes(b"x")
    (root / "red" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "red" / "._000.png").write_bytes(b"\0\5\26\7")  # macOS resource forks
    index, cache = build(root)
    assert index.classes == ("blue", "green", "red") and not cache.skipped


# --- kept, and read right -----------------------------------------------------------------

def test_a_20000_by_20_picture_is_kept_and_padded(root):
    Image.fromarray(np.full((20, 20_000), 200, np.uint8)).save(root / "red" / "long.png")
    pixels = kept(root, "red/long.png", image_size=32, channels="1")
    assert pixels.shape == (1, 32, 32)
    bright = pixels[0].max(axis=1) > 150  # per row
    assert bright.sum() == 1 and bright[15]  # one line across the middle, black around it


def test_a_16_bit_png_is_scaled_not_clipped(root):
    values = np.full((32, 32), 32768, np.uint16)  # half way up the 16-bit range
    Image.fromarray(values).save(root / "red" / "deep.png")
    pixels = kept(root, "red/deep.png", image_size=32, channels="1")
    assert abs(int(pixels.mean()) - 128) <= 1  # 32768/257, not 255


def test_an_animated_gif_gives_its_first_frame(root):
    frames = [Image.fromarray(np.full((32, 32), level, np.uint8)) for level in (30, 220)]
    frames[0].save(root / "red" / "anim.gif", save_all=True, append_images=frames[1:])
    pixels = kept(root, "red/anim.gif", image_size=32, channels="1")
    assert abs(float(pixels.mean()) - 30) < 2


def test_a_cmyk_jpeg_becomes_rgb(root):
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(root / "red" / "print.jpg")  # red ink
    pixels = kept(root, "red/print.jpg", image_size=32)
    red, green, blue = (pixels[c].mean() for c in range(3))
    assert red > 200 and green < 60 and blue < 60


def test_an_exif_rotated_jpeg_is_read_upright(root):
    upright = np.zeros((40, 20, 3), np.uint8)  # tall: a bright top half
    upright[:20] = 255
    stored = Image.fromarray(np.rot90(upright, k=1).copy())  # kept sideways, tagged to turn
    exif = stored.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    stored.save(root / "red" / "phone.jpg", exif=exif, quality=95)
    pixels = kept(root, "red/phone.jpg", image_size=40, channels="1", resize="squash")
    assert pixels[0, :15].mean() > 200 and pixels[0, -15:].mean() < 50


def test_transparency_is_shown_over_white(root):
    rgba = np.zeros((32, 32, 4), np.uint8)  # fully transparent black
    Image.fromarray(rgba).save(root / "red" / "clear.png")
    Image.fromarray(rgba[:, :, [0, 3]], mode="LA").save(root / "red" / "clear-la.png")
    assert kept(root, "red/clear.png", image_size=32).min() == 255
    assert kept(root, "red/clear-la.png", image_size=32, channels="1").min() == 255


def test_a_palette_picture(root):
    Image.fromarray(np.full((32, 32, 3), (10, 200, 10), np.uint8)).convert(
        "P", palette=Image.Palette.ADAPTIVE).save(root / "green" / "paletted.png")
    pixels = kept(root, "green/paletted.png", image_size=32)
    assert pixels[1].mean() > 180 and pixels[0].mean() < 40


def test_a_file_name_that_is_not_utf8(root):
    name = os.fsdecode(b"caf\xe9.png")
    (root / "red" / name).write_bytes((root / "red" / "000.png").read_bytes())
    index, cache = build(root)
    shown = next(p.name for p in index.pictures if "caf" in p.name)
    assert shown == "red/caf\\xe9.png"  # printable, and unique
    assert cache.usable.all()


def test_grayscale_and_colour_mixed_is_colour(root):
    Image.fromarray(np.full((32, 32), 90, np.uint8)).save(root / "red" / "gray.png")
    _, cache = build(root)
    assert cache.picture.channels == 3
    gray_only = picture_folder(root.parent / "gray", per_class=3, gray=True)
    _, cache = build(gray_only)
    assert cache.picture.channels == 1


# --- one-line errors before training --------------------------------------------------------

def test_a_folder_named_like_a_registered_data_set_means_the_registered_one(tmp_path, capsys,
                                                                              monkeypatch):
    from torchbasics.data.registry import get_dataset, shadowing_note

    picture_folder(tmp_path / "mnist", per_class=2)
    monkeypatch.chdir(tmp_path)
    assert get_dataset("mnist").name == "mnist" and not get_dataset("mnist").own
    assert get_dataset("./mnist").own
    assert "give --dataset ./mnist" in shadowing_note("mnist")


def test_strict_fails_at_the_first_unusable_file(root):
    (root / "red" / "empty.png").write_bytes(b"")
    with pytest.raises(TorchbasicsError, match=r"red/empty\.png: an empty file \(0 bytes\)"):
        build(root, strict=True)


def test_nothing_decodes(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "pics" / name).mkdir(parents=True)
        (tmp_path / "pics" / name / "x.png").write_text("no")
    with pytest.raises(TorchbasicsError, match="none of the pictures could be decoded"):
        build(tmp_path / "pics")


def test_an_empty_class_folder_is_named(root):
    (root / "purple").mkdir()
    with pytest.raises(TorchbasicsError, match="purple: a class folder without pictures"):
        build(root)


def test_there_are_at_least_25_cases():
    names = [name for name in globals() if name.startswith("test_") and name != (
        "test_there_are_at_least_25_cases")]
    assert len(names) >= 25, names


def _jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()
