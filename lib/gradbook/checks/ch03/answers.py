"""Chapter 3 checks: the perceptron, why XOR defeats it, and the dense layer that fixes it.

Conventions the student is told: samples are rows; ``perceptron_predict`` returns 0/1 with
``step(z) = 1 if z >= 0``; weights start at zero; ``W`` of a dense layer has shape
``(inputs, units)`` and ``b`` shape ``(units,)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gradbook.checks.core import Exercise, Mistake, compare_labels, compare_values, named
from gradbook.checks.ch03.public import relu, sigmoid
from gradbook.checks.drivers import Case
from gradbook.checks.meaning import Axis, Output
from gradbook.checks.plain import Plain
from gradbook.i18n import N_, _

Activation = Callable[[np.ndarray], np.ndarray]

GATES_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
GATES = {
    "AND": np.array([0, 0, 0, 1]),
    "OR": np.array([0, 1, 1, 1]),
    "XOR": np.array([0, 1, 1, 0]),
}
NOT_X = np.array([[0.0], [1.0]])
NOT_Y = np.array([1, 0])


# --- perceptron_predict ---------------------------------------------------------------------


def _perceptron_predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Reference: 1 where ``X @ w + b >= 0``, else 0 (one prediction per row)."""
    return (X @ w + b >= 0).astype(int)


def _predict_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((GATES_X, np.array([1.0, 1.0]), -1.5), label=N_("AND weights w=[1, 1], b=-1.5")),
        Case((GATES_X, np.array([1.0, 1.0]), -1.0), label=N_("w=[1, 1], b=-1 (z is exactly 0 for two inputs)")),
        Case((NOT_X, np.array([-1.0]), 0.5), label=N_("NOT weights w=[-1], b=0.5")),
    ]
    n = 40 if hidden else 12
    for features in (2, 5):
        X = rng.integers(-3, 4, size=(n, features)).astype(float)
        w = rng.integers(-2, 3, size=features).astype(float)
        cases.append(Case((X, w, float(rng.integers(-2, 3)))))
    return cases


perceptron_predict = Exercise(
    "ch03.perceptron_predict",
    library_answers=(
        "gradbook.widgets.perceptron.step_rule",
    ),
    title="perceptron_predict",
    outputs=Output(axes=(Axis("samples"),)),
    compare=compare_labels,
    reference=_perceptron_predict,
    cases=_predict_cases,
    mistakes=[
        Mistake(lambda X, w, b: (X @ w >= 0).astype(int), N_("the bias b is missing: the step is applied to X @ w + b.")),
        Mistake(lambda X, w, b: (X @ w >= b).astype(int), N_("the bias is compared with, not added: X @ w + b >= 0 is "
                                                             "X @ w >= -b. Add b to the weighted sum and compare with 0.")),
        Mistake(
            lambda X, w, b: (X @ w + b > 0).astype(int),
            N_("z == 0 must give 1: the step is `z >= 0`, not `z > 0`."),
        ),
        Mistake(
            lambda X, w, b: np.sign(X @ w + b),
            N_("np.sign gives -1/0/+1; the perceptron here predicts the labels 0 and 1 (1 where z >= 0)."),
        ),
        Mistake(lambda X, w, b: X @ w + b, N_("you returned z itself; apply the step function: 1 where z >= 0, else 0.")),
    ],
)


# --- perceptron_train -----------------------------------------------------------------------


def _perceptron_train(
    X: np.ndarray, y: np.ndarray, epochs: int = 10, lr: float = 1.0
) -> tuple[np.ndarray, float, list[int]]:
    """Reference: Rosenblatt's rule, zero start, samples in order; errors counted per epoch."""
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y):
            update = lr * (target - int(xi @ w + b >= 0))
            w = w + update * xi
            b = b + update
            wrong += int(update != 0)
        errors.append(wrong)
    return w, b, errors


def _train_wrong_sign(X: np.ndarray, y: np.ndarray, epochs: int = 10, lr: float = 1.0) -> tuple:
    w, b, errors = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y):
            update = lr * (int(xi @ w + b >= 0) - target)
            w, b, wrong = w + update * xi, b + update, wrong + int(update != 0)
        errors.append(wrong)
    return w, b, errors


