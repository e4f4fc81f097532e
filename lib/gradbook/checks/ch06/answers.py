"""Chapter 6, optimisers: gradient descent, mini-batches, SGD, momentum, RMSprop, Adam.

The optimisers are small classes with ``step(params, grads)`` that update every
parameter array in place, as in the reference engine. A check runs the student's
class for several steps on a quadratic loss whose gradient depends on where the
parameters are, so each step builds on the previous ones (momentum, running
averages, bias correction) and compares the whole trajectory with the reference.
What is compared are the model's own arrays, the ones the optimiser was given: a step
that puts new arrays in the list (``params[i] = params[i] - lr * g``) moves nothing.
Adam is also accepted in Keras's folded form, which the notebook calls equivalent.
``minibatches`` is run from generators with equal and with different seeds, so the
order must come from the given rng.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gradbook import surfaces
from gradbook.checks.core import Exercise, Mistake, compare_values
from gradbook.checks.ch06.public import run_optimizer
from gradbook.checks.drivers import Case
from gradbook.checks.display import hint
from gradbook.checks.meaning import Axis, Output, entries
from gradbook.checks.plain import Plain, to_plain
from gradbook.i18n import N_, _

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


# Each surface's gradient as polynomial terms, one table per component, rows (coefficient,
# power of x, power of y): plain data the driver turns back into `grad` (`PolynomialGradient`).
GRADIENT_TERMS: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "bowl": (np.array([[1.0, 1, 0]]), np.array([[surfaces.BOWL_CONDITION, 0, 1]])),
    "saddle": (np.array([[2.0, 1, 0]]), np.array([[1.0, 0, 3], [-1.0, 0, 1]])),
    # d/dx (1 - x)^2 + 100 (y - x^2)^2 = -2 + 2x - 400xy + 400x^3;  d/dy = 200y - 200x^2
    "rosenbrock": (np.array([[-2.0, 0, 0], [2.0, 1, 0], [-400.0, 1, 1], [400.0, 3, 0]]),
                   np.array([[200.0, 0, 1], [-200.0, 2, 0]])),
}


def surface_gradient(name: str) -> dict:
    """The plain description of a surface's gradient that a case carries."""
    return {"name": name, "terms": GRADIENT_TERMS[name]}


def _gd_gradient_at_start(grad, w0, lr, steps):
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(steps):
        w = w - lr * grad(np.array(w0, dtype=float))
        path.append(w.copy())
    return np.array(path)


def _gd_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for surface in (surfaces.bowl, surfaces.saddle, surfaces.rosenbrock):
        start = np.array(surface.start) + (rng.normal(scale=0.1, size=2) if hidden else 0.0)
        steps = 40 if hidden else 15
        cases.append(Case((surface_gradient(surface.name), start, surface.lr, steps),
                          label=N_("the {surface} surface, {steps} steps"),
                          label_values={"surface": surface.name, "steps": steps}))
    # A start of whole numbers is an int array: an update in place (w -= ...) on np.array(w0) cannot hold fractions.
    start = np.array([int(rng.integers(-3, -1)), int(rng.integers(1, 4))]) if hidden else np.array([-2, 2])
    cases.append(Case((surface_gradient("bowl"), start, surfaces.bowl.lr, 10),
                      label=N_("the bowl surface from a start of whole numbers (an int array), 10 steps")))
    return cases


