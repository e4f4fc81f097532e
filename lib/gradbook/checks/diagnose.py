"""Why two numeric answers differ: generic leads that hold for any exercise.

A chapter lists the mistakes it expects (`Mistake`); a student makes others. When an
answer is wrong, these functions look at the expected and the returned arrays (and the
case's inputs, by name) for the shape of the error: a constant factor, an offset, a
flipped sign, swapped or reversed axes, a shift by one step, one wrong row at the edge of
a loop, whole numbers where fractions belong, an input returned unchanged, or nan/inf
and what produced it. Each lead is a sentence a student can act on, or None when no
pattern fits, and then the caller reports where the values differ.

Everything here is pure and runs on plain data, so the grader can run it outside the
student's process.
"""

from __future__ import annotations

import itertools
import traceback
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np

Named = Sequence[tuple[str, Any]]  # the case's inputs as (name, value), in the order of the call

_LIBRARY = str(Path(__file__).resolve().parents[1])  # gradbook's own frames are never the student's line
_MAX_AXES = 5  # axis orders are tried only up to this many axes (5! = 120 orders)


def explain_values(expected: np.ndarray, got: np.ndarray, *, rtol: float, atol: float, inputs: Named = ()) -> str | None:
    """A lead for why `got` differs from `expected` (same shape), or None when no pattern fits."""
    with np.errstate(all="ignore"):
        if got.dtype.kind == "b" or expected.dtype.kind == "b":
            return None
        nonfinite = explain_nonfinite(expected, got, inputs)
        if nonfinite:
            return nonfinite
        e, g = expected.astype(float), got.astype(float)
        near = _Near(rtol, atol)
        leads = (
            lambda: _wrapped(expected, got, near),
            lambda: _integer_result(expected, got),
            lambda: _all_zero(e, g),
            lambda: _an_input_unchanged(e, g, inputs, near),
            lambda: _sign(e, g, near),
            lambda: _transposed(e, g, near),
            lambda: _reversed(e, g, near),
            lambda: _shifted(e, g, near),
            lambda: _factor(e, g, inputs, near),
            lambda: _offset(e, g, inputs, near),
            lambda: _truncated(e, g, near),
            lambda: _edges(e, g, inputs, near),
        )
        return next((lead for lead in (find() for find in leads) if lead), None)


def explain_shape(expected: np.ndarray, got: np.ndarray, *, rtol: float, atol: float, inputs: Named = ()) -> str:
    """What a wrong shape suggests: transposed or permuted axes, a reshape, keepdims, the wrong axis reduced."""
    want, have = expected.shape, got.shape
    head = f"expected shape {want}, got {have}"
    near = _Near(rtol, atol)
    with np.errstate(all="ignore"):
        if len(want) == len(have) <= _MAX_AXES and sorted(want) == sorted(have) and got.dtype.kind in "biuf":
            for order in itertools.permutations(range(len(want))):
                if order != tuple(range(len(want))) and near(got, np.transpose(expected, order)):
                    if len(want) == 2:
                        return f"{head}: the result is transposed (got[i, j] is expected[j, i]). Check which index is the row."
                    return (
                        f"{head}: the right values with the axes in the wrong order (your axes are the expected "
                        f"axes {order}). Check the order of the axes, e.g. np.transpose(..., {_inverse(order)})."
                    )
    if tuple(n for n in have if n != 1) == tuple(n for n in want if n != 1):
        extra = "an extra axis of length 1" if len(have) > len(want) else "an axis of length 1 missing"
        how = "drop it (keepdims=False, or index it away)" if len(have) > len(want) else "keep it (keepdims=True, or reshape)"
        return f"{head}: the right number of values with {extra}: {how}."
    if len(want) == 1 and have == (want[0], want[0]) and want[0] > 1:
        return (
            f"{head}: a table where a vector belongs; broadcasting a column against a row (shapes (n, 1) and (n,)) "
            "makes an n x n table. Keep both sides the same shape."
        )
    axis = _reduced_axis(want, have, inputs)
    if axis:
        return f"{head}: {axis}"
    if got.size == expected.size:
        return f"{head}: the same number of values in the wrong shape; check your reshape (or its order of axes)."
    return f"{head}."


