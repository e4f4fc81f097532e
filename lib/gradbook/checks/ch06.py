"""Chapter 6, optimisers: gradient descent, mini-batches, SGD, momentum, RMSprop, Adam.

The optimisers are small classes with ``step(params, grads)`` that update every
parameter array in place, as in the reference engine. A check runs the student's
class for several steps on a quadratic loss whose gradient depends on where the
parameters are, so each step builds on the previous ones (momentum, running
averages, bias correction) and compares the whole trajectory with the reference.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradbook import surfaces
from gradbook.checks.core import Case, Exercise, Mistake, compare_values
from gradbook.checks.plain import Plain

# --------------------------------------------------------------------------- gradient descent


def _gradient_descent(grad: Callable[[np.ndarray], np.ndarray], w0: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """The path of plain gradient descent from ``w0``: ``steps + 1`` points, the start first."""
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(steps):
        w = w - lr * grad(w)
        path.append(w.copy())
    return np.array(path)


def _gd_ascent(grad, w0, lr, steps):
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(steps):
        w = w + lr * grad(w)
        path.append(w.copy())
    return np.array(path)


def _gd_no_start(grad, w0, lr, steps):
    return _gradient_descent(grad, w0, lr, steps)[1:]


def _gd_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for surface in (surfaces.bowl, surfaces.saddle, surfaces.rosenbrock):
        start = np.array(surface.start) + (rng.normal(scale=0.1, size=2) if hidden else 0.0)
        steps = 40 if hidden else 15
        cases.append(Case((surface.grad, start, surface.lr, steps), label=f"the {surface.name} surface, {steps} steps"))
    return cases


gradient_descent = Exercise(
    "ch06.gradient_descent",
    title="gradient_descent",
    reference=_gradient_descent,
    cases=_gd_cases,
    mistakes=[
        Mistake(_gd_ascent, "you stepped along the gradient (w + lr * g), which climbs the hill; "
                "gradient descent steps against it: w - lr * g."),
        Mistake(_gd_no_start, "the path must begin with the starting point w0: steps + 1 points in all."),
    ],
)

# --------------------------------------------------------------------------- mini-batches


def _minibatches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices ``0..n-1`` shuffled with ``rng``, cut into batches (the last may be smaller)."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _mb_in_order(n, batch_size, rng):
    order = np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _mb_full_batch(n, batch_size, rng):
    return [rng.permutation(n)]


def _mb_drop_last(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def _mb_fixed_seed(n, batch_size, rng):
    return _minibatches(n, batch_size, np.random.default_rng(42))


def _run_two_epochs(student: Any, case: Case) -> Any:
    n, batch_size, seed = case.args
    rng = np.random.default_rng(seed)
    return [student(n, batch_size, rng) for _ in range(2)]


def _mb_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    sizes = [(10, 3), (64, 16), (100, 32)] + ([(1000, 128), (257, 64)] if hidden else [])
    return [
        Case((n, b, int(rng.integers(1 << 30))), label=f"n={n}, batch_size={b}, two epochs with one rng")
        for n, b in sizes
    ]


def _mb_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    """Any shuffle is right: accept the reference's exact batches or any valid partition."""
    if compare_values(expected, got) is None:
        return None
    n, batch_size, _ = case.args
    if not isinstance(got, list) or len(got) != 2:
        return "expected a list of index arrays from each call."
    sizes = [min(batch_size, n - i) for i in range(0, n, batch_size)]
    epochs = []
    for epoch in got:
        if not isinstance(epoch, (list, tuple)) or not all(isinstance(b, np.ndarray) for b in epoch):
            return "minibatches should return a list of index arrays (one array per batch)."
        if [b.size for b in epoch] != sizes:
            return f"expected {len(sizes)} batches of sizes {_sizes(sizes)}, got {_sizes([b.size for b in epoch])}."
        flat = np.concatenate(epoch) if epoch else np.array([], dtype=int)
        if not np.array_equal(np.sort(flat), np.arange(n)):
            return f"every index 0..{n - 1} must appear exactly once per epoch."
        epochs.append(flat)
    if any(np.array_equal(e, np.arange(n)) for e in epochs):
        return "the batches are in the original order 0, 1, 2, ...: they are not shuffled."
    if np.array_equal(epochs[0], epochs[1]):
        return "two calls with the same rng gave the same order: each epoch must be shuffled anew."
    return None


