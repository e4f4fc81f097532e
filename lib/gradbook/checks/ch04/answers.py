"""Chapter 4 checks: backpropagation by hand through a 2-layer sigmoid network.

The network (samples are rows, ``W`` of shape (inputs, units), ``b`` of shape (units,)):

    Z1 = X @ W1 + b1    a1 = sigmoid(Z1)    Z2 = a1 @ W2 + b2    a2 = sigmoid(Z2)
    loss = mean over samples of -(y log a2 + (1 - y) log(1 - a2))

and its gradients, from the output back:

    dZ2 = (a2 - y) / m    dW2 = a1.T @ dZ2    db2 = dZ2.sum(axis=0)
    da1 = dZ2 @ W2.T      dZ1 = da1 * a1 * (1 - a1)    dW1 = X.T @ dZ1    db1 = dZ1.sum(axis=0)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradbook.checks.core import Exercise, Mistake, compare_values, losses_only
from gradbook.checks.ch04.public import TestFunction
from gradbook.checks.drivers import Case
from gradbook.checks.meaning import Axis, Output
from gradbook.checks.plain import Plain
from gradbook.i18n import N_, _

Params = dict[str, np.ndarray]
Cache = dict[str, np.ndarray]
PARAM_NAMES = ("W1", "b1", "W2", "b2")
# What the network's arrays are along each axis: samples are rows, W is (inputs, units).
HIDDEN = (Axis("samples"), Axis("hidden"))
OUT = (Axis("samples"), Axis("outputs"))
PARAMETERS = {"W1": (Axis("features"), Axis("hidden")), "b1": (Axis("hidden"),),
              "W2": (Axis("hidden"), Axis("outputs")), "b2": (Axis("outputs"),)}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def init_params(n_in: int, n_hidden: int, seed: int = 0, scale: float = 1.0) -> Params:
    """Small random weights, zero biases: the same initialisation the notebook gives the student."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(size=(n_in, n_hidden)) * scale,
        "b1": np.zeros(n_hidden),
        "W2": rng.normal(size=(n_hidden, 1)) * scale,
        "b2": np.zeros(1),
    }


def _problem(rng: np.random.Generator, m: int, n_in: int, n_hidden: int) -> tuple[np.ndarray, np.ndarray, Params]:
    X = rng.normal(size=(m, n_in))
    y = rng.integers(0, 2, size=(m, 1)).astype(float)
    params = {
        "W1": rng.normal(size=(n_in, n_hidden)),
        "b1": rng.normal(size=n_hidden) * 0.5,
        "W2": rng.normal(size=(n_hidden, 1)),
        "b2": rng.normal(size=1) * 0.5,
    }
    return X, y, params


def _shapes(hidden: bool) -> list[tuple[int, int, int]]:
    """(m, n_in, n_hidden): never m == n_hidden, so a sum over the wrong axis shows in the shape."""
    return [(5, 2, 3), (8, 3, 4)] + ([(32, 4, 6), (17, 2, 10)] if hidden else [])


# --- forward --------------------------------------------------------------------------------


def _forward(X: np.ndarray, params: Params) -> tuple[np.ndarray, Cache]:
    Z1 = X @ params["W1"] + params["b1"]
    a1 = sigmoid(Z1)
    Z2 = a1 @ params["W2"] + params["b2"]
    a2 = sigmoid(Z2)
    return a2, {"Z1": Z1, "a1": a1, "Z2": Z2, "a2": a2}


def _forward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for m, n_in, n_hidden in _shapes(hidden):
        X, _, params = _problem(rng, m, n_in, n_hidden)
        cases.append(Case((X, params), label=N_("X {shape}, {n} hidden units"), label_values={"shape": X.shape, "n": n_hidden}))
    return cases


def _forward_relu(X: np.ndarray, params: Params) -> tuple[np.ndarray, Cache]:
    Z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(Z1, 0)
    Z2 = a1 @ params["W2"] + params["b2"]
    return sigmoid(Z2), {"Z1": Z1, "a1": a1, "Z2": Z2, "a2": sigmoid(Z2)}


def _forward_no_bias(X: np.ndarray, params: Params) -> tuple[np.ndarray, Cache]:
    Z1 = X @ params["W1"]
    a1 = sigmoid(Z1)
    Z2 = a1 @ params["W2"]
    return sigmoid(Z2), {"Z1": Z1, "a1": a1, "Z2": Z2, "a2": sigmoid(Z2)}


def _forward_logits(X: np.ndarray, params: Params) -> tuple[np.ndarray, Cache]:
    _, cache = _forward(X, params)
    return cache["Z2"], cache


