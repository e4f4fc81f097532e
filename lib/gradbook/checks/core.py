"""Exercise checks that teach, split so a verdict never has to trust the student's process.

An `Exercise` runs in two halves:

* `collect` (in the student's kernel): build the cases from a seed, call the
  student's code on each, and keep only plain data: what came back, the error
  it raised, a digest of each input array after the call.
* `judge` (anywhere; pure): rebuild the same cases from the same seed, run the
  reference, compare, and explain a failure: a generic lead (`diagnose`: wrong
  shape, transposed, a constant factor, nan from overflow, ...), a mutated
  input, the failing case in full when it is small, and one of the exercise's
  known plausible mistakes when that mistake reproduces the answer on EVERY case.

Calling an exercise, ``check.relu(relu)``, does both: it prints a ✔ line, or
shows the lesson and raises `display.CheckFailed` (an `AssertionError`). The grader
never runs a check in the student's process: it asks the questions itself and judges
the answers outside (`gradbook.checks.ask`, and the grader's docs/architecture.md).
"""

from __future__ import annotations

import contextvars
import copy
import inspect
import re
import unicodedata
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np

from gradbook import progress
from gradbook.checks import diagnose, display, meaning, variants
from gradbook.i18n import LANGUAGES, _, ngettext, using
import gradbook.checks.registry as registry
from gradbook.checks.ask import answer as _answer
from gradbook.checks.drivers import NOT_IMPLEMENTED, UNFINISHED, Case, Rule, _short, call, unpack  # noqa: F401 - re-exported
from gradbook.checks.plain import Plain, Unsupported, WireError, digest, from_wire, to_plain, to_wire
from gradbook.checks.recorded import Recorded, RecordedError

