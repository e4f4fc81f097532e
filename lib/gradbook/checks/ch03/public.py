"""Chapter 3's public half: the activations a `dense` answer is handed, by name; the perceptron's and XOR's drivers.

What the grading sandbox and the student edition hold of this chapter (`gradbook.checks.ch03.answers` holds its answers).
No answer is computed here: a driver builds the call the exercise asks for, calls the answer and reads
its result back (`gradbook.checks.drivers`)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradbook.checks.drivers import Case, Unfinished, unpack
from gradbook.i18n import _


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function (no overflow warning for large negative z)."""
    return np.exp(-np.logaddexp(0.0, -z))


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def linear(z: np.ndarray) -> np.ndarray:
    return z


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"sigmoid": sigmoid, "relu": relu, "linear": linear}


def run_dense(student: Any, case: Case) -> Any:
    """``dense(a_in, W, b, g)``: the case names the activation; the answer gets the function."""
    a_in, W, b, g = case.args
    return student(a_in, W, b, ACTIVATIONS[g])


def run_perceptron_train(student: Any, case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w, b, errors = unpack(student(*case.args, **case.kwargs), "w, b, errors")
    return (
        np.asarray(w, dtype=float).ravel(),
        np.asarray(b, dtype=float).reshape(-1),
        np.asarray(errors).ravel(),
    )


def run_xor_weights(student: Any, case: Case) -> Any:
    """The notebook starts with every weight set to None: that is "not implemented yet"; some still None
    is an answer not finished, and the error says which."""
    weights = student()
    if weights is None or (isinstance(weights, (tuple, list)) and all(w is None for w in weights)):
        raise NotImplementedError()
    if isinstance(weights, (tuple, list)) and any(w is None for w in weights):
        missing = [str(i + 1) for i, w in enumerate(weights) if w is None]
        raise Unfinished(_("some of the {count} weights are still None (number {missing}): give each one a value")
                         .format(count=len(weights), missing=", ".join(missing)))
    return weights


# the drivers of this chapter's exercises, by the name an `Exercise` gives as `run=`
DRIVERS: dict[str, Callable[[Any, Case], Any]] = {
    "ch03.dense": run_dense,
    "ch03.perceptron_train": run_perceptron_train,
    "ch03.xor_weights": run_xor_weights,
}

ARGUMENTS_AS_GIVEN = frozenset({"ch03.dense", "ch03.perceptron_train"})  # these call the answer with the case's own arguments