def _sizes(sizes: list[int]) -> str:
    return str(sizes) if len(sizes) <= 6 else f"[{sizes[0]}, {sizes[1]}, ..., {sizes[-1]}]"


minibatches = Exercise(
    "ch06.minibatches",
    title="minibatches",
    reference=_minibatches,
    cases=_mb_cases,
    run=_run_two_epochs,
    compare=_mb_compare,
    mistakes=[
        Mistake(_mb_in_order, "the indices are not shuffled. Shuffle once per epoch with rng.permutation(n), "
                "or every epoch sees the batches in the same, possibly sorted, order."),
        Mistake(_mb_full_batch, "you returned one batch with every sample: that is full-batch gradient descent. "
                "Cut the shuffled indices into pieces of batch_size."),
        Mistake(_mb_drop_last, "the last, smaller batch is missing: when n is not a multiple of batch_size "
                "the remaining samples still form a batch."),
        Mistake(_mb_fixed_seed, "you made a new generator with a fixed seed, so every epoch has the same order. "
                "Use the rng you were given."),
    ],
)

# --------------------------------------------------------------------------- optimisers


class SGD:
    """Plain stochastic gradient descent: ``w -= lr * g``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g in zip(params, grads):
            p -= self.lr * g


class Momentum:
    """SGD with momentum, Keras's form: ``v = beta * v - lr * g``; ``w += v``."""

    def __init__(self, lr: float = 0.01, beta: float = 0.9) -> None:
        self.lr, self.beta = lr, beta
        self.velocities: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            v *= self.beta
            v -= self.lr * g
            p += v


class RMSprop:
    """RMSprop: ``s = rho * s + (1 - rho) * g**2``; ``w -= lr * g / (sqrt(s) + eps)``."""

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-7) -> None:
        self.lr, self.rho, self.eps = lr, rho, eps
        self.squares: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.squares):
            s *= self.rho
            s += (1 - self.rho) * g**2
            p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam:
    """Adam (Kingma & Ba) with bias correction; ``t`` counts steps from 1."""

    def __init__(self, lr: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, eps: float = 1e-7) -> None:
        self.lr, self.beta_1, self.beta_2, self.eps = lr, beta_1, beta_2, eps
        self.t = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
            m_hat = m / (1 - self.beta_1**self.t)
            v_hat = v / (1 - self.beta_2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


# Plausible wrong optimisers: each changes one thing.


class _SGDRebinds(SGD):
    def step(self, params, grads):
        for p, g in zip(params, grads):
            p = p - self.lr * g  # noqa: F841 - the mistake: a new array, the parameter is untouched


class _SGDAscent(SGD):
    def step(self, params, grads):
        for p, g in zip(params, grads):
            p += self.lr * g


class _MomentumSignFlipped(Momentum):
    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            v *= self.beta
            v += self.lr * g
            p += v


class _MomentumForgets(Momentum):
    def step(self, params, grads):
        for p, g in zip(params, grads):
            v = self.beta * np.zeros_like(p) - self.lr * g
            p += v


class _RMSpropEpsInside(RMSprop):
    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.squares):
            s *= self.rho
            s += (1 - self.rho) * g**2
            p -= self.lr * g / np.sqrt(s + self.eps)


class _RMSpropNoSquare(RMSprop):
    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        with np.errstate(invalid="ignore"):
            for p, g, s in zip(params, grads, self.squares):
                s *= self.rho
                s += (1 - self.rho) * g
                p -= self.lr * g / (np.sqrt(s) + self.eps)


class _AdamNoBiasCorrection(Adam):
    def step(self, params, grads):
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
            p -= self.lr * m / (np.sqrt(v) + self.eps)


class _AdamStuckClock(Adam):
    def step(self, params, grads):
        self.t = 0  # the mistake: t is never advanced past the first step
        super().step(params, grads)