forward = Exercise(
    "ch04.forward",
    library_answers=(
        "gradbook.reference.numpy_engine._Dense",
        "gradbook.torch_path.engine._dense",
    ),
    title="forward",
    outputs={"a2": Output("a2", OUT), "Z1": Output("Z1", HIDDEN), "a1": Output("a1", HIDDEN), "Z2": Output("Z2", OUT)},
    reference=_forward,
    cases=_forward_cases,
    run="ch04.forward",
    mistakes=[
        Mistake(_forward_relu, N_("the hidden layer uses relu; this network uses sigmoid in both layers.")),
        Mistake(_forward_no_bias, N_("the biases are missing: Z1 = X @ W1 + b1 and Z2 = a1 @ W2 + b2.")),
        Mistake(_forward_logits, N_("a2 is Z2 without the sigmoid: the output a2 = sigmoid(Z2) is a probability.")),
    ],
)


# --- bce_loss -------------------------------------------------------------------------------


def _bce_loss(a2: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2)))


def _bce_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((np.array([[0.9], [0.2], [0.6]]), np.array([[1.0], [0.0], [0.0]])), label=N_("a2=[[0.9], [0.2], [0.6]], y=[[1], [0], [0]]")),
        # Outside any clip range a student might pick ([0.01, 0.99], [1e-3, 1 - 1e-3]), right and wrong alike.
        Case((np.array([[0.9995], [0.0004], [0.996], [0.002]]), np.array([[1.0], [0.0], [0.0], [1.0]])),
             label=N_("confident predictions, near 0 and 1, two of them wrong")),
        # Beyond Keras's clip [1e-7, 1 - 1e-7] too: this loss takes the log of a2 itself, as chapter 4's training does.
        Case((np.array([[1e-9], [1 - 1e-9]]), np.array([[1.0], [0.0]])),
             label=N_("confident and wrong beyond Keras's clip: a2=[[1e-9], [1 - 1e-9]], y=[[1], [0]]")),
    ]
    for m in (10, 50) if hidden else (6,):
        cases.append(
            Case((rng.uniform(0.02, 0.98, size=(m, 1)), rng.integers(0, 2, size=(m, 1)).astype(float)), label=N_("{m} random predictions"), label_values={"m": m})
        )
    return cases


bce_loss = Exercise(
    "ch04.bce_loss",
    library_answers=(
        "gradbook.reference.losses.binary_crossentropy",
        "gradbook.reference.numpy_engine._binary",
        "gradbook.reference.numpy_engine._binary_from_logits",
        "gradbook.torch_path.engine._binary",
    ),
    title="bce_loss",
    reference=_bce_loss,
    cases=_bce_cases,
    mistakes=[
        Mistake(lambda a2, y: float(-np.mean(y * np.log(a2) + (1 - y) * np.log1p(a2))),
                N_("np.log1p(a2) is log(1 + a2); the second term needs log(1 - a2): np.log(1 - a2), or np.log1p(-a2).")),
        Mistake(
            lambda a2, y: float(-np.sum(y * np.log(a2) + (1 - y) * np.log(1 - a2))),
            N_("the loss is summed over the samples; average it (np.mean) so it does not grow with the batch size."),
        ),
        Mistake(
            lambda a2, y: float(np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))),
            N_("the minus sign is missing: log of a probability is negative, the loss -log(p) is positive."),
        ),
        Mistake(
            lambda a2, y: _bce_loss(np.clip(a2, 1e-7, 1 - 1e-7), y),
            N_("a2 is clipped to [1e-7, 1 - 1e-7] first: this loss is the log of a2 itself, so a confident wrong "
               "prediction (a2 = 1e-9 for a label 1) costs -log(1e-9) = 20.7, not 16.1. Leave out the clip."),
        ),
        Mistake(
            lambda a2, y: float(-np.mean(y * np.log(a2) + (1 - y) * np.log(a2))),
            N_("the second term takes log(a2) again: a sample with label 0 costs -log(1 - a2), the log of the "
               "probability given to class 0. Write (1 - y) * np.log(1 - a2)."),
        ),
        Mistake(
            lambda a2, y: float(-np.mean(y * np.log(a2))),
            N_("the (1 - y) * log(1 - a2) term is missing: samples with label 0 must cost something too."),
        ),
    ],
)


# --- backward -------------------------------------------------------------------------------


