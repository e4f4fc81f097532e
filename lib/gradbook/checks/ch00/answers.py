"""Chapter 0, what is deep learning: the five-step training loop on a 1-D linear model.

The model is y = w * x + b. The student writes the prediction, the mean squared
error, its gradient with respect to w and b, and the loop that puts them together
(init, predict, loss, feedback, repeat). Training is checked against a reference
run with the same data, learning rate and number of steps: same final w and b,
same loss at every step, and a loss that grows is diagnosed as such.
"""

from __future__ import annotations

import numpy as np

from gradbook.checks.core import Exercise, Mistake, compare_values, losses_only, named
from gradbook.checks.drivers import Case, quiet
from gradbook.checks.meaning import Axis, Output
from gradbook.checks.plain import Plain
from gradbook.i18n import N_, _

Array = np.ndarray


# --- reference answers ----------------------------------------------------------------


def _predict(w: float, b: float, x: Array) -> Array:
    return w * x + b


def _mse_loss(y_pred: Array, y: Array) -> float:
    return float(np.mean((y_pred - y) ** 2))


def _gradients(w: float, b: float, x: Array, y: Array) -> tuple[float, float]:
    error = w * x + b - y
    return float(2 * np.mean(error * x)), float(2 * np.mean(error))


def _train(x: Array, y: Array, lr: float, steps: int) -> tuple[float, float, list[float]]:
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        losses.append(_mse_loss(_predict(w, b, x), y))
        dw, db = _gradients(w, b, x, y)
        w, b = w - lr * dw, b - lr * db
    return w, b, losses


# --- cases ----------------------------------------------------------------------------


def _points(rng: np.random.Generator, n: int, w: float, b: float, noise: float = 0.3) -> tuple[Array, Array]:
    x = rng.uniform(-1, 1, size=n)
    return x, w * x + b + rng.normal(0, noise, size=n)


def _predict_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((2.0, 1.0, np.array([0.0, 1.0, 2.0, 3.0]))), Case((-0.5, 3.0, np.array([-2.0, 4.0])))]
    cases += [Case((float(rng.normal()), float(rng.normal()), rng.uniform(-5, 5, size=8)))]
    if hidden:
        cases += [Case((0.0, -1.5, np.array([7.0]))), Case((float(rng.normal()), float(rng.normal()), rng.normal(size=50)))]
    return cases


def _loss_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0])))]
    cases += [Case((rng.normal(size=10), rng.normal(size=10)))]
    if hidden:
        cases += [Case((np.array([4.0]), np.array([1.0]))), Case((rng.normal(size=100), rng.normal(size=100))), Case((np.ones(5), np.ones(5)))]
    return cases


def _gradient_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    # w is neither 0 nor 1 in the second case: a slip that multiplies by w (w * (x + b)) shows on the visible cases.
    cases = [Case((0.0, 0.0, np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.0]))), Case((1.5, 2.0, *_points(rng, 10, 3.0, 0.5)))]
    if hidden:
        cases += [
            Case((-2.0, 0.5, np.array([-1.5]), np.array([2.0]))),
            Case((float(rng.normal()), float(rng.normal()), *_points(rng, 60, -1.0, 2.0))),
        ]
    return cases


def _train_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    x, y = np.array([-1.0, 0.0, 1.0, 2.0]), np.array([-1.0, 1.0, 3.0, 5.0])
    cases = [
        Case((x, y, 0.1, 3), label=N_("x=[-1, 0, 1, 2], y=[-1, 1, 3, 5] (y = 2x + 1), lr=0.1, steps=3")),
        Case((*_points(rng, 20, 3.0, 0.5), 0.1, 100), label=N_("20 noisy points around y = 3x + 0.5, lr=0.1, steps=100")),
    ]
    if hidden:
        cases += [
            Case((*_points(rng, 50, -2.0, 1.0), 0.05, 200), label=N_("50 noisy points around y = -2x + 1, lr=0.05, steps=200")),
            Case((*_points(rng, 5, 1.0, -3.0), 0.3, 1), label=N_("5 noisy points around y = x - 3, lr=0.3, steps=1")),
        ]
    return cases


# --- comparing training runs ----------------------------------------------------------


