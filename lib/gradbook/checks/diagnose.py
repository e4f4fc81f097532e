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

import contextvars
import itertools
import re
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from gradbook.checks.meaning import Axis, word
from gradbook.i18n import _

Named = Sequence[tuple[str, Any]]  # the case's inputs as (name, value), in the order of the call

_LIBRARY = str(Path(__file__).resolve().parents[1])  # gradbook's own frames are never the student's line
_MAX_AXES = 5  # axis orders are tried only up to this many axes (5! = 120 orders)


@dataclass
class Proof:
    """While a judge proves its leads: the leads it has refused (not true of every failing case, or
    contradicted by a passing one), and the leads given, as (where in the output, key, size) with
    `size` the number a lead ties the error to (a batch size), or None."""

    barred: frozenset[str] = frozenset()
    given: list[tuple[tuple, str, Any]] = field(default_factory=list)
    holding: list[tuple[tuple, str, Any]] = field(default_factory=list)  # every lead that fits, given or not


_PROOF: contextvars.ContextVar[Proof | None] = contextvars.ContextVar("proof", default=None)
PATH: contextvars.ContextVar[tuple] = contextvars.ContextVar("path", default=())  # which part of the output


@contextmanager
def proving(barred: frozenset[str] = frozenset()) -> Iterator[Proof]:
    """Record the generic leads given inside the block, and give none of `barred`."""
    proof = Proof(barred)
    token = _PROOF.set(proof)
    try:
        yield proof
    finally:
        _PROOF.reset(token)


def contradicted(key: str, expected: Any, inputs: Named = ()) -> bool:
    """Would the cause that lead `key` names have made this (passing) case's answer differ from `expected`?"""
    with np.errstate(all="ignore"):
        try:
            e = np.asarray(expected, dtype=float)
        except (TypeError, ValueError):
            return False
        kind, _sep, detail = key.partition(":")
        if kind == "transposed":
            order = tuple(int(i) for i in detail.split(",")) if detail else ()
            return len(order) == e.ndim and not np.allclose(np.transpose(e, order), e, equal_nan=True)
        if kind == "reshaped":
            order, before = detail.split(":")
            axes = tuple(int(i) for i in order.split(","))
            return len(axes) == e.ndim and not np.allclose(regrouped(e, axes, before == "1"), e, equal_nan=True)
        if kind in ("reversed", "shifted", "edges"):
            axis = int(detail.split(",")[0])
            if axis >= e.ndim or (kind != "edges" and e.shape[axis] < 2):
                return False
            if kind == "reversed":
                return not np.allclose(np.flip(e, axis), e, equal_nan=True)
            rows = np.moveaxis(e, axis, 0)
            if kind == "shifted":
                return not np.allclose(rows[1:], rows[:-1], equal_nan=True)
            which = detail.split(",")[1]  # the rows the cause leaves wrong
            return bool(np.any((rows[-1:] if which == "last" else rows[:1] if which == "first" else rows[1:]) != 0))
        if kind == "cumsum":
            axis = int(detail)
            return axis < e.ndim and not np.allclose(np.cumsum(e, axis=axis), e, equal_nan=True)
        if kind == "repeated":
            axis = int(detail)
            return axis < e.ndim and not np.allclose(e, np.take(e, [-1], axis=axis), equal_nan=True)
        if kind == "totalled":  # shows wherever the expected values are not each the total
            return e.size > 1 and not np.allclose(e, e.sum(), equal_nan=True)
        if kind == "rows":  # a normalisation that is off by a factor on some inputs and right on others
            return False
        if kind == "written":  # a number c where a size belongs: right wherever that size is c
            number, _sep, what = detail.partition(":")
            return bool(np.any(e != 0)) and (int(number), what) not in _sizes(inputs)
        if kind in ("integer", "truncated"):
            return bool(np.any(e != np.round(e)))
        if kind == "wrapped":
            return bool(np.any((e > 255) | (e < 0)))
        if kind == "offset" and detail[1:]:  # an input added or left out: only where that input is not 0
            return any(name == detail[1:] and _is_numeric(v) and np.any(np.asarray(v) != 0) for name, v in inputs)
        return bool(np.any(e != 0))


def explain_values(expected: np.ndarray, got: np.ndarray, *, rtol: float, atol: float, inputs: Named = (),
                   axes: Sequence[Axis] = ()) -> str | None:
    """A lead for why `got` differs from `expected` (same shape), or None when no pattern fits.

    `axes` says what each axis of the output counts (`meaning.Axis`); a lead about a loop is only
    given along an axis a loop runs along, and a lead about an axis only where its meaning is declared."""
    axes = tuple(axes) if len(axes) == expected.ndim else (Axis(),) * expected.ndim
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
            lambda: _integer_result(expected, got, near),
            lambda: _all_zero(e, g, axes),
            lambda: _an_input_unchanged(e, g, inputs, near, axes),
            lambda: _sign(e, g, near),
            lambda: _transposed(e, g, near),
            lambda: _reshaped(e, g, near),
            lambda: _reversed(e, g, near, axes),
            lambda: _shifted(e, g, near, axes),
            lambda: _accumulated(e, g, near, axes),
            lambda: _totalled(e, g, near),
            lambda: _repeated(e, g, near, axes),
            lambda: _factor(e, g, inputs, near),
            lambda: _offset(e, g, inputs, near),
            lambda: _truncated(e, g, near),
            lambda: _edges(e, g, inputs, near, axes),
            lambda: _rows_scaled(e, g, near),
        )
        proof = _PROOF.get()
        if proof is None:  # no judge is proving leads: the first that fits
            return next((text for find in leads for _key, text, _size in _candidates(find()) if text), None)
        path, shown = PATH.get(), None
        for find in leads:  # every lead that fits is recorded: another case's lead is proven by it
            for key, text, size in _candidates(find()):
                proof.holding.append((path, key, size))
                if shown is None and text and key not in proof.barred:
                    shown = text
                    proof.given.append((path, key, size))
        return shown


def _sentences(first: str, second: str) -> str:
    """Two sentences of a lead, joined as the language joins sentences."""
    return _("{first} {second}").format(first=first, second=second) if second else first