def explain_nonfinite(expected: np.ndarray, got: np.ndarray, inputs: Named = ()) -> str | None:
    """nan or inf where the expected value is finite, attributed to what produces it in floating point.

    The cause is read from the inputs: values whose exp overflows (above ~710 in float64), a spread
    so wide that exp of the smallest after shifting underflows to 0, probabilities that are exactly
    0 (log 0), an all-zero or all-equal row (0 / 0)."""
    with np.errstate(all="ignore"):
        e, g = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
        if e.shape != g.shape:
            return None
        wrong = np.isfinite(e) & ~np.isfinite(g)
        if not np.any(wrong):
            return None
        nan, posinf, neginf = (np.any(wrong & np.isnan(g)), np.any(wrong & (g == np.inf)), np.any(wrong & (g == -np.inf)))
        values = _input_values(inputs)
        dtype = got.dtype if got.dtype.kind == "f" else np.dtype(float)
        limit = float(np.log(np.finfo(dtype).max))  # exp(x) is inf above this: 709.8 for float64
        high = float(values.max()) if values.size else 0.0
        low = float(values.min()) if values.size else 0.0
        found = " and ".join(kind for kind, present in (("nan", nan), ("inf", posinf), ("-inf", neginf)) if present)
        head = f"the result has {found} where every expected value is finite"
        overflow = high > limit
        underflow = low < -limit or high - low > limit
        if overflow and underflow:
            return (
                f"{head}: overflow or underflow. The inputs span {_num(low)} to {_num(high)}: np.exp({_num(high)}) "
                f"is inf (overflow), and even after subtracting the largest value np.exp({_num(low - high)}) is 0.0 "
                "(underflow), whose log is -inf. Subtract the largest value before np.exp, and take the log of the "
                "shifted values directly (log-sum-exp) instead of the log of a probability."
            )
        if overflow:
            return (
                f"{head}: overflow. The input goes up to {_num(high)}, and np.exp({_num(high)}) is inf "
                f"(anything above {limit:.0f} is), so inf / inf or inf - inf gives nan. Subtract the largest "
                "value first: exp(z - max) is at most 1, and the result is unchanged."
            )
        if underflow:
            return (
                f"{head}: underflow. The inputs span {_num(low)} to {_num(high)}, and np.exp of anything below "
                f"{-limit:.0f} rounds to 0.0, so a sum of such terms is 0 (0 / 0 is nan) and its log is -inf. "
                "Subtract the largest value before np.exp, and take logs of the shifted values (log-sum-exp)."
            )
        probabilities = _zero_probabilities(inputs)
        if (posinf or neginf) and (probabilities or neginf):
            where = f" `{probabilities[0]}` has entries that are exactly 0, and" if probabilities else ""
            return (
                f"{head}: log of 0.{where} np.log(0) is -inf (and -np.log(0) is inf). Keep what you take the log "
                "of away from 0, e.g. np.clip(p, 1e-7, 1 - 1e-7), or work with logits (log-softmax)."
            )
        if nan and not posinf:
            constant = _constant_slice(inputs)
            if constant:
                return (
                    f"{head}: 0 / 0. {constant}, so a sum or spread over it is 0, and dividing by it gives nan. "
                    "Guard the division (add a small epsilon, or handle the all-equal case)."
                )
            if low < 0:
                return (
                    f"{head}: nan comes from 0 / 0, from inf - inf, or from np.log or np.sqrt of a negative "
                    f"number, and the inputs go down to {_num(low)}. Check what you divide by and what you take "
                    "the log or square root of."
                )
            return f"{head}: 0 / 0 gives nan. Check what you divide by: it is 0 somewhere."
        return (
            f"{head}: a division by 0 (x / 0 is inf) or an overflow past {np.finfo(dtype).max:.3g} "
            f"(np.exp({limit:.0f}) is already inf), while the inputs are at most {_num(max(abs(low), abs(high)))} "
            "in size. Check what you divide by, and what you pass to np.exp."
        )