def _backward(X: np.ndarray, y: np.ndarray, params: Params, cache: Cache, *, sign: float = 1.0,
              scale_by_m: bool = True, sum_axis: int = 0, transpose: bool = False,
              derivative_of: str = "a1") -> dict[str, np.ndarray]:
    """The reference, and (through its switches) the plausible mistakes."""
    m = X.shape[0]
    a1, a2 = cache["a1"], cache["a2"]
    dZ2 = sign * (a2 - y) / (m if scale_by_m else 1)
    dW2 = dZ2.T @ a1 if transpose else a1.T @ dZ2
    db2 = dZ2.sum(axis=sum_axis)
    da1 = dZ2 @ params["W2"].T
    s = sigmoid(cache["a1"]) if derivative_of == "sigmoid(a1)" else cache[derivative_of.removesuffix(" tanh")]
    dZ1 = da1 * (1 - s**2 if derivative_of.endswith(" tanh") else s * (1 - s))
    dW1 = dZ1.T @ X if transpose else X.T @ dZ1
    db1 = dZ1.sum(axis=sum_axis)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def _reference_backward(X: np.ndarray, y: np.ndarray, params: Params, cache: Cache) -> dict[str, np.ndarray]:
    return _backward(X, y, params, cache)


def _mistake(**switches: Any) -> Callable[..., dict[str, np.ndarray]]:
    return lambda X, y, params, cache: _backward(X, y, params, cache, **switches)


def _backward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for m, n_in, n_hidden in _shapes(hidden):
        X, y, params = _problem(rng, m, n_in, n_hidden)
        _, cache = _forward(X, params)
        cases.append(Case((X, y, params, cache), label=N_("X {shape}, {n} hidden units"), label_values={"shape": X.shape, "n": n_hidden}))
    return cases


backward = Exercise(
    "ch04.backward",
    library_answers=(
        "gradbook.reference.activations.sigmoid_backward",
        "gradbook.reference.activations.sigmoid_derivative",
    ),
    title="backward",
    outputs={"d" + name: Output("d" + name, axes) for name, axes in PARAMETERS.items()},
    reference=_reference_backward,
    cases=_backward_cases,
    run="ch04.gradients",
    mistakes=[
        Mistake(_mistake(scale_by_m=False), N_("dZ2 is missing the 1/m: the loss is a mean, so dZ2 = (a2 - y) / m.")),
        Mistake(_mistake(sign=-1.0), N_("the gradient has a flipped sign: dZ2 = (a2 - y) / m, prediction minus target.")),
        Mistake(
            _mistake(sum_axis=1),
            N_("db is summed over the wrong axis: sum over the samples (axis=0) so db has one entry per unit."),
        ),
        Mistake(_mistake(derivative_of="a1 tanh"), N_("dZ1 uses tanh's derivative, 1 - a1**2: the hidden layer is a "
                "sigmoid, whose derivative is a1 * (1 - a1).")),
        Mistake(_mistake(transpose=True), N_("dW is transposed: dW2 = a1.T @ dZ2 has the shape of W2 (inputs, units).")),
        Mistake(
            _mistake(derivative_of="sigmoid(a1)"),
            N_("the sigmoid is applied to a1 again: a1 is already sigmoid(Z1), so its derivative is a1 * (1 - a1), "
               "not sigmoid(a1) * (1 - sigmoid(a1))."),
        ),
        Mistake(
            _mistake(derivative_of="Z1"),
            N_("the sigmoid derivative uses Z1: it is a1 * (1 - a1), written with the activation a1 = sigmoid(Z1)."),
        ),
    ],
)


# --- numerical_gradient ---------------------------------------------------------------------


