"""Recorded exercises: the student edition's checks, which judge with data instead of code.

A visible check in a student's kernel always asks the same questions (the cases of
`core.VISIBLE_SEED`, never the hidden ones), so what the model answer and each known mistake
give on them is fixed: `gradbook-grader release --student-edition` records it as plain data
(the wire format of `plain`) and writes each chapter's ``chNN/__init__.py`` as ordinary `Exercise`
objects whose reference and mistakes are `Recorded` and whose cases are `RecordedCases`. The
judge is the same code with one lookup in place of a call (`core.Exercise.answer`), so every
message, lead, hint and rule reads as with the instructor's checks, and no answer is in the
edition: a recording cannot be run on an input it was not recorded on.

An answer is looked up by `case_key`, a digest of the case's inputs (a deep copy has the same).
A mistake may give a different outcome where the judge replays it as the student's run went
(numpy errors raised, or runtime warnings turned into errors, see `core._reproduces`); those
outcomes are recorded too, by `mode`.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import pkgutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from gradbook.checks.drivers import Case
from gradbook.checks.plain import Plain, from_wire, to_wire
from gradbook.i18n import _

QUIET, RAISE, WARN = "quiet", "raise", "warn"  # how numpy's errors and runtime warnings are treated (`mode`)


class NotRecorded(LookupError):
    """A recording asked about a case it was not recorded on (a hidden check, another seed)."""


class RecordedError(Exception):
    """What a recorded answer raised on a case, raised again when it is looked up."""


def case_key(case: Case) -> str:
    """A digest of a case's inputs, the same for a deep copy of it."""
    text = json.dumps(to_wire((tuple(case.args), dict(case.kwargs))), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def mode() -> str:
    """How the current context treats numpy's floating-point errors and runtime warnings."""
    if np.geterr()["over"] == "raise" or np.geterr()["invalid"] == "raise":
        return RAISE
    for action, message, category, module, _line in warnings.filters:
        if issubclass(RuntimeWarning, category) and message is None and module is None:
            return WARN if action == "error" else QUIET
    return QUIET


def _only_visible(title: str) -> str:
    return _("{title}: the student edition's checks hold the visible cases only; the hidden ones run when your work "
             "is graded.").format(title=title)


class Recorded:
    """An answer known only by its outcome on each recorded case: plain data, or the error it raised.

    `outcomes` maps a `case_key` to ``{mode: {"out": value} or {"error": text}}`` (`QUIET` always
    there). Calling it, as a demo cell's fallback does, runs `library` (the dotted path of the public
    library's function or class that passed the exercise's visible checks when it was recorded), or,
    where there is none, says that the edition holds no answer to the exercise."""

    def __init__(self, title: str, outcomes: dict[str, dict[str, dict[str, Plain]]], parameters: list[str] = (),
                 library: str | None = None) -> None:
        self.title = title
        self.outcomes = outcomes
        self.library = library
        # The parameter names the model answer has: the judge names a case's inputs by them.
        self.__signature__ = inspect.Signature(
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in parameters])

    def output(self, case: Case) -> Plain:
        """What the recorded answer gave on `case` (a fresh copy), or its error raised again."""
        found = self.outcomes.get(case_key(case))
        if found is None:
            raise NotRecorded(_only_visible(self.title))
        outcome = found.get(mode(), found[QUIET])
        if "error" in outcome:
            raise RecordedError(outcome["error"])
        return copy.deepcopy(outcome["out"])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.library:
            return pkgutil.resolve_name(self.library)(*args, **kwargs)
        raise NotImplementedError(_(
            "the student edition holds no answer to exercise `{title}`: finish it, then run this cell again."
        ).format(title=self.title))

    def __repr__(self) -> str:
        return f"<recorded answer of {self.title}>"


class RecordedCases:
    """An exercise's visible cases, as recorded: ``(rng, hidden) -> [Case]`` like a case generator."""

    def __init__(self, title: str, cases: list[Case], seed: int) -> None:
        self.title = title
        self.cases = cases
        self.seed = seed

    def __call__(self, rng: np.random.Generator, hidden: bool) -> list[Case]:
        if hidden or rng.bit_generator.state != np.random.default_rng(self.seed).bit_generator.state:
            raise NotRecorded(_only_visible(self.title))
        return copy.deepcopy(self.cases)


# ---------------------------------------------------------------- the data file (plain data, never code)


def read(module_file: str) -> dict[str, dict[str, Any]]:
    """The recordings of a chapter's module, from the JSON file beside it (``ch05/__init__.py``: ``ch05/recorded.json``)."""
    path = Path(module_file).with_name("recorded.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: from_wire(exercise) for name, exercise in data.items()}


def reference(data: dict[str, dict[str, Any]], name: str) -> Recorded:
    exercise = data[name]
    return Recorded(exercise["title"], exercise["reference"], exercise["parameters"], exercise.get("library"))


def mistake(data: dict[str, dict[str, Any]], name: str, index: int) -> Recorded:
    exercise = data[name]
    return Recorded(f"{exercise['title']} (mistake {index})", exercise["mistakes"][index], exercise["parameters"])


def cases(data: dict[str, dict[str, Any]], name: str) -> RecordedCases:
    exercise = data[name]
    made = [Case(tuple(c["args"]), dict(c["kwargs"]), c["label"], dict(c["label_values"])) for c in exercise["cases"]]
    return RecordedCases(exercise["title"], made, exercise["seed"])