def _holding(key: str) -> None:
    """A lead that fits this case although it is not given here (a shape's message says it): it proves another case's."""
    proof = _PROOF.get()
    if proof is not None:
        proof.holding.append((PATH.get(), key, None))


def _candidates(found: Any) -> list[tuple[str, str, Any]]:
    """A finder's answer as a list of (key, text, size): it gives None, one lead, or a list of them."""
    if not found:
        return []
    return [(f[0], f[1], f[2] if len(f) == 3 else None) for f in (found if isinstance(found, list) else [found])]


def _kept_from_before(expected: np.ndarray, got: np.ndarray, near: _Near) -> str | None:
    """A list that grows from call to call: its last values are this call's, the ones before from earlier calls."""
    if expected.ndim != 1 or got.ndim != 1 or not 0 < expected.size < got.size or not near(got[-expected.size:], expected):
        return None
    return _("its last {count} values are the expected ones, and the {extra} before them are left from earlier calls: "
             "the list is kept between calls. Make a new list inside the function at every call (a default argument "
             "such as losses=[] is made once, and shared by every call; so is a list made outside the function)."
             ).format(count=expected.size, extra=got.size - expected.size)


def explain_shape(expected: np.ndarray, got: np.ndarray, *, rtol: float, atol: float, inputs: Named = (),
                  axes: Sequence[Axis] = ()) -> str:
    """What a wrong shape suggests: transposed or permuted axes, a reshape, keepdims, the wrong axis reduced,
    one iteration kept where every one belongs (along an axis a loop runs along, `axes`)."""
    want, have = expected.shape, got.shape
    head = _("expected shape {want}, got {have}").format(want=want, have=have)
    near = _Near(rtol, atol)
    kept = _one_kept(expected, got, near, axes) or _one_dropped(expected, got, near, axes) or _kept_from_before(
        expected, got, near)
    if kept:
        return _("{head}: {lead}").format(head=head, lead=kept)
    with np.errstate(all="ignore"):
        if len(want) == len(have) <= _MAX_AXES and sorted(want) == sorted(have) and got.dtype.kind in "biuf":
            for order in itertools.permutations(range(len(want))):
                if order != tuple(range(len(want))) and near(got, np.transpose(expected, order)):
                    _holding("transposed:" + ",".join(str(i) for i in order))
                    if len(want) == 2:
                        return _("{head}: the result is transposed (got[i, j] is expected[j, i]). Check which index "
                                 "is the row.").format(head=head)
                    return _(
                        "{head}: the right values with the axes in the wrong order (your axes are the expected "
                        "axes {order}). Check the order of the axes, e.g. np.transpose(..., {inverse})."
                    ).format(head=head, order=order, inverse=_inverse(order))
    if tuple(n for n in have if n != 1) == tuple(n for n in want if n != 1):
        if len(have) > len(want):
            return _("{head}: the right number of values with an extra axis of length 1: drop it (keepdims=False, "
                     "or index it away).").format(head=head)
        return _("{head}: the right number of values with an axis of length 1 missing: keep it (keepdims=True, "
                 "or reshape).").format(head=head)
    if len(want) == 1 and have == (want[0], want[0]) and want[0] > 1:
        return _(
            "{head}: a table where a vector belongs; broadcasting a column against a row (shapes (n, 1) and (n,)) "
            "makes an n x n table. Keep both sides the same shape."
        ).format(head=head)
    axis = _reduced_axis(want, have, inputs)
    if axis:
        return _("{head}: {lead}").format(head=head, lead=axis)
    if got.size == expected.size:
        return _("{head}: the same number of values in the wrong shape; check your reshape (or its order of "
                 "axes).").format(head=head)
    return _("{head}.").format(head=head)


def _one_kept(expected: np.ndarray, got: np.ndarray, near: _Near, axes: Sequence[Axis]) -> str | None:
    """`got` is the expected first or last slice along a looped axis: one iteration's value, not every one's."""
    if len(axes) != expected.ndim or got.ndim != expected.ndim - 1 or got.dtype.kind not in "biuf":
        return None
    for axis, meant in enumerate(axes):
        n = expected.shape[axis]
        if not meant.looped or n < 2 or expected.shape[:axis] + expected.shape[axis + 1:] != got.shape:
            continue
        step, steps = word(meant), word(meant, plural=True)
        if near(got, np.take(expected, -1, axis=axis)):
            return _("only the last {step} ({where}) is returned, where every one of the {n} {steps} belongs: keep each "
                     "{step}'s value (e.g. in a list, then np.stack).").format(step=step, steps=steps, n=n,
                                                                          where=meant.name(n - 1))
        if near(got, np.take(expected, 0, axis=axis)):
            return _("only the first {step} ({where}) is returned, where every one of the {n} {steps} belongs: keep each "
                     "{step}'s value (e.g. in a list, then np.stack).").format(step=step, steps=steps, n=n,
                                                                           where=meant.name(0))
    return None