class _AdamClockPerParameter(Adam):
    def step(self, params, grads):
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        for p, g, m, v in zip(params, grads, self.m, self.v):
            self.t += 1
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
            m_hat = m / (1 - self.beta_1**self.t)
            v_hat = v / (1 - self.beta_2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def run_optimizer(optimizer_class: Any, case: Case) -> np.ndarray:
    """Build the optimiser with the case's settings and take steps on a quadratic loss.

    The loss is ``sum(c * (p - target)**2) / 2`` for each parameter, so its gradient,
    ``c * (p - target)``, depends on where the previous steps went. Returns the
    parameters (flattened, concatenated) after every step: shape ``(steps, size)``.
    """
    starts, curvatures, targets, steps = case.args
    optimizer = optimizer_class(**case.kwargs)
    params = [np.array(p, dtype=float) for p in starts]
    path = []
    for _ in range(steps):
        grads = [c * (p - t) for p, c, t in zip(params, curvatures, targets)]
        optimizer.step(params, grads)
        path.append(np.concatenate([p.ravel() for p in params]))
    return np.array(path)


def _optimizer_cases(settings: list[dict], scale: float = 1.0) -> Callable[[np.random.Generator, bool], list[Case]]:
    def cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
        out = []
        for kwargs in settings + (settings if hidden else []):
            shapes = [(3, 2), (2,)] if not hidden else [(4, 3), (3,), (2, 2)]
            starts = [rng.normal(size=s) for s in shapes]
            curvatures = [scale * rng.uniform(0.1, 3.0, size=s) for s in shapes]
            targets = [rng.normal(size=s) for s in shapes]
            steps = 12 if hidden else 6
            label = f"{', '.join(f'{k}={v:g}' for k, v in kwargs.items())}; {steps} steps on a weight matrix and a bias"
            out.append(Case((starts, curvatures, targets, steps), dict(kwargs), label=label))
        return out

    return cases


sgd = Exercise(
    "ch06.sgd",
    title="SGD",
    reference=SGD,
    run=run_optimizer,
    cases=_optimizer_cases([{"lr": 0.1}, {"lr": 0.01}]),
    mistakes=[
        Mistake(_SGDRebinds, "the parameters never changed: `p = p - lr * g` makes a new array and leaves the "
                "model's array alone. Update in place: `p -= lr * g`."),
        Mistake(_SGDAscent, "you added the gradient (p += lr * g): that climbs the loss. Subtract it."),
    ],
)

momentum = Exercise(
    "ch06.momentum",
    title="Momentum",
    reference=Momentum,
    run=run_optimizer,
    cases=_optimizer_cases([{"lr": 0.05, "beta": 0.9}, {"lr": 0.1, "beta": 0.5}]),
    mistakes=[
        Mistake(_MomentumSignFlipped, "the velocity has the wrong sign: with v = beta * v - lr * g the update "
                "is w += v (or, equivalently, v = beta * v + lr * g and w -= v); you pushed uphill."),
        Mistake(_MomentumForgets, "your velocity starts from zero on every step, which is plain SGD. Keep one "
                "velocity per parameter in self and update it in place, step after step."),
    ],
)

rmsprop = Exercise(
    "ch06.rmsprop",
    title="RMSprop",
    reference=RMSprop,
    run=run_optimizer,
    cases=_optimizer_cases([{"lr": 0.01, "rho": 0.9, "eps": 1e-7}, {"lr": 0.001, "rho": 0.8, "eps": 1e-7}], scale=1e-3),
    mistakes=[
        Mistake(_RMSpropEpsInside, "eps is inside the square root, sqrt(s + eps); this exercise's formula "
                "(Hinton's and PyTorch's) adds it outside: g / (sqrt(s) + eps). (Keras and TensorFlow use the "
                "inside form: a different convention, visible when gradients are small, as here.)"),
        Mistake(_RMSpropNoSquare, "the running average must be of the squared gradient, g**2; an average of "
                "g itself can be negative, and its square root is nan."),
    ],
)

adam = Exercise(
    "ch06.adam",
    title="Adam",
    reference=Adam,
    run=run_optimizer,
    cases=_optimizer_cases([{"lr": 0.1, "beta_1": 0.9, "beta_2": 0.999, "eps": 1e-7},
                            {"lr": 0.01, "beta_1": 0.8, "beta_2": 0.99, "eps": 1e-7}]),
    mistakes=[
        Mistake(_AdamNoBiasCorrection, "no bias correction: m and v start at zero, so early on they are far too "
                "small. Divide by (1 - beta_1**t) and (1 - beta_2**t), with t the number of steps so far."),
        Mistake(_AdamStuckClock, "the step counter t never advances, so the bias correction always uses t = 1. "
                "Add 1 to self.t at the start of every step."),
        Mistake(_AdamClockPerParameter, "t advances once per parameter instead of once per step. Increase "
                "self.t once, before the loop over the parameters."),
    ],
)
