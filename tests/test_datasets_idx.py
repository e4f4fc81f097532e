"""The IDX reader: hand-built files with known contents, the real MNIST files, and damage."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbook.datasets.idx import parse_idx, read_idx

# IDX type code and the big-endian dtype the format stores, written out independently.
TYPES = [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")]


def idx_bytes(values: np.ndarray, type_code: int, big_endian_dtype: str) -> bytes:
    header = struct.pack(">HBB", 0, type_code, values.ndim) + struct.pack(f">{values.ndim}I", *values.shape)
    return header + values.astype(big_endian_dtype).tobytes()


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(TYPES),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_parse_round_trips_every_type_and_shape(kind: tuple[int, str], shape: list[int], seed: int) -> None:
    type_code, dtype = kind
    # 0..99 fits every type, so the cast is exact and the round trip must be too.
    values = np.random.default_rng(seed).integers(0, 100, size=shape).astype(dtype)
    parsed = parse_idx(idx_bytes(values, type_code, dtype))
    assert parsed.shape == tuple(shape)
    assert parsed.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(parsed, values)
    assert parsed.flags.writeable


def test_known_bytes_decode_to_known_values() -> None:
    # 2x3 int32 matrix written byte by byte, big-endian: no numpy on the writing side.
    data = bytes([0, 0, 0x0C, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + b"".join(
        v.to_bytes(4, "big", signed=True) for v in (1, -2, 3, 256, 65536, -1)
    )
    np.testing.assert_array_equal(parse_idx(data), [[1, -2, 3], [256, 65536, -1]])


def test_gzipped_and_raw_files_read_the_same(tmp_path: Path) -> None:
    values = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    data = idx_bytes(values, 0x08, ">u1")
    (tmp_path / "raw").write_bytes(data)
    (tmp_path / "zipped.gz").write_bytes(gzip.compress(data))
    # The format is detected from the content, so a misleading suffix does not matter.
    (tmp_path / "zipped-no-suffix").write_bytes(gzip.compress(data))
    for name in ("raw", "zipped.gz", "zipped-no-suffix"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), values)


def test_real_mnist_files(shared_mnist: Path) -> None:
    labels_gz = shared_mnist / "t10k-labels-idx1-ubyte.gz"
    labels = read_idx(labels_gz)
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.frombuffer(gzip.decompress(labels_gz.read_bytes()), np.uint8, offset=8))
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the well-known first test digits
    images = read_idx(shared_mnist / "t10k-images-idx3-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert read_idx(shared_mnist / "train-labels-idx1-ubyte.gz")[:5].tolist() == [5, 0, 4, 1, 9]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "only 0 bytes"),
        (b"PK\x03\x04" + bytes(20), "not an IDX file"),  # a zip file, say
        (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 0]), "not an IDX file"),  # unknown type code
        (bytes([0, 0, 0x08, 3, 0, 0, 0, 1]), "truncated IDX header"),
        (bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2]), "truncated"),
        (bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2, 3, 4]), "trailing bytes"),
    ],
)
def test_bad_bytes_are_rejected_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_idx(data, name="some-file")
    assert str(caught.value).startswith("some-file: ")


def test_truncated_real_file_names_the_file(tmp_path: Path, shared_mnist: Path) -> None:
    raw = gzip.decompress((shared_mnist / "t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="truncated") as caught:
        read_idx(path)
    assert str(path) in str(caught.value) and "10,008 bytes" in str(caught.value)


@pytest.mark.parametrize("damage", ["flip", "cut"])
def test_damaged_gzip_names_the_file(tmp_path: Path, shared_mnist: Path, damage: str) -> None:
    data = bytearray((shared_mnist / "t10k-images-idx3-ubyte.gz").read_bytes())
    if damage == "flip":
        data[len(data) // 2 : len(data) // 2 + 8] = bytes(b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 8])
    else:
        data = data[: len(data) // 2]
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as caught:
        read_idx(path)
    assert str(path) in str(caught.value)