def _train_no_bias(X: np.ndarray, y: np.ndarray, epochs: int = 10, lr: float = 1.0) -> tuple:
    w, b, errors = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y):
            update = lr * (target - int(xi @ w + b >= 0))
            w, wrong = w + update * xi, wrong + int(update != 0)
        errors.append(wrong)
    return w, b, errors


def _train_variant(X: np.ndarray, y: np.ndarray, epochs: int, lr: float, *, strict: bool = False,
                   use_lr: bool = True) -> tuple:
    """The rule with one slip: the step taken as z > 0 while training, or the learning rate left out."""
    w, b, errors = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y):
            z = xi @ w + b
            update = (lr if use_lr else 1.0) * (target - int(z > 0 if strict else z >= 0))
            w, b, wrong = w + update * xi, b + update, wrong + int(update != 0)
        errors.append(wrong)
    return w, b, errors


def _train_batch(X: np.ndarray, y: np.ndarray, epochs: int = 10, lr: float = 1.0) -> tuple:
    """Predicts the whole epoch with the weights from its start, then updates once."""
    w, b, errors = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        delta = lr * (y - (X @ w + b >= 0).astype(int))
        w, b = w + delta @ X, b + delta.sum()
        errors.append(int(np.count_nonzero(delta)))
    return w, b, errors


def _compare_train(expected: Plain, got: Plain, case: Case) -> str | None:
    names = (N_("weights"), N_("bias"), N_("errors per epoch"))
    for part, (name, e, g) in enumerate(zip(names, expected, got)):
        problem = compare_values(e, g, rtol=1e-9, atol=1e-9, part=part)
        if problem:
            return named(_(name), problem)
    return None


def _train_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    # Dyadic learning rates and integer inputs keep every sum exact, whatever the order.
    cases = [
        Case((GATES_X, GATES["AND"]), {"epochs": 6, "lr": 1.0}, label=N_("AND, epochs=6, lr=1.0")),
        Case((GATES_X, GATES["OR"]), {"epochs": 4, "lr": 0.5}, label=N_("OR, epochs=4, lr=0.5")),
        Case((NOT_X, NOT_Y), {"epochs": 3, "lr": 0.25}, label=N_("NOT, epochs=3, lr=0.25")),
        Case((GATES_X, GATES["XOR"]), {"epochs": 5, "lr": 1.0}, label=N_("XOR, epochs=5, lr=1.0")),
    ]
    n = 30 if hidden else 10
    X = rng.integers(-3, 4, size=(n, 3)).astype(float)
    y = (X @ np.array([1.0, -2.0, 1.0]) + 0.5 >= 0).astype(int)
    cases.append(Case((X, y), {"epochs": 8, "lr": 0.5}, label=N_("{n} separable points with 3 features, epochs=8"), label_values={"n": n}))
    return cases


perceptron_train = Exercise(
    "ch03.perceptron_train",
    title="perceptron_train",
    outputs=(Output("w", (Axis("features"),)), Output("b"), Output("errors", (Axis("epochs", first=1),))),
    reference=_perceptron_train,
    cases=_train_cases,
    run="ch03.perceptron_train",
    compare=_compare_train,
    mistakes=[
        Mistake(
            _train_wrong_sign,
            N_("the update has the wrong sign: it is lr * (target - prediction); a 1 predicted for a 0 must lower the weights."),
        ),
        Mistake(_train_no_bias, N_("the bias is never updated: b moves by lr * (target - prediction) too.")),
        Mistake(lambda X, y, epochs=10, lr=1.0: _train_variant(X, y, epochs, lr, strict=True),
                N_("while training, z == 0 is taken as a 0: the perceptron predicts 1 where z >= 0 (as "
                   "perceptron_predict does), also inside the training loop.")),
        Mistake(lambda X, y, epochs=10, lr=1.0: _train_variant(X, y, epochs, lr, use_lr=False),
                N_("the learning rate lr is not used: each update is lr * (target - prediction) (it only looks right "
                   "when lr = 1).")),
        Mistake(
            _train_batch,
            N_("the perceptron updates after every sample (inside the loop over samples), not once per epoch."),
        ),
    ],
)


