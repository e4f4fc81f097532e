"""How an exercise's answer is run on one case: the drivers every chapter shares.

A case's inputs are plain data (numbers, strings, arrays, lists, tuples, dicts), so the grader
can send them to the student's process. A driver turns them into the call the exercise asks
for, calls the student's answer, and returns what it did as plain data. This module holds what
every chapter uses (`Case`, `call`, `unpack`, a chapter's `Rule`); a chapter's own drivers (an
activation *name* becomes the activation, a graph given as arrays becomes linked nodes) are in
its public half, ``chNN/public.py`` (`gradbook.checks.registry` finds them by name).

Nothing here knows an answer: no reference implementation, no known mistake and no case
generator (a chapter's ``chNN/answers.py`` holds those, and it stays outside the sandbox). It
imports numpy, the standard library and `gradbook.i18n` (its messages are in the student's
language) only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from gradbook.i18n import N_, _

# On the wire (the grader compares it) in English; shown translated (`display.not_implemented`).
NOT_IMPLEMENTED = N_("not implemented yet: replace `raise NotImplementedError()` with your code")


UNFINISHED = "unfinished: "  # on the wire: an answer partly filled in, then what is missing (in the student's language)


class Unfinished(Exception):
    """An answer partly filled in (a value of it still None): said as it is, not as an error the student raised."""


@dataclass(frozen=True)
class Case:
    """One input to the exercise: positional and keyword arguments, and how to describe it."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""  # a message (marked `N_`), translated when shown, filled in with `label_values`
    label_values: dict = field(default_factory=dict)

    def describe(self) -> str:
        if self.label:
            return _(self.label).format(**self.label_values) if self.label_values else _(self.label)
        parts = [_short(a) for a in self.args] + [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return _(", ").join(parts)  # a list in the student's language (Chinese: 、)


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, separator=", ").replace("\n", "")
        return _("array of shape {shape}").format(shape=value.shape)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def unpack(result: Any, names: str) -> tuple:
    """The tuple the exercise asks for, or an error that says what shape of answer is expected."""
    count = len(names.split(","))
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = (_("{count} values").format(count=len(result)) if isinstance(result, (tuple, list))
               else _("a {type}").format(type=type(result).__name__))
        raise TypeError(_("return the {count} values ({names}); got {got}").format(count=count, names=names, got=got))
    return tuple(result)


def call(student: Any, case: Case) -> Any:
    """Default way to run an exercise: call the student's function on the case."""
    return student(*case.args, **case.kwargs)


@dataclass(frozen=True)
class Rule:
    """A rule every exercise of a chapter obeys, owned by the chapter: an exercise named ``chNN.*`` is run
    through `driver` (`core.Exercise` sets it), which returns `marker` + what was used when an answer breaks
    the rule; `used` (with ``{what}``) and `lesson` (the rule, shown as a hint) say so. Messages are `N_`.
    A chapter states it as `RULE` in its public half."""

    driver: str
    marker: str
    used: str
    lesson: str


# the drivers every chapter may name; a chapter's own are in its public half (`chNN/public.py`: DRIVERS)
DRIVERS: dict[str, Callable[[Any, Case], Any]] = {"call": call}
ARGUMENTS_AS_GIVEN = frozenset({"call"})  # drivers that pass the case's arguments as they are (the message names them)


def quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a deliberately unstable mistake (a chapter's answers half) without numpy's overflow warnings."""

    @functools.wraps(fn)  # the release names a mistake by its function's name
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return fn(*args, **kwargs)

    return wrapper
