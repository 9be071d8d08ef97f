"""IDX reading and writing: round trips, and every kind of damage refused with a clear error."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from torchbasics.data.idx import read_idx, write_idx
from torchbasics.errors import TorchbasicsError


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_round_trip_every_dtype(tmp_path, dtype, name):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, array)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "labels-idx1-ubyte", array, compress=True)  # gzipped, no .gz name
    np.testing.assert_array_equal(read_idx(tmp_path / "labels-idx1-ubyte"), array)


def test_matches_the_documented_layout(tmp_path):
    """Byte layout from the MNIST page: magic 0x00000803, sizes big-endian, then pixels."""
    pixels = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    (tmp_path / "x").write_bytes(struct.pack(">IIII", 0x803, 1, 2, 3) + pixels.tobytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), pixels)


def test_big_endian_values_are_decoded(tmp_path):
    (tmp_path / "x").write_bytes(struct.pack(">II", 0x0C01, 2) + struct.pack(">ii", 258, -3))
    assert read_idx(tmp_path / "x").tolist() == [258, -3]


def _raw(header: bytes, body: bytes = b"") -> bytes:
    return header + body


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "truncated"),
        (b"\x00\x00", "truncated"),
        (struct.pack(">II", 0x1234_0801, 1) + b"\x00", "not an IDX file"),
        (struct.pack(">II", 0x0000_0701, 1) + b"\x00", "unknown IDX value type"),
        (struct.pack(">I", 0x0000_0800), "0 dimensions"),
        (struct.pack(">I", 0x0000_0803) + struct.pack(">I", 5), "truncated"),
        (struct.pack(">II", 0x0801, 4) + b"\x00\x01", "expected 4 bytes"),
        (struct.pack(">II", 0x0801, 2) + b"\x00\x01\x02", "trailing data"),
        (struct.pack(">IIII", 0x0803, 60_000, 10_000, 10_000) + b"\x00", "absurd shape"),
    ],
    ids=["empty", "short-magic", "bad-magic", "bad-dtype", "no-dims", "short-sizes",
         "short-payload", "trailing", "absurd"],
)
def test_damaged_files_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "broken-idx"
    path.write_bytes(content)
    with pytest.raises(TorchbasicsError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_truncated_gzip_is_refused(tmp_path):
    write_idx(tmp_path / "a.gz", np.zeros((100, 28, 28), np.uint8))
    data = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "a.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(TorchbasicsError, match="truncated"):
        read_idx(tmp_path / "a.gz")


def test_corrupt_gzip_is_refused(tmp_path):
    data = bytearray(gzip.compress(struct.pack(">II", 0x0801, 3) + b"\x01\x02\x03"))
    data[12:16] = b"\xff\xff\xff\xff"
    (tmp_path / "a.gz").write_bytes(bytes(data))
    with pytest.raises(TorchbasicsError, match=r"a\.gz"):
        read_idx(tmp_path / "a.gz")


def test_missing_file(tmp_path):
    with pytest.raises(TorchbasicsError, match="file not found"):
        read_idx(tmp_path / "nope.gz")


def test_gzip_output_is_reproducible(tmp_path):
    array = np.arange(50, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_unsupported_dtype_is_refused(tmp_path):
    with pytest.raises(TorchbasicsError, match="cannot store"):
        write_idx(tmp_path / "a", np.zeros(3, dtype=np.uint16))
