"""Reader for the IDX format that MNIST ships in (http://yann.lecun.com/exdb/mnist/).

An IDX file is a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim`` big-endian
uint32 dimensions, then the values in C order, big-endian. MNIST distributes them gzipped;
both the ``.gz`` and the raw form are read here, told apart by content, not by name.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["parse_idx", "read_idx"]

# IDX type code -> big-endian numpy dtype.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file; `name` is only used in error messages.

    The header is checked against the length of the data, so a truncated file or one with
    trailing junk is rejected instead of being silently reshaped.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file (only {len(data)} bytes; the header alone is 4+)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _DTYPES or ndim == 0:
        raise ValueError(
            f"{name}: not an IDX file (magic number {data[:4].hex()}; expected 0000 then a type "
            f"code in {sorted(hex(code) for code in _DTYPES)} and at least one dimension). "
            "The file is corrupt or something else: delete it and download it again."
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{name}: truncated IDX header ({len(data)} bytes, need {header_size})")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = _DTYPES[type_code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{name}: IDX file {problem}: the header says shape {shape} ({expected:,} bytes) but "
            f"the file has {len(data):,} bytes. Delete it and download it again."
        )
    values = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    # Native byte order and a writable array that owns its memory, like any loaded dataset.
    return values.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzipped or raw (decided by the gzip magic bytes, not the suffix)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            # gzip checks its CRC-32 and length trailer, so flipped or missing bytes land here.
            raise ValueError(
                f"{path}: corrupt or truncated gzip data ({error}). Delete the file and download it again."
            ) from error
    return parse_idx(raw, name=str(path))
