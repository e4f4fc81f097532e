"""Every exercise in every chapter: the reference passes, the stub fails, each plausible
wrong answer is rejected with the hint that names it, and the verdict survives the
trip through plain data (as it does when the grader judges outside the sandbox)."""

from __future__ import annotations

import numpy as np
import pytest

from gradbook.checks import REGISTRY, Case, Exercise, Mistake, collect, judge, load_all
from gradbook.checks import plain
from gradbook.checks.core import NOT_IMPLEMENTED

EXERCISES = load_all()
NAMES = sorted(EXERCISES)


def stub(*args, **kwargs):
    raise NotImplementedError()


def verdict_of(exercise: Exercise, student, hidden: bool = False):
    observation = collect(exercise, student, seed=1 if hidden else 0, hidden=hidden)
    return judge(exercise, plain.loads(plain.dumps(observation)))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hidden", [False, True])
def test_reference_passes(name: str, hidden: bool) -> None:
    exercise = EXERCISES[name]
    answer = exercise.reference if not exercise.value else exercise.run(exercise.reference, exercise.make_cases(0, False)[0])
    student = (lambda *a, **k: answer) if exercise.value else exercise.reference
    verdict = verdict_of(exercise, student, hidden)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("name", NAMES)
def test_stub_fails_with_not_implemented(name: str) -> None:
    exercise = EXERCISES[name]
    verdict = verdict_of(exercise, stub)
    assert not verdict.passed
    assert NOT_IMPLEMENTED in verdict.message


@pytest.mark.parametrize("name", NAMES)
def test_has_a_plausible_mistake(name: str) -> None:
    assert EXERCISES[name].mistakes, f"{name} needs at least one Mistake (a plausible wrong answer and its hint)"


MISTAKES = [(name, i) for name in NAMES for i in range(len(EXERCISES[name].mistakes))]


@pytest.mark.parametrize(("name", "index"), MISTAKES, ids=[f"{n}-{i}" for n, i in MISTAKES])
def test_mistake_is_rejected_with_its_hint(name: str, index: int) -> None:
    exercise = EXERCISES[name]
    mistake = exercise.mistakes[index]
    student = mistake.wrong
    if exercise.value:
        wrong = exercise.run(mistake.wrong, exercise.make_cases(0, False)[0])
        student = lambda *a, **k: wrong  # noqa: E731
    for hidden in (False, True):
        verdict = verdict_of(exercise, student, hidden)
        assert not verdict.passed, f"{name}: the mistake {mistake.hint!r} passed the {'hidden' if hidden else 'visible'} checks"
        assert mistake.hint in verdict.message, verdict.message


# The core itself, on an exercise defined here.
def _relu_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((np.array([-1.0, 0.0, 2.0]),)), Case((rng.normal(size=(3, 4)),))]


RELU = Exercise(
    "test.relu",
    reference=lambda x: np.maximum(x, 0),
    cases=_relu_cases,
    mistakes=[Mistake(lambda x: np.maximum(x, 1), "compared with 1 instead of 0")],
)
REGISTRY.pop("test.relu")  # keep the chapter registry to real exercises


def _in_place(x: np.ndarray) -> np.ndarray:
    x[x < 0] = 0
    return x


@pytest.mark.parametrize(
    ("student", "phrase"),
    [
        (lambda x: None, "forget the `return`"),
        (lambda x: np.maximum(x, 0).T, "transposed"),
        (_in_place, "changed its input array in place"),
        (lambda x: -np.maximum(x, 0), "opposite sign"),
        (lambda x: object(), "returned <object>"),
        (lambda x: np.exp(np.maximum(x, 0) * 1e6), "overflow"),
        (lambda x: np.maximum(x, 1), "compared with 1 instead of 0"),
        (lambda x: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_core_diagnoses(student, phrase: str) -> None:
    with np.errstate(over="ignore"):
        verdict = verdict_of(RELU, student)
    assert not verdict.passed
    assert phrase in verdict.message


def test_objects_that_claim_equality_do_not_pass() -> None:
    class Liar(np.ndarray):
        def __eq__(self, other):  # noqa: D105
            return True

        def __bool__(self):
            return True

    verdict = verdict_of(RELU, lambda x: np.zeros_like(x).view(Liar))
    assert not verdict.passed


def test_plain_records_never_unpickle(tmp_path) -> None:
    import pickle

    path = tmp_path / "evil.npz"
    np.savez(path, __structure__=np.array('{"__array__": "a0"}'), a0=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        plain.load(path)
    path.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ValueError):
        plain.load(path)