def describe_exception(exc: BaseException) -> str:
    """The student's exception in one line, with the line of THEIR code that raised it (not numpy's or ours)."""
    frames = traceback.extract_tb(exc.__traceback__)
    theirs = [f for f in frames if not _is_library(f.filename)]
    frame = theirs[-1] if theirs else None  # an error inside the checker's own driver has no line of theirs
    where = f" (line {frame.lineno}: `{(frame.line or '').strip()}`)" if frame else ""
    lines = str(exc).strip().splitlines()
    said = f": {lines[0]}" if lines else ""
    return f"{type(exc).__name__}{said}{where}"


# --- the leads, most specific first ---------------------------------------------------------------


class _Near:
    """Equal within the exercise's tolerance (shapes must match)."""

    def __init__(self, rtol: float, atol: float) -> None:
        self.rtol, self.atol = rtol, atol

    def __call__(self, got: np.ndarray, want: np.ndarray) -> bool:
        got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
        return got.shape == want.shape and bool(np.allclose(got, want, rtol=self.rtol, atol=self.atol, equal_nan=True))


def _all_zero(e: np.ndarray, g: np.ndarray) -> str | None:
    if np.any(g != 0) or not np.any(e != 0):
        return None
    if g.size == 1:
        return "the result is 0: is a total never added to (`+=`), or returned before the loop has run?"
    return "every value is 0: the result was never filled in. Do you write into the array you return?"


def _an_input_unchanged(e: np.ndarray, g: np.ndarray, inputs: Named, near: _Near) -> str | None:
    for name, value in inputs:
        if _is_numeric(value) and np.shape(value) == g.shape and g.size > 1 and near(g, value) and not near(e, value):
            return (
                f"the result is the input `{name}`, unchanged: nothing was updated. Does the loop body run, "
                "and do you return the array you computed?"
            )
    return None


def _sign(e: np.ndarray, g: np.ndarray, near: _Near) -> str | None:
    if np.any(e != 0) and near(g, -e):
        return "the values have the right size but the opposite sign. Check the sign of your formula."
    return None


def _wrapped(expected: np.ndarray, got: np.ndarray, near: _Near) -> str | None:
    e = expected.astype(float)
    if got.dtype == np.uint8 and (np.any(e > 255) or np.any(e < 0)) and near(got, np.mod(e, 256)):
        return (
            "the values wrapped around at 256 (e.g. 250 + 10 became 4): arithmetic on a uint8 array stays in "
            "0..255. Convert to a float array first, x.astype(np.float32)."
        )
    return None


def _integer_result(expected: np.ndarray, got: np.ndarray) -> str | None:
    """An integer array where fractions are expected: written into a buffer made from integer input."""
    fractions = expected.astype(float) != np.round(expected.astype(float))
    if got.dtype.kind not in "iu" or not np.any(fractions):
        return None
    at = np.flatnonzero(fractions)[0]
    return (
        f"the result is an array of whole numbers ({got.dtype}) (expected {_num(expected.flat[at])}, got "
        f"{_num(got.flat[at])}), so every fraction is cut off. Make the array you fill a float array "
        "(np.zeros(shape), or x.astype(float)), not a copy of an integer one."
    )


def _truncated(e: np.ndarray, g: np.ndarray, near: _Near) -> str | None:
    """Float results that are the expected values cut to whole numbers (checked after offsets, which can look alike)."""
    fractions = e != np.round(e)
    if np.count_nonzero(fractions) < 2:
        return None  # one number that happens to round to the other is no evidence
    if near(g, np.trunc(e)) or near(g, np.floor(e)) or near(g, np.round(e)):
        at = np.flatnonzero(fractions)[0]
        return (
            f"the values are cut to whole numbers (expected {_num(e.flat[at])}, got {_num(g.flat[at])}): is the "
            "result stored in an integer array (np.zeros_like of an integer input, or astype(int)), or is `//` "
            "used where `/` belongs?"
        )
    return None