def _one_dropped(expected: np.ndarray, got: np.ndarray, near: _Near, axes: Sequence[Axis]) -> str | None:
    """`got` is the expected without its first or last slice along a looped axis: a loop that stops one short or
    starts one late."""
    if len(axes) != expected.ndim or got.ndim != expected.ndim or got.dtype.kind not in "biuf":
        return None
    for axis, meant in enumerate(axes):
        n = expected.shape[axis]
        if not meant.looped or n < 2 or got.shape != expected.shape[:axis] + (n - 1,) + expected.shape[axis + 1:]:
            continue
        step = word(meant)
        if near(got, np.take(expected, range(n - 1), axis=axis)):
            return _("the last {step} ({where}) is missing: the others are right. Does the loop stop one short (a range "
                     "that ends at n - 1)?").format(step=step, where=meant.name(n - 1))
        if near(got, np.take(expected, range(1, n), axis=axis)):
            return _("the first {step} ({where}) is missing: the others are right. Does the loop start at 1 instead of "
                     "0?").format(step=step, where=meant.name(0))
    return None


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
        found = _(" and ").join(kind for kind, present in (("nan", nan), ("inf", posinf), ("-inf", neginf)) if present)
        head = _("the result has {found} where every expected value is finite").format(found=found)
        overflow = high > limit
        underflow = low < -limit or high - low > limit
        if overflow and underflow:
            return _(
                "{head}: overflow or underflow. The inputs span {low} to {high}: np.exp({high}) "
                "is inf (overflow), and even after subtracting the largest value np.exp({shifted}) is 0.0 "
                "(underflow), whose log is -inf. Subtract the largest value before np.exp, and take the log of the "
                "shifted values directly (log-sum-exp) instead of the log of a probability."
            ).format(head=head, low=_num(low), high=_num(high), shifted=_num(low - high))
        if overflow:
            return _(
                "{head}: overflow. The input goes up to {high}, and np.exp({high}) is inf "
                "(anything above {limit} is), so inf / inf or inf - inf gives nan. Subtract the largest "
                "value first: exp(z - max) is at most 1, and the result is unchanged."
            ).format(head=head, high=_num(high), limit=f"{limit:.0f}")
        if underflow:
            return _(
                "{head}: underflow. The inputs span {low} to {high}, and np.exp of anything below "
                "{limit} rounds to 0.0, so a sum of such terms is 0 (0 / 0 is nan) and its log is -inf. "
                "Subtract the largest value before np.exp, and take logs of the shifted values (log-sum-exp)."
            ).format(head=head, low=_num(low), high=_num(high), limit=f"{-limit:.0f}")
        probabilities = _zero_probabilities(inputs)
        if (posinf or neginf) and (probabilities or neginf):
            where = _(" `{name}` has entries that are exactly 0, and").format(name=probabilities[0]) if probabilities else ""
            return _(
                "{head}: log of 0.{where} np.log(0) is -inf (and -np.log(0) is inf). Keep what you take the log "
                "of away from 0, e.g. np.clip(p, 1e-7, 1 - 1e-7), or work with logits (log-softmax)."
            ).format(head=head, where=where)
        if nan and not posinf:
            constant = _constant_slice(inputs)
            if constant:
                return _(
                    "{head}: 0 / 0. {constant}, so a sum or spread over it is 0, and dividing by it gives nan. "
                    "Guard the division (add a small epsilon, or handle the all-equal case)."
                ).format(head=head, constant=constant)
            if low < 0:
                return _(
                    "{head}: nan comes from 0 / 0, from inf - inf, or from np.log or np.sqrt of a negative "
                    "number, and the inputs go down to {low}. Check what you divide by and what you take "
                    "the log or square root of."
                ).format(head=head, low=_num(low))
            # Nothing in the inputs says which: an optimiser's state, a square of the gradient left out, can
            # make the root of a negative number as easily as a zero denominator. Name every cause, none as fact.
            return _("{head}: nan comes from 0 / 0, from inf - inf, or from np.log or np.sqrt of a negative "
                     "number. Check what you divide by and what you take the log or square root of.").format(head=head)
        return _(
            "{head}: a division by 0 (x / 0 is inf) or an overflow past {largest} "
            "(np.exp({limit}) is already inf), while the inputs are at most {size} "
            "in size. Check what you divide by, and what you pass to np.exp."
        ).format(head=head, largest=f"{np.finfo(dtype).max:.3g}", limit=f"{limit:.0f}",
                 size=_num(max(abs(low), abs(high))))


def describe_exception(exc: BaseException) -> str:
    """The student's exception in one line, with the line of THEIR code that raised it (not numpy's or ours)."""
    frames = traceback.extract_tb(exc.__traceback__)
    theirs = [f for f in frames if not _is_library(f.filename)]
    frame = theirs[-1] if theirs else None  # an error inside the checker's own driver has no line of theirs
    where = _(" (line {line}: `{code}`)").format(line=frame.lineno, code=(frame.line or "").strip()) if frame else ""
    try:
        lines = str(exc).strip().splitlines()
    except Exception:  # noqa: BLE001 - its own __str__ raised or recursed: the grader's runner must not die of it
        lines = [_("(its message could not be read: its __str__ failed)")]
    said = f": {lines[0]}" if lines else ""
    return f"{type(exc).__name__}{said}{where}"


_BROADCAST = re.compile(r"could not be broadcast together with shapes ((?:\([0-9, ]*\) ?)+)")
# numpy's words for a matrix product whose inner sizes differ: `@` (matmul) and np.dot
_MATMUL = re.compile(r"matmul: Input operand \d has a mismatch in its core dimension \d.*\(size (\d+) is different from (\d+)\)"
                     r"|shapes \(([0-9, ]*)\) and \(([0-9, ]*)\) not aligned")
_ASSIGN = re.compile(r"could not broadcast input array from shape \(([0-9, ]*)\) into shape \(([0-9, ]*)\)")
_RESHAPE = re.compile(r"cannot reshape array of size (\d+) into shape \(([0-9, -]*)\)")
_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)")
_CAST = re.compile(r"Cannot cast ufunc '\w+' output from dtype\('float\d*'\) to dtype\('(u?int\d*)'\)")
_SHAPE = re.compile(r"\(([0-9, ]*)\)")
_AXIS = re.compile(r"axis (\d+) is out of bounds for array of dimension (\d+)")