def _numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central differences, one coordinate at a time; x is left as it was."""
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _one_sided(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    grad = np.zeros_like(x, dtype=float)
    f_x = f(x.copy())
    for i in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[i] += eps
        grad[i] = (f(shifted) - f_x) / eps
    return grad


def _big_eps(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    return _numerical_gradient(f, x.copy(), eps=0.1)


def _ignores_eps(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    return _numerical_gradient(f, x, eps=1e-5)


def _minus_at_x(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[i] += eps
        grad[i] = (f(shifted) - f(x.copy())) / (2 * eps)
    return grad


def _times_eps(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    return _numerical_gradient(f, x.copy(), eps) * eps * eps


def _half(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    return _numerical_gradient(f, x.copy(), eps) * 2


# The functions to differentiate are described as plain data; the driver builds them
# (`public.TestFunction`): sum(x**3 - 2x) is curved enough that one-sided differences are
# visibly off; sum(tanh(X @ W) * c) is a layer's weighted output as a function of its weights.
CUBIC, WAVY = {"f": "cubic"}, {"f": "wavy"}
cubic, wavy = TestFunction(CUBIC), TestFunction(WAVY)


def _numgrad_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    x1 = rng.uniform(0.5, 2.0, size=4)
    cases = [
        Case((CUBIC, x1), label=N_("f(x) = sum(x**3 - 2x) at x={x} (default eps)"), label_values={"x": np.round(x1, 3).tolist()}),
        Case((WAVY, rng.uniform(-2, 2, size=(2, 3))), {"eps": 1e-4}, label=N_("f(x) = sum(sin(3x) x**2), x of shape (2, 3), eps=1e-4")),
    ]
    x2 = rng.uniform(0.5, 2.0, size=3)
    cases.append(Case((CUBIC, x2), {"eps": 1e-2}, label=N_("f(x) = sum(x**3 - 2x) at x={x}, eps=0.01 (large enough that the answer shows which eps was used)"),
                      label_values={"x": np.round(x2, 3).tolist()}))
    layer = {"f": "tanh_layer", "X": rng.normal(size=(6, 2)), "c": rng.normal(size=(6, 3))}
    cases.append(Case((layer, rng.normal(size=(2, 3))), label=N_("f(W) = sum(tanh(X @ W) * c), a layer's weighted output, W (2, 3)")))
    if hidden:
        cases.append(Case((CUBIC, rng.uniform(1.0, 3.0, size=(3, 3))), {"eps": 1e-5}, label=N_("f(x) = sum(x**3 - 2x), x (3, 3)")))
    return cases


numerical_gradient = Exercise(
    "ch04.numerical_gradient",
    library_answers=(
        "gradbook.reference.gradcheck.numerical_gradient",
    ),
    title="numerical_gradient",
    reference=_numerical_gradient,
    cases=_numgrad_cases,
    run="ch04.numerical_gradient",
    rtol=1e-7,
    atol=1e-9,
    mistakes=[
        Mistake(
            _one_sided,
            N_("one-sided differences (f(x+eps) - f(x)) / eps are only accurate to O(eps); "
            "use central differences (f(x+eps) - f(x-eps)) / (2 eps), accurate to O(eps**2)."),
        ),
        Mistake(_big_eps, N_("eps is too large (or the eps argument is ignored): use the eps you are given, e.g. 1e-5.")),
        Mistake(_half, N_("the difference is divided by eps, not by 2 * eps: x+eps and x-eps are 2 * eps apart.")),
        Mistake(_minus_at_x, N_("f_minus is taken at x itself, not at x - eps: (f(x + eps) - f(x)) / (2 * eps) is "
                                "about half the slope. Set x[i] = old - eps before the second call of f.")),
        Mistake(_times_eps, N_("`/ 2 * eps` divides by 2 and then multiplies by eps (Python reads it left to right): "
                               "write the denominator in brackets, / (2 * eps).")),
        Mistake(_ignores_eps, N_("the eps argument is ignored: step by the eps you are given, x[i] + eps and x[i] - eps.")),
    ],
)


# --- relative_error -------------------------------------------------------------------------


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


def _relerr_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((np.array([3.0, 4.0]), np.array([3.0, 4.0]) * (1 + 1e-6)), label=N_("a=[3, 4], b=a*(1+1e-6)")),
        Case((np.array([1e-3, -2e-3]), np.array([1.5e-3, -2e-3])), label=N_("small gradients a=[1e-3, -2e-3], b=[1.5e-3, -2e-3]")),
        Case((np.array([100.0, 0.0]), np.array([0.0, 100.0])), label=N_("a=[100, 0], b=[0, 100]")),
    ]
    for _ in range(3 if hidden else 1):
        a = rng.normal(size=(3, 4)) * 10 ** rng.uniform(-4, 2)
        cases.append(Case((a, a + rng.normal(size=(3, 4)) * 1e-3 * np.abs(a).mean()), label=N_("arrays of shape {shape}"), label_values={"shape": a.shape}))
    return cases


relative_error = Exercise(
    "ch04.relative_error",
    library_answers=(
        "gradbook.reference.gradcheck.relative_error",
    ),
    title="relative_error",
    reference=_relative_error,
    cases=_relerr_cases,
    mistakes=[
        Mistake(
            lambda a, b: float(np.linalg.norm(a - b)),
            N_("that is the absolute error ||a - b||; divide by ||a|| + ||b|| so the answer does not depend on the scale."),
        ),
        Mistake(
            lambda a, b: float(np.max(np.abs(a - b))),
            N_("that is the largest absolute difference; the relative error is ||a - b|| / (||a|| + ||b||)."),
        ),
        Mistake(
            lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(a) + np.linalg.norm(b)),
            N_("||b|| is added to the quotient, not to the denominator: without brackets, x / y + z is (x / y) + z. "
               "Write norm(a - b) / (norm(a) + norm(b))."),
        ),
        Mistake(
            lambda a, b: float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b))),
            N_("the denominator is the larger of ||a|| and ||b||; this chapter's relative error divides by their sum, "
               "||a|| + ||b||."),
        ),
        Mistake(
            lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(a + b)),
            N_("the denominator is ||a + b||; it is ||a|| + ||b|| (the norms added, never less than ||a - b||)."),
        ),
    ],
)


# --- train ----------------------------------------------------------------------------------


def _train(X: np.ndarray, y: np.ndarray, params: Params, epochs: int = 100, lr: float = 0.5,
           *, sign: float = 1.0, update_biases: bool = True) -> tuple[Params, list[float]]:
    params = {k: v.copy() for k, v in params.items()}
    losses = []
    for _ in range(epochs):
        a2, cache = _forward(X, params)
        losses.append(_bce_loss(a2, y))
        grads = _backward(X, y, params, cache)
        for name in PARAM_NAMES:
            if update_biases or name.startswith("W"):
                params[name] = params[name] - sign * lr * grads["d" + name]
    return params, losses


def _reference_train(X: np.ndarray, y: np.ndarray, params: Params, epochs: int = 100, lr: float = 0.5) -> tuple[Params, list[float]]:
    return _train(X, y, params, epochs, lr)


def moons(n: int, seed: int, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (like scikit-learn's make_moons); y has shape (n, 1)."""
    rng = np.random.default_rng(seed)
    n_top = n // 2
    t_top = rng.uniform(0, np.pi, n_top)
    t_bottom = rng.uniform(0, np.pi, n - n_top)
    X = np.concatenate([
        np.stack([np.cos(t_top), np.sin(t_top)], axis=1),
        np.stack([1 - np.cos(t_bottom), 0.5 - np.sin(t_bottom)], axis=1),
    ])
    X += rng.normal(scale=noise, size=X.shape)
    y = np.concatenate([np.zeros(n_top), np.ones(n - n_top)])[:, None]
    order = rng.permutation(n)
    return X[order], y[order]


