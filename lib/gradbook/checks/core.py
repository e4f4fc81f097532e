"""Exercise checks that teach, split so a verdict never has to trust the student's process.

An `Exercise` runs in two halves:

* `collect` (in the student's kernel): build the cases from a seed, call the
  student's code on each, and keep only plain data: what came back, the error
  it raised, a digest of each input array after the call.
* `judge` (anywhere; pure): rebuild the same cases from the same seed, run the
  reference, compare, and explain a failure: wrong shape, transposed, a
  mutated input, overflow, a flipped sign, or one of the exercise's known
  plausible mistakes, recognised by running that mistake on the same cases.

Calling an exercise, ``check.relu(relu)``, does both and raises an
`AssertionError` whose message is the lesson. When ``GRADBOOK_RECORD_DIR`` is
set (the grader sets it in its sandbox) each observation is also written there
as plain data, and the grader judges it again outside the sandbox.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from gradbook.checks import plain
from gradbook.checks.plain import Plain, Unsupported, to_plain

VISIBLE_SEED = 0
RECORD_DIR_ENV = "GRADBOOK_RECORD_DIR"
SEED_ENV = "GRADBOOK_SEED"
NOT_IMPLEMENTED = "not implemented yet: replace `raise NotImplementedError()` with your code"


@dataclass(frozen=True)
class Case:
    """One input to the exercise: positional and keyword arguments, and how to describe it."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    def describe(self) -> str:
        if self.label:
            return self.label
        parts = [_short(a) for a in self.args] + [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts)


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


def call(student: Any, case: Case) -> Any:
    """Default way to run an exercise: call the student's function on the case."""
    return student(*case.args, **case.kwargs)


def unpack(result: Any, names: str) -> tuple:
    """The tuple the exercise asks for, or an error that says what shape of answer is expected."""
    count = len(names.split(","))
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        raise TypeError(f"return the {count} values ({names}); got {got}")
    return tuple(result)


def _default_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case()]


@dataclass
class Exercise:
    """A checked exercise.

    name       stable id, ``"chNN.what"``; the grader keys records by it.
    title      what the student reads, e.g. ``"naive_relu"``.
    reference  the right answer, in the same form as the student's (function or class).
    cases      ``(rng, hidden) -> [Case]``; hidden cases are more and larger.
    run        ``(student_or_reference, case) -> value``; default calls it with the case.
    compare    ``(expected, got, case) -> problem or None``; default: `compare_values`.
    mistakes   plausible wrong answers; each must be rejected with its hint (tests prove it).
    value      the exercise asks for a value (``check.x_shape(x.shape)``), not a function.
    """

    name: str
    reference: Any
    cases: Callable[[np.random.Generator, bool], list[Case]] = _default_cases
    title: str = ""
    run: Callable[[Any, Case], Any] = call
    compare: Callable[[Plain, Plain, Case], str | None] | None = None
    mistakes: Sequence[Mistake] = ()
    rtol: float = 1e-5
    atol: float = 1e-7
    value: bool = False

    def __post_init__(self) -> None:
        self.title = self.title or self.name.split(".")[-1]
        REGISTRY[self.name] = self

    def make_cases(self, seed: int, hidden: bool) -> list[Case]:
        return self.cases(np.random.default_rng(seed), hidden)

    def __call__(self, student: Any, *, hidden: bool = False, quiet: bool = False) -> Verdict:
        """Check the student's answer; raise `AssertionError` with a teaching message if wrong."""
        if self.value:
            answer = student
            student = lambda *args, **kwargs: answer  # noqa: E731 - the answer is a constant
        seed = hidden_seed() if hidden else VISIBLE_SEED
        observation = collect(self, student, seed, hidden)
        record(observation)
        verdict = judge(self, observation)
        if not verdict.passed:
            raise AssertionError(verdict.message)
        if not quiet:
            print(f"\u2714 {self.title}: {verdict.message}")
        return verdict