def _transposed(e: np.ndarray, g: np.ndarray, near: _Near) -> str | None:
    if not 2 <= e.ndim <= _MAX_AXES:
        return None
    for order in itertools.permutations(range(e.ndim)):
        swapped = np.transpose(e, order)
        if order != tuple(range(e.ndim)) and swapped.shape == e.shape and not near(swapped, e) and near(g, swapped):
            if e.ndim == 2:
                return "the result is transposed: got[i, j] is expected[j, i]. Check which index is the row."
            return (
                f"the right values with the axes in the wrong order (your axes are the expected axes {order}): "
                "check which axis is which."
            )
    return None


def _reversed(e: np.ndarray, g: np.ndarray, near: _Near) -> str | None:
    for axis in range(e.ndim):
        if e.shape[axis] > 1 and not near(np.flip(e, axis), e) and near(g, np.flip(e, axis)):
            along = f" along the {_axis_name(e.ndim, axis)}s" if e.ndim > 1 else ""
            return f"the values are in reverse order{along}: your first is the expected last. Check the loop's direction."
    return None


def _shifted(e: np.ndarray, g: np.ndarray, near: _Near) -> str | None:
    for axis in range(e.ndim):
        n = e.shape[axis]
        if n < 3:
            continue
        first, rest = list(range(n - 1)), list(range(1, n))  # all but the last, all but the first
        if near(np.take(e, first, axis=axis), np.take(e, rest, axis=axis)):
            continue  # a constant sequence is its own shift
        step = _axis_name(e.ndim, axis)
        if near(np.take(g, first, axis=axis), np.take(e, rest, axis=axis)):
            return (
                f"the sequence is one {step} early: your {step} i is the expected {step} i + 1. Is each value "
                "recorded after the update instead of before it?"
            )
        if near(np.take(g, rest, axis=axis), np.take(e, first, axis=axis)):
            return (
                f"the sequence is one {step} late: your {step} i + 1 is the expected {step} i. Is each value "
                "recorded before the step that produces it, or does the loop start one step early?"
            )
    return None


def _factor(e: np.ndarray, g: np.ndarray, inputs: Named, near: _Near) -> str | None:
    if not np.any(e != 0):
        return None
    k = float(np.sum(g * e) / np.sum(e * e))
    if not np.isfinite(k) or k == 0 or not near(g, k * e) or np.isclose(k, 1.0, rtol=1e-9):
        return None
    sign = " and with the opposite sign" if k < 0 else ""
    size = abs(k)
    subject = "every value is" if g.size > 1 else "the result is"
    same = lambda a, b: bool(np.isclose(a, b, rtol=max(10 * near.rtol, 1e-6), atol=0))  # noqa: E731
    for m, what in _sizes(inputs):
        if same(size, m):
            return (
                f"{subject} exactly {m} times the expected{sign}, and {m} is {what}: is a sum taken "
                f"where the mean belongs, or a division by {m} missing?"
            )
        if same(size, 1 / m):
            return (
                f"{subject} exactly 1/{m} of the expected{sign}, and {m} is {what}: is the mean taken "
                f"twice, or the result divided by {m} once too often?"
            )
    if same(size, 2):
        return f"{subject} exactly twice the expected{sign}: is a factor 2 applied twice, or a term counted twice?"
    if same(size, 0.5):
        return (
            f"{subject} exactly half the expected{sign}: is a factor 2 missing "
            "(the derivative of x**2 is 2 * x)?"
        )
    simple = Fraction(size).limit_denominator(10)
    if g.size > 1 and simple.numerator <= 10 and same(size, float(simple)):  # one number is always some fraction of another
        return f"{subject} exactly {simple} times the expected{sign}: a constant factor is wrong."
    if g.size > 1:
        return (
            f"every value is the expected times {k:.4g}: the same factor everywhere, so the formula is right up "
            "to a constant. Look for a wrong scale (a learning rate, a normalising constant, a missing factor)."
        )
    return None


