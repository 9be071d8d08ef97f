"""Property-based fuzzing of the readers of outside files: IDX, CSV tables and list files.

Whatever bytes they are given, the readers either return data or raise the package's own
:class:`TorchbasicsError`: no other exception (an IndexError, an OverflowError, a numpy
reshape error...) may escape, because the CLI would show it as a traceback.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from torchbasics.data.idx import DTYPES, read_idx
from torchbasics.data.listfile import read_list_file
from torchbasics.errors import TorchbasicsError
from torchbasics.tabular.bonus import FEATURES, TARGET
from torchbasics.tabular.csvfile import read_csv
from torchbasics.tabular.schema import Choices
from torchbasics.tabular.source import inferred_table
from torchbasics.tabular.table import load_table

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
CLASSES = ("zero", "one", "T-shirt/top")


def only_our_error(read, *args, **kwargs):
    """Call ``read``; a TorchbasicsError is an acceptable answer, anything else fails."""
    try:
        return read(*args, **kwargs)
    except TorchbasicsError as exc:
        assert str(exc) and "\n" not in str(exc)  # one line, as the CLI prints it
        return None


# --- IDX ---------------------------------------------------------------------------------

@st.composite
def idx_headers(draw) -> bytes:
    """Plausible and implausible IDX headers: valid magic, random type, dims and sizes."""
    zero = draw(st.sampled_from([0, 0, 0, 1, 0x1F8B]))
    code = draw(st.sampled_from([*DTYPES, 0x00, 0x0A, 0xFF]))
    ndim = draw(st.integers(0, 10))
    sizes = draw(st.lists(st.one_of(st.integers(0, 6), st.integers(0, 2**32 - 1)),
                          min_size=ndim, max_size=ndim))
    return struct.pack(">HBB", zero, code, ndim) + struct.pack(f">{ndim}I", *sizes)


@st.composite
def valid_idx(draw) -> bytes:
    """A correct small IDX file, to be mutated."""
    code = draw(st.sampled_from(list(DTYPES)))
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    dtype = DTYPES[code]
    array = np.arange(int(np.prod(shape)), dtype=dtype.newbyteorder("=")).reshape(shape)
    header = struct.pack(">HBB", 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    return header + array.astype(dtype).tobytes()


@st.composite
def mutated(draw, source) -> bytes:
    """``source`` with a few bytes flipped, cut off, or extended."""
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data) + draw(st.binary(max_size=8))


idx_bytes = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda head, body: head + body, idx_headers(), st.binary(max_size=64)),
    mutated(valid_idx()),
    valid_idx(),
)


@FUZZ
@given(data=idx_bytes, compress=st.booleans())
def test_idx_reader_raises_only_its_own_error(tmp_path, data, compress):
    path = tmp_path / ("fuzz.idx.gz" if compress else "fuzz.idx")
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    array = only_our_error(read_idx, path)
    if array is not None:  # what was read must be exactly what the header promised
        assert array.nbytes + 4 + 4 * array.ndim == len(data)


@FUZZ
@given(data=st.binary(min_size=1, max_size=64), cut=st.integers(0, 40))
def test_idx_reader_refuses_damaged_gzip(tmp_path, data, cut):
    """Truncated or bit-flipped gzip streams."""
    packed = bytearray(gzip.compress(data, mtime=0))
    packed[min(cut, len(packed) - 1)] ^= 0xFF
    path = tmp_path / "fuzz.idx.gz"
    for blob in (bytes(packed), bytes(packed[:cut])):
        path.write_bytes(blob)
        only_our_error(read_idx, path)


def test_a_header_whose_sizes_overflow_int64_is_refused(tmp_path):
    """Eight sizes of 2**32 - 1 multiply past 2**63; the size check must not wrap around."""
    header = struct.pack(">HBB", 0, 0x08, 8) + struct.pack(">8I", *[2**32 - 1] * 8)
    (tmp_path / "huge.idx").write_bytes(header + b"\0" * 16)
    with pytest.raises(TorchbasicsError, match="absurd shape"):
        read_idx(tmp_path / "huge.idx")


# --- CSV ---------------------------------------------------------------------------------

NAMES = [column.name for column in FEATURES] + [TARGET.name]
cells = st.one_of(
    st.sampled_from(["", "7", "-3", "1e308", "1e400", "nan", "inf", "-0", "5.5", "0x10",
                     "9" * 400, " 8 ", "1_000", "２"]),
    st.integers(-5, 20).map(str),
    st.text(alphabet="0123456789.-+eE ,;\"x", max_size=6),
)


@st.composite
def csv_rows(draw) -> tuple[list[str], list[list[str]]]:
    """A header (the right one, reordered, or a near miss) and rows of odd cells, some
    shorter or longer than the header."""
    header = draw(st.one_of(
        st.just(NAMES), st.permutations(NAMES),
        st.lists(st.sampled_from([*NAMES, "", " bonus", "x"]), max_size=6),
    ))
    width = st.integers(max(len(header) - 1, 0), len(header) + 2)
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(cells, min_size=n, max_size=n)),
                         max_size=5))
    return header, rows


@FUZZ
@given(csv=csv_rows(), newline=st.sampled_from(["\n", "\r\n"]))
@example(csv=(NAMES, [["5", "1", "2", "3", "4", "5"]]), newline="\n")  # row longer than header
@example(csv=([NAMES[0], f" {NAMES[0]}", *NAMES[1:]], [["5"] * 5]), newline="\n")
def test_csv_table_reader_raises_only_its_own_error(tmp_path, csv, newline):
    header, rows = csv
    path = tmp_path / "fuzz.csv"
    path.write_text(newline.join(",".join(row) for row in [header, *rows]), encoding="utf-8")
    table = only_our_error(load_table, path, FEATURES, TARGET)
    if table is None:
        return
    # Accepted: every value is its own cell's number (nothing shifted between columns),
    # within its column's rules; only blank lines (of any width) are left out.
    assert all(len(row) == len(header) or not "".join(row).strip() for row in rows)
    rows = [row for row in rows if len(row) == len(header)]
    assert len(table) == len(rows)
    text = "".join(",".join(row) for row in [header, *rows])
    if '"' not in text:  # quotes make cells span commas; the simple split no longer holds
        for row, features, target in zip(rows, table.features, table.target, strict=True):
            cell = {name.strip(): value for name, value in zip(header, row, strict=True)}
            expected = [float(cell[name]) for name in NAMES]
            assert [*features.tolist(), *target.tolist()] == pytest.approx(expected)
    for index, column in enumerate(FEATURES):
        assert all(column.problem(value) is None for value in table.features[:, index].tolist())


@FUZZ
@given(data=st.binary(max_size=80))
def test_csv_reader_takes_any_bytes(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    only_our_error(read_csv, path)


@FUZZ
@given(csv=csv_rows(), target=st.sampled_from(NAMES))
def test_any_table_is_planned_fitted_and_encoded_or_refused_in_one_line(tmp_path, csv, target):
    from torchbasics.tabular.prepare import split_rows
    from torchbasics.tabular.schema import TableSchema

    header, rows = csv
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join(",".join(row) for row in [header, *rows]), encoding="utf-8")
    data = only_our_error(inferred_table, path, target, Choices())
    if data is None:
        return

    def fit_and_encode():
        parts = split_rows(len(data.rows), test_fraction=0.2, val_fraction=0.2, seed=0)
        schema = TableSchema.fit(data.table, data.plans, data.target, data.rows[parts[0]])
        encoded = schema.encode(data.table, data.rows)
        assert encoded.features.shape == (len(data.rows), schema.width)
        assert np.isfinite(encoded.features).all()
        return schema

    only_our_error(fit_and_encode)


# --- list files --------------------------------------------------------------------------

numbers = st.one_of(st.integers(-3, 12), st.integers(-(10**30), 10**30)).map(str)
id_lines = st.one_of(numbers, st.sampled_from(["+4", "12a", "1 2", "١٢", "9" * 5000, "# 3", ""]))
path_lines = st.builds(
    lambda path, label: f"{path}{label}",
    st.sampled_from(["a.png", "sub/b.png", "missing.png", "x.txt", "a" * 300 + ".png",
                     "\0.png", "one/a.png", "zero/../a.png"]),
    st.one_of(st.just(""), st.sampled_from([" 1", ", zero", " T-shirt_top", " nine", " 9",
                                            ", T-shirt/top", " 1 2", ","]),
              numbers.map(lambda n: f" {n}"), st.just(" " + "9" * 5000)),
)


@FUZZ
@given(entries=st.one_of(st.lists(id_lines, max_size=6), st.lists(path_lines, max_size=6),
                         st.lists(st.one_of(id_lines, path_lines, st.text(max_size=12)),
                                  max_size=6)),
       num_ids=st.sampled_from([None, 0, 5, 10**6]),
       expect=st.sampled_from([None, "ids", "paths"]))
@example(entries=["9" * 5000], num_ids=None, expect=None)  # past int()'s 4,300-digit limit
@example(entries=[str(10**20)], num_ids=None, expect=None)  # past int64
@example(entries=["a" * 300 + ".png"], num_ids=None, expect=None)  # name too long for the OS
def test_list_file_reader_raises_only_its_own_error(tmp_path, entries, num_ids, expect):
    for name in ("a.png", "sub/b.png", "one/a.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"only its existence is checked")
    path = tmp_path / "list.txt"
    path.write_text("\n".join(entries), encoding="utf-8")
    listed = only_our_error(read_list_file, path, class_names=CLASSES, num_ids=num_ids,
                            expect=expect)
    if listed is None:
        return
    if listed.ids is not None:
        assert (listed.ids >= 0).all() and (num_ids is None or (listed.ids < num_ids).all())
    else:
        assert ((listed.labels >= 0) & (listed.labels < len(CLASSES))).all()
        assert all(path.is_file() for path in listed.paths)


@FUZZ
@given(data=st.binary(max_size=60))
def test_list_file_reader_takes_any_bytes(tmp_path, data):
    path = tmp_path / "list.txt"
    path.write_bytes(data)
    only_our_error(read_list_file, path, class_names=CLASSES, num_ids=10)