def _compare_training(expected: Plain, got: Plain, case: Case) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return _("train must return three things, `return w, b, losses`; it returned {what}.").format(what=_what(got))
    try:
        w, b, losses = float(got[0]), float(got[1]), np.asarray(got[2], dtype=float)
    except (TypeError, ValueError):
        return _("train must return numbers w and b and a list of losses (floats).")
    exp_w, exp_b, exp_losses = expected[0], expected[1], np.asarray(expected[2], dtype=float)
    steps = case.args[3]
    if losses.ndim == 1 and losses.size > steps and _near(losses[losses.size - steps:], exp_losses):
        return _("losses holds {count} numbers, and its last {steps} are this run's: the list still holds the losses "
                 "of earlier calls. Make a new list inside train, losses = [] (a default argument losses=[] or a list "
                 "made outside the function is one list, shared by every call).").format(count=losses.size, steps=steps)
    if losses.shape != exp_losses.shape:
        return _("losses should hold one loss per step ({steps} numbers), got shape {shape}.").format(
            steps=steps, shape=losses.shape)
    same = [compare_values(e, g, rtol=1e-6, atol=1e-9, part=i) for i, (e, g) in enumerate(((exp_w, w), (exp_b, b), (exp_losses, losses)))]
    if not any(same):
        return None
    if not np.all(np.isfinite(losses)) or (steps > 1 and losses[-1] > losses[0]):
        return _(
            "the loss went up, from {first} to {last}, instead of down (expected "
            "{expected_first} to {expected_last}): each step must move w and b against the gradient."
        ).format(first=f"{losses[0]:.4g}", last=f"{losses[-1]:.4g}", expected_first=f"{exp_losses[0]:.4g}",
                 expected_last=f"{exp_losses[-1]:.4g}")
    lines = [named(label, problem) for label, problem in zip(("w", "b", "losses"), same) if problem]
    if not same[0] and not same[1]:
        lines.append(losses_only(exp_losses, losses, "mse_loss"))
    return "\n".join(line for line in lines if line)


def _near(got: Array, expected: Array) -> bool:
    return compare_values(expected, got, rtol=1e-6, atol=1e-9) is None


def _what(value: Plain) -> str:
    if isinstance(value, (tuple, list)):
        return _("{count} items").format(count=len(value))
    return "None" if value is None else type(value).__name__


# --- plausible mistakes ---------------------------------------------------------------


def _predict_without_b(w: float, b: float, x: Array) -> Array:
    return w * x


def _predict_swapped(w: float, b: float, x: Array) -> Array:
    return b * x + w


def _predict_bias_times_w(w: float, b: float, x: Array) -> Array:
    return w * (x + b)


def _loss_by_n_minus_1(y_pred: Array, y: Array) -> float:
    return float(np.sum((y_pred - y) ** 2) / (len(y) - 1))


def _loss_sum(y_pred: Array, y: Array) -> float:
    return float(np.sum((y_pred - y) ** 2))


def _loss_not_squared(y_pred: Array, y: Array) -> float:
    return float(np.mean(y_pred - y))


def _loss_square_of_mean(y_pred: Array, y: Array) -> float:
    return float(np.mean(y_pred - y) ** 2)


def _loss_absolute(y_pred: Array, y: Array) -> float:
    return float(np.mean(np.abs(y_pred - y)))


def _loss_precedence(y_pred: Array, y: Array) -> float:
    return float(np.mean(y_pred - y**2))


def _loss_difference_of_squares(y_pred: Array, y: Array) -> float:
    return float(np.mean(y_pred**2 - y**2))


def _loss_root(y_pred: Array, y: Array) -> float:
    return float(np.sqrt(np.mean((y_pred - y) ** 2)))


def _gradients_flipped(w: float, b: float, x: Array, y: Array) -> tuple[float, float]:
    error = y - (w * x + b)
    return float(2 * np.mean(error * x)), float(2 * np.mean(error))


def _gradients_without_2(w: float, b: float, x: Array, y: Array) -> tuple[float, float]:
    error = w * x + b - y
    return float(np.mean(error * x)), float(np.mean(error))


def _gradients_without_x(w: float, b: float, x: Array, y: Array) -> tuple[float, float]:
    error = w * x + b - y
    return float(2 * np.mean(error)), float(2 * np.mean(error))


def _gradients_bias_times_w(w: float, b: float, x: Array, y: Array) -> tuple[float, float]:
    error = _predict_bias_times_w(w, b, x) - y
    return float(2 * np.mean(error * x)), float(2 * np.mean(error))


def _gradients_product_of_means(w: float, b: float, x: Array, y: Array) -> tuple[float, float]:
    error = w * x + b - y
    return float(2 * np.mean(error) * np.mean(x)), float(2 * np.mean(error))


def _train_b_after_w(x: Array, y: Array, lr: float, steps: int) -> tuple[float, float, list[float]]:
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        losses.append(_mse_loss(_predict(w, b, x), y))
        w = w - lr * _gradients(w, b, x, y)[0]
        b = b - lr * _gradients(w, b, x, y)[1]  # at the new w
    return w, b, losses


def _train_without_b(x: Array, y: Array, lr: float, steps: int) -> tuple[float, float, list[float]]:
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        losses.append(_mse_loss(_predict(w, b, x), y))
        dw, db = _gradients(w, b, x, y)
        w = w - lr * dw
    return w, b, losses


def _train_uphill(x: Array, y: Array, lr: float, steps: int) -> tuple[float, float, list[float]]:
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        losses.append(_mse_loss(_predict(w, b, x), y))
        dw, db = _gradients(w, b, x, y)
        w, b = w + lr * dw, b + lr * db
    return w, b, losses


def _train_loss_after_update(x: Array, y: Array, lr: float, steps: int) -> tuple[float, float, list[float]]:
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        dw, db = _gradients(w, b, x, y)
        w, b = w - lr * dw, b - lr * db
        losses.append(_mse_loss(_predict(w, b, x), y))
    return w, b, losses


