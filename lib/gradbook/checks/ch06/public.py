"""Chapter 6's public half: surfaces' gradients as polynomial terms; the drivers of gradient descent, mini-batches and the optimisers.

What the grading sandbox and the student edition hold of this chapter (`gradbook.checks.ch06.answers` holds its answers).
No answer is computed here: a driver builds the call the exercise asks for, calls the answer and reads
its result back (`gradbook.checks.drivers`)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradbook.checks.drivers import Case


class PolynomialGradient:
    """The gradient of a 2-D surface given as polynomial terms, one table per component.

    Each row of a table is ``(coefficient, power of x, power of y)``; component k of the
    gradient at ``(x, y)`` is the sum of its table's ``c * x**px * y**py``.
    """

    def __init__(self, name: str, terms: tuple[np.ndarray, ...]) -> None:
        self.name, self.terms = name, terms

    def __call__(self, w: np.ndarray) -> np.ndarray:
        x, y = float(w[0]), float(w[1])
        return np.array([sum(c * x**px * y**py for c, px, py in table.tolist()) for table in self.terms])

    def __repr__(self) -> str:
        return f"the gradient of the {self.name} surface"


def run_gradient_descent(student: Any, case: Case) -> Any:
    """``gradient_descent(grad, w0, lr, steps)``: the case gives the gradient as polynomial terms."""
    surface, w0, lr, steps = case.args
    return student(PolynomialGradient(surface["name"], tuple(surface["terms"])), w0, lr, steps)


def run_minibatches(student: Any, case: Case) -> list[Any]:
    """Two epochs from one generator, the same again from a fresh generator with the same seed,
    and two epochs from another seed: the given generator, and only it, must decide the order."""
    n, batch_size, seed = case.args

    def two_epochs(s: int) -> list[Any]:
        rng = np.random.default_rng(s)
        return [student(n, batch_size, rng) for _ in range(2)]

    return [two_epochs(seed), two_epochs(seed), two_epochs(seed + 1)]


def run_optimizer(optimizer_class: Any, case: Case) -> np.ndarray:
    """Build the optimiser with the case's settings and take steps on a quadratic loss.

    The loss is ``sum(c * (p - target)**2) / 2`` for each parameter, so its gradient,
    ``c * (p - target)``, depends on where the previous steps went. The model holds its
    arrays: what is read after every step (and what the next gradient is computed at) are
    those arrays, never what the optimiser may have put in the list it was given. The gradients are
    read-only: they are the caller's (a training loop may log or reuse them), and an optimiser that scales
    them in place raises where it does. Returns the model's parameters (flattened, concatenated) after
    every step: shape ``(steps, size)``.
    """
    starts, curvatures, targets, steps = case.args
    optimizer = optimizer_class(**case.kwargs)
    model = [np.array(p, dtype=float) for p in starts]
    path = []
    for _ in range(steps):
        grads = [c * (p - t) for p, c, t in zip(model, curvatures, targets)]
        for g in grads:
            g.setflags(write=False)
        optimizer.step(list(model), grads)
        path.append(np.concatenate([p.ravel() for p in model]))
    return np.array(path)


# the drivers of this chapter's exercises, by the name an `Exercise` gives as `run=`
DRIVERS: dict[str, Callable[[Any, Case], Any]] = {
    "ch06.gradient_descent": run_gradient_descent,
    "ch06.minibatches": run_minibatches,
    "ch06.optimizer": run_optimizer,
}