def explain_error(error: str | None) -> str | None:
    """What an exception the student's code raised (as `describe_exception` wrote it) shows about the slip, where its
    message alone says it: shapes that differ by one reduced axis (keepdims left out), an array where Python needs
    one True or False, a boolean index that was expected to broadcast, a write into an input the check made
    read-only, a batch's axis 1 asked of one sample, a matrix product's inner sizes, a reshape's sizes, an index past
    an axis's end, fractions written into whole numbers,
    calls nested past Python's limit. None where the message does not say."""
    text = str(error or "")
    axis = _AXIS.search(text)
    if axis and axis.group(1) == "1" and axis.group(2) == "1":  # a batch's axis 1 asked of one sample
        return _("axis=1 counts from the front, and this input has one axis only (one sample, not a batch): count "
                 "from the end, axis=-1, which is the last axis of one sample and of a batch alike.")
    if "truth value of an array with more than one element is ambiguous" in text:
        return _("an array stands where Python needs one True or False (`if`, `and`, `or`, `not`, `while`). To test "
                 "whether an optional argument was given, write `if mask is not None:` (with its own name); to "
                 "combine arrays element by element, use `&`, `|`, `~` or np.where.")
    if "boolean index did not match" in text:
        return _("an array of True/False used as an index must have exactly the shape of the axes it indexes: it "
                 "does not broadcast. np.where(mask, a, b) broadcasts the mask (one of shape (..., 1, n) covers every "
                 "row).")
    if "read-only" in text:  # numpy's "output array is read-only", "assignment destination is read-only"
        return _("your code writes into an array it was given, which the check made read-only: it is the caller's "
                 "(a training loop may still use it). Compute a new array instead, e.g. `g = lr * g` rather than "
                 "`g *= lr`.")
    if text.startswith("RecursionError"):
        return _("the calls nested deeper than Python allows (about 1,000): a function that calls itself without end "
                 "(in __radd__, `other + self` asks Python for __radd__ again; write `self + other`), or a recursion as "
                 "deep as a long chain of nodes. Give the recursion a case that ends it, or walk with a loop and a "
                 "list as your own stack.")
    lead = _matmul(text) or _reshape(text) or _out_of_bounds(text) or _cast(text) or _assigned_moved(text)
    if lead:
        return lead
    found = _BROADCAST.search(text)
    if not found:
        return None
    shapes = [tuple(int(n) for n in part.replace(" ", "").split(",") if n) for part in _SHAPE.findall(found.group(1))]
    for full, reduced in itertools.permutations(shapes, 2):
        # One shape is the other with an axis (not the first: that one would have broadcast) dropped by a reduction.
        axis = next((k for k in range(1, len(full)) if full[:k] + full[k + 1:] == reduced and full[k] != 1), None)
        if axis is not None:
            return _("the shapes {full} and {reduced} differ only by axis {axis}, as if a sum, mean or max over it had "
                     "removed it: without keepdims=True a reduction drops its axis, and broadcasting then lines the "
                     "result up with the wrong one. If so, keep it: x.sum(axis={axis}, keepdims=True).").format(
                full=full, reduced=reduced, axis=axis - len(full) if axis == len(full) - 1 else axis)
    return None


def _matmul(text: str) -> str | None:
    """A matrix product whose inner sizes differ: the order of its operands, or one that needs its transpose."""
    if not _MATMUL.search(text):
        return None
    return _("the inner sizes of a matrix product differ: in A @ B the last axis of A must be as long as the first "
             "axis of B (for a batch, the second-to-last). Check the order of the two operands and whether one of "
             "them is meant transposed (W.T), against the shape each one has.")


def _reshape(text: str) -> str | None:
    """A reshape whose sizes do not multiply to the array's: sizes written into the code, or taken from another axis."""
    found = _RESHAPE.search(text)
    if not found:
        return None
    return _("the array holds {size} numbers, and a reshape keeps every one: the sizes of the new shape ({shape}) "
             "must multiply to {size}. Take them from the input (len(x), x.shape[...], or -1 for one of them) rather "
             "than writing numbers in, and check each one is taken from the axis it means.").format(
        size=found.group(1), shape=found.group(2))


def _out_of_bounds(text: str) -> str | None:
    """An index past the end of an axis: a loop's range taken from another axis's size, or an array of another shape."""
    found = _BOUNDS.search(text)
    if not found:
        return None
    index, axis, size = found.groups()
    return _("index {index} is past the end of axis {axis}, which has {size} entries: a loop's range or an index "
             "runs over the size of another axis, or the array indexed was made with another shape. Check each "
             "range(...) against the axis it indexes (x.shape[0] rows, x.shape[1] columns) and the shape each array "
             "is made with.").format(index=index, axis=axis, size=size)


def _assigned_moved(text: str) -> str | None:
    """An array assigned into a place with the same sizes in another order: its axes need moving first."""
    found = _ASSIGN.search(text)
    if not found:
        return None
    given, place = (tuple(int(n) for n in part.replace(" ", "").split(",") if n) for part in found.groups())
    if given == place or sorted(given) != sorted(place):
        return None
    return _("the array assigned has the right sizes in another order, {given} where its place is {place}: its axes "
             "need moving to the place's order first (.transpose(...) or np.moveaxis); a reshape would not do it, "
             "as it never moves an axis.").format(given=given, place=place)


def _cast(text: str) -> str | None:
    """Fractions written in place into an array of whole numbers."""
    found = _CAST.search(text)
    if not found:
        return None
    return _("an in-place update (-=, +=, *=) writes fractions into an array of whole numbers ({dtype}), which "
             "cannot hold them: an array made from integers is an integer array. Make it a float array first, "
             "e.g. np.array(w0, dtype=float).").format(dtype=found.group(1))


# --- the leads, most specific first ---------------------------------------------------------------


def allclose(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    """``np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)``: the same verdict. For speed: where every
    expected value is a finite float and `got` holds real numbers of the same shape, np.isclose comes down to its
    formula ``|got - want| <= atol + rtol·|want|`` (a NaN or an infinity in `got` fails it, as there), computed here
    without its set-up, which is most of a call on the small arrays compared: the leads for one wrong value compare
    up to hundreds of candidates."""
    if (got.shape != want.shape or want.dtype.kind != "f" or got.dtype.kind not in "fiu"
            or not np.isfinite(want).all()):
        return bool(np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True))
    with np.errstate(over="ignore", invalid="ignore"):
        return bool((np.abs(got - want) <= atol + rtol * np.abs(want)).all())