# `scale_tol` for answers a student may fairly compute in float32, the library's precision (chapter 8's frameworks
# default to it): measured over 61 seeds, float32's rounding in chapters 9 and 10 stays under 3e-6 of each output's
# largest value (the transformer block's dx: 2.95e-6); their listed mistakes depart from it by 3.7e-3 at the least.
FLOAT32_ROUNDING = 2e-5
VISIBLE_SEED = 0
PREVIEW_SEED = 1  # hidden checks run in the instructor's own notebook; a graded run uses a secret seed


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer: an implementation of it, and the hint that names it."""

    wrong: Callable[..., Any]
    hint: str


@dataclass(frozen=True)
class Verdict:
    passed: bool
    cases: int
    message: str
    mistake: int | None = None  # index in `exercise.mistakes` of the known mistake the answer reproduces


def _default_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case()]


@dataclass
class Exercise:
    """A checked exercise.

    name       stable id, ``"chNN.what"``; the grader keys records by it.
    title      what the student reads, e.g. ``"naive_relu"``.
    reference  the right answer, in the same form as the student's (function or class).
    cases      ``(rng, hidden) -> [Case]``; hidden cases are more and larger.
    run        the name of the driver (`registry.driver`: a shared one, or one of the chapter's public half) that runs an answer on a case
               (``(student_or_reference, case) -> value``); default ``"call"`` calls it with the case.
    compare    ``(expected, got, case) -> problem or None``; default: `compare_values`.
    mistakes   plausible wrong answers; each must be rejected with its hint (tests prove it).
    rtol, atol each value is right within ``atol + rtol * |expected|`` (`np.isclose`).
    scale_tol  and, added to that, within ``scale_tol`` times the largest |expected| of its own array (each
               float array of the output: float32's rounding in a long sum scales with the sum's largest
               terms, not with each value; see `compare_values`). 0: no such allowance.
    value      the exercise asks for a value (``check.x_shape(x.shape)``), not a function.
    outputs    what the outputs are in the exercise's words (`meaning`): an `Output` (a name, what each
               axis counts), a tuple or dict of them, or a function of the case returning one; messages
               say where a value is wrong with it ("`dW1`, row 2"), and leads about a loop or a row are
               only given along an axis declared to be one. Nothing declared: indices, and no such lead.
    arguments  the names of the case's arguments, where the driver does not pass them as given (so the
               reference's parameter names are not theirs); default "input 1", "input 2", ...
    library_answers
               dotted paths of the library's functions, methods and classes that compute this
               exercise's answer (``"gradbook.reference.activations.softmax"``): while the chapter
               is graded, the sandbox's library has stubs in their place (the grader's answers.py).
    """

    name: str
    reference: Any
    cases: Callable[[np.random.Generator, bool], list[Case]] = _default_cases
    title: str = ""
    run: str = "call"
    compare: Callable[[Plain, Plain, Case], str | None] | None = None
    mistakes: Sequence[Mistake] = ()
    rtol: float = 1e-5
    atol: float = 1e-7
    scale_tol: float = 0.0
    value: bool = False
    library_answers: Sequence[str] = ()
    outputs: meaning.Declared = None
    arguments: Sequence[str] = ()

    def __post_init__(self) -> None:
        self.title = self.title or self.name.split(".")[-1]
        rule = registry.rule(self.name)  # the chapter owns its rule: no exercise of it can leave it out
        if rule is not None and self.run == "call":
            self.run = rule.driver
        elif rule is not None and self.run != rule.driver:
            raise ValueError(f"{self.name}: its chapter's rule is enforced by the driver {rule.driver!r}, not "
                             f"{self.run!r}; leave `run` out (its chapter's public half, RULE)")
        try:
            registry.driver(self.run)
        except registry.UnknownChapter as unknown:
            raise ValueError(f"{self.name}: {unknown}") from None
        REGISTRY[self.name] = self

    def answer(self, student: Any, case: Case) -> Any:
        """Run an answer (the student's, the reference, a mistake) on one case through the driver."""
        if isinstance(student, Recorded):  # the student edition's reference and mistakes: what they gave on it
            return student.output(case)
        return registry.driver(self.run)(student, case)

    def make_cases(self, seed: int, hidden: bool) -> list[Case]:
        return self.cases(np.random.default_rng(seed), hidden)

    def __call__(self, student: Any, *, hidden: bool = False, quiet: bool = False) -> None:
        """Check the student's answer: print a ✔ line, or show the lesson and raise `display.CheckFailed`.

        Returns nothing, so a notebook cell that ends with the check echoes no value."""
        if self.value:
            answer = student
            student = lambda *args, **kwargs: answer  # noqa: E731 - the answer is a constant
        seed = PREVIEW_SEED if hidden else VISIBLE_SEED
        try:
            observation = collect(self, student, seed, hidden)
            verdict = judge(self, observation)
        except Exception:
            if not hidden:
                progress.record(self.name, progress.FAILED)
            raise
        if not hidden:  # the student's own record, for their progress page (never graded from)
            stub = any(isinstance(r, dict) and r.get("error") == NOT_IMPLEMENTED for r in observation["results"])
            progress.record(self.name, progress.PASSED if verdict.passed else
                            progress.NOT_STARTED if stub else progress.FAILED)
        display.report(self.title, verdict, quiet=quiet)


REGISTRY: dict[str, Exercise] = {}


def collect(exercise: Exercise, student: Any, seed: int, hidden: bool) -> dict[str, Plain]:
    """Run the student's code on every case; keep only plain data (runs in the student's process).

    The cases and the outputs cross the wire (`plain`) as they do between the grader and its sandbox, so the values
    this judges are the grader's: a ✔ here is the grade there (a 0-d array once crossed as shape (1,), a numpy
    scalar as a Python number)."""
    cases = exercise.make_cases(seed, hidden)
    sent = from_wire(to_wire([(case.args, case.kwargs) for case in cases]))
    results = _answer(exercise.answer, student, [replace(case, args=tuple(args), kwargs=dict(kwargs))
                                                 for case, (args, kwargs) in zip(cases, sent)])
    for result in results:
        try:
            result["out"] = from_wire(to_wire(result["out"]))
        except WireError:  # more than the grader takes (its sandbox says "too large to check"): judged as it is
            pass
    return {"exercise": exercise.name, "seed": seed, "hidden": hidden, "results": results}


def judge(exercise: Exercise, observation: dict[str, Plain], language: str | None = None) -> Verdict:
    """Decide, from plain data alone, whether the observation is right; explain what is wrong.

    The explanation is in `language` (``"en"``, ``"zh_CN"``; None: the current language, see
    `gradbook.i18n`); the grader passes the submission's."""
    with using(language):
        return _judge(exercise, observation)


def _judge(exercise: Exercise, observation: dict[str, Plain]) -> Verdict:
    cases = exercise.make_cases(int(observation["seed"]), bool(observation["hidden"]))
    results = observation["results"]
    count = len(cases)
    if not isinstance(results, list) or not results:
        return Verdict(False, count, _("{title}: nothing was checked").format(title=exercise.title))
    compare = _compare(exercise)
    outcomes: list[_Outcome | None] = []  # None: the case raised
    for i, case in enumerate(cases):
        failed = any(o is None or o.wrong for o in outcomes)
        if i >= len(results):
            if failed:
                break
            ran = ngettext("{title}: only {ran} of {count} case ran", "{title}: only {ran} of {count} cases ran", count)
            return Verdict(False, count, ran.format(title=exercise.title, ran=i, count=count))
        got = results[i]
        if got["error"]:
            if failed:  # a later case's error: the first failing case is the lesson
                outcomes.append(None)
                continue
            if got["error"] == NOT_IMPLEMENTED:  # the wire's word for it; the student reads it translated
                return Verdict(False, count, f"{exercise.title}: {_(NOT_IMPLEMENTED)}")
            if str(got["error"]).startswith(UNFINISHED):  # partly filled in: what is missing, as the driver said it
                return Verdict(False, count, f"{exercise.title}: {str(got['error'])[len(UNFINISHED):]}")
            # The error is the student's text, on the message's first line only (its lines joined): what follows
            # is the judge's, which `known_mistake` reads back.
            error = " ".join(str(got["error"]).splitlines())
            raised = _("{title} raised {error}{where}").format(title=exercise.title, error=error,
                                                                where=_where(cases, case))
            # numpy's error names an operation, not the slip: a listed mistake that stops there too (with the same
            # error, or for a floating-point warning made an error with nan or inf there), and gives the student's
            # values elsewhere, says which slip it is; else what the error itself shows (`diagnose.explain_error`)
            mistake = _known_mistake(exercise, cases, results, i)
            lead = _(exercise.mistakes[mistake].hint) if mistake is not None else diagnose.explain_error(got["error"])
            return Verdict(False, count, raised + ("\n" + display.hint(lead) if lead else ""), mistake)
        expected = to_plain(exercise.answer(exercise.reference, copy.deepcopy(case)))
        problem = compare(expected, got["out"], case)
        mutated = got["inputs"] != digest((case.args, case.kwargs))
        outcomes.append(_Outcome(expected, problem, mutated))
    failing = [i for i, o in enumerate(outcomes) if o is None or o.wrong]
    if not failing:
        return Verdict(True, count, ngettext("{count} case passed", "{count} cases passed", count).format(count=count))
    index = failing[0]
    first = outcomes[index]
    assert first is not None
    problem = _proven(exercise, cases, results, outcomes, failing) if first.problem else None
    return Verdict(False, count, *_lesson(exercise, cases, results, index, first.expected, problem, first.mutated))


@dataclass
class _Outcome:
    expected: Plain
    problem: str | None
    mutated: bool

    @property
    def wrong(self) -> bool:
        return bool(self.problem) or self.mutated


def _proven(exercise: Exercise, cases: list[Case], results: list, outcomes: list, failing: list[int]) -> str | None:
    """The first failing case's problem, with only the generic leads that are proven: each fits every
    failing case that returned values, ties the error to a size that varies between them
    when it names one, and is not contradicted by a passing case (where its cause would have shown)."""
    compare = _compare(exercise)
    barred: frozenset[str] = frozenset()
    passing = [i for i, o in enumerate(outcomes) if o is not None and not o.wrong]
    while True:
        given: list[list] = []
        for i in failing:
            if outcomes[i] is None:
                continue  # a case that raised has no values to prove a lead with, nor to refute one
            with diagnose.proving(barred) as proof:
                problem = compare(outcomes[i].expected, results[i]["out"], cases[i])
            given.append(proof.holding)
            if i == failing[0]:
                shown, leads = problem, proof.given
        refused = {key for path, key, _size in leads if not _holds(path, key, given, exercise, cases, outcomes, passing)}
        if not refused:
            return shown
        barred |= refused


def _holds(path: tuple, key: str, given: list[list], exercise: Exercise, cases: list[Case], outcomes: list,
           passing: list[int]) -> bool:
    found = [[size for p, k, size in leads if p == path and k == key] for leads in given]
    if not all(found):
        return False
    sizes = {size for sizes in found for size in sizes}
    if len(found) > 1 and None not in sizes and len(sizes) < 2:
        return False  # the same size in every failing case: a coincidence of the cases, not evidence
    for i in passing:
        part = _part(outcomes[i].expected, path)
        token = _CASE_INPUTS.set(_inputs(exercise, cases[i]))
        try:
            if part is not _MISSING and diagnose.contradicted(key, part, _CASE_INPUTS.get()):
                return False
        finally:
            _CASE_INPUTS.reset(token)
    return True


_MISSING = object()


def _part(value: Plain, path: tuple) -> Any:
    for key in path:
        try:
            value = value[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def _lesson(
    exercise: Exercise, cases: list[Case], results: list, index: int, expected: Plain, problem: str | None, mutated: bool
) -> tuple[str, int | None]:
    """The message for the first failing case (what is wrong, the case itself when small, and a hint), and
    the index of the known mistake it names."""
    case, got = cases[index], results[index]["out"]
    block = _case_block(exercise, case, expected, got)
    if problem and block:  # the case is shown whole: no need to point at one value of it
        problem = "\n".join(line for line in problem.splitlines() if not line.startswith(_example_prefix()))
    mutation = _(
        "your code changed its input array in place. Work on a copy "
        "(`x = x.copy()`) or build a new array instead of assigning into the input."
    )
    if not problem:
        lines = [_("the values are right, but {mutation}").format(mutation=mutation)]
    else:
        lines = [problem] + ([display.hint(mutation)] if mutated else [])
    if block:
        lines.insert(1, block)
    mistake = None
    if not mutated and display.hint_label() not in "\n".join(lines):  # a chapter's compare may give its own hint
        mistake = _known_mistake(exercise, cases, results, index)
        lines.append(display.hint(_(exercise.mistakes[mistake].hint)) if mistake is not None else _variant(exercise, cases, results, index))
    elif not mutated:  # the compare's own hint: the listed mistake it is, if it is one
        mistake = _named(exercise, "\n".join(lines))
    where = _where(cases, case) if not block or case.label else ""
    return _not_right(exercise.title, where) + "\n" + "\n".join(line for line in lines if line), mistake


def _variant(exercise: Exercise, cases: list[Case], results: list, index: int) -> str:
    """A hint from the reference run on one input changed (`variants`), when it gives the answer on every case."""
    run = lambda case: to_plain(exercise.answer(exercise.reference, copy.deepcopy(case)))  # noqa: E731
    names = [name for name, _value in _inputs(exercise, cases[index])][:len(cases[index].args)]
    found = variants.lead(run, _compare(exercise), cases, results, index, names, _defaults(exercise.reference))
    return display.hint(found) if found else ""


def _defaults(reference: Any) -> dict[str, Any]:
    """The reference's parameters that have a default, by name (a class's: its constructor's)."""
    try:
        parameters = inspect.signature(reference).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _not_right(title: str, where: str = "") -> str:
    """How a lesson begins: the exercise's title first (the grader's reports read it from there)."""
    return _("{title} is not right yet{where}:").format(title=title, where=where)


def known_mistake(exercise: Exercise, message: str) -> int | None:
    """The index of the known mistake that a verdict's `message` names, or None; in any language.

    For a judge whose message is all that reaches it (the grader keeps a cell's message, not the
    Verdict). Only the judge's text names a mistake: a lesson, or what follows the first line of a
    "raised" message, whose first line alone holds the student's own text (the exception's, its
    lines joined by `_judge`), so that text cannot pass for a hint. Mistakes that share a hint are
    one: the first is named."""
    for language in LANGUAGES:
        with using(language):
            if message.startswith(_not_right(exercise.title).rstrip(":\uff1a")):
                found = _named(exercise, message)
            elif message.startswith(_("{title} raised {error}{where}").split("{error}")[0].format(
                    title=exercise.title)) and "\n" in message:
                found = _named(exercise, message.split("\n", 1)[1])
            else:
                continue
            if found is not None:
                return found
    return None


def breaks_rule(exercise: Exercise, mistake: int | None) -> bool:
    """Is the known mistake (an index in `exercise.mistakes`) a break of the chapter's rule rather than a wrong
    result? (Its hint is the rule's lesson.)"""
    rule = registry.rule(exercise.name)
    return rule is not None and mistake is not None and exercise.mistakes[mistake].hint == rule.lesson


def _named(exercise: Exercise, text: str) -> int | None:
    """The listed mistake whose hint `text` shows (the longest, when one hint begins another; the first of equal ones)."""
    shown = [(len(m.hint), -i) for i, m in enumerate(exercise.mistakes) if display.hint(_(m.hint)) in text]
    return -max(shown)[1] if shown else None


def _where(cases: list[Case], case: Case) -> str:
    return _(" for input {case}").format(case=case.describe()) if len(cases) > 1 or case.args else ""


_SMALL = 12  # a case with at most this many numbers in each input, expected and got is shown whole


def _inputs(exercise: Exercise, case: Case) -> list[tuple[str, Any]]:
    """The case's inputs by name: the reference's parameter names where the driver passes them as given."""
    names: list[str] = []
    # Drivers that call the answer with the case's own arguments: the reference's parameter names name them
    # (others build objects from the case: their inputs are only numbered).
    if registry.arguments_as_given(exercise.run):
        try:
            names = [n for n in inspect.signature(exercise.reference).parameters if n != "self"]
        except (TypeError, ValueError):
            names = []
    names = names or list(exercise.arguments)
    named = [(names[i] if i < len(names) else _("input {n}").format(n=i + 1), arg) for i, arg in enumerate(case.args)]
    return named + list(case.kwargs.items())


def _case_block(exercise: Exercise, case: Case, expected: Plain, got: Plain) -> str:
    """The failing case in full, when it is small: each input, the expected value and the returned one."""
    shown = _inputs(exercise, case) if registry.arguments_as_given(exercise.run) else []
    shown += [(_("expected"), expected), (_("got"), got)]
    if any(_count(value) > _SMALL for _name, value in shown) or not _numeric(expected) or not _numeric(got):
        return ""
    width = max(_columns(name) for name, _value in shown)
    rows = []
    for name, value in shown:
        text = display.show_value(value).splitlines()
        lead = f"  {name}{' ' * (width - _columns(name))} = "
        rows += [lead + text[0]] + [" " * _columns(lead) + line for line in text[1:]]
    return "\n".join(rows)


def _columns(text: str) -> int:
    """How many columns `text` takes in a monospaced font: a CJK character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _count(value: Plain) -> int:
    """How many numbers a value holds; anything that cannot be shown as numbers counts as too many."""
    if isinstance(value, np.ndarray):
        return value.size if value.dtype.kind in "biuf" else _SMALL + 1
    if isinstance(value, (tuple, list)):
        return sum(_count(v) for v in value)
    return 1 if isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 40) else _SMALL + 1


def _numeric(value: Plain) -> bool:
    if isinstance(value, (tuple, list)):
        return bool(value) and all(_numeric(v) for v in value)
    return isinstance(value, (int, float, np.ndarray)) and not isinstance(value, bool)


# The inputs, by name, of the case being compared. A chapter's own compare function calls
# `compare_values` without knowing the reference's parameter names; through this, its leads
# can still say "the result is the input `x`" or "8 is the number of rows of `X`".
_CASE_INPUTS: contextvars.ContextVar[diagnose.Named] = contextvars.ContextVar("case_inputs", default=())
# What the output being compared is (its declared names and axes; `meaning`), narrowed to the part
# of a tuple or dict being compared.
_OUTPUT: contextvars.ContextVar[meaning.Outputs] = contextvars.ContextVar("output", default=None)


def _compare(exercise: Exercise) -> Callable[[Plain, Plain, Case], str | None]:
    compare = exercise.compare or _compare_default(exercise)
    rule = registry.rule(exercise.name)

    def with_inputs(expected: Plain, got: Plain, case: Case) -> str | None:
        if rule is not None and isinstance(got, str) and got.startswith(rule.marker):  # the answer broke the rule
            return _(rule.used).format(what=got[len(rule.marker):]) + "\n" + display.hint(_(rule.lesson))
        token = _CASE_INPUTS.set(_inputs(exercise, case))
        output = _OUTPUT.set(meaning.resolve(exercise.outputs, case))
        try:
            problem = compare(expected, got, case)
            if problem is not None and exercise.compare is not None:  # a chapter's compare, written part by part
                problem = _swapped(exercise, expected, got) or problem
        except _UNCOMPARABLE:
            problem = _unlike(expected, got)
            if problem is None:
                raise  # a value like the expected one that the compare cannot take: the grader's bug, said as one
        finally:
            _OUTPUT.reset(output)
            _CASE_INPUTS.reset(token)
        return problem if problem is not None else _outline(expected, got)

    return with_inputs


# The answers the grader judges come from a process the student controls: a driver replaced there sends any plain
# value. A chapter's compare is written for values shaped like the reference's (it unpacks, zips, indexes), so
# whatever it says, a value whose containers are not the expected's is wrong (`_outline`: `zip` would compare a
# shorter tuple's items only and pass it), and one it cannot compare at all is wrong when it is not like the expected
# one (`_unlike`), not an error of the grader.
_UNCOMPARABLE = (TypeError, ValueError, OverflowError, IndexError, KeyError, AttributeError)


def _outline(expected: Plain, got: Plain) -> str | None:
    """Why `got`'s containers are not `expected`'s (a tuple or list of another length, a dict of other keys, at any
    depth), or None."""
    if isinstance(expected, (tuple, list)):
        # An array of as many rows is a sequence too (a list of losses returned as np.array(losses) is right).
        sequence = isinstance(got, (tuple, list)) or (isinstance(got, np.ndarray) and got.ndim > 0)
        if not sequence or len(got) != len(expected):
            return _expected_got(_kind(expected), _kind(got))
        return next((problem for problem in map(_outline, expected, got) if problem), None)
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return compare_values(expected, got)
        return next((problem for key in expected if (problem := _outline(expected[key], got[key]))), None)
    return None


def _unlike(expected: Plain, got: Plain) -> str | None:
    """Why `got` is not a value like `expected` (containers, then each number or array: its shape, numbers or text,
    a whole number no float holds), or None."""
    outline = _outline(expected, got)
    if outline is not None:
        return outline
    if isinstance(expected, (tuple, list, dict)):
        parts = zip(expected, got) if isinstance(expected, (tuple, list)) else ((expected[k], got[k]) for k in expected)
        return next((problem for e, g in parts if (problem := _unlike(e, g))), None)
    if isinstance(got, int) and not isinstance(got, bool) and not -2**63 <= got < 2**63:
        return _expected_got(_kind(expected), _("a whole number of {digits} digits").format(digits=len(str(abs(got)))))
    e, g = np.asarray(expected), np.asarray(got) if isinstance(got, (np.ndarray, int, float, bool)) else None
    if g is None or g.shape != e.shape or (g.dtype.kind in "SUb") != (e.dtype.kind in "SUb"):
        return _expected_got(_kind(expected), _kind(got))
    return None


def _swapped(exercise: Exercise, expected: Plain, got: Plain) -> str | None:
    """Two outputs of a tuple each in the other's place, said as the default compare says it (a chapter's own compare
    judges the parts one by one, and would call both wrong). Only of a function's few outputs: every pair of a long
    list (a graph's thousands of nodes) is not looked at."""
    if not isinstance(expected, tuple) or not isinstance(got, (tuple, list)) or not 1 < len(got) == len(expected) <= 8:
        return None
    return _reordered(expected, got, exercise.rtol, exercise.atol, exercise.scale_tol)


def _compare_default(exercise: Exercise) -> Callable[[Plain, Plain, Case], str | None]:
    return lambda expected, got, case: compare_values(expected, got, rtol=exercise.rtol, atol=exercise.atol,
                                                      scale_tol=exercise.scale_tol)


def _known_mistake(exercise: Exercise, cases: list[Case], results: list, failing: int) -> int | None:
    """The index of the first listed mistake that gives the student's answer on EVERY case.

    Matching the failing case alone is not enough: ``mean(e) ** 2`` equals the mean absolute
    error on some inputs, and that hint would then name a mistake the student did not make."""
    compare = _compare(exercise)
    order = [failing] + [i for i in range(len(results)) if i != failing]  # the likeliest mismatch first
    for index, mistake in enumerate(exercise.mistakes):
        if all(_reproduces(exercise, mistake, cases[i], results[i], compare) for i in order):
            return index
    return None


def _floating(error: Any) -> bool:
    """The error is numpy's floating-point warning or error (an overflow, 0/0, inf - inf), made an exception."""
    return str(error or "").startswith(("RuntimeWarning", "FloatingPointError"))


def _reproduces(exercise: Exercise, mistake: Mistake, case: Case, result: dict, compare: Callable) -> bool:
    """The mistake, run on the case, gives what the student's answer gave (or raises where it raised; where it
    raised a floating-point warning, a mistake listed quiet gives nan or inf there instead)."""
    raised = str(result["error"] or "")
    # Quietly (a deliberately unstable mistake warns, and the student would see it), unless the
    # student's run turned a floating-point warning into this error: then the mistake's run does too.
    with warnings.catch_warnings(), np.errstate(all="raise" if raised.startswith("FloatingPointError") else "warn"):
        warnings.simplefilter("error" if raised.startswith("RuntimeWarning") else "ignore")
        try:
            wrong = to_plain(exercise.answer(mistake.wrong, copy.deepcopy(case)))
        except Exception as error:  # noqa: BLE001 - the mistake's own error, compared with the student's
            return bool(raised) and (_floating(raised) or _same_error(raised, error))
    if _floating(raised):
        return not _finite(wrong)
    return not result["error"] and compare(wrong, result["out"], case) is None


def _same_error(raised: str, error: Exception) -> bool:
    """The mistake raised what the student's answer raised: the same exception with the same message (the line of
    code that `describe_exception` adds, in any language, is not compared; a recorded mistake's error is its text)."""
    said = str(error) if isinstance(error, RecordedError) else diagnose.describe_exception(error)
    return _without_line(raised) == _without_line(said)


def _without_line(error: str) -> str:
    """An error as `describe_exception` wrote it, less the line of code it names (whichever language wrote it)."""
    for language in LANGUAGES:
        with using(language):
            template = re.escape(_(" (line {line}: `{code}`)"))
        pattern = template.replace(re.escape("{line}"), r"\d+").replace(re.escape("{code}"), ".*") + "$"
        error = re.sub(pattern, "", error)
    return error


def _finite(value: Plain) -> bool:
    """Every number in a plain value is finite (text and other kinds count as finite)."""
    if isinstance(value, (tuple, list)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return True
    return array.dtype.kind not in "fc" or bool(np.isfinite(array).all())


def compare_values(
    expected: Plain, got: Plain, *, rtol: float = 1e-5, atol: float = 1e-7, scale_tol: float = 0.0,
    inputs: diagnose.Named | None = None, part: Any = None,
) -> str | None:
    """Compare plain values; None if equal within tolerance, else what differs and a lead on why.

    A value is right within ``atol + rtol * |expected|``, plus ``scale_tol * max |expected|`` where it is in a float
    array: the largest finite value of that array (each array of a tuple or dict output its own). That is how far
    float32's rounding goes in a long sum, whatever the size of the value itself: a chapter whose outputs range from
    0.02 to thousands over its seeds judges float32 answers with it. The count of wrong values, the example shown
    and the leads all use the tolerance so applied.

    `inputs` are the case's inputs by name (by default, those of the case `judge` is comparing);
    the leads use them: a factor that is the batch size, an input returned unchanged, the input
    values that overflow. `part`: the values are item `part` (an index or key) of the exercise's output, for
    a chapter's compare that compares the parts itself: they are described as that part is declared."""
    inputs = _CASE_INPUTS.get() if inputs is None else inputs
    if part is not None:
        outputs = _OUTPUT.get()
        inner = outputs[part] if isinstance(outputs, tuple) and isinstance(part, int) and part < len(outputs) else (
            outputs.get(part) if isinstance(outputs, dict) else None)
        output, path = _OUTPUT.set(inner), diagnose.PATH.set(diagnose.PATH.get() + (part,))
        try:
            return compare_values(expected, got, rtol=rtol, atol=atol, scale_tol=scale_tol, inputs=inputs)
        finally:
            diagnose.PATH.reset(path)
            _OUTPUT.reset(output)
    if got is None and expected is not None:
        return _("it returned None. Did you forget the `return` statement?")
    if isinstance(got, Unsupported):
        return _("it returned {got}; expected {kind}.").format(got=repr(got), kind=_kind(expected))
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            if isinstance(expected, tuple) and len(expected) == 1 and _is_number(got) and got == expected[0]:
                return _("expected the tuple ({value},), got the number {value}: brackets alone, ({value}), are only "
                         "the number. A tuple of one item needs a comma: ({value},).").format(value=repr(got))
            return _expected_got(_kind(expected), _kind(got))
        reordered = _reordered(expected, got, rtol, atol, scale_tol)
        if reordered:
            return reordered
        for i, (e, g) in enumerate(zip(expected, got)):
            problem = _compare_part(i, e, g, rtol, atol, scale_tol, inputs)
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(got) if isinstance(got, dict) else None
            return _("expected a dict with keys {keys}, got {got}.").format(
                keys=sorted(expected), got=keys if keys is not None else _kind(got))
        for key in expected:
            problem = _compare_part(key, expected[key], got[key], rtol, atol, scale_tol, inputs)
            if problem:
                return problem
        return None
    if isinstance(expected, str) or isinstance(got, str):
        same = isinstance(expected, str) and isinstance(got, str) and expected == got
        return None if same else _expected_got(_kind(expected) if not isinstance(expected, str) else repr(expected), repr(got))
    expected_a = np.asarray(expected)
    return _compare_arrays(expected_a, got, rtol, _scaled_atol(expected_a, atol, scale_tol), inputs)


def compare_labels(expected: Plain, got: Plain, case: Case) -> str | None:
    """An exercise's compare where it asks for labels as whole numbers (0/1, a class): floats holding the right
    whole numbers are not yet labels, as True/False are not (`_compare_arrays`)."""
    problem = compare_values(expected, got)
    kind = np.asarray(expected).dtype.kind
    if problem is None and isinstance(got, np.ndarray) and got.dtype.kind == "f" and kind in "iu":
        return _("the values are right, but they are floats ({got}) where whole numbers ({dtype}) are asked for: "
                 "convert them with .astype(int).").format(got=got.dtype, dtype=np.asarray(expected).dtype)
    return problem


def _scaled_atol(expected: Any, atol: float, scale_tol: float) -> float:
    """`atol` plus `scale_tol` times the largest finite |value| of `expected` where it is an array of floats: what
    `compare_values` allows each value of that array beyond its `rtol`."""
    if not scale_tol:
        return atol
    try:
        values = np.asarray(expected)
    except (TypeError, ValueError):
        return atol
    if values.dtype.kind != "f":
        return atol
    finite = np.abs(values[np.isfinite(values)])
    return atol + scale_tol * float(finite.max(initial=0.0))


def _reordered(expected: Sequence, got: Sequence, rtol: float, atol: float, scale_tol: float) -> str | None:
    """Right values in the wrong places: a shape's sizes in another order, or two outputs in each other's place."""
    def whole(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if expected and all(whole(v) for v in list(expected) + list(got)):
        if sorted(expected) == sorted(got) and list(expected) != list(got):
            return _("the right sizes in the wrong order: expected {expected}, got {got}. Check which axis comes "
                     "first.").format(expected=tuple(int(v) for v in expected), got=tuple(int(v) for v in got))
        return None
    same = lambda a, b: _same(a, b, rtol, atol, scale_tol)  # noqa: E731
    for i in range(len(expected)):
        for j in range(i + 1, len(expected)):
            if (not same(expected[i], got[i]) and same(expected[j], got[i]) and same(expected[i], got[j])
                    and not same(expected[i], expected[j])):
                names = [_part_name(k) for k in (i, j)]
                return _("{first} and {second} are swapped: your {first} is the expected {second}, and the other way "
                         "round. Return them in the order asked for.").format(first=names[0], second=names[1])
    return None


def _same(a: Plain, b: Plain, rtol: float, atol: float, scale_tol: float) -> bool:
    """Equal within tolerance (`a` the expected), quietly: no lead is looked for (a judge proving its leads would
    record them)."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same(x, y, rtol, atol, scale_tol) for x, y in zip(a, b)))
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(
            _same(a[k], b[k], rtol, atol, scale_tol) for k in a)
    try:
        x, y = np.asarray(a), np.asarray(b)
        return x.shape == y.shape and x.dtype.kind in "biuf" and y.dtype.kind in "biuf" and diagnose.allclose(
            x, y, rtol, _scaled_atol(x, atol, scale_tol))  # np.allclose(x, y, ..., equal_nan=True), faster
    except (TypeError, ValueError):
        return a == b


def _part_name(key: int) -> str:
    """How a message names item `key` of a tuple output: its declared name, or its position."""
    declared = meaning.part(_OUTPUT.get(), key)
    return f"`{declared.name}`" if declared is not None and declared.name else _("item {index}").format(index=key)


def _compare_part(key: Any, expected: Plain, got: Plain, rtol: float, atol: float, scale_tol: float,
                  inputs: diagnose.Named) -> str | None:
    """Compare item `key` of a tuple or dict output, and say which output it is: its declared name, the
    dict's key, or its position."""
    outputs = _OUTPUT.get()
    declared = meaning.part(outputs, key)
    inner = declared if declared is not None else (outputs[key] if isinstance(outputs, tuple) and isinstance(key, int)
                                                   and key < len(outputs) else None)
    output, path = _OUTPUT.set(inner), diagnose.PATH.set(diagnose.PATH.get() + (key,))
    try:
        problem = compare_values(expected, got, rtol=rtol, atol=atol, scale_tol=scale_tol, inputs=inputs)
    finally:
        diagnose.PATH.reset(path)
        _OUTPUT.reset(output)
    if not problem:
        return None
    if declared is not None and declared.name:
        return named(declared.name, problem)
    if isinstance(key, str):
        return named(key, problem)
    return _("item {index}: {problem}").format(index=key, problem=problem)


def losses_only(expected: Sequence[float], got: Sequence[float], loss: str) -> str:
    """What a training run whose parameters are right says when its recorded losses are not, or "": the loss
    function it calls (`loss`, the student's own earlier answer) is the slip, not the loop. Not where the first
    loss is right (a stale prediction) or the losses are the expected ones a step late (recorded after the update)."""
    e, g = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    if e.shape != g.shape or not e.size or np.isclose(g[0], e[0], rtol=1e-6, atol=1e-9) or (
            e.size > 1 and np.allclose(g[:-1], e[1:], rtol=1e-6, atol=1e-9)):
        return ""
    return _("the parameters are right and only the recorded losses differ, so the training steps are right and "
             "the loss recorded is computed another way: check your {loss}, which train records at every step."
             ).format(loss=loss)


def named(name: str, problem: str) -> str:
    """What is wrong with one named part of an answer (``dW1``, ``w``), said as every message says it (a chapter's
    compare that names the parts itself uses this, not its own "name: ", which reads wrong in Chinese)."""
    return _("`{name}`: {problem}").format(name=name, problem=problem)


def _expected_got(expected: str, got: str) -> str:
    return _("expected {expected}, got {got}.").format(expected=expected, got=got)


def _compare_arrays(expected: np.ndarray, got: Plain, rtol: float, atol: float, inputs: diagnose.Named = ()) -> str | None:
    if isinstance(got, (tuple, list, dict)):
        return _expected_got(_kind(expected), _kind(got))
    got_a = np.asarray(got)
    if got_a.shape != expected.shape:
        declared = _OUTPUT.get() if isinstance(_OUTPUT.get(), meaning.Output) else None
        return diagnose.explain_shape(expected, got_a, rtol=rtol, atol=atol, inputs=inputs,
                                      axes=declared.axes_of(expected.ndim) if declared is not None else ())
    if expected.dtype.kind in "SU" or got_a.dtype.kind in "SU":
        return None if np.array_equal(expected, got_a) else _expected_got(repr(expected), repr(got_a))
    if expected.dtype.kind in "biu" and got_a.dtype.kind == "f" and not np.all(got_a == np.round(got_a)):
        return _("expected whole numbers ({dtype}), got fractions such as {example}.").format(
            dtype=expected.dtype, example=repr(got_a.flat[0]))
    if diagnose.allclose(got_a, expected, rtol, atol):
        if expected.dtype.kind in "iu" and got_a.dtype.kind == "b":  # asked for 0/1 numbers: True/False is not one
            return _("the values are right, but they are True/False (bool) where whole numbers ({dtype}) are "
                     "expected: convert them with .astype(int).").format(dtype=expected.dtype)
        return None
    output = _OUTPUT.get() if isinstance(_OUTPUT.get(), meaning.Output) else None
    axes = output.axes_of(expected.ndim) if output is not None else ()
    lead = diagnose.explain_values(expected, got_a, rtol=rtol, atol=atol, inputs=inputs, axes=axes)
    if not expected.shape:
        pair = _pair(expected.item(), got_a.item())
        return _("expected {pair}: {lead}").format(pair=pair, lead=lead) if lead else _("expected {pair}.").format(pair=pair)
    wrong = ~np.isclose(got_a, expected, rtol=rtol, atol=atol, equal_nan=True)
    with np.errstate(invalid="ignore"):  # inf - inf where both sides overflowed
        # How far each value is past its tolerance: the example shown is the worst WRONG value. (The largest
        # difference can be a large value within its relative tolerance, and showing it points at a right one.)
        excess = np.abs(got_a.astype(float) - expected.astype(float)) - rtol * np.abs(expected.astype(float)) - atol
    excess = np.where(wrong, np.where(np.isnan(excess), np.inf, excess), -np.inf)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), excess.shape))
    at = _("For example, at {where}: expected {pair}.").format(
        where=meaning.where(output, worst), pair=_pair(expected[worst].item(), got_a[worst].item()))
    if lead:
        return f"{lead}\n{at}" + _wrong_ones(output, wrong)
    count = ngettext("{wrong} of {count} values is wrong.", "{wrong} of {count} values are wrong.", int(wrong.sum()))
    return count.format(wrong=int(wrong.sum()), count=expected.size) + "\n" + at + _wrong_ones(output, wrong)


_LISTED = 6  # the wrong entries of a named axis listed by name


def _wrong_ones(output: meaning.Output | None, wrong: np.ndarray) -> str:
    """Every wrong entry of a vector whose entries have names (the nodes of a graph): which ones, not only the worst."""
    axes = output.axes_of(wrong.ndim) if output is not None else ()
    if wrong.ndim != 1 or not axes or not axes[0].names or wrong.sum() < 2:
        return ""
    names = [axes[0].name(int(i)) for i in np.flatnonzero(wrong)]
    shown = _(", ").join(names[:_LISTED])
    if len(names) > _LISTED:
        shown = ngettext("{shown} and {more} more", "{shown} and {more} more", len(names) - _LISTED).format(
            shown=shown, more=len(names) - _LISTED)
    return "\n" + _("Wrong at: {names}.").format(names=shown)


def _example_prefix() -> str:
    """How the line that points at one wrong value begins (it is dropped when the whole case is shown)."""
    return _("For example, at {where}: expected {pair}.").split("{")[0].rstrip()


def _pair(expected: Any, got: Any) -> str:
    """``0.5, got 0.25``: six significant digits, or every digit where six would look the same."""
    short = [display.number(v) if isinstance(v, float) else repr(v) for v in (expected, got)]
    if short[0] == short[1]:
        short = [repr(expected), repr(got)]
    return _("{expected}, got {got}").format(expected=short[0], got=short[1])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _kind(value: Plain) -> str:
    if isinstance(value, np.ndarray):
        return _("an array of shape {shape}").format(shape=value.shape)
    if isinstance(value, (tuple, list)):
        many = ngettext("a {type} of {count} item", "a {type} of {count} items", len(value))
        return many.format(type=type(value).__name__, count=len(value))
    if isinstance(value, dict):
        return _("a dict")
    if value is None:
        return "None"
    if _is_number(value):
        return _("a number ({value})").format(value=repr(value))
    return _("a {type} ({value})").format(type=type(value).__name__, value=repr(value))
