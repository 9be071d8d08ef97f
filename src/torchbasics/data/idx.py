"""The IDX format of MNIST and Fashion-MNIST: read, validate and write, gzipped or raw.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the values in C order (big-endian for multi-byte types).
Anything that does not add up (magic, sizes, payload length) is refused with a
:class:`~torchbasics.errors.TorchbasicsError` naming the file: never a wrong array.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from torchbasics.errors import TorchbasicsError
from torchbasics.files import atomic_write

# IDX dtype code -> numpy dtype (big-endian, as stored).
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in DTYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"
MAX_NDIM = 8
# Refuse headers that promise more than this; a corrupt size field would otherwise
# ask for terabytes before we could notice the payload is short.
MAX_PAYLOAD_BYTES = 1 << 40
READ_CHUNK = 64 << 20  # values are read in pieces of this size (see _read_exactly)


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX header says: value type, array shape and where the values start."""

    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int  # bytes from the start of the (uncompressed) file to the first value

    @property
    def payload_bytes(self) -> int:
        """How many bytes of values the header promises."""
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: no overflow


def is_gzipped(path: str | os.PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_idx(path: str | os.PathLike) -> BinaryIO:
    """Open an IDX file for reading, transparently decompressing gzip."""
    path = Path(path)
    if not path.is_file():
        raise TorchbasicsError("file not found", where=path)
    return gzip.open(path, "rb") if is_gzipped(path) else open(path, "rb")


def read_header(handle: BinaryIO, where: str | os.PathLike = "<idx>") -> IdxHeader:
    """Parse and check an IDX header from an open binary stream."""
    magic = _read_exactly(handle, 4, where, "the 4-byte magic number")
    zero, code, ndim = struct.unpack(">HBB", magic)
    if zero != 0:
        raise TorchbasicsError(
            f"not an IDX file: magic number 0x{magic.hex()} should start with 0x0000",
            where=where, fix="check that this is an MNIST-style .idx(.gz) file",
        )
    if code not in DTYPES:
        raise TorchbasicsError(f"unknown IDX value type 0x{code:02x}", where=where)
    if not 1 <= ndim <= MAX_NDIM:
        raise TorchbasicsError(f"IDX header gives {ndim} dimensions (1 to {MAX_NDIM})", where=where)
    sizes = struct.unpack(f">{ndim}I", _read_exactly(handle, 4 * ndim, where, "the sizes"))
    header = IdxHeader(DTYPES[code], tuple(int(s) for s in sizes), 4 + 4 * ndim)
    # Zero sizes left out: a (0, 2**32-1, 2**32-1) array is empty, but no array library
    # will make one.
    if math.prod(max(s, 1) for s in header.shape) * header.dtype.itemsize > MAX_PAYLOAD_BYTES:
        raise TorchbasicsError(f"IDX header promises an absurd shape {header.shape}", where=where)
    return header


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a whole IDX file (``.gz`` or raw) into a native-byte-order numpy array.

    Raises:
        TorchbasicsError: missing file, bad magic, unknown type, truncated or over-long
            payload, or a corrupt gzip stream.
    """
    path = Path(path)
    try:
        with open_idx(path) as handle:
            header = read_header(handle, path)
            payload = _read_exactly(handle, header.payload_bytes, path, "the values", header)
            if handle.read(1):
                raise TorchbasicsError(
                    f"trailing data after the {header.payload_bytes} bytes the header "
                    f"promises for shape {header.shape}",
                    where=path, fix="the file is corrupt or not what its header says; replace it",
                )
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise TorchbasicsError(
            f"corrupt or truncated gzip data ({exc})", where=path,
            fix="delete the file and download it again",
        ) from exc
    array = np.frombuffer(payload, dtype=header.dtype).reshape(header.shape)
    return array.astype(header.dtype.newbyteorder("="), copy=False)


def header_bytes(dtype: np.dtype, shape: tuple[int, ...], where: str | os.PathLike = "<idx>"
                 ) -> bytes:
    """The IDX header of an array of ``dtype`` and ``shape`` (the values follow it, C order,
    big-endian)."""
    native = np.dtype(dtype).newbyteorder("=")
    if native not in _CODES:
        raise TorchbasicsError(f"IDX cannot store dtype {dtype}", where=where)
    if not 1 <= len(shape) <= MAX_NDIM:
        raise TorchbasicsError(f"IDX stores 1 to {MAX_NDIM} dimensions, not {len(shape)}",
                               where=where)
    return struct.pack(">HBB", 0, _CODES[native], len(shape)) + struct.pack(
        f">{len(shape)}I", *shape)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as IDX, atomically; gzipped if ``compress`` (default: a ``.gz`` name)."""
    path = Path(path)
    array = np.ascontiguousarray(array)
    header = header_bytes(array.dtype, array.shape, path)
    code = _CODES[array.dtype.newbyteorder("=")]
    body = array.astype(DTYPES[code], copy=False).tobytes()
    compress = path.suffix == ".gz" if compress is None else compress
    with atomic_write(path) as raw:
        if compress:
            # mtime=0 makes the output byte-for-byte reproducible.
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
                handle.write(header)
                handle.write(body)
        else:
            raw.write(header)
            raw.write(body)


def _read_exactly(
    handle: BinaryIO, count: int, where: str | os.PathLike, what: str,
    header: IdxHeader | None = None,
) -> bytearray:
    # In pieces: read(count) would allocate all ``count`` bytes up front, so a damaged
    # header promising a terabyte would end in a MemoryError instead of "truncated".
    data = bytearray()
    while len(data) < count:
        piece = handle.read(min(count - len(data), READ_CHUNK))
        if not piece:
            break
        data += piece
    if len(data) != count:
        shape = f" for shape {header.shape}" if header else ""
        raise TorchbasicsError(
            f"truncated: expected {count} bytes of {what}{shape}, found {len(data)}",
            where=where, fix="the file is incomplete; delete it and download it again",
        )
    return data