gradient_descent = Exercise(
    "ch06.gradient_descent",
    library_answers=(
        "gradbook.widgets.race._gd",
    ),
    title="gradient_descent",
    reference=_gradient_descent,
    cases=_gd_cases,
    outputs=Output("path", (Axis("steps"), Axis(names=("w[0]", "w[1]")))),  # row 0 is the start, w0: "step 0"
    arguments=("grad", "w0", "lr", "steps"),
    run="ch06.gradient_descent",
    mistakes=[
        Mistake(_gd_ascent, N_("you stepped along the gradient (w + lr * g), which climbs the hill; "
                "gradient descent steps against it: w - lr * g.")),
        Mistake(_gd_no_start, N_("the path must begin with the starting point w0: steps + 1 points in all.")),
        Mistake(_gd_gradient_at_start, N_("every step uses the gradient at the start, grad(w0): the gradient changes "
                "as w moves, so each step takes it where w is now, w = w - lr * grad(w).")),
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


def _mb_global_rng(n, batch_size, rng):
    order = np.random.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _mb_own_generator(n, batch_size, rng, _generator=np.random.default_rng(7)):
    return _minibatches(n, batch_size, _generator)


def _mb_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    sizes = [(10, 3), (64, 16), (100, 32)] + ([(1000, 128), (257, 64)] if hidden else [])
    return [
        Case((n, b, int(rng.integers(1 << 30))),
             label=N_("n={n}, batch_size={b}: two epochs from one rng, and again from a generator with the same seed "
                      "and one with another"), label_values={"n": n, "b": b})
        for n, b in sizes
    ]


NOT_THE_GIVEN_RNG = N_("the order must come from the rng you were given: with two generators made from the same "
                     "seed, your batches differed. Shuffle with the given generator, rng.permutation(n), not "
                     "np.random or a generator of your own.")
IGNORES_THE_RNG = N_("generators with different seeds gave the same batches: the order must come from the rng you "
                   "were given (rng.permutation(n)).")


def _mb_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    """Any shuffle is right if it is a valid partition, new every epoch, and decided by the given rng.

    The driver returns three runs of two epochs: from a generator with the case's seed, from a
    fresh one with the same seed, and from one with another seed.
    """
    if compare_values(expected, got) is None:
        return None
    n, batch_size, _seed = case.args
    if not (isinstance(got, list) and len(got) == 3 and all(isinstance(run, list) and len(run) == 2 for run in got)):
        return _("expected a list of index arrays from each call.")
    first, again, other = got
    sizes = [min(batch_size, n - i) for i in range(0, n, batch_size)]
    epochs = []
    for epoch in first:
        if not isinstance(epoch, (list, tuple)) or not all(isinstance(b, np.ndarray) for b in epoch):
            return _("minibatches should return a list of index arrays (one array per batch).")
        if [b.size for b in epoch] != sizes:
            return _("expected {count} batches of sizes {sizes}, got {got}.").format(
                count=len(sizes), sizes=_sizes(sizes), got=_sizes([b.size for b in epoch]))
        flat = np.concatenate(epoch) if epoch else np.array([], dtype=int)
        if not np.array_equal(np.sort(flat), np.arange(n)):
            return _("every index 0..{last} must appear exactly once per epoch.").format(last=n - 1)
        epochs.append(flat)
    if any(np.array_equal(e, np.arange(n)) for e in epochs):
        return _("the batches are in the original order 0, 1, 2, ...: they are not shuffled.")
    if np.array_equal(epochs[0], epochs[1]):
        return _("two calls with the same rng gave the same order: each epoch must be shuffled anew.")
    if compare_values(first, again) is not None:
        return hint(_(NOT_THE_GIVEN_RNG))
    if compare_values(first, other) is None:
        return hint(_(IGNORES_THE_RNG))
    return None


def _sizes(sizes: list[int]) -> str:
    return str(sizes) if len(sizes) <= 6 else f"[{sizes[0]}, {sizes[1]}, ..., {sizes[-1]}]"


minibatches = Exercise(
    "ch06.minibatches",
    title="minibatches",
    reference=_minibatches,
    cases=_mb_cases,
    run="ch06.minibatches",
    compare=_mb_compare,
    mistakes=[
        Mistake(_mb_in_order, N_("the indices are not shuffled. Shuffle once per epoch with rng.permutation(n), "
                "or every epoch sees the batches in the same, possibly sorted, order.")),
        Mistake(_mb_full_batch, N_("you returned one batch with every sample: that is full-batch gradient descent. "
                "Cut the shuffled indices into pieces of batch_size.")),
        Mistake(_mb_drop_last, N_("the last, smaller batch is missing: when n is not a multiple of batch_size "
                "the remaining samples still form a batch.")),
        Mistake(_mb_fixed_seed, N_("you made a new generator with a fixed seed, so every epoch has the same order. "
                "Use the rng you were given.")),
        Mistake(_mb_global_rng, NOT_THE_GIVEN_RNG),
        Mistake(_mb_own_generator, NOT_THE_GIVEN_RNG),
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


class _SGDRebindsListEntry(SGD):
    def step(self, params, grads):
        for i, g in enumerate(grads):
            params[i] = params[i] - self.lr * g  # the mistake: the list now holds a new array; the model's is untouched


class _MomentumRebindsListEntry(Momentum):
    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for i, (g, v) in enumerate(zip(grads, self.velocities)):
            v *= self.beta
            v -= self.lr * g
            params[i] = params[i] + v


class _AdamRebindsListEntry(Adam):
    def step(self, params, grads):
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        for i, (g, m, v) in enumerate(zip(grads, self.m, self.v)):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
            m_hat = m / (1 - self.beta_1**self.t)
            v_hat = v / (1 - self.beta_2**self.t)
            params[i] = params[i] - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


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


class _MomentumMovesFirst(Momentum):
    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            p += v  # the previous step's velocity: this step's gradient arrives one step late
            v *= self.beta
            v -= self.lr * g


class _RMSpropForgets(RMSprop):
    def step(self, params, grads):
        for p, g in zip(params, grads):
            s = (1 - self.rho) * g**2  # a fresh average every step: nothing carried over
            p -= self.lr * g / (np.sqrt(s) + self.eps)


class _RMSpropWithoutOneMinusRho(RMSprop):
    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.squares):
            s *= self.rho
            s += g**2
            p -= self.lr * g / (np.sqrt(s) + self.eps)


class _AdamWithoutRoot(Adam):
    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
            p -= self.lr * (m / (1 - self.beta_1**self.t)) / (v / (1 - self.beta_2**self.t) + self.eps)


class _AdamNoBiasCorrection(Adam):
    def step(self, params, grads):
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
            p -= self.lr * m / (np.sqrt(v) + self.eps)


class _AdamKeras(Adam):
    """Keras's form, which the notebook calls equivalent: both bias corrections folded into the
    learning rate, ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, applied to
    ``m / (sqrt(v) + eps)``. It differs from the textbook form only in where eps sits (and
    measurably here, where sqrt(v) is a few thousandths in the first steps), so it is accepted
    explicitly."""

    def step(self, params, grads):
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        lr_t = self.lr * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
            p -= lr_t * m / (np.sqrt(v) + self.eps)


class _MomentumVariant(Momentum):
    """Momentum with one of the mistakes students make in it (`mistake`, a class attribute of each subclass)."""

    mistake = ""

    def step(self, params, grads):
        if self.velocities is None:  # "one array": the same array n times in the list
            self.velocities = ([np.zeros_like(params[0])] * len(params) if self.mistake == "one array"
                               else [np.zeros_like(p) for p in params])
        share = 1 - self.beta if self.mistake == "average" else 1.0  # "average": of the gradients, as Adam's m
        for p, g, v in zip(params, grads, self.velocities):
            v *= self.beta
            v -= share * self.lr * g
            p += v


_MomentumOneVelocity = type("_MomentumOneVelocity", (_MomentumVariant,), {"mistake": "one array"})
_MomentumAverage = type("_MomentumAverage", (_MomentumVariant,), {"mistake": "average"})


class _RMSpropVariant(RMSprop):
    """RMSprop with one of the mistakes students make in it (`mistake`, a class attribute of each subclass)."""

    mistake = ""

    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        keep = 1 - self.rho if self.mistake == "rho swapped" else self.rho
        for p, g, s in zip(params, grads, self.squares):
            before = s.copy() if self.mistake == "steps first" else None  # last step's average: 0 at the first step
            s *= keep
            s += (1 - keep) * (np.abs(g) if self.mistake == "absolute" else g**2)
            p -= self.lr * g / (np.sqrt(s if before is None else before) + self.eps)


_RMSpropAbsolute = type("_RMSpropAbsolute", (_RMSpropVariant,), {"mistake": "absolute"})
_RMSpropStepsFirst = type("_RMSpropStepsFirst", (_RMSpropVariant,), {"mistake": "steps first"})
_RMSpropRhoSwapped = type("_RMSpropRhoSwapped", (_RMSpropVariant,), {"mistake": "rho swapped"})


class _AdamVariant(Adam):
    """Adam with one of the mistakes students make in it (`mistake`, a class attribute of each subclass)."""

    mistake = ""

    def step(self, params, grads):
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = self.m if self.mistake == "shared" else [np.zeros_like(p) for p in params]
        self.t += 1
        with np.errstate(invalid="ignore"):  # the shared moments make v negative: its root is nan, as the student's
            for p, g, m, v in zip(params, grads, self.m, self.v):
                m[...] = self.beta_1 * m + (1 - self.beta_1) * g
                v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
                m_hat = m if self.mistake == "m uncorrected" else m / (1 - self.beta_1**self.t)
                v_rate = self.beta_1 if self.mistake == "v corrected with beta_1" else self.beta_2
                v_hat = v if self.mistake == "v uncorrected" else v / (1 - v_rate**self.t)
                if self.mistake == "eps inside":
                    p -= self.lr * m_hat / np.sqrt(v_hat + self.eps)
                else:
                    p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


_AdamSharedMoments = type("_AdamSharedMoments", (_AdamVariant,), {"mistake": "shared"})
_AdamEpsInside = type("_AdamEpsInside", (_AdamVariant,), {"mistake": "eps inside"})
_AdamOnlyMCorrected = type("_AdamOnlyMCorrected", (_AdamVariant,), {"mistake": "v uncorrected"})
_AdamOnlyVCorrected = type("_AdamOnlyVCorrected", (_AdamVariant,), {"mistake": "m uncorrected"})
_AdamVCorrectedWithBeta1 = type("_AdamVCorrectedWithBeta1", (_AdamVariant,), {"mistake": "v corrected with beta_1"})


def _adam_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    """The textbook trajectory, or Keras's (the same steps but for where eps sits)."""
    problem = compare_values(expected, got)
    if problem is None or compare_values(to_plain(run_optimizer(_AdamKeras, case)), got) is None:
        return None
    return problem


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


def _trajectory(case: Case) -> Output:
    """The optimiser's output: the model's entries after every step, each entry named by its parameter."""
    starts = case.args[0]
    names = [f"params[{i}]" for i in range(len(starts))]
    return Output(axes=(Axis("steps", first=1), Axis("parameters", names=entries(names, [np.shape(p) for p in starts]))))


def _optimizer_cases(settings: list[dict], scale: float = 1.0) -> Callable[[np.random.Generator, bool], list[Case]]:
    def cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
        out = []
        for kwargs in settings + (settings if hidden else []):
            # Two parameters of one shape: a step that pairs parameters and gradients by shape is told apart.
            shapes = [(3, 2), (2,), (3, 2)] if not hidden else [(4, 3), (3,), (2, 2), (4, 3)]
            starts = [rng.normal(size=s) for s in shapes]
            curvatures = [scale * rng.uniform(0.1, 3.0, size=s) for s in shapes]
            targets = [rng.normal(size=s) for s in shapes]
            steps = 12 if hidden else 6
            settings_text = ", ".join(f"{k}={v:g}" for k, v in kwargs.items())
            out.append(Case((starts, curvatures, targets, steps), dict(kwargs),
                            label=N_("{settings}; {steps} steps on {count} parameters, two of them of one shape"),
                            label_values={"settings": settings_text, "steps": steps, "count": len(shapes)}))
        return out

    return cases


NEVER_MOVED = N_(
    "the model's parameters never changed: `p = p - lr * g` (or `params[i] = params[i] - ...`) makes a new "
    "array, and the model keeps its own. Update the arrays in place: `p -= lr * g` (or `p[...] = ...`)."
)

sgd = Exercise(
    "ch06.sgd",
    library_answers=(
        "gradbook.reference.optimizers.SGD",
        "gradbook.reference.numpy_engine.NumpyEngine.sgd",
        "gradbook.torch_path.engine.TorchEngine.sgd",
    ),
    title="SGD",
    reference=SGD,
    run="ch06.optimizer",
    outputs=_trajectory,
    arguments=("starts", "curvatures", "targets", "steps"),
    cases=_optimizer_cases([{"lr": 0.1}, {"lr": 0.01}]),
    mistakes=[
        Mistake(_SGDRebinds, NEVER_MOVED),
        Mistake(_SGDRebindsListEntry, NEVER_MOVED),
        Mistake(_SGDAscent, N_("you added the gradient (p += lr * g): that climbs the loss. Subtract it.")),
    ],
)

momentum = Exercise(
    "ch06.momentum",
    library_answers=(
        "gradbook.widgets.race._momentum",
    ),
    title="Momentum",
    reference=Momentum,
    run="ch06.optimizer",
    outputs=_trajectory,
    arguments=("starts", "curvatures", "targets", "steps"),
    cases=_optimizer_cases([{"lr": 0.05, "beta": 0.9}, {"lr": 0.1, "beta": 0.5}]),
    mistakes=[
        Mistake(_MomentumSignFlipped, N_("the velocity has the wrong sign: with v = beta * v - lr * g the update "
                "is w += v (or, equivalently, v = beta * v + lr * g and w -= v); you pushed uphill.")),
        Mistake(_MomentumForgets, N_("your velocity starts from zero on every step, which is plain SGD. Keep one "
                "velocity per parameter in self and update it in place, step after step.")),
        Mistake(_MomentumRebindsListEntry, NEVER_MOVED),
        Mistake(_MomentumMovesFirst, N_("each step moves p by the previous step's velocity, before the velocity takes "
                                        "this step's gradient: update v first (v = beta * v - lr * g), then p += v.")),
        Mistake(_MomentumOneVelocity, N_("every parameter shares one velocity array: [np.zeros_like(...)] * n "
                "repeats the same array n times. Make one per parameter, [np.zeros_like(p) for p in params].")),
        Mistake(_MomentumAverage, N_("the velocity takes (1 - beta) * lr * g, an average of the gradients as in "
                "Adam's m: momentum adds the whole step, v = beta * v - lr * g, so that a steady gradient builds up "
                "speed.")),
    ],
)

rmsprop = Exercise(
    "ch06.rmsprop",
    library_answers=(
        "gradbook.reference.optimizers.RMSprop",
        "gradbook.reference.numpy_engine.NumpyEngine.rmsprop",
        "gradbook.torch_path.engine.TorchEngine.rmsprop",
        "gradbook.widgets.race._rmsprop",
    ),
    title="RMSprop",
    reference=RMSprop,
    run="ch06.optimizer",
    outputs=_trajectory,
    arguments=("starts", "curvatures", "targets", "steps"),
    cases=_optimizer_cases([{"lr": 0.01, "rho": 0.9, "eps": 1e-7}, {"lr": 0.001, "rho": 0.8, "eps": 1e-7}], scale=1e-3),
    mistakes=[
        Mistake(_RMSpropEpsInside, N_("eps is inside the square root, sqrt(s + eps); this exercise's formula "
                "(Hinton's and PyTorch's) adds it outside: g / (sqrt(s) + eps). (Keras and TensorFlow use the "
                "inside form: a different convention, visible when gradients are small, as here.)")),
        Mistake(_RMSpropForgets, N_("the running average s starts again at every step, so it is only this step's "
                                    "(1 - rho) * g**2: keep one s per parameter in self and update it in place.")),
        Mistake(_RMSpropWithoutOneMinusRho, N_("the new squared gradient is added whole: the running average is "
                                               "s = rho * s + (1 - rho) * g**2.")),
        Mistake(_RMSpropNoSquare, N_("the running average must be of the squared gradient, g**2; an average of "
                "g itself can be negative, and its square root is nan.")),
        Mistake(_RMSpropAbsolute, N_("the running average is of |g|: it is of the SQUARED gradient, "
                "s = rho * s + (1 - rho) * g**2, whose square root is the gradient's typical size.")),
        Mistake(_RMSpropStepsFirst, N_("the step uses the running average before this step's squared gradient is in "
                "it: update s first, s = rho * s + (1 - rho) * g**2, then step with it. (At the first step s is "
                "still 0, and g / (0 + eps) is huge.)")),
        Mistake(_RMSpropRhoSwapped, N_("rho and 1 - rho are swapped: the old average keeps the weight rho, "
                "s = rho * s + (1 - rho) * g**2, so that it changes slowly.")),
    ],
)

adam = Exercise(
    "ch06.adam",
    library_answers=(
        "gradbook.reference.optimizers.Adam",
        "gradbook.reference.numpy_engine.NumpyEngine.adam",
        "gradbook.torch_path.engine.TorchEngine.adam",
        "gradbook.widgets.race._adam",
    ),
    title="Adam",
    reference=Adam,
    run="ch06.optimizer",
    outputs=_trajectory,
    arguments=("starts", "curvatures", "targets", "steps"),
    cases=_optimizer_cases([{"lr": 0.1, "beta_1": 0.9, "beta_2": 0.999, "eps": 1e-7},
                            {"lr": 0.01, "beta_1": 0.8, "beta_2": 0.99, "eps": 1e-3}]),  # eps large enough to matter
    compare=_adam_compare,
    mistakes=[
        Mistake(_AdamRebindsListEntry, NEVER_MOVED),
        Mistake(_AdamWithoutRoot, N_("the step divides by v_hat itself: divide by its square root, "
                                     "np.sqrt(v_hat) + eps (v averages squared gradients).")),
        Mistake(_AdamNoBiasCorrection, N_("no bias correction: m and v start at zero, so early on they are far too "
                "small. Divide by (1 - beta_1**t) and (1 - beta_2**t), with t the number of steps so far.")),
        Mistake(_AdamStuckClock, N_("the step counter t never advances, so the bias correction always uses t = 1. "
                "Add 1 to self.t at the start of every step.")),
        Mistake(_AdamClockPerParameter, N_("t advances once per parameter instead of once per step. Increase "
                "self.t once, before the loop over the parameters.")),
        Mistake(_AdamSharedMoments, N_("self.m and self.v are the same arrays (self.m = self.v = [...]): every "
                "update of one overwrites the other, and v goes negative (nan under the square root). Make two "
                "lists of zeros, one for m and one for v.")),
        Mistake(_AdamEpsInside, N_("eps is inside the square root, np.sqrt(v_hat + eps): it goes outside, "
                "m_hat / (np.sqrt(v_hat) + eps).")),
        Mistake(_AdamVCorrectedWithBeta1, N_("v is bias-corrected with beta_1: each average is corrected with its "
                "own rate, v_hat = v / (1 - beta_2**t) (and m_hat = m / (1 - beta_1**t)).")),
        Mistake(_AdamOnlyMCorrected, N_("only m is bias-corrected: v starts at zero too, so divide it by "
                "(1 - beta_2**t) as well, v_hat = v / (1 - beta_2**t).")),
        Mistake(_AdamOnlyVCorrected, N_("only v is bias-corrected: m starts at zero too, so divide it by "
                "(1 - beta_1**t) as well, m_hat = m / (1 - beta_1**t).")),
    ],
)