class _Near:
    """Equal within the exercise's tolerance (shapes must match)."""

    def __init__(self, rtol: float, atol: float) -> None:
        self.rtol, self.atol = rtol, atol

    def __call__(self, got: np.ndarray, want: np.ndarray) -> bool:
        got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
        return got.shape == want.shape and allclose(got, want, self.rtol, self.atol)

    def may_hold_the_values_of(self, got: np.ndarray, want: np.ndarray) -> bool:
        """False only when no rearrangement of `want` is near `got`: for speed, before trying each one. A value
        rearranged is within ``atol + rtol * max|want|`` of its place, so the k-th smallest values of the two are too
        (twice that here: a margin for rounding)."""
        a, b = np.sort(want, axis=None), np.sort(got, axis=None)
        if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
            return True  # NaN and infinities: each rearrangement is compared as it is
        with np.errstate(over="ignore", invalid="ignore"):
            return bool((np.abs(b - a) <= 2 * (self.atol + self.rtol * np.abs(a).max(initial=0.0))).all())


def _all_zero(e: np.ndarray, g: np.ndarray, axes: Sequence[Axis]) -> tuple[str, str] | None:
    if np.any(g != 0) or not np.any(e != 0):
        return None
    if g.size == 1:
        return None  # "expected 2.5, got 0.0" says it all
    return "all_zero", _("every value is 0, where the expected values are not: nothing reached the result, or all "
                         "that reached it was 0.")


def _an_input_unchanged(e: np.ndarray, g: np.ndarray, inputs: Named, near: _Near, axes: Sequence[Axis]) -> tuple | None:
    for name, value in inputs:
        if _is_numeric(value) and np.shape(value) == g.shape and g.size > 1 and near(g, value) and not near(e, value):
            if any(axis.looped for axis in axes):
                return f"unchanged:{name}", _(
                    "the result is the input `{name}`, unchanged: nothing was updated, or each value was written "
                    "back to its own place (the same index on both sides of `=`). Does the loop body run, does it "
                    "index the result and the input as the exercise asks, and do you return the array you computed?"
                ).format(name=name)
            return f"unchanged:{name}", _("the result is the input `{name}`, unchanged: nothing was updated. Do you "
                                          "return the array you computed?").format(name=name)
    return None


def _sign(e: np.ndarray, g: np.ndarray, near: _Near) -> str | None:
    if np.any(e != 0) and near(g, -e):
        return "sign", _("the values have the right size but the opposite sign. Check the sign of your formula.")
    return None


def _wrapped(expected: np.ndarray, got: np.ndarray, near: _Near) -> str | None:
    e = expected.astype(float)
    if got.dtype == np.uint8 and (np.any(e > 255) or np.any(e < 0)) and near(got, np.mod(e, 256)):
        return "wrapped", _(
            "the values wrapped around at 256 (e.g. 250 + 10 became 4): arithmetic on a uint8 array stays in "
            "0..255. Convert to a float array first, x.astype(np.float32)."
        )
    return None


def _integer_result(expected: np.ndarray, got: np.ndarray, near: _Near) -> str | None:
    """An integer array where fractions are expected: written into a buffer made from integer input (the
    fractions cut off), or rounded or turned into 0/1 labels where the values themselves are asked for."""
    e = expected.astype(float)
    fractions = e != np.round(e)
    if got.dtype.kind not in "iu" or not np.any(fractions):
        return None
    at = np.flatnonzero(fractions)[0]
    values = {"dtype": got.dtype, "expected": _num(expected.flat[at]), "got": _num(got.flat[at])}
    rounded = near(got, np.round(e)) or bool(np.all((got == 0) | (got == 1)))  # not cut off while being filled in
    if near(got, np.trunc(e)) or near(got, np.floor(e)) or not rounded:
        return "integer", _(
            "the result is an array of whole numbers ({dtype}) (expected {expected}, got "
            "{got}), so every fraction is cut off. Make the array you fill a float array "
            "(np.zeros(shape), or x.astype(float)), not a copy of an integer one."
        ).format(**values)
    return "integer", _(
        "the result is an array of whole numbers ({dtype}) where fractions are expected (expected {expected}, got "
        "{got}): the values are rounded, or turned into labels (a threshold, astype(int)). Return the values "
        "themselves, as floats."
    ).format(**values)


def _truncated(e: np.ndarray, g: np.ndarray, near: _Near) -> str | None:
    """Float results that are the expected values cut to whole numbers (checked after offsets, which can look alike)."""
    fractions = e != np.round(e)
    if np.count_nonzero(fractions) < 2:
        return None  # one number that happens to round to the other is no evidence
    if near(g, np.trunc(e)) or near(g, np.floor(e)) or near(g, np.round(e)):
        at = np.flatnonzero(fractions)[0]
        return "truncated", _(
            "the values are cut to whole numbers (expected {expected}, got {got}): is the "
            "result stored in an integer array (np.zeros_like of an integer input, or astype(int)), or is `//` "
            "used where `/` belongs?"
        ).format(expected=_num(e.flat[at]), got=_num(g.flat[at]))
    return None


def _transposed(e: np.ndarray, g: np.ndarray, near: _Near) -> str | None:
    if not 2 <= e.ndim <= _MAX_AXES:
        return None
    for order in itertools.permutations(range(e.ndim)):
        swapped = np.transpose(e, order)
        if order != tuple(range(e.ndim)) and swapped.shape == e.shape and not near(swapped, e) and near(g, swapped):
            key = "transposed:" + ",".join(str(i) for i in order)
            if e.ndim == 2:
                return key, _("the result is transposed: got[i, j] is expected[j, i]. Check which index is the row.")
            return key, _(
                "the right values with the axes in the wrong order (your axes are the expected axes {order}): "
                "check which axis is which."
            ).format(order=order)
    return None


def regrouped(e: np.ndarray, order: tuple[int, ...], before: bool) -> np.ndarray:
    """`e` with its axes put in `order` and reshaped back to its own shape (`before`: reshaped to that order's shape
    first, then the axes put back): what a reshape where a transpose belongs (or before it) makes of the right answer."""
    if before:
        return np.transpose(e.reshape(np.transpose(e, order).shape), _inverse(order))
    return np.transpose(e, order).reshape(e.shape)


