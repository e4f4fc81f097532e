"""Mutation testing of the checks (tools/mutants.py, issue 25): the cases of every exercise tell its reference
from the reference changed in one place (an operator, a constant, an axis, a slice bound, a dropped term, an
in-place update made a copy, a narrowed dtype, swapped arguments, a loop bound), and the hidden cases kill
every mutant the visible ones kill. The whole table is `python tools/mutants.py`; here a deterministic sample
of each exercise's mutants holds the floor."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import battery  # noqa: E402 - tools/battery.py
import mutants  # noqa: E402 - tools/mutants.py

SAMPLE = 3  # mutants per exercise, the same ones every run
FLOOR = 0.95
# Their visible cases hold a chain 10,000 operations deep: a mutant the quick cases do not kill costs seconds
# there, so the sample here leaves them to `python tools/mutants.py ch08` (the scores are in the closing note).
DEEP = {"ch08.autograd", "ch08.backward", "ch08.topological_order"}


def _example(x, y, w):  # noqa: ANN001, ANN202 - a reference in miniature, with one place of each kind
    z = np.zeros(x.shape, dtype=np.float64)
    for i in range(1, len(x)):
        z[i] += x[i] * 2.0 + w
    z -= np.sum(y[1:3], axis=0, keepdims=True).ravel()
    return np.maximum(z, w).copy()


def test_every_kind_of_mutant_is_made() -> None:
    made = [m.where for m in mutants.mutants(_example)]
    for kind in ("Add -> Sub", "Mult -> Div", "constant 2.0 x2", "axis=0 -> 1", "slice lower +1", "slice upper -1",
                 "drop the right term", "update dropped", "in place -> copy", "dtype np.float64 -> np.float32", "arguments of np.maximum swapped",
                 "range's end -1", "range's start +1", ".copy() dropped", "np.sum -> mean", "keepdims dropped"):
        assert any(kind in where for where in made), (kind, made)
    x, y, want = np.arange(4.0), np.arange(16.0).reshape(4, 4), _example(np.arange(4.0), np.arange(16.0).reshape(4, 4), -100.0)
    differ = 0
    for mutant in mutants.mutants(_example):
        try:
            differ += not np.allclose(mutant.answer(x, y, -100.0), want)
        except Exception:  # noqa: BLE001 - a mutant that breaks is told apart too
            differ += 1
    assert differ >= len(made) // 2  # the mutants run as the changed code (not the reference again)


@pytest.mark.slow
def test_the_cases_kill_the_mutants_of_every_exercise() -> None:
    from gradbook.checks import load_all

    scores = [mutants.score(exercise, sample=SAMPLE) for name, exercise in load_all().items() if name not in DEEP]
    assert sum(s.mutants for s in scores) > 100
    missed = {s.exercise: s.hidden_misses for s in scores if s.hidden_misses}
    assert not missed, f"killed by the visible cases, not by the hidden ones: {missed}"
    live, killed = sum(s.live for s in scores), sum(s.visible for s in scores)
    survivors = {s.exercise: s.survivors for s in scores if s.survivors}
    assert killed >= FLOOR * live, f"{killed} of {live} mutants killed by the visible cases; survivors: {survivors}"


def test_a_mutant_that_never_ends_is_killed_at_its_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks report an answer's exceptions case by case and go on: the time limit must stop the whole
    judging, not the first case only, or the next case loops unbounded."""
    from gradbook.checks import load_all

    def forever(x):  # noqa: ANN001, ANN202
        while True:
            pass

    monkeypatch.setattr(mutants, "SECONDS", 1)
    assert mutants.killed(load_all()["ch02.naive_relu"], forever, 0, False)


def test_the_battery_tells_apart_what_no_case_covers() -> None:
    """Equivalence is decided by inputs drawn afresh, not by the exercise's own cases: a softmax that clips its
    logits at +-3000 is right on every case of every seed (none goes that far), yet it is not equivalent; a
    correct softmax written another way (log-sum-exp) is."""
    from gradbook.checks import load_all

    softmax = load_all()["ch05.softmax"]

    def exact(z):  # noqa: ANN001, ANN202
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def clipped(z):  # noqa: ANN001, ANN202
        return exact(np.clip(z, -3000, 3000))

    def log_sum_exp(z):  # noqa: ANN001, ANN202
        top = z.max(axis=-1, keepdims=True)
        return np.exp(z - top - np.log(np.exp(z - top).sum(axis=-1, keepdims=True)))

    largest = max(float(np.abs(c.args[0]).max()) for seed in (0, 1, *mutants.BATTERY_SEEDS) for c in softmax.make_cases(seed, seed != 0))
    assert largest < 3000  # so the clip never shows on the exercise's cases
    assert not any(mutants.killed(softmax, clipped, seed, seed != 0) for seed in (0, 1, *mutants.BATTERY_SEEDS))
    inputs = battery.battery(softmax)
    assert len(inputs.cases) >= 2 * len(softmax.make_cases(1, True))  # most drawn inputs are in the domain
    assert battery.differs(softmax, clipped, inputs)
    assert not battery.differs(softmax, log_sum_exp, inputs)


def test_the_battery_keeps_labels_and_probabilities_valid() -> None:
    rng = np.random.default_rng(0)
    one_hot = np.eye(4)[[0, 3, 1, 1, 2]]
    probabilities = rng.dirichlet(np.ones(4), size=5)
    for regime in range(battery.DRAWS):
        labels, p = battery._draw((one_hot, probabilities), rng, regime)
        assert np.array_equal(labels.sum(axis=1), np.ones(5)) and set(np.unique(labels)) == {0.0, 1.0}
        assert np.allclose(p.sum(axis=1), 1.0) and np.all(p >= 0)
        assert not np.allclose(p, probabilities)


def test_expensive_cases_are_judged_only_when_the_quick_ones_pass() -> None:
    """A mutant killed by chapter 8's small expressions is never run on its 10,000-operation chain; the quick view
    of an exercise leaves the registry as it was."""
    from gradbook.checks import REGISTRY, load_all

    backward = load_all()["ch08.backward"]
    quick = mutants._quick(backward, 0, False)
    assert quick is not None and REGISTRY["ch08.backward"] is backward
    every, few = backward.make_cases(0, False), quick.make_cases(0, False)
    assert len(few) == len(every) - 1 and all("deep" not in c.label for c in few)
    assert any("deep" in c.label for c in every)
