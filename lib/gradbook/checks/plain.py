"""Plain data: what crosses the boundary between a student's process and the grader.

A student's function may return anything: an ndarray subclass, a torch tensor, an
object whose ``__eq__`` always says yes. `to_plain` turns what it returned into
nested tuples/lists/dicts of plain ndarrays and Python scalars (or an explicit
"unsupported" marker); `to_wire`/`from_wire` (and `dumps`/`loads`, their bytes) carry
it as JSON with arrays as dtype, shape and base64 bytes. Reading it back never makes an
object or runs code, and checks every size before allocating.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

import numpy as np

Plain = Any  # None | bool | int | float | str | np.ndarray | list | tuple | dict[str, Plain] | Unsupported

_SCALARS = (bool, int, float, str, type(None))


class Unsupported:
    """Stands for a value that is not plain data; keeps only its type's name."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unsupported) and other.type_name == self.type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def to_plain(value: Any, _depth: int = 0) -> Plain:
    """Convert a returned value to plain data, copying arrays so later mutation cannot leak in."""
    if _depth > 20:
        return Unsupported("too deeply nested value")
    if type(value) is int and not -2**63 <= value < 2**63:  # no JSON reader takes it whole (Python's: 4,300 digits)
        return Unsupported(f"whole number of about {int(value.bit_length() * 0.30103) + 1:,} digits")
    if type(value) in _SCALARS:
        return value
    if isinstance(value, np.generic):  # numpy's own `item`, not a subclass's, and what it gives converted in turn
        if isinstance(value, np.object_):
            return Unsupported(type(value).__name__)
        item = np.generic.item(value)
        # a long double has no Python number to be: a 0-d array of it (once its `item`, itself, recursed to the end)
        return np.array(item) if isinstance(item, np.generic) else to_plain(item, _depth + 1)
    if isinstance(value, np.ndarray):
        array = np.array(value, copy=True, subok=False)
        return array if array.dtype.kind in "biufcSU" else Unsupported(f"ndarray of {array.dtype}")
    if type(value) in (list, tuple):
        items = [to_plain(v, _depth + 1) for v in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: to_plain(v, _depth + 1) for k, v in value.items()}
    if _is_torch_tensor(value):
        return to_plain(value.detach().cpu().numpy(), _depth + 1)
    return Unsupported(type(value).__name__)


def _is_torch_tensor(value: Any) -> bool:
    module = type(value).__module__ or ""
    return module.startswith("torch") and hasattr(value, "detach")


# --- the wire: plain data as JSON, for the grader's questions to the sandbox and its answers ---

WIRE_KINDS = "biufcSU"  # numbers, booleans and fixed-width strings; never objects
MAX_WIRE_DEPTH = 32


def to_wire(value: Plain) -> Any:
    """Plain data as JSON-able data (arrays as dtype, shape and base64 bytes)."""
    if isinstance(value, np.ndarray):
        array = np.asarray(value, order="C")  # (not `ascontiguousarray`: it makes a 0-d array one of shape (1,))
        if array.dtype.kind not in WIRE_KINDS:
            return {"__unsupported__": f"ndarray of {array.dtype}"}
        return {"__nd__": [array.dtype.str, list(array.shape), base64.b64encode(array.tobytes()).decode("ascii")]}
    if isinstance(value, np.generic):
        return to_wire(value.item())
    return _encode_wire(value)