REGISTRY: dict[str, Exercise] = {}


def hidden_seed() -> int:
    return int(os.environ.get(SEED_ENV, "1"))


def digest(value: Any) -> str:
    """A fingerprint of the arrays inside a value, to notice in-place mutation of inputs."""
    h = hashlib.sha256()
    for array in _arrays_in(value):
        h.update(str((array.dtype.str, array.shape)).encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _arrays_in(value: Any) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays_in(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays_in(v)]
    return []


def collect(exercise: Exercise, student: Any, seed: int, hidden: bool) -> dict[str, Plain]:
    """Run the student's code on every case; keep only plain data (runs in the student's process)."""
    results = []
    for case in exercise.make_cases(seed, hidden):
        error: str | None = None
        out: Plain = None
        try:
            out = to_plain(exercise.run(student, case))
        except NotImplementedError:
            error = NOT_IMPLEMENTED
        except Exception as exc:  # the student's bug, reported as data
            error = _describe_exception(exc)
        results.append({"out": out, "error": error, "inputs": digest((case.args, case.kwargs))})
        if error == NOT_IMPLEMENTED:
            break  # every other case would say the same
    return {"exercise": exercise.name, "seed": seed, "hidden": hidden, "results": results}


def _describe_exception(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (line {frames[-1].lineno}: `{(frames[-1].line or '').strip()}`)" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def record(observation: dict[str, Plain]) -> None:
    """When grading, leave the observation for the grader to judge outside the sandbox."""
    directory = os.environ.get(RECORD_DIR_ENV)
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(len(list(path.glob("*.npz")))):
        target = path / f"{n:05d}-{observation['exercise']}.npz"
        if not target.exists():
            plain.save(target, observation)
            return


def judge(exercise: Exercise, observation: dict[str, Plain]) -> Verdict:
    """Decide, from plain data alone, whether the observation is right; explain what is wrong."""
    cases = exercise.make_cases(int(observation["seed"]), bool(observation["hidden"]))
    results = observation["results"]
    if not isinstance(results, list) or not results:
        return Verdict(False, len(cases), f"{exercise.title}: nothing was checked")
    for i, case in enumerate(cases):
        if i >= len(results):
            return Verdict(False, len(cases), f"{exercise.title}: only {len(results)} of {len(cases)} cases ran")
        got = results[i]
        where = f" for input {case.describe()}" if len(cases) > 1 or case.args else ""
        if got["error"]:
            if got["error"] == NOT_IMPLEMENTED:
                return Verdict(False, len(cases), f"{exercise.title}: {NOT_IMPLEMENTED}")
            return Verdict(False, len(cases), f"{exercise.title} raised {got['error']}{where}")
        expected = to_plain(exercise.run(exercise.reference, case))
        problem = (exercise.compare or _compare_default(exercise))(expected, got["out"], case)
        if got["inputs"] != digest((case.args, case.kwargs)):
            problem = (problem + "\n") if problem else "the values are right, but\n"
            problem += (
                "Hint: your code changed its input array in place. Work on a copy "
                "(`x = x.copy()`) or build a new array instead of assigning into the input."
            )
        if problem:
            hint = "" if "Hint:" in problem else _known_mistake(exercise, case, got["out"])
            return Verdict(False, len(cases), f"{exercise.title} is not right yet{where}:\n{problem}{hint}")
    return Verdict(True, len(cases), f"all {len(cases)} checks passed")


def _compare_default(exercise: Exercise) -> Callable[[Plain, Plain, Case], str | None]:
    return lambda expected, got, case: compare_values(expected, got, rtol=exercise.rtol, atol=exercise.atol)


def _known_mistake(exercise: Exercise, case: Case, got: Plain) -> str:
    compare = exercise.compare or _compare_default(exercise)
    for mistake in exercise.mistakes:
        try:
            wrong = to_plain(exercise.run(mistake.wrong, case))
        except Exception:
            continue
        if compare(wrong, got, case) is None:
            return f"\nHint: {mistake.hint}"
    return ""


def compare_values(expected: Plain, got: Plain, *, rtol: float = 1e-5, atol: float = 1e-7) -> str | None:
    """Compare plain values; None if equal within tolerance, else what differs and why it may."""
    if got is None and expected is not None:
        return "it returned None. Did you forget the `return` statement?"
    if isinstance(got, Unsupported):
        return f"it returned {got!r}; expected {_kind(expected)}."
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {_kind(expected)}, got {_kind(got)}."
        for i, (e, g) in enumerate(zip(expected, got)):
            problem = compare_values(e, g, rtol=rtol, atol=atol)
            if problem:
                return f"item {i}: {problem}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(got) if isinstance(got, dict) else None
            return f"expected a dict with keys {sorted(expected)}, got {keys if keys is not None else _kind(got)}."
        for key in expected:
            problem = compare_values(expected[key], got[key], rtol=rtol, atol=atol)
            if problem:
                return f"{key!r}: {problem}"
        return None
    if isinstance(expected, str) or isinstance(got, str):
        return None if expected == got else f"expected {expected!r}, got {got!r}."
    return _compare_arrays(np.asarray(expected), got, rtol, atol)


def _compare_arrays(expected: np.ndarray, got: Plain, rtol: float, atol: float) -> str | None:
    if isinstance(got, (tuple, list, dict)):
        return f"expected {_kind(expected)}, got {_kind(got)}."
    got_a = np.asarray(got)
    if got_a.shape != expected.shape:
        if got_a.ndim == 2 and got_a.shape == expected.shape[::-1] and got_a.shape[0] != got_a.shape[1]:
            return (
                f"expected shape {expected.shape}, got {got_a.shape}: the result is transposed. "
                "Check the order of the axes (rows are samples)."
            )
        if got_a.size == expected.size:
            return f"expected shape {expected.shape}, got {got_a.shape}: same numbers, wrong shape; check your reshape."
        return f"expected shape {expected.shape}, got {got_a.shape}."
    if expected.dtype.kind in "SU" or got_a.dtype.kind in "SU":
        return None if np.array_equal(expected, got_a) else f"expected {expected!r}, got {got_a!r}."
    if expected.dtype.kind in "biu" and got_a.dtype.kind == "f" and not np.all(got_a == np.round(got_a)):
        return f"expected whole numbers ({expected.dtype}), got fractions such as {got_a.flat[0]!r}."
    if np.all(np.isfinite(expected)) and not np.all(np.isfinite(got_a)):
        return (
            "the result contains nan or inf where every expected value is finite. "
            "Large inputs overflow: np.exp(1000) is inf; see how the reference keeps numbers small."
        )
    if np.allclose(got_a, expected, rtol=rtol, atol=atol, equal_nan=True):
        return None
    if np.any(expected != 0) and np.allclose(got_a, -expected, rtol=rtol, atol=atol):
        return "the values have the right size but the opposite sign. Check the sign of your formula."
    with np.errstate(invalid="ignore"):  # inf - inf where both sides overflowed
        diff = np.abs(got_a.astype(float) - expected.astype(float))
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff))), diff.shape) if diff.ndim else ()
    if not expected.shape:
        return f"expected {expected.item()!r}, got {got_a.item()!r}."
    return (
        f"{int(np.sum(~np.isclose(got_a, expected, rtol=rtol, atol=atol)))} of {expected.size} values differ; "
        f"at index {tuple(int(i) for i in worst)} expected {expected[worst].item()!r}, got {got_a[worst].item()!r}."
    )


def _kind(value: Plain) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, dict):
        return "a dict"
    if value is None:
        return "None"
    return f"a {type(value).__name__} ({value!r})"


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, separator=", ").replace("\n", "")
        return f"array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