def _train_gradient_once(x: Array, y: Array, lr: float, steps: int) -> tuple[float, float, list[float]]:
    w, b = 0.0, 0.0
    losses = []
    dw, db = _gradients(w, b, x, y)  # the gradient at the start, never recomputed
    for _ in range(steps):
        losses.append(_mse_loss(_predict(w, b, x), y))
        w, b = w - lr * dw, b - lr * db
    return w, b, losses


# --- exercises ------------------------------------------------------------------------

predict = Exercise(
    "ch00.predict",
    reference=_predict,
    cases=_predict_cases,
    title="predict",
    outputs=Output(axes=(Axis("samples"),)),
    mistakes=[
        Mistake(_predict_without_b, N_("the bias b is missing: the model is w * x + b, a line that need not pass through 0.")),
        Mistake(_predict_swapped, N_("w and b are swapped: w multiplies x (the slope), b is added (where the line crosses x = 0).")),
        Mistake(_predict_bias_times_w, N_("b is multiplied by w too: w * (x + b) is w * x + w * b. Add the bias after the "
                                          "product: w * x + b.")),
    ],
)

mse_loss = Exercise(
    "ch00.mse_loss",
    library_answers=(
        "gradbook.reference.losses.mean_squared_error",
        "gradbook.reference.numpy_engine._mse",
    ),
    reference=_mse_loss,
    cases=_loss_cases,
    title="mse_loss",
    mistakes=[
        Mistake(_loss_sum, N_("this is the sum of the squared errors; the mean squared error divides by the number of points (np.mean).")),
        Mistake(_loss_not_squared, N_("the errors are not squared: positive and negative errors cancel out. Square them before the mean.")),
        Mistake(_loss_square_of_mean, N_("this squares the mean error, mean(error)**2: errors of opposite signs cancel "
                                         "before the square. Square each error first, then take the mean.")),
        Mistake(_loss_absolute, N_("this is the mean absolute error (mean of |error|); square the errors instead.")),
        Mistake(_loss_root, N_("this is the root of the mean squared error (RMSE); leave out the square root.")),
        Mistake(_loss_precedence, N_("** binds tighter than -: y_pred - y ** 2 squares y alone and subtracts it from "
                                     "y_pred. Put the difference in brackets first: (y_pred - y) ** 2.")),
        Mistake(_loss_difference_of_squares, N_("this is the mean of y_pred**2 - y**2, the difference of the squares; "
                                                "the squared error is the square of the difference, (y_pred - y) ** 2.")),
        Mistake(quiet(_loss_by_n_minus_1), N_("the sum is divided by n - 1, as for a sample's variance; the mean squared "
                                              "error divides by the number of points n (np.mean).")),
    ],
)

gradients = Exercise(
    "ch00.gradients",
    reference=_gradients,
    cases=_gradient_cases,
    title="gradients",
    outputs=(Output("dw"), Output("db")),
    mistakes=[
        Mistake(
            _gradients_flipped,
            N_("the sign is flipped: with error = y_pred - y the gradient is 2 * mean(error * x); "
            "you used y - y_pred."),
        ),
        Mistake(_gradients_without_2, N_("the factor 2 is missing: the derivative of error**2 is 2 * error * (derivative of error).")),
        Mistake(_gradients_without_x, N_("dw is missing the factor x: y_pred = w * x + b, so d(y_pred)/dw = x (while d(y_pred)/db = 1).")),
        Mistake(_gradients_bias_times_w, N_("the prediction inside is w * (x + b), which is w * x + w * b: the bias "
                                            "is multiplied by w. The error is w * x + b - y (your predict, if it is "
                                            "right: check predict first).")),
        Mistake(_gradients_product_of_means, N_("dw is 2 * mean(error) * mean(x): the mean of a product is not the product "
                                                "of the means. Multiply each error by its own x first: 2 * mean(error * x).")),
    ],
)

train = Exercise(
    "ch00.train",
    reference=_train,
    cases=_train_cases,
    title="train",
    compare=_compare_training,
    outputs=(Output("w"), Output("b"), Output("losses", (Axis("steps"),))),
    mistakes=[
        Mistake(_train_b_after_w, N_("db is computed after w has already moved: both gradients belong to the same point. "
                                     "Compute dw and db together at the current w and b, then update both.")),
        Mistake(_train_without_b, N_("b never changes: update both parameters every step, w -= lr * dw and b -= lr * db.")),
        Mistake(_train_uphill, N_("w and b moved along the gradient (+ lr * dw), which is uphill; subtract it: w = w - lr * dw.")),
        Mistake(_train_gradient_once, N_("w and b move by the same amount at every step: the gradient is the one at the "
                                         "start, computed once before the loop. Compute dw, db inside the loop, at the "
                                         "current w and b, every step.")),
        Mistake(
            _train_loss_after_update,
            N_("the losses are recorded after the update; record each step's loss before updating, "
            "so losses[0] is the loss of the starting point w = b = 0."),
        ),
    ],
)
