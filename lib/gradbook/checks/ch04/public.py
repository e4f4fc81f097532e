"""Chapter 4's public half: the two-layer network's drivers and the test functions of the gradient check.

What the grading sandbox and the student edition hold of this chapter (`gradbook.checks.ch04.answers` holds its answers).
No answer is computed here: a driver builds the call the exercise asks for, calls the answer and reads
its result back (`gradbook.checks.drivers`)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradbook.checks.drivers import Case, unpack
from gradbook.i18n import _


def run_two_layer_forward(student: Any, case: Case) -> dict[str, Any]:
    a2, cache = unpack(student(*case.args), "a2, cache")
    if not isinstance(cache, dict) or not all(k in cache for k in ("Z1", "a1", "Z2")):
        raise KeyError(_("forward must return (a2, cache) with cache a dict holding 'Z1', 'a1', 'Z2' and 'a2'"))
    # in the order they are computed: the first one wrong is where the mistake is, and the message names it
    return {"Z1": cache["Z1"], "a1": cache["a1"], "Z2": cache["Z2"], "a2": a2}


GRADIENT_NAMES = ("dW1", "db1", "dW2", "db2")


def run_gradients(student: Any, case: Case) -> Any:
    """Keep the four gradients; extra entries (dZ1, da1, ...) are the student's business."""
    grads = student(*case.args)
    if not isinstance(grads, dict):
        return grads
    return {k: grads[k] for k in GRADIENT_NAMES if k in grads}


def run_two_layer_train(student: Any, case: Case) -> dict[str, Any]:
    params, losses = unpack(student(*case.args, **case.kwargs), "params, losses")
    out: dict[str, Any] = {"losses": np.asarray(losses, dtype=float).ravel()}
    if isinstance(params, dict):
        out.update({k: params[k] for k in ("W1", "b1", "W2", "b2") if k in params})
    return out


class TestFunction:
    """A function of one array to differentiate numerically, built from a plain description.

    ``{"f": "cubic"}``: ``sum(x**3 - 2x)``; ``{"f": "wavy"}``: ``sum(sin(3x) x**2)``;
    ``{"f": "tanh_layer", "X": X, "c": c}``: ``sum(tanh(X @ W) * c)`` as a function of ``W``.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        if spec.get("f") not in ("cubic", "wavy", "tanh_layer"):
            raise ValueError(f"unknown test function {spec.get('f')!r}")
        self.spec = spec

    def __call__(self, x: np.ndarray) -> float:
        kind = self.spec["f"]
        if kind == "cubic":
            return float(np.sum(x**3 - 2 * x))
        if kind == "wavy":
            return float(np.sum(np.sin(3 * x) * x**2))
        return float(np.sum(np.tanh(self.spec["X"] @ x) * self.spec["c"]))

    def __repr__(self) -> str:
        return {"cubic": "f(x) = sum(x**3 - 2x)", "wavy": "f(x) = sum(sin(3x) x**2)"}.get(
            self.spec["f"], "f(W) = sum(tanh(X @ W) * c)")


def run_numerical_gradient(student: Any, case: Case) -> Any:
    """``numerical_gradient(f, x, eps)``: the case describes f; the answer gets the function."""
    spec, x = case.args
    return student(TestFunction(spec), x, **case.kwargs)


# the drivers of this chapter's exercises, by the name an `Exercise` gives as `run=`
ARGUMENTS_AS_GIVEN = frozenset({"ch04.forward", "ch04.gradients", "ch04.train"})  # these call the answer with the case's own arguments

DRIVERS: dict[str, Callable[[Any, Case], Any]] = {
    "ch04.forward": run_two_layer_forward,
    "ch04.gradients": run_gradients,
    "ch04.numerical_gradient": run_numerical_gradient,
    "ch04.train": run_two_layer_train,
}