def _reshaped(e: np.ndarray, g: np.ndarray, near: _Near) -> tuple[str, str] | None:
    """The right values regrouped by a reshape that should have been (or come after) a transpose: np.array of a list
    of time steps reshaped to (batch, time, ...), a (rows, columns) matrix reshaped to (columns, rows) and transposed."""
    if not 2 <= e.ndim <= _MAX_AXES or len(set(e.shape)) < 2 or not near.may_hold_the_values_of(g, e):
        return None
    for order in itertools.permutations(range(e.ndim)):
        if np.transpose(e, order).shape == e.shape:
            continue  # the axes only swap sizes that are equal: a plain transpose, `_transposed`'s lead
        for before in (False, True):
            wrong = regrouped(e, order, before)
            if not near(wrong, e) and near(g, wrong):
                return f"reshaped:{','.join(map(str, order))}:{int(before)}", _(
                    "the right values in the wrong places, as a reshape leaves them where a transpose belongs: they "
                    "are the expected numbers in the memory order of an array of shape {shape}, regrouped to {want}. "
                    "reshape never moves an axis; move the axes first (np.transpose, .swapaxes, or np.stack along the "
                    "right axis), then reshape.").format(shape=np.transpose(e, order).shape, want=e.shape)
    return None


def _reversed(e: np.ndarray, g: np.ndarray, near: _Near, axes: Sequence[Axis]) -> tuple[str, str] | None:
    for axis in range(e.ndim):
        if not axes[axis].meaning or e.shape[axis] < 2:
            continue
        if not near(np.flip(e, axis), e) and near(g, np.flip(e, axis)):
            what = word(axes[axis], plural=True)
            if axes[axis].looped:
                return f"reversed:{axis}", _("the values are in reverse order along the {axes}: your first is the expected "
                                             "last. Check the loop's direction.").format(axes=what)
            return f"reversed:{axis}", _("the values are in reverse order along the {axes}: your first is the expected "
                                         "last.").format(axes=what)
    return None


def _shifted(e: np.ndarray, g: np.ndarray, near: _Near, axes: Sequence[Axis]) -> tuple[str, str] | None:
    """A sequence recorded one iteration early or late: only along an axis a loop runs along."""
    for axis in range(e.ndim):
        n = e.shape[axis]
        if n < 3 or not axes[axis].looped:
            continue
        first, rest = list(range(n - 1)), list(range(1, n))  # all but the last, all but the first
        if near(np.take(e, first, axis=axis), np.take(e, rest, axis=axis)):
            continue  # a constant sequence is its own shift
        step = word(axes[axis])
        if near(np.take(g, first, axis=axis), np.take(e, rest, axis=axis)):
            return f"shifted:{axis},early", _(
                "the sequence is one {step} early: your {step} i is the expected {step} i + 1. Is each value "
                "recorded after the update instead of before it?"
            ).format(step=step)
        if near(np.take(g, rest, axis=axis), np.take(e, first, axis=axis)):
            return f"shifted:{axis},late", _(
                "the sequence is one {step} late: your {step} i + 1 is the expected {step} i. Is each value "
                "recorded before the step that produces it, or does the loop start one step early?"
            ).format(step=step)
    return None


def _accumulated(e: np.ndarray, g: np.ndarray, near: _Near, axes: Sequence[Axis]) -> tuple[str, str] | None:
    """Each iteration's value is the running total of the expected ones: a sum or count never reset."""
    for axis in range(e.ndim):
        if e.shape[axis] < 2 or not axes[axis].looped:
            continue
        total = np.cumsum(e, axis=axis)
        if not near(total, e) and near(g, total):
            step, steps = word(axes[axis]), word(axes[axis], plural=True)
            return f"cumsum:{axis}", _(
                "each {step} holds the running total of the expected ones: your {step} i is the sum of the expected "
                "{steps} up to i. Is a sum or a count not reset to 0 at the start of each {step}?"
            ).format(step=step, steps=steps)
    return None


def _totalled(e: np.ndarray, g: np.ndarray, near: _Near) -> tuple[str, str] | None:
    """Every value is the sum of all the expected ones: each entry's part computed for every entry at once."""
    total = np.full(e.shape, e.sum())
    if e.size < 2 or near(total, e) or not near(g, total):
        return None
    return "totalled", _("every value is {total}, the sum of all the expected values: each entry got every entry's "
                         "part. Is the whole array moved at once (`x + eps`) where one entry at a time belongs (`x[i]`), "
                         "or a sum taken over every entry?").format(total=_num(float(e.sum())))


def _repeated(e: np.ndarray, g: np.ndarray, near: _Near, axes: Sequence[Axis]) -> tuple[str, str] | None:
    """Every iteration holds the last one's values: one array stored again and again, then changed in place."""
    for axis in range(e.ndim):
        if e.shape[axis] < 2 or not axes[axis].looped:
            continue
        last = np.take(e, [-1], axis=axis)
        if not near(np.broadcast_to(last, e.shape), e) and near(g, np.broadcast_to(last, e.shape)):
            step = word(axes[axis])
            return f"repeated:{axis}", _(
                "every {step} holds the same values, those of the expected last {step}: is one array stored again and "
                "again and then changed in place? Store a copy (`.copy()`) of it at each {step}."
            ).format(step=step)
    return None


def row_factors(expected: Any, got: Any, rtol: float = 1e-6, atol: float = 1e-12) -> np.ndarray | None:
    """Where each row of `got` (along the last axis) is the same row of `expected` times a number of its own, and
    they are not all 1 (within the tolerance), those numbers (shape: `expected`'s with the last axis kept as 1)."""
    with np.errstate(all="ignore"):
        try:
            e, g = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return None
        if e.ndim < 1 or e.shape != g.shape or e.shape[-1] < 2 or not np.isfinite(g).all():
            return None
        energy = np.sum(e * e, axis=-1, keepdims=True)
        if np.any(energy == 0):
            return None
        k = np.sum(g * e, axis=-1, keepdims=True) / energy
        near = _Near(rtol, atol)
        return k if np.all(np.isfinite(k)) and near(g, k * e) and not near(k * e, e) else None