# --- dense ----------------------------------------------------------------------------------


def _dense(a_in: np.ndarray, W: np.ndarray, b: np.ndarray, g: Activation) -> np.ndarray:
    """Reference: one layer, ``g(a_in @ W + b)``; a_in is one sample (n,) or a batch (m, n)."""
    return g(a_in @ W + b)


def _dense_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case(
            (np.array([1.0, 2.0]), np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -1.0]]), np.array([0.5, 1.0, -2.0]), "linear"),
            label=N_("one sample a_in=[1, 2], W (2, 3), b=[0.5, 1, -2], g=linear"),
        ),
    ]
    m = 16 if hidden else 5
    for name in ("sigmoid", "relu", "linear"):  # the driver passes the function of that name
        n, units = int(rng.integers(2, 5)), int(rng.integers(2, 6))
        if units == n:
            units += 1
        a_in = rng.normal(size=(m, n))
        W = rng.normal(size=(n, units))
        b = rng.normal(size=units) * 2
        cases.append(Case((a_in, W, b, name), label=N_("a batch a_in {a_in}, W {W}, b {b}, g={g}"),
                          label_values={"a_in": a_in.shape, "W": W.shape, "b": b.shape, "g": name}))
    return cases


dense = Exercise(
    "ch03.dense",
    library_answers=(
        "gradbook.reference.numpy_engine._Dense",
        "gradbook.torch_path.engine._dense",
    ),
    title="dense",
    outputs=Output(axes=(Axis("samples"), Axis("units")), last=True),  # one sample (n,) gives its units
    reference=_dense,
    cases=_dense_cases,
    run="ch03.dense",
    mistakes=[
        Mistake(lambda a_in, W, b, g: g(a_in @ W), N_("the bias is missing: z = a_in @ W + b, then a = g(z).")),
        Mistake(
            lambda a_in, W, b, g: g(a_in @ W) + b,
            N_("g is applied before adding b: add the bias first, z = a_in @ W + b, then a = g(z)."),
        ),
        Mistake(lambda a_in, W, b, g: a_in @ W + b, N_("the activation g is never applied: return g(z).")),
    ],
)


# --- sequential_xor -------------------------------------------------------------------------


