"""Leads proven by running the reference on a changed input: "your answer is the right one for `lr` twice as large".

A wrong answer often computes the right thing of a slightly different input: a learning rate applied twice,
a range one short, a matrix indexed [j, i], two arguments in each other's place. None of these needs a
`Mistake` written for it: the reference, run on the case with that one input changed, gives the student's
answer. A variant is said only when it gives the student's answer on EVERY case (and raises where the answer
raised), as a listed mistake is; then it is a fact about the answer, and the lead says what it means.

Pure: it runs the reference, never the student's code, so the grader runs it outside the student's process.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from gradbook.checks.drivers import Case
from gradbook.i18n import _

Position = tuple[str, Any]  # ("arg", index) or ("kw", key)


@dataclass(frozen=True)
class Variant:
    change: Callable[[Case], Case | None]  # the case with one input changed, or None where it does not apply
    say: Callable[[Case, Sequence[str]], str]  # the lead, for the case shown and the names of its arguments


def lead(run: Callable[[Case], Any], compare: Callable[[Any, Any, Case], str | None], cases: list[Case],
         results: list, failing: int, names: Sequence[str], defaults: dict[str, Any] | None = None) -> str | None:
    """The first variant of the cases' inputs whose reference answer is the student's on every case, said for
    the first failing case (`names`: its arguments' names, in order; `defaults`: the reference's default values
    by parameter name), or None."""
    order = [failing] + [i for i in range(len(cases)) if i != failing]
    for variant in _variants(cases, names, defaults or {}):
        if all(_gives(run, compare, variant, cases[i], results[i]) for i in order):
            return variant.say(cases[failing], names)
    return None


def _gives(run: Callable[[Case], Any], compare: Callable, variant: Variant, case: Case, result: dict) -> bool:
    changed = variant.change(case)
    if changed is None:
        return False
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            out = run(changed)
        except Exception:  # noqa: BLE001 - the changed input is outside the reference's domain
            return bool(result["error"])
    return not result["error"] and compare(out, result["out"], case) is None


def _variants(cases: list[Case], names: Sequence[str] = (), defaults: dict[str, Any] | None = None) -> list[Variant]:
    """The changes that apply to every case's inputs: numbers scaled or moved by one, or left at their default,
    matrices transposed, arrays of one shape swapped."""
    positions = [at for at in [("arg", i) for i in range(len(cases[0].args))] + [("kw", k) for k in cases[0].kwargs]
                 if all(_has(c, at) for c in cases)]  # the cases of one exercise may differ in their arguments
    found: list[Variant] = []
    for at in positions:
        values = [_get(c, at) for c in cases]
        default = (defaults or {}).get(_name(at, names), None)
        if (_is_float(default) or _is_int(default)) and all(_is_float(v) or _is_int(v) for v in values) and any(
                v != default for v in values):
            found.append(_left_at_default(at, default))
        if all(_is_float(v) and v != 0 for v in values):
            found += [_scaled(at, 2.0), _scaled(at, 0.5)]
            found += [_by_rows(at, rows, divide) for rows in positions if _batches(cases, rows) for divide in (True, False)]
        elif all(_is_int(v) and v >= 1 for v in values):
            found += [_moved(at, -1), _moved(at, +1)]
        elif all(isinstance(v, np.ndarray) and v.ndim == 2 and v.dtype.kind == "f" for v in values):
            found.append(_transposed(at))
    arrays = [at for at in positions if all(isinstance(_get(c, at), np.ndarray) for c in cases)]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            if all(_get(c, a).shape == _get(c, b).shape and _get(c, a).dtype == _get(c, b).dtype for c in cases):
                found.append(_swapped(a, b))
    return found


def _scaled(at: Position, factor: float) -> Variant:
    def say(case: Case, names: Sequence[str]) -> str:
        given = _get(case, at)
        text = (_("on every case your answer is exactly the right answer for `{name}` twice as large ({value} instead "
                  "of {given} here): is `{name}` applied twice, or multiplied by 2 somewhere?") if factor > 1 else
                _("on every case your answer is exactly the right answer for `{name}` half as large ({value} instead "
                  "of {given} here): is `{name}` halved somewhere, or only half of it used?"))
        return text.format(name=_name(at, names), value=_short(given * factor), given=_short(given))
    return Variant(lambda case: _set(case, at, type(_get(case, at))(_get(case, at) * factor)), say)


def _left_at_default(at: Position, default: float) -> Variant:
    """The number `at` replaced by the reference's default for it: a value written in where the parameter belongs."""
    def say(case: Case, names: Sequence[str]) -> str:
        return _("on every case your answer is exactly the right answer for `{name}` = {default}, its default, "
                 "whatever `{name}` is given ({given} here): is the number {default} written in where `{name}` (or "
                 "self.{name}) belongs?").format(name=_name(at, names), default=_short(default),
                                                 given=_short(_get(case, at)))
    return Variant(lambda case: _set(case, at, type(_get(case, at))(default)), say)