def _rows_scaled(e: np.ndarray, g: np.ndarray, near: _Near) -> tuple[str, str] | None:
    """Each row (along the last axis) the expected one times a number of its own, not the same for every row: the
    values are in the right proportions, and a per-row normalisation (a sum, a norm) is off. (One factor for every
    row is `_factor`'s lead.)"""
    k = row_factors(e, g, near.rtol, near.atol)
    if k is None or np.allclose(k, k.flat[0], rtol=1e-9) or np.any(np.isclose(k, 0)):
        return None  # one factor for all: `_factor`'s; a row of zeros: never written, not scaled
    return "rows", _("each row (along the last axis) is the expected row times a number of its own: the values are "
                     "in the right proportions, and what each row is divided by (its sum, its norm) is off.")


def _factor(e: np.ndarray, g: np.ndarray, inputs: Named, near: _Near) -> list | None:
    if not np.any(e != 0):
        return None
    k = float(np.sum(g * e) / np.sum(e * e))
    if not np.isfinite(k) or k == 0 or not near(g, k * e) or np.isclose(k, 1.0, rtol=1e-9) or near(k * e, e):
        return None  # (k times the expected within tolerance of it: a factor of 1 as far as the tolerance can tell)
    sign = _(" and with the opposite sign") if k < 0 else ""
    size = abs(k)
    subject = _("every value is") if g.size > 1 else _("the result is")
    loose = max(10 * near.rtol, 1e-6)
    same = lambda a, b: abs(a - b) <= loose * abs(b)  # noqa: E731 - np.isclose(a, b, rtol=loose, atol=0) of two numbers
    found: list = []
    for m, what in _sizes(inputs):
        if same(size, m):
            found.append((f"factor:{what}", _(
                "{subject} exactly {m} times the expected{sign}, and {m} is {what}: is a sum taken "
                "where the mean belongs, or a division by {m} missing?"
            ).format(subject=subject, m=m, sign=sign, what=what), m))
        if same(size, 1 / m):
            found.append((f"factor:1/{what}", _(
                "{subject} exactly 1/{m} of the expected{sign}, and {m} is {what}: is the mean taken "
                "twice, or the result divided by {m} once too often?"
            ).format(subject=subject, m=m, sign=sign, what=what), m))
    sizes = _sizes(inputs)
    for (m, what), (n, other) in itertools.permutations(sizes, 2):
        if same(size, m / n) and not same(size, round(size)) and not same(1 / size, round(1 / size)):
            found.append((f"factor:{what}/{other}", _(
                "{subject} exactly {m}/{n} of the expected{sign}: {m} is {what} and {n} is {other}. Is something "
                "divided by {n} where {m} belongs (the wrong axis's size)?"
            ).format(subject=subject, m=m, n=n, sign=sign, what=what, other=other), n))
    for base, name in ((10, "np.log10"), (2, "np.log2")):
        if same(size, 1 / np.log(base)):
            found.append((f"factor:log{base}", _("{subject} exactly the expected divided by ln({base}) = {ln}: {log} "
                                                 "where the natural log np.log belongs?").format(
                                                     subject=subject, base=base, ln=f"{np.log(base):.4g}", log=name)))
    if same(size, 2):
        found.append(("factor:2", _("{subject} exactly twice the expected{sign}: is a factor 2 applied twice, or a term counted "
                 "twice?").format(subject=subject, sign=sign)))
    if same(size, 0.5):
        found.append(("factor:0.5", _(
            "{subject} exactly half the expected{sign}: is a factor 2 missing "
            "(the derivative of x**2 is 2 * x)?"
        ).format(subject=subject, sign=sign)))
    simple = Fraction(size).limit_denominator(10)
    if simple.numerator <= 10 and same(size, float(simple)):  # one number is always some fraction of another
        found.append((f"factor:{simple}", _("{subject} exactly {factor} times the expected{sign}: a constant factor is "
                                            "wrong.").format(subject=subject, factor=simple, sign=sign) if g.size > 1 else None))
    # A size of the input written into the code as a number c: m / c of the expected, c the same in every failing case.
    # After the simpler leads (in one case alone a factor 2 is likelier than 8 / 4, and the wrong axis's size n than
    # a number), and not of one number (some c always fits one ratio).
    for m, what in sizes if g.size > 1 else ():
        c = round(m / size)
        if 2 <= c <= 10000 and same(m / size, c):
            found.append((f"written:{c}:{what}", _(
                "{subject} exactly {m}/{c} of the expected{sign}: {m} is {what}, and your answer is the one for {c} "
                "in its place. Is the number {c} written into the code where that size belongs? Take it from the "
                "input (len(X), X.shape[0]), so it is right for every input."
            ).format(subject=subject, m=m, c=c, sign=sign, what=what), m))
    if g.size == 1:  # one number is always some multiple of another: it fits, and says nothing
        found.append(("factor:any", None))
    else:
        found.append(("factor:any", _(
            "every value is the expected times {factor}: the same factor everywhere, so the formula is right up "
            "to a constant. Look for a wrong scale (a learning rate, a normalising constant, a missing factor)."
        ).format(factor=f"{k:.4g}")))
    return found


def _offset(e: np.ndarray, g: np.ndarray, inputs: Named, near: _Near) -> list:
    d = g - e
    found: list = []
    for name, value in inputs:  # an input added once too often, or left out
        if not _is_numeric(value) or not np.any(np.asarray(value) != 0):
            continue
        for v in _broadcasts(np.asarray(value, dtype=float), d.shape):
            if near(d, v):
                found.append((f"offset:+{name}", _("the result is the expected plus `{name}`: `{name}` is added once too often.").format(name=name)))
            if near(d, -v):
                found.append((f"offset:-{name}", _("the result is the expected minus `{name}`: `{name}` is left out. Add it.").format(name=name)))
    if g.size < 2:
        return found
    c = float(d.flat[0])
    row = _(
        "each row is off by its own constant (the difference is the same along a row, but not between "
        "rows): a per-row term is wrong, e.g. a row's max or log-sum-exp taken over the wrong axis or over "
        "the whole batch."
    )
    if near(d, np.full_like(d, c)):
        found.append(("offset:const", _(
            "every value is off by the same amount, {offset}: the formula is right up to "
            "a constant. Is a term added twice or left out?"
        ).format(offset=_num(c, signed=True))))
        found.append(("offset:row", row))  # one constant is also each row's own (a single row, or all alike)
        return found
    if d.ndim >= 2 and d.shape[-1] > 1 and d.shape[-2] > 1:  # rows and columns: the last two axes
        if near(d, np.broadcast_to(d[..., :1], d.shape)):
            found.append(("offset:row", row))
        if near(d, np.broadcast_to(d[..., :1, :], d.shape)):
            found.append(("offset:column", _(
                "each column is off by its own constant (the difference is the same down a column): a per-column "
                "term is wrong, e.g. a bias, or a mean taken over the wrong axis."
            )))
    return found