def _train_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    seed = int(rng.integers(1000))
    X, y = moons(40 if hidden else 20, seed=seed)
    params = init_params(2, 4, seed=seed)
    cases = [Case((X, y, params), {"epochs": 30, "lr": 0.5}, label=N_("{n} moons points, 4 hidden units, epochs=30, lr=0.5"), label_values={"n": len(X)})]
    # Large weights: predictions beyond 0.999 for a label 1 and below 0.001 for a label 0 from the start, outside
    # any clip range a loss might (wrongly) use (the same for every seed: moons 4 is one such).
    X, y = moons(8, seed=4)
    cases.append(Case((X, y, init_params(2, 4, seed=4, scale=6.0)), {"epochs": 5, "lr": 0.5},
                      label=N_("8 moons points, large initial weights (confident predictions), epochs=5, lr=0.5")))
    return cases


def _compare_train(expected: Plain, got: Plain, case: Case) -> str | None:
    problem = compare_values(expected, got, rtol=1e-6, atol=1e-9)
    if problem and isinstance(got, dict) and "losses" in got:
        losses = np.asarray(got["losses"])
        if losses.shape == np.shape(expected.get("losses")) and losses.size > 1 and losses[-1] > losses[0]:
            problem += _(" Your loss went up during training.")
        params = {k: v for k, v in expected.items() if k != "losses"}
        if compare_values(params, {k: got.get(k) for k in params}, rtol=1e-6, atol=1e-9) is None:
            problem = "\n".join(line for line in (problem, losses_only(expected["losses"], losses, "bce_loss")) if line)
    return problem


train = Exercise(
    "ch04.train",
    title="train",
    outputs={"losses": Output("losses", (Axis("epochs", first=1),)), **{n: Output(n, a) for n, a in PARAMETERS.items()}},
    reference=_reference_train,
    cases=_train_cases,
    run="ch04.train",
    compare=_compare_train,
    mistakes=[
        Mistake(
            lambda X, y, params, epochs=100, lr=0.5: _train(X, y, params, epochs, lr, sign=-1.0),
            N_("the update goes uphill: gradient descent subtracts, params[name] = params[name] - lr * grads['d' + name]."),
        ),
        Mistake(
            lambda X, y, params, epochs=100, lr=0.5: _train(X, y, params, epochs, lr, update_biases=False),
            N_("the biases b1 and b2 are never updated; update all four parameters."),
        ),
    ],
)