def _batches(cases: list[Case], at: Position) -> bool:
    """Is the input at `at` an array of more than 2 rows in every case (more than 2: halving is said already)?"""
    return all(isinstance(_get(c, at), np.ndarray) and _get(c, at).ndim >= 1 and len(_get(c, at)) > 2 for c in cases)


def _by_rows(at: Position, rows: Position, divide: bool) -> Variant:
    """The number `at` divided (or multiplied) by the number of rows of `rows`: a mean taken twice, a sum for a mean."""
    def change(case: Case) -> Case:
        n = len(_get(case, rows))
        return _set(case, at, type(_get(case, at))(_get(case, at) / n if divide else _get(case, at) * n))

    def say(case: Case, names: Sequence[str]) -> str:
        values = {"name": _name(at, names), "rows": _name(rows, names), "n": len(_get(case, rows))}
        if divide:
            return _("on every case your answer is exactly the right answer for `{name}` divided by {n}, the number "
                     "of rows of `{rows}` (the batch size): is something divided by the batch size once too often?"
                     ).format(**values)
        return _("on every case your answer is exactly the right answer for `{name}` times {n}, the number of rows "
                 "of `{rows}` (the batch size): is a sum used where a mean belongs?").format(**values)
    return Variant(change, say)


def _moved(at: Position, by: int) -> Variant:
    def change(case: Case) -> Case | None:
        value = _get(case, at) + by
        return _set(case, at, value) if value >= 0 else None

    def say(case: Case, names: Sequence[str]) -> str:
        given = _get(case, at)
        text = (_("on every case your answer is exactly the right answer for `{name}` one less ({value} instead of "
                  "{given} here): does a range or a count stop one short?") if by < 0 else
                _("on every case your answer is exactly the right answer for `{name}` one more ({value} instead of "
                  "{given} here): does a range or a count go one too far?"))
        return text.format(name=_name(at, names), value=given + by, given=given)
    return Variant(change, say)


def _transposed(at: Position) -> Variant:
    def say(case: Case, names: Sequence[str]) -> str:
        shape = _get(case, at).shape
        if 1 in shape:  # a column read as a row: what broadcasting a column against a flattened array computes
            return _("on every case your answer is exactly the right answer for `{name}` (shape {shape}) turned into "
                     "a {other}: a column (m, 1) and a row (m,) broadcast into an (m, m) table of every pair. Is one "
                     "array flattened (ravel, [:, 0], reshape(-1)) while the other is a column? Keep their shapes "
                     "the same.").format(name=_name(at, names), shape=shape,
                                         other=_("row") if shape[1] == 1 else _("column"))
        return _("on every case your answer is exactly the right answer for `{name}` transposed: is `{name}` indexed "
                 "[j, i] where [i, j] belongs (or its rows taken for its columns)?").format(name=_name(at, names))
    return Variant(lambda case: _set(case, at, np.ascontiguousarray(_get(case, at).T)), say)


def _swapped(a: Position, b: Position) -> Variant:
    def say(case: Case, names: Sequence[str]) -> str:
        return _("on every case your answer is exactly the right answer with `{a}` and `{b}` swapped: is each used in "
                 "the other's place?").format(a=_name(a, names), b=_name(b, names))
    return Variant(lambda case: _set(_set(case, a, _get(case, b)), b, _get(case, a)), say)


def _has(case: Case, at: Position) -> bool:
    return at[1] < len(case.args) if at[0] == "arg" else at[1] in case.kwargs


def _get(case: Case, at: Position) -> Any:
    return case.args[at[1]] if at[0] == "arg" else case.kwargs[at[1]]


def _set(case: Case, at: Position, value: Any) -> Case:
    changed = copy.deepcopy(case)
    if at[0] == "arg":
        args = list(changed.args)
        args[at[1]] = value
        return Case(tuple(args), changed.kwargs, case.label, case.label_values)
    return Case(changed.args, {**changed.kwargs, at[1]: value}, case.label, case.label_values)


def _name(at: Position, names: Sequence[str]) -> str:
    return str(at[1]) if at[0] == "kw" else (names[at[1]] if at[1] < len(names) else _("input {n}").format(n=at[1] + 1))


def _is_float(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _short(value: float) -> str:
    return f"{float(value):.4g}"