def _edges(e: np.ndarray, g: np.ndarray, inputs: Named, near: _Near, axes: Sequence[Axis]) -> tuple[str, str] | None:
    """Only the first or the last index along a declared axis is wrong, or only the first is right.

    Said as a fact along any declared axis; a cause (a loop's bounds) only along an axis a loop runs
    along, and "the loop stops after the first" only when the wrong values are stale (never written)."""
    bad = ~np.isclose(g, e, rtol=near.rtol, atol=near.atol, equal_nan=True)
    stale = _stale(e, g, bad, inputs)
    found: list = []
    for axis in range(e.ndim):
        n = e.shape[axis]
        if not axes[axis].meaning:
            continue
        slices = np.moveaxis(bad, axis, 0).reshape(n, -1)
        # A loop that stops short or starts late leaves a whole row wrong, not one stray value in it.
        wrong = np.mean(slices, axis=1) >= 0.5
        if np.any(slices[~wrong]):
            continue
        what, looped, name = word(axes[axis]), axes[axis].looped, axes[axis].name
        also = _(", {stale}").format(stale=stale) if stale else ""
        if wrong[-1] and not np.any(wrong[:-1]):
            fact = _("only the last {what} ({where}) is wrong{also}.").format(what=what, where=name(n - 1), also=also)
            cause = _("Check the loop's bounds: does a range stop one short (range(n - 1) never reaches n - 1)?")
            found.append((f"edges:{axis},last", _sentences(fact, cause if looped and stale else "") if n > 1 else None))
        if wrong[0] and not np.any(wrong[1:]):  # (a single row is its first and its last: both fit)
            fact = _("only the first {what} ({where}) is wrong{also}.").format(what=what, where=name(0), also=also)
            cause = _("Check where the loop starts: does it start at 1 instead of 0?")
            found.append((f"edges:{axis},first", _sentences(fact, cause if looped and stale else "") if n > 1 else None))
        if n >= 2 and not wrong[0] and np.all(wrong[1:]):
            fact = _("only the first {what} ({where}) is right; from {next} on every {what} is wrong{also}.").format(
                what=what, where=name(0), next=name(1), also=also)
            cause = ""
            if looped and stale:
                cause = _("Does the loop stop after the first {what}, or use index 0 where it should use the loop's "
                          "index?").format(what=what)
            elif looped:
                cause = _("The first {what} is right, so look at what changes from one {what} to the next: what is kept "
                          "and updated between them.").format(what=what)
            found.append((f"edges:{axis},rest", _sentences(fact, cause)))
    if stale:
        found.append(("stale", _("some values are wrong, {stale}.").format(stale=stale)))
    return found


def _stale(e: np.ndarray, g: np.ndarray, bad: np.ndarray, inputs: Named) -> str:
    """What the wrong entries hold when they were never written: 0, or an input's own values."""
    if not np.any(bad):
        return ""
    if np.all(g[bad] == 0) and np.any(e[bad] != 0):
        return _("and there the result is 0, as if never written")
    for name, value in inputs:
        if _is_numeric(value) and np.shape(value) == g.shape:
            v = np.asarray(value, dtype=float)
            if np.allclose(g[bad], v[bad]) and not np.allclose(e[bad], v[bad]):
                return _("and there the result still holds `{name}`'s values, as if never updated").format(name=name)
    return ""


# --- helpers ---------------------------------------------------------------------------------------


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
                found.setdefault(shape[0], _("the number of rows of `{name}` (the batch size)").format(name=name))
                for axis, n in enumerate(shape[1:], start=1):
                    found.setdefault(n, _("the size of axis {axis} of `{name}`").format(axis=axis, name=name) if len(shape) > 2
                                     else _("the number of columns of `{name}`").format(name=name))
            else:
                found.setdefault(shape[0], _("the length of `{name}`").format(name=name))
            found.setdefault(int(np.size(value)), _("the number of values in `{name}`").format(name=name))
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
            return _(
                "`{name}` has shape {shape}; the result should drop its axis {want}, yours dropped axis {had}. "
                "Reduce over axis={want}."
            ).format(name=name, shape=shape, want=wanted[0], had=had[0])
        if want == () and have in drops.values():
            return _("one value per slice of `{name}` where a single number is expected: reduce over every "
                     "axis.").format(name=name)
        if have == () and want in drops.values():
            return _("a single number where one value per slice of `{name}` is expected: reduce over axis={axis} "
                     "only.").format(name=name, axis=wanted[0])
    return None


def _constant_slice(inputs: Named) -> str | None:
    """`x` is all zeros, or one sample (row) of it is all zeros or all equal: what makes 0 / 0."""
    for name, value in inputs:
        if not _is_numeric(value) or np.ndim(value) == 0:
            continue
        v = np.asarray(value, dtype=float)
        if not np.any(v != 0):
            return _("`{name}` is all zeros").format(name=name)
        if v.ndim == 1:
            if np.all(v == v[0]):
                return _("`{name}` has all values equal").format(name=name)
            continue
        samples = v.reshape(len(v), -1)
        flat = np.all(samples == samples[:, :1], axis=1)
        if np.any(flat):
            index = int(np.flatnonzero(flat)[0])
            if not np.any(samples[index]):
                zeros = _("row {index} of `{name}` is all zeros") if v.ndim == 2 else _("sample {index} of `{name}` is all zeros")
                return zeros.format(index=index, name=name)
            equal = _("row {index} of `{name}` is all equal") if v.ndim == 2 else _("sample {index} of `{name}` is all equal")
            return equal.format(index=index, name=name)
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