def _offset(e: np.ndarray, g: np.ndarray, inputs: Named, near: _Near) -> str | None:
    d = g - e
    for name, value in inputs:  # an input added once too often, or left out
        if not _is_numeric(value) or not np.any(np.asarray(value) != 0):
            continue
        for v in _broadcasts(np.asarray(value, dtype=float), d.shape):
            if near(d, v):
                return f"the result is the expected plus `{name}`: `{name}` is added once too often."
            if near(d, -v):
                return f"the result is the expected minus `{name}`: `{name}` is left out. Add it."
    if g.size < 2:
        return None
    c = float(d.flat[0])
    if near(d, np.full_like(d, c)):
        return (
            f"every value is off by the same amount, {_num(c, signed=True)}: the formula is right up to "
            "a constant. Is a term added twice or left out?"
        )
    if d.ndim >= 2 and d.shape[-1] > 1 and d.shape[-2] > 1:  # rows and columns: the last two axes
        if near(d, np.broadcast_to(d[..., :1], d.shape)):
            return (
                "each row is off by its own constant (the difference is the same along a row, but not between "
                "rows): a per-row term is wrong, e.g. a row's max or log-sum-exp taken over the wrong axis or over "
                "the whole batch."
            )
        if near(d, np.broadcast_to(d[..., :1, :], d.shape)):
            return (
                "each column is off by its own constant (the difference is the same down a column): a per-column "
                "term is wrong, e.g. a bias, or a mean taken over the wrong axis."
            )
    return None


def _edges(e: np.ndarray, g: np.ndarray, inputs: Named, near: _Near) -> str | None:
    """Only the first or the last row (column, step) is wrong, or only the first is right: loop bounds."""
    bad = ~np.isclose(g, e, rtol=near.rtol, atol=near.atol, equal_nan=True)
    stale = _stale(e, g, bad, inputs)
    for axis in range(e.ndim):
        n = e.shape[axis]
        if n < 2:
            continue
        slices = np.moveaxis(bad, axis, 0).reshape(n, -1)
        # A loop that stops short or starts late leaves a whole row wrong, not one stray value in it.
        wrong = np.mean(slices, axis=1) >= 0.5
        if np.any(slices[~wrong]):
            continue
        what = _axis_name(e.ndim, axis)
        if wrong[-1] and not np.any(wrong[:-1]):
            return (
                f"only the last {what} ({what} {n - 1}) is wrong{stale and ', ' + stale}: check the loop's bounds. "
                f"Does a range stop one short (range(n - 1) never reaches n - 1)?"
            )
        if wrong[0] and not np.any(wrong[1:]):
            return (
                f"only the first {what} ({what} 0) is wrong{stale and ', ' + stale}: check where the loop starts. "
                "Does it start at 1 instead of 0?"
            )
        if n >= 3 and not wrong[0] and np.all(wrong[1:]):
            return (
                f"only the first {what} is right; {what}s 1 to {n - 1} are wrong{stale and ', ' + stale}. Does the "
                f"loop stop after the first {what}, or use index 0 where it should use the loop's index?"
            )
    return f"some values are wrong, {stale}." if stale else None


def _stale(e: np.ndarray, g: np.ndarray, bad: np.ndarray, inputs: Named) -> str:
    """What the wrong entries hold when they were never written: 0, or an input's own values."""
    if not np.any(bad):
        return ""
    if np.all(g[bad] == 0) and np.any(e[bad] != 0):
        return "and there the result is 0, as if never written"
    for name, value in inputs:
        if _is_numeric(value) and np.shape(value) == g.shape:
            v = np.asarray(value, dtype=float)
            if np.allclose(g[bad], v[bad]) and not np.allclose(e[bad], v[bad]):
                return f"and there the result still holds `{name}`'s values, as if never updated"
    return ""


# --- helpers ---------------------------------------------------------------------------------------


def _axis_name(ndim: int, axis: int) -> str:
    """``row`` and ``column`` for the last two axes (of a matrix, or of each image in a batch)."""
    if ndim == 1:
        return "value"
    if axis >= ndim - 2:
        return ("row", "column")[axis - (ndim - 2)]
    return f"index along axis {axis}"