def _encode_wire(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return to_wire(value)
    if isinstance(value, Unsupported):
        return {"__unsupported__": value.type_name}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_wire(v) for v in value]}
    if isinstance(value, list):
        return [_encode_wire(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": {str(k): _encode_wire(v) for k, v in value.items()}}
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, np.generic):
        return _encode_wire(value.item())
    if type(value) in _SCALARS:
        return value
    return {"__unsupported__": type(value).__name__}


class WireError(ValueError):
    """Data from the sandbox that is not plain data within the grader's bounds."""


def dumps(value: Plain) -> bytes:
    """Plain data as the bytes that cross the sandbox's boundary (JSON of `to_wire`)."""
    return json.dumps(to_wire(value)).encode()


def loads(data: bytes, *, max_bytes: int = 64 * 1024 * 1024) -> Plain:
    """What `dumps` wrote; untrusted bytes give `WireError`, never an object or code."""
    try:
        node = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise WireError(f"not plain data: {str(error)[:100]}") from None
    return from_wire(node, max_bytes=max_bytes)


def from_wire(node: Any, *, max_bytes: int = 64 * 1024 * 1024) -> Plain:
    """JSON-decoded wire data back to plain data. Untrusted input: every array's size is checked
    against its header and against `max_bytes` (all arrays together) BEFORE anything is allocated;
    object dtypes, odd keys and deep nesting are refused."""
    budget = [max_bytes]
    return _decode_wire(node, budget, 0)


def _decode_wire(node: Any, budget: list[int], depth: int) -> Plain:
    if depth > MAX_WIRE_DEPTH:
        raise WireError("nested too deeply")
    if isinstance(node, list):
        return [_decode_wire(v, budget, depth + 1) for v in node]
    if isinstance(node, dict):
        if len(node) != 1:
            raise WireError(f"unexpected keys {sorted(map(str, node))[:5]}")
        (key, body), = node.items()
        if key == "__nd__":
            return _decode_array(body, budget)
        if key == "__tuple__" and isinstance(body, list):
            return tuple(_decode_wire(v, budget, depth + 1) for v in body)
        if key == "__dict__" and isinstance(body, dict):
            return {str(k): _decode_wire(v, budget, depth + 1) for k, v in body.items()}
        if key == "__float__" and body in ("nan", "inf", "-inf"):
            return float(body)
        if key == "__unsupported__" and isinstance(body, str):
            return Unsupported(body[:100])
        raise WireError(f"unexpected key {str(key)[:40]!r}")
    if type(node) in _SCALARS:
        return node
    raise WireError(f"unexpected {type(node).__name__}")


def _decode_array(body: Any, budget: list[int]) -> np.ndarray:
    if not (isinstance(body, list) and len(body) == 3 and isinstance(body[0], str)
            and isinstance(body[1], list) and isinstance(body[2], str)):
        raise WireError("malformed array")
    try:
        dtype = np.dtype(body[0])
    except (TypeError, ValueError):
        raise WireError(f"unknown dtype {body[0][:20]!r}") from None
    if dtype.kind not in WIRE_KINDS or dtype.hasobject or dtype.fields is not None:
        raise WireError(f"dtype {dtype} is not plain data")
    shape = body[1]
    if len(shape) > 32 or not all(type(n) is int and 0 <= n for n in shape):
        raise WireError("malformed shape")
    count = 1
    for n in shape:
        count *= n
    size = count * dtype.itemsize
    # base64 is 4/3 of the bytes: check both before decoding anything
    if size > budget[0] or len(body[2]) > 4 * (budget[0] // 3 + 2):
        raise WireError(f"more data than the grader accepts ({size:,} bytes)")
    try:
        raw = base64.b64decode(body[2], validate=True)
    except (binascii.Error, ValueError):
        raise WireError("array bytes are not base64") from None
    if len(raw) != size:
        raise WireError("array bytes do not match the shape")
    budget[0] -= size
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def digest(value: Any) -> str:
    """A fingerprint of the arrays inside a value, to notice in-place mutation of inputs."""
    h = hashlib.sha256()
    for array in arrays_in(value):
        h.update(str((array.dtype.str, array.shape)).encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def arrays_in(value: Any, depth: int = 0) -> list[np.ndarray]:
    """The arrays inside a value (in tuples, lists and dicts), in order. An answer may have made its inputs anything
    (a list that holds itself): deeper than plain data goes, nothing."""
    if depth > MAX_WIRE_DEPTH:
        return []
    if type(value) is np.ndarray:
        return [value]
    if type(value) in (list, tuple):
        return [a for v in value for a in arrays_in(v, depth + 1)]
    if type(value) is dict:
        return [a for v in value.values() for a in arrays_in(v, depth + 1)]
    return []