def _sequential_xor(X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """Reference: two sigmoid dense layers, X -> a1 -> a2 (probabilities, shape (m, 1))."""
    return _dense(_dense(X, W1, b1, sigmoid), W2, b2, sigmoid)


HAND_W1 = np.array([[20.0, -20.0], [20.0, -20.0]])
HAND_B1 = np.array([-10.0, 30.0])
HAND_W2 = np.array([[20.0], [20.0]])
HAND_B2 = np.array([-30.0])


def _xor_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for m in (6, 20) if hidden else (6,):
        X = rng.uniform(-1, 2, size=(m, 2))
        W1, b1 = rng.normal(size=(2, 2)) * 2, rng.normal(size=2)
        b1 -= (X @ W1 + b1).mean(axis=0)  # some hidden units on, some off: relu and no activation differ
        cases.append(
            Case((X, W1, b1, rng.normal(size=(2, 1)) * 2, rng.normal(size=1)), label=N_("{m} random points, random weights"), label_values={"m": m})
        )
    cases.append(Case((GATES_X, HAND_W1, HAND_B1, HAND_W2, HAND_B2), label=N_("the XOR inputs with the hand-made weights")))
    return cases


sequential_xor = Exercise(
    "ch03.sequential_xor",
    title="sequential_xor",
    outputs=Output(axes=(Axis("samples"), Axis("outputs"))),
    reference=_sequential_xor,
    cases=_xor_cases,
    mistakes=[
        Mistake(
            lambda X, W1, b1, W2, b2: _dense(X, W1, b1, sigmoid) @ W2 + b2,
            N_("the output layer has no sigmoid: a2 = sigmoid(a1 @ W2 + b2) is a probability."),
        ),
        Mistake(
            lambda X, W1, b1, W2, b2: _dense(X, W2, b2, sigmoid),
            N_("the output layer is given X, not the hidden layer's output: a2 = dense(a1, W2, b2, sigmoid) with "
               "a1 = dense(X, W1, b1, sigmoid)."),
        ),
        Mistake(
            lambda X, W1, b1, W2, b2: _dense(_dense(X, W1, b1, relu), W2, b2, sigmoid),
            N_("the hidden layer uses relu; in this network both layers use sigmoid."),
        ),
        Mistake(
            lambda X, W1, b1, W2, b2: _dense(X @ W1 + b1, W2, b2, sigmoid),
            N_("the hidden layer has no activation: without it two layers collapse into one linear map and cannot solve XOR."),
        ),
    ],
)


# --- xor_weights (a value: weights the student chooses by hand) ------------------------------


def hand_xor_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reference: one hidden unit is OR, the other NAND; the output is their AND."""
    return HAND_W1, HAND_B1, HAND_W2, HAND_B2


def _gate_of(weights: Plain) -> np.ndarray | str:
    """What the 2-2-1 network with these weights outputs on the four inputs, rounded to 0/1."""
    try:
        W1, b1, W2, b2 = (np.asarray(w, dtype=float) for w in weights)
        # Not `_sequential_xor`: the student edition copies this compare, and must not hold that answer.
        a2 = sigmoid(sigmoid(GATES_X @ W1.reshape(2, 2) + b1.reshape(2)) @ W2.reshape(2, 1) + b2.reshape(1))
    except (TypeError, ValueError) as error:
        return _(
            "expected four arrays (W1 (2, 2), b1 (2,), W2 (2, 1), b2 (1,)); "
            "they do not fit a 2-2-1 network: {error}"
        ).format(error=error)
    return (a2.ravel() >= 0.5).astype(int)


GATE_NAMES = {(0, 0, 0, 1): "AND", (0, 1, 1, 1): "OR", (1, 1, 1, 0): "NAND", (1, 0, 0, 0): "NOR", (0, 1, 1, 0): "XOR",
              (1, 0, 0, 1): "XNOR"}


def _hidden_gates(weights: Plain) -> list[str]:
    """What each hidden unit computes on the four inputs: a gate's name, or its outputs there."""
    W1, b1 = (np.asarray(w, dtype=float) for w in list(weights)[:2])
    on = (sigmoid(GATES_X @ W1.reshape(2, 2) + b1.reshape(2)) >= 0.5).astype(int)
    return [GATE_NAMES.get(tuple(int(v) for v in unit), str(unit.tolist())) for unit in on.T]


def _compare_gate(expected: Plain, got: Plain, case: Case) -> str | None:
    want, have = _gate_of(expected), _gate_of(got)
    if isinstance(have, str):
        return have
    if isinstance(want, str) or np.array_equal(want, have):
        return None
    first, second = _hidden_gates(got)
    return _("on the inputs [[0,0],[0,1],[1,0],[1,1]] your network outputs {have}, XOR is {want}. Its hidden units "
             "compute {first} and {second} there.").format(have=have.tolist(), want=want.tolist(), first=first,
                                                            second=second)


xor_weights = Exercise(
    "ch03.xor_weights",
    title="xor_weights",
    reference=hand_xor_weights,
    value=True,
    run="ch03.xor_weights",
    compare=_compare_gate,
    mistakes=[
        Mistake(
            lambda: (np.array([[20.0, 0.0], [20.0, 0.0]]), np.array([-10.0, 0.0]), np.array([[20.0], [0.0]]), np.array([-10.0])),
            N_("your network computes OR: it also outputs 1 for [1, 1]. Add a hidden unit that is off only for [1, 1] (NAND) and AND the two."),
        ),
        Mistake(
            lambda: (HAND_W1, HAND_B1, np.array([[20.0], [20.0]]), np.array([-10.0])),
            N_("your network outputs 1 for every input. With hidden units OR and NAND, the output unit must be their AND: "
            "on only when both are on, so its bias must be more negative than either weight alone."),
        ),
    ],
)