def _broadcasts(v: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """`v` spread over `shape` as NumPy broadcasts it, and a vector also along any other axis of its
    length (a bias of one value per filter, added along axis 1 of a batch of images)."""
    out = []
    try:
        out.append(np.broadcast_to(v, shape))
    except ValueError:
        pass
    if v.ndim == 1:
        for axis, n in enumerate(shape[:-1]):
            if n == v.size:
                out.append(np.broadcast_to(v.reshape((n,) + (1,) * (len(shape) - axis - 1)), shape))
    return out


def _sizes(inputs: Named) -> list[tuple[int, str]]:
    """Whole numbers the case is made of, and what each is: candidates for a factor m or 1/m."""
    found: dict[int, str] = {}
    for name, value in inputs:
        if isinstance(value, (bool, np.bool_)):
            continue
        if isinstance(value, (int, np.integer)) and value >= 2:
            found.setdefault(int(value), f"`{name}`")
        elif _is_numeric(value) and np.ndim(value) >= 1:
            shape = np.shape(value)
            if len(shape) >= 2:
                found.setdefault(shape[0], f"the number of rows of `{name}` (the batch size)")
                for axis, n in enumerate(shape[1:], start=1):
                    found.setdefault(n, f"the size of axis {axis} of `{name}`" if len(shape) > 2 else f"the number of columns of `{name}`")
            else:
                found.setdefault(shape[0], f"the length of `{name}`")
            found.setdefault(int(np.size(value)), f"the number of values in `{name}`")
    return [(m, what) for m, what in found.items() if m >= 2]


def _reduced_axis(want: tuple, have: tuple, inputs: Named) -> str | None:
    """The result has the shape of an input reduced over another axis than the expected one."""
    for name, value in inputs:
        if not _is_numeric(value) or np.ndim(value) < 1:
            continue
        shape = np.shape(value)
        drops = {axis: shape[:axis] + shape[axis + 1:] for axis in range(len(shape))}
        wanted = [a for a, s in drops.items() if s == want]
        had = [a for a, s in drops.items() if s == have]
        if wanted and had and not set(wanted) & set(had):
            return (
                f"`{name}` has shape {shape}; the result should drop its axis {wanted[0]}, yours dropped axis {had[0]}. "
                f"Reduce over axis={wanted[0]}."
            )
        if want == () and have in drops.values():
            return f"one value per slice of `{name}` where a single number is expected: reduce over every axis."
        if have == () and want in drops.values():
            return f"a single number where one value per slice of `{name}` is expected: reduce over axis={wanted[0]} only."
    return None


def _constant_slice(inputs: Named) -> str | None:
    """`x` is all zeros, or one sample (row) of it is all zeros or all equal: what makes 0 / 0."""
    for name, value in inputs:
        if not _is_numeric(value) or np.ndim(value) == 0:
            continue
        v = np.asarray(value, dtype=float)
        if not np.any(v != 0):
            return f"`{name}` is all zeros"
        if v.ndim == 1:
            if np.all(v == v[0]):
                return f"`{name}` has all values equal"
            continue
        samples = v.reshape(len(v), -1)
        flat = np.all(samples == samples[:, :1], axis=1)
        if np.any(flat):
            index = int(np.flatnonzero(flat)[0])
            what = "row" if v.ndim == 2 else "sample"
            return f"{what} {index} of `{name}` is all {'zeros' if not np.any(samples[index]) else 'equal'}"
    return None


def _zero_probabilities(inputs: Named) -> list[str]:
    """Inputs in [0, 1] with exact zeros, probabilities first (values strictly between 0 and 1), labels after."""
    found = []
    for name, value in inputs:
        if _is_numeric(value) and np.ndim(value) >= 1:
            v = np.asarray(value, dtype=float)
            if np.all((v >= 0) & (v <= 1)) and np.any(v == 0):
                found.append((not np.any((v > 0) & (v < 1)), name))
    return [name for _, name in sorted(found)]


def _input_values(inputs: Named) -> np.ndarray:
    finite = [np.asarray(v, dtype=float).ravel() for _, v in inputs if _is_numeric(v)]
    values = np.concatenate(finite) if finite else np.zeros(0)
    return values[np.isfinite(values)]


def _is_numeric(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "iuf"


def _inverse(order: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(order))


def _is_library(filename: str) -> bool:
    return filename.startswith(_LIBRARY) or "site-packages" in filename or "/lib/python" in filename


def _num(x: float, signed: bool = False) -> str:
    return f"{x:+.4g}" if signed else f"{x:.4g}"
