"""An independent battery of inputs for one exercise, to decide whether a mutant of its reference is equivalent.

The exercise's own cases (of any seed) cannot decide it: a class of inputs no case covers (a probability beyond
any clip range, logits whose max is far from their mean, a relu's input of exactly 0) would make every mutant
that differs only there look equivalent, rather than surviving. So the battery keeps only the exercise's argument
structure, shapes and dtypes (from its hidden cases), and draws the float values afresh from its own random
stream: wider than the cases' range, piled at its ends, very large, with ties and zeros, rows far apart.
`tools/mutants.py` uses it; `limit` is the time limit both put on an answer's run.
"""

from __future__ import annotations

import copy
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from gradbook.checks.core import PREVIEW_SEED, Exercise, _compare  # noqa: E402
from gradbook.checks.drivers import Case  # noqa: E402
from gradbook.checks.plain import to_plain  # noqa: E402

SECONDS = 20  # an answer's run on one input longer than this is stopped (a loop that never ends)


class TooLong(BaseException):
    """A mutant past its time. Not an Exception: the checks report an answer's exceptions case by case and go on
    (`ask.answer`), which would swallow the one alarm and leave the next case to loop unbounded."""


@contextmanager
def limit(seconds: int) -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise TooLong()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


DRAWS = 6  # fresh inputs drawn per case of the exercise
BATTERY_SEED = 2_718  # its own random stream: nothing shared with the exercise's seeds


@dataclass
class Battery:
    cases: list[Any]  # `Case`s: the exercise's argument structure, with values drawn afresh
    expected: list[Any]  # the reference's plain output on each


def battery(exercise: Exercise, seconds: int = SECONDS) -> Battery:
    """Inputs for deciding equivalence, independent of the exercise's cases: for every hidden case (its argument
    structure, shapes and dtypes), `DRAWS` new cases whose float values are drawn afresh (`_draw`); integer
    arrays (indices, a graph's links) and scalars (hyperparameters) are kept, integer-valued floats (labels,
    one-hot rows) shuffled. A drawn case the reference fails on, or answers with nan or inf, is outside the
    exercise's domain and left out."""
    rng = np.random.default_rng(BATTERY_SEED)
    cases, expected = [], []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for case in exercise.make_cases(PREVIEW_SEED, True):
            for regime in range(DRAWS):
                drawn = Case(_draw(case.args, rng, regime), _draw(case.kwargs, rng, regime), case.label, case.label_values)
                try:
                    with limit(seconds):
                        out = to_plain(exercise.answer(exercise.reference, copy.deepcopy(drawn)))
                except (Exception, TooLong):  # noqa: BLE001 - outside the reference's domain
                    continue
                if _finite(out):
                    cases.append(drawn)
                    expected.append(out)
    return Battery(cases, expected)


def differs(exercise: Exercise, answer: Any, inputs: Battery, seconds: int = SECONDS) -> bool:
    """Does `answer` give other outputs than the reference on some input of the battery (as the exercise's own
    compare judges them), or fail where the reference did not?"""
    compare = _compare(exercise)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for case, expected in zip(inputs.cases, inputs.expected):
            try:
                with limit(seconds):
                    got = to_plain(exercise.answer(answer, copy.deepcopy(case)))
                    if compare(expected, got, case) is not None:
                        return True
            except (Exception, TooLong):  # noqa: BLE001 - it fails where the reference answers
                return True
    return False


def _draw(value: Any, rng: np.random.Generator, regime: int) -> Any:
    """`value` with its float data drawn afresh in the same structure, shapes and dtypes."""
    if isinstance(value, np.ndarray):
        return _draw_array(value, rng, regime) if value.dtype.kind == "f" and value.size else value.copy()
    if isinstance(value, dict):
        return {k: _draw(v, rng, regime) for k, v in value.items()}
    if isinstance(value, list) and value and all(type(v) is float for v in value):  # a list of numbers: data
        return _draw_array(np.array(value), rng, regime).tolist()
    if isinstance(value, (list, tuple)):
        return type(value)(_draw(v, rng, regime) for v in value)
    return value  # scalars (a learning rate, a number of steps), strings, None: the exercise's settings


def _draw_array(x: np.ndarray, rng: np.random.Generator, regime: int) -> np.ndarray:
    """One array's values drawn afresh: integer-valued ones (labels, one-hot rows) shuffled; others, by `regime`:
    wider than the case's range, piled at its two ends (clipping, saturation, a probability near 0 or 1), very
    large, with ties and zeros (max and relu), or rows far apart from each other. Rows that sum to 1 (probabilities)
    still do."""
    if np.all(x == np.round(x)):
        shuffled = x.copy()
        if x.ndim >= 2 and x.shape[-1] > 1:
            for row in shuffled.reshape(-1, x.shape[-1]):
                rng.shuffle(row)
        else:
            rng.shuffle(shuffled.reshape(-1))
        return shuffled
    lo, hi = float(x.min()), float(x.max())
    span = max(hi - lo, 1e-3)
    kind = regime % 6
    if kind == 0:  # wider than the case's range
        y = rng.uniform(lo - 2 * span, hi + 2 * span, size=x.shape)
    elif kind == 1:  # piled at the ends of the case's range
        y = lo + span * rng.beta(0.08, 0.08, size=x.shape)
    elif kind == 2:  # large
        y = rng.normal(size=x.shape) * 100 * max(abs(lo), abs(hi), 1.0)
    elif kind == 3:  # ties and zeros
        y = rng.choice(np.array([0.0, lo, hi, (lo + hi) / 2]), size=x.shape)
    elif kind == 4:  # rows far apart
        y = rng.normal(size=x.shape) * span
        if x.ndim >= 2:
            y += rng.choice([-500.0, 0.0, 500.0], size=x.shape[:-1] + (1,))
    else:  # the case's distribution, fresh values
        y = rng.normal(float(x.mean()), float(x.std()) or 1.0, size=x.shape)
    if lo >= 0 and x.ndim >= 1 and np.allclose(x.sum(axis=-1), 1.0):  # probabilities: rows that sum to 1
        y = np.abs(y) + 1e-300
        y = y / y.sum(axis=-1, keepdims=True)
    return y.astype(x.dtype)


def _finite(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.all(np.isfinite(value)))
    if isinstance(value, float):
        return bool(np.isfinite(value))
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True
