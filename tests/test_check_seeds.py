"""Every answer the checks know, judged on every seed: the one test of each exercise's reference and of each of
its listed mistakes (the registry's chapters, every exercise x every mistake; the student edition's recordings are
compared with these in test_recorded_checks.py, the release's refusal in mistakes.py).

A ✔ in the notebook predicts the grade: each mistake is rejected, with its hint, under the visible seed AND under
20 hidden seeds, and the reference passes on all of them; on the first two seeds the verdict is judged from
the observation after its trip through plain data, as the grader judges. Pure collect/judge, no notebooks."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from gradbook.checks import Exercise, collect, judge, load_all, plain

EXERCISES = load_all()
NAMES = sorted(EXERCISES)
HIDDEN_SEEDS = range(1, 21)
REFERENCE = -1  # in ANSWERS, the exercise's reference rather than one of its mistakes
ANSWERS = [(name, index) for name in NAMES for index in [REFERENCE, *range(len(EXERCISES[name].mistakes))]]


def _runs(exercise: Exercise) -> list[tuple[int, bool]]:
    if exercise.value:  # a value exercise has one case whatever the seed
        return [(0, False), (1, True)]
    return [(0, False)] + [(seed, True) for seed in HIDDEN_SEEDS]


def _as_answer(exercise: Exercise, answer):
    if not exercise.value:
        return answer
    value = exercise.answer(answer, exercise.make_cases(0, False)[0])
    return lambda *args, **kwargs: value


_MADE: dict[tuple[str, int, bool], list] = {}
_make_cases = Exercise.make_cases


def _cases_made_once(exercise: Exercise, seed: int, hidden: bool) -> list:
    """A fresh copy of `exercise.make_cases(seed, hidden)`, generated once per worker: each mistake of an exercise
    is judged on the same cases, which collect and judge would otherwise generate again for every mistake (the
    reference's run keeps generating them twice, so that the cases being the same wherever they are made, as the
    grader needs, stays proven)."""
    key = (exercise.name, seed, hidden)
    if key not in _MADE:
        _MADE[key] = _make_cases(exercise, seed, hidden)
    return copy.deepcopy(_MADE[key])  # an answer may change its inputs: each run gets its own


def verdict_of(exercise: Exercise, student, seed: int, hidden: bool):
    """Collected here, judged outside; on the visible seed and the first hidden one, from the plain data that
    crossed the wire (as the grader judges)."""
    observation = collect(exercise, student, seed, hidden)
    return judge(exercise, plain.loads(plain.dumps(observation)) if seed <= 1 else observation)


@pytest.mark.parametrize(("name", "index"), ANSWERS, ids=[f"{n}-{'reference' if i == REFERENCE else i}" for n, i in ANSWERS])
def test_the_reference_passes_and_each_mistake_is_caught_with_its_hint_on_every_seed(
        name: str, index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    exercise = EXERCISES[name]
    mistake = exercise.mistakes[index] if index != REFERENCE else None
    answer = _as_answer(exercise, mistake.wrong if mistake else exercise.reference)
    if mistake is not None:
        monkeypatch.setattr(Exercise, "make_cases", _cases_made_once)
    with np.errstate(all="ignore"):  # several mistakes overflow on purpose
        for seed, hidden in _runs(exercise):
            where = f"seed {seed}, {'hidden' if hidden else 'visible'}"
            verdict = verdict_of(exercise, answer, seed, hidden)
            if mistake is None:
                assert verdict.passed, f"{name}, {where}: the reference failed: {verdict.message}"
            else:
                assert not verdict.passed, f"{name}, {where}: the mistake {mistake.hint!r} passed"
                assert mistake.hint in verdict.message, f"{name}, {where}: {verdict.message}"
                assert verdict.mistake is not None and exercise.mistakes[verdict.mistake].hint == mistake.hint


# --- right answers written differently pass too, on every seed --------------------------------


class _MomentumTorchForm:
    """PyTorch's form, which the notebook calls the same steps: v = beta v + g; w -= lr v."""

    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta, self.velocities = lr, beta, None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            v *= self.beta
            v += g
            p -= self.lr * v


class _SGDWritesThroughTheList:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        for i in range(len(params)):
            params[i][...] = params[i] - self.lr * grads[i]  # in place, through the list


def _log_softmax_logaddexp(z):
    return z - np.logaddexp.reduce(z, axis=-1, keepdims=True)


def _softmax_from_log_softmax(z):
    return np.exp(_log_softmax_logaddexp(z))


def _minibatches_shuffle(n, batch_size, rng):
    order = np.arange(n)
    rng.shuffle(order)
    return np.array_split(order, range(batch_size, n, batch_size))


def _relu_rows(x):
    z = np.zeros_like(x)
    for i, row in enumerate(x):
        for j in range(len(row)):
            z[i][j] = row[j] if row[j] > 0 else 0.0
    return z


def _transpose_nested_lists(x):
    return np.array([[float(x[i, j]) for i in range(x.shape[0])] for j in range(x.shape[1])])


def _topological_order_last_child_first(root):
    order, visited, stack = [], {id(root)}, [(root, len(root._prev) - 1)]
    while stack:
        node, i = stack.pop()
        if i >= 0:
            stack.append((node, i - 1))
            child = node._prev[i]
            if id(child) not in visited:
                visited.add(id(child))
                stack.append((child, len(child._prev) - 1))
        else:
            order.append(node)
    return order


def _alternatives():
    from gradbook.checks import ch06

    return [
        ("ch06.adam", ch06.answers._AdamKeras),  # the folded form the notebook calls equivalent
        ("ch06.momentum", _MomentumTorchForm),
        ("ch06.sgd", _SGDWritesThroughTheList),
        ("ch05.log_softmax", _log_softmax_logaddexp),
        ("ch05.softmax", _softmax_from_log_softmax),
        ("ch06.minibatches", _minibatches_shuffle),
        ("ch02.naive_relu", _relu_rows),
        ("ch02.naive_transpose", _transpose_nested_lists),
        ("ch08.topological_order", _topological_order_last_child_first),
    ]


@pytest.mark.parametrize(("name", "answer"), _alternatives(), ids=[name for name, _ in _alternatives()])
def test_right_answers_written_differently_pass_on_every_seed(name: str, answer) -> None:
    exercise = EXERCISES[name]
    for seed, hidden in _runs(exercise):
        verdict = judge(exercise, collect(exercise, answer, seed, hidden))
        assert verdict.passed, f"{name}, seed {seed}, hidden={hidden}: {verdict.message}"
