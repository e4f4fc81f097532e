"""Chapter 5 checks: softmax, cross-entropy, the p - y gradient, and the MNIST model's parts.

Conventions the student is told: classes are on the last axis; a batch of logits has shape
(m, k); labels are one-hot of the same shape; losses are means over the samples;
probabilities are clipped to [1e-7, 1 - 1e-7] before the log, as Keras does.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gradbook.checks.core import Exercise, Mistake, compare_labels
from gradbook.checks.drivers import Case, quiet
from gradbook.checks.meaning import Axis, Output
from gradbook.checks.plain import Plain
from gradbook.i18n import N_, _

EPSILON = 1e-7  # Keras's backend epsilon
# Samples are rows, classes the last axis; one sample (k,) has its classes only.
BY_CLASS = Output(axes=(Axis("samples"), Axis("classes")), last=True)



def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


def _logits(rng: np.random.Generator, m: int, k: int, scale: float = 3.0) -> np.ndarray:
    return rng.normal(size=(m, k)) * scale


# --- softmax --------------------------------------------------------------------------------


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _far_apart_rows(rng: np.random.Generator, k: int) -> np.ndarray:
    """Rows of very different scales (one near 800, one near 0, one near -800): a max or a sum over
    the whole batch instead of each row sends whole rows to exp(-1600) = 0."""
    return np.round(rng.normal(size=(3, k)), 2) + np.array([[800.0], [0.0], [-800.0]])


def _softmax_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((np.array([1.0, 2.0, 3.0]),), label=N_("z=[1, 2, 3]")),
        Case((_logits(rng, 4, 3),), label=N_("a batch of 4 samples, 3 classes")),
        Case((np.array([1000.0, 1001.0, 1002.0]),), label=N_("large logits z=[1000, 1001, 1002]")),
        Case((np.array([[-1000.0, -999.0], [500.0, -500.0], [0.0, 0.0]]),), label=N_("very large and very negative logits")),
        Case((_far_apart_rows(rng, 4),), label=N_("3 samples whose logits are near 800, 0 and -800")),
        # Shifting by anything but the row's max (its mean, its min) overflows here: max - mean is 800.
        Case((np.array([[1200.0, 0.0, 0.0], [0.0, 0.0, -1500.0]]),),
             label=N_("rows whose largest logit is far from their mean: [[1200, 0, 0], [0, 0, -1500]]")),
    ]
    if hidden:
        cases += [
            Case((_logits(rng, 20, 10, scale=10.0),), label=N_("a batch of 20 samples, 10 classes")),
            Case((_far_apart_rows(rng, 10),), label=N_("3 samples whose logits are near 800, 0 and -800")),
        ]
    return cases


BATCH_MAX = N_(
    "the max is taken over the whole batch, np.max(z), not over each row: a row whose logits are far below "
    "the batch's max becomes exp(-1600) = 0 everywhere. Shift each row by its own max, "
    "np.max(z, axis=-1, keepdims=True)."
)

softmax = Exercise(
    "ch05.softmax",
    library_answers=(
        "gradbook.reference.activations.softmax",
        "gradbook.torch_path.activations.softmax",
        "gradbook.widgets.softmax.SoftmaxTemperature.probabilities",
    ),
    title="softmax",
    outputs=BY_CLASS,
    reference=_softmax,
    cases=_softmax_cases,
    mistakes=[
        Mistake(
            quiet(lambda z: np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True)),
            N_("softmax without the max shift: np.exp(1000) overflows to inf. Subtract the row's max first, "
            "z - z.max(axis=-1, keepdims=True); softmax is unchanged by a shift."),
        ),
        Mistake(
            lambda z: (lambda e: e / np.sum(e, axis=0, keepdims=True))(np.exp(z - np.max(z, axis=0, keepdims=True))),
            N_("softmax over the wrong axis: each sample (row) must sum to 1, so use axis=-1 (the classes), not axis=0."),
        ),
        Mistake(
            lambda z: (lambda e: e / np.sum(e))(np.exp(z - np.max(z))),
            N_("the whole batch is normalised at once: sum over the classes of each sample, np.sum(e, axis=-1, keepdims=True)."),
        ),
        Mistake(
            quiet(lambda z: (lambda e: e / np.sum(e, axis=-1, keepdims=True))(np.exp(z - np.max(z)))),
            BATCH_MAX,
        ),
    ],
)


# --- log_softmax ----------------------------------------------------------------------------


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _log_softmax_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((np.array([1.0, 2.0, 3.0]),), label=N_("z=[1, 2, 3]")),
        Case((_logits(rng, 4, 5),), label=N_("a batch of 4 samples, 5 classes")),
        Case((np.array([[1000.0, 0.0, -1000.0]]),), label=N_("logits far apart, [[1000, 0, -1000]]")),
        Case((_far_apart_rows(rng, 5),), label=N_("3 samples whose logits are near 800, 0 and -800")),
    ]
    if hidden:
        cases.append(Case((_logits(rng, 16, 10, scale=50.0),), label=N_("a batch of 16 samples with large logits")))
        cases.append(Case((_far_apart_rows(rng, 10),), label=N_("3 samples whose logits are near 800, 0 and -800")))
    return cases


log_softmax = Exercise(
    "ch05.log_softmax",
    library_answers=(
        "gradbook.reference.activations.log_softmax",
        "gradbook.torch_path.activations.log_softmax",
    ),
    title="log_softmax",
    outputs=BY_CLASS,
    reference=_log_softmax,
    cases=_log_softmax_cases,
    mistakes=[
        Mistake(
            quiet(lambda z: np.log(_softmax(z))),
            N_("log(softmax(z)) loses small probabilities: softmax rounds exp(-2000) to 0 and log(0) = -inf. "
            "Compute it directly: (z - max) - log(sum(exp(z - max)))."),
        ),
        Mistake(
            quiet(lambda z: z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))),
            N_("log-sum-exp without the max shift: np.exp(1000) overflows. Use (z - max) - log(sum(exp(z - max)))."),
        ),
        Mistake(
            quiet(lambda z: z - np.max(z, axis=-1, keepdims=True) - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))),
            N_("the log-sum-exp is of the unshifted z while the max is subtracted too, so the max is taken off twice "
               "(and np.exp(z) overflows for large z). Use the shifted logits in both places: "
               "shifted - log(sum(exp(shifted)))."),
        ),
        Mistake(
            lambda z: (lambda s: s - np.log(np.sum(np.exp(s), axis=0, keepdims=True)))(z - np.max(z, axis=-1, keepdims=True)),
            N_("the log-sum-exp is taken over the wrong axis: sum over the classes, axis=-1 with keepdims=True."),
        ),
        Mistake(
            quiet(lambda z: (lambda s: s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True)))(z - np.max(z))),
            BATCH_MAX,
        ),
    ],
)


# --- categorical_crossentropy ---------------------------------------------------------------


def _cce(y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False) -> float:
    if from_logits:
        log_p = _log_softmax(y_pred)
    else:
        log_p = np.log(np.clip(y_pred, EPSILON, 1 - EPSILON))
    return float(-np.mean(np.sum(y_true * log_p, axis=-1)))


def _cce_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    y = _one_hot(np.array([0, 2, 1]), 3)
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]])
    cases = [Case((y, p), label=N_("3 samples, probabilities, from_logits=False"))]
    for m, k in ((5, 4), (30, 10)) if hidden else ((5, 4),):
        y = _one_hot(rng.integers(0, k, size=m), k)
        cases.append(Case((y, _softmax(_logits(rng, m, k))), label=N_("{m} samples, {k} classes, probabilities"), label_values={"m": m, "k": k}))
        cases.append(Case((y, _logits(rng, m, k)), {"from_logits": True}, label=N_("{m} samples, {k} classes, logits, from_logits=True"), label_values={"m": m, "k": k}))
    cases.append(Case((_one_hot(np.array([1, 0]), 2), np.array([[1.0, 0.0], [0.5, 0.5]])),
                      label=N_("a probability of exactly 0 on the true class (clip before the log)")))
    cases.append(Case((_one_hot(np.array([0, 1]), 2), np.array([[800.0, 0.0], [800.0, 0.0]])), {"from_logits": True},
                      label=N_("large logits [[800, 0], [800, 0]], from_logits=True")))
    # A shift by the row's mean overflows (1200 - 400), one by the batch's max underflows the second row to log(0).
    cases.append(Case((_one_hot(np.array([0, 1]), 3), np.array([[1200.0, 0.0, 0.0], [-1000.0, -999.0, -1001.0]])),
                      {"from_logits": True}, label=N_("logits [[1200, 0, 0], [-1000, -999, -1001]], from_logits=True")))
    return cases


def _log_p(y_pred: np.ndarray, from_logits: bool) -> np.ndarray:
    return _log_softmax(y_pred) if from_logits else np.log(np.clip(y_pred, EPSILON, 1 - EPSILON))


def _cce_ignores_logits(y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False) -> float:
    return _cce(y_true, y_pred)


categorical_crossentropy = Exercise(
    "ch05.categorical_crossentropy",
    library_answers=(
        "gradbook.reference.losses.categorical_crossentropy",
        "gradbook.reference.losses.sparse_categorical_crossentropy",
        "gradbook.reference.numpy_engine._categorical",
        "gradbook.reference.numpy_engine._sparse",
        "gradbook.torch_path.engine._categorical",
        "gradbook.torch_path.engine._sparse",
    ),
    title="categorical_crossentropy",
    reference=_cce,
    cases=_cce_cases,
    mistakes=[
        Mistake(
            lambda y_true, y_pred, from_logits=False: float(
                -np.sum(y_true * (_log_softmax(y_pred) if from_logits else np.log(np.clip(y_pred, EPSILON, 1 - EPSILON))))
            ),
            N_("the loss sums over the samples; it is the mean over the samples of -sum(y * log p) over the classes."),
        ),
        Mistake(
            lambda y_true, y_pred, from_logits=False: float(-np.mean(y_true * _log_p(y_pred, from_logits))),
            N_("np.mean over the whole (m, k) array divides by m * k: sum over the classes of each sample first, "
               "then take the mean over the samples: -mean(sum(y * log p, axis=-1))."),
        ),
        Mistake(
            lambda y_true, y_pred, from_logits=False: float(-np.mean(np.sum(y_true * _log_p(y_pred, from_logits), axis=0))),
            N_("the sum is over the samples (axis=0) and the mean over the classes: sum over the classes, axis=-1, "
               "then take the mean over the samples."),
        ),
        Mistake(
            _cce_ignores_logits,
            N_("from_logits is ignored: with from_logits=True, y_pred are logits; turn them into log-probabilities "
            "with your log_softmax, not np.log."),
        ),
        Mistake(
            quiet(lambda y_true, y_pred, from_logits=False: float(
                -np.mean(np.sum(y_true * (_log_softmax(y_pred) if from_logits else np.log(y_pred)), axis=-1))
            )),
            N_("log(0) = -inf: clip the probabilities first, np.clip(y_pred, 1e-7, 1 - 1e-7), as Keras does."),
        ),
        Mistake(
            quiet(lambda y_true, y_pred, from_logits=False: float(-np.mean(np.sum(y_true * np.log(y_pred), axis=-1)))),
            N_("from_logits is ignored: with from_logits=True, y_pred are logits; turn them into log-probabilities "
            "with your log_softmax, not np.log."),
        ),
        Mistake(
            lambda y_true, y_pred, from_logits=False: _cce(y_true, _softmax(y_pred) if from_logits else y_pred),
            N_("with from_logits=True the logits go through softmax and then the clip and np.log: a probability below "
               "1e-7 is clipped there, so a confident wrong answer costs at most -log(1e-7) = 16.1 instead of its "
               "real loss. Take the log-probabilities straight from the logits with your log_softmax."),
        ),
        Mistake(
            lambda y_true, y_pred, from_logits=False: -_cce(y_true, y_pred, from_logits),
            N_("the minus sign is missing: log p is negative, so the loss is -mean(sum(y * log p))."),
        ),
    ],
)


# --- softmax_ce_grad ------------------------------------------------------------------------


def _softmax_ce_grad(logits: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    return (_softmax(logits) - y_true) / logits.shape[0]


def _grad_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for m, k in ((4, 3), (32, 10)) if hidden else ((4, 3), (6, 5)):
        cases.append(Case((_logits(rng, m, k), _one_hot(rng.integers(0, k, size=m), k)), label=N_("{m} samples, {k} classes"), label_values={"m": m, "k": k}))
    cases.append(Case((np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.eye(2)), label=N_("large logits")))
    # Rows far apart, each with its max far from its mean: a shift by anything but each row's own max overflows or
    # sends a whole row to exp(-2000) = 0.
    cases.append(Case((np.array([[1200.0, 0.0, 0.0], [-1000.0, -999.0, -1001.0]]), _one_hot(np.array([1, 1]), 3)),
                      label=N_("logits [[1200, 0, 0], [-1000, -999, -1001]]")))
    return cases


softmax_ce_grad = Exercise(
    "ch05.softmax_ce_grad",
    library_answers=(
        "gradbook.reference.numpy_engine._categorical_from_logits",
        "gradbook.reference.numpy_engine._sparse_from_logits",
        "gradbook.torch_path.engine._categorical_from_logits",
        "gradbook.torch_path.engine._sparse_from_logits",
        "gradbook.reference.activations.softmax_backward",
        "gradbook.reference.activations.log_softmax_backward",
        "gradbook.torch_path.activations.softmax_backward",
        "gradbook.torch_path.activations.log_softmax_backward",
    ),
    title="softmax_ce_grad",
    outputs=BY_CLASS,
    reference=_softmax_ce_grad,
    cases=_grad_cases,
    mistakes=[
        Mistake(
            lambda logits, y: (y - _softmax(logits)) / logits.shape[0],
            N_("the gradient has a flipped sign: it is p - y (prediction minus target), not y - p."),
        ),
        Mistake(
            lambda logits, y: _softmax(logits) - y / logits.shape[0],
            N_("/ binds tighter than -: softmax(logits) - y_true / m divides only y_true by m. Put the difference in "
               "brackets first: (softmax(logits) - y_true) / m."),
        ),
        Mistake(
            lambda logits, y: _softmax(logits) - y,
            N_("the 1/m is missing: the loss is a mean over the m samples, so the gradient is (p - y) / m."),
        ),
        Mistake(
            lambda logits, y: (logits - y) / logits.shape[0],
            N_("the softmax is missing: the gradient is (softmax(logits) - y) / m, with probabilities, not logits."),
        ),
    ],
)


# --- multilabel_predict ---------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _multilabel_predict(logits: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    return (_sigmoid(logits) > threshold).astype(int)


def _multilabel_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((np.array([[2.0, 2.0, -3.0, 0.2]]),), label=N_("one photo, logits [[2, 2, -3, 0.2]]")),
        Case((np.array([[2.0, 1.0, -1.0], [-2.0, 0.5, 3.0], [0.1, -0.1, 0.4]]),), {"threshold": 0.6}, label=N_("3 samples, threshold=0.6")),
        # sigmoid(0) is exactly 0.5: not ABOVE the threshold 0.5 (`>=` says yes)
        Case((np.array([[0.0, 1.0, -1.0], [3.0, 0.0, 0.0]]),), label=N_("logits of exactly 0: a probability of exactly 0.5, not above the threshold 0.5")),
    ]
    for m in (8, 40) if hidden else (5,):
        cases.append(Case((_logits(rng, m, 6, scale=2.0),), label=N_("{m} samples, 6 labels"), label_values={"m": m}))
    return cases


multilabel_predict = Exercise(
    "ch05.multilabel_predict",
    title="multilabel_predict",
    outputs=BY_CLASS,
    compare=compare_labels,
    reference=_multilabel_predict,
    cases=_multilabel_cases,
    mistakes=[
        Mistake(
            lambda logits, threshold=0.5: (_sigmoid(logits) < threshold).astype(int),
            N_("the comparison is the wrong way round: a label is predicted (1) where its probability is above the "
               "threshold, sigmoid(logits) > threshold."),
        ),
        Mistake(
            lambda logits, threshold=0.5: (_softmax(logits) > threshold).astype(int),
            N_("softmax makes the labels compete (they sum to 1), so at most one passes 0.5. "
            "In multi-label problems each label is its own yes/no: use a sigmoid per label."),
        ),
        Mistake(
            lambda logits, threshold=0.5: _one_hot(np.argmax(logits, axis=-1), logits.shape[-1]).astype(int),
            N_("argmax picks exactly one label per sample; a photo can have several: sigmoid each label and threshold it."),
        ),
        Mistake(
            lambda logits, threshold=0.5: np.round(_sigmoid(logits)).astype(int),
            N_("the threshold argument is not used: the probabilities are always cut at 0.5 (rounded, or compared "
               "with a fixed 0.5). Compare them with threshold: sigmoid(logits) > threshold."),
        ),
        Mistake(
            lambda logits, threshold=0.5: (logits > threshold).astype(int),
            N_("the threshold is compared with the logits; compare it with the probabilities sigmoid(logits)."),
        ),
    ],
)


# --- output_activations (a value) -----------------------------------------------------------

ACTIVATION_ANSWERS = {
    "house price": "linear",
    "spam or not": "sigmoid",
    "digit 0-9": "softmax",
    "photo tags": "sigmoid",
    "hidden layer": "relu",
}
WHY = {
    "house price": N_("a price can be any size: a linear output; sigmoid squashes it into (0, 1) and softmax makes it "
                      "sum to 1."),
    "spam or not": N_("one yes/no probability: a single sigmoid unit."),
    "digit 0-9": N_("exactly one of 10 classes: softmax gives 10 probabilities that sum to 1."),
    "photo tags": N_("a photo can have several tags: softmax forces them to compete; use a sigmoid per tag."),
    "hidden layer": N_("hidden layers use relu: cheap, and it does not saturate for large inputs the way sigmoid does."),
}


def _answers() -> dict[str, str]:
    return dict(ACTIVATION_ANSWERS)


def _compare_answers(expected: Plain, got: Plain, case: Case) -> str | None:
    if not isinstance(got, dict) or set(got) != set(expected):
        return _("expected a dict with the keys {keys} (keep the keys as given), got {got}.").format(
            keys=sorted(expected), got=repr(got))
    wrong = [key for key in expected if got[key] != expected[key]]
    if not wrong:
        return None
    chose = _("{key}: you chose {choice}. Hint: {why}")
    return "\n".join(chose.format(key=repr(key), choice=repr(got[key]), why=_(WHY[key])) for key in wrong)


def _with(**changes: str) -> Callable[[], dict[str, str]]:
    return lambda: {**ACTIVATION_ANSWERS, **{k.replace("_", " "): v for k, v in changes.items()}}


output_activations = Exercise(
    "ch05.output_activations",
    title="output_activations",
    reference=_answers,
    value=True,
    run="ch05.output_activations",
    compare=_compare_answers,
    mistakes=[
        Mistake(_with(photo_tags="softmax"), WHY["photo tags"]),
        Mistake(_with(house_price="sigmoid"), WHY["house price"]),
        Mistake(_with(hidden_layer="sigmoid"), WHY["hidden layer"]),
        Mistake(_with(spam_or_not="softmax"), WHY["spam or not"]),
    ],
)


# --- loss_and_grads: the MNIST model's forward and backward ---------------------------------


def _loss_and_grads(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                    *, relu_grad: bool = True, scale: bool = True, from_logits: bool = True,
                    via_softmax: bool = False) -> tuple[float, dict[str, np.ndarray]]:
    """Dense(relu) -> Dense -> softmax + categorical cross-entropy, and its gradients."""
    Z1 = X @ params["W1"] + params["b1"]
    A1 = np.maximum(Z1, 0)
    logits = A1 @ params["W2"] + params["b2"]
    loss = _cce(Y, _softmax(logits)) if via_softmax else _cce(Y, logits, from_logits=from_logits)
    dZ2 = (_softmax(logits) - Y) / (X.shape[0] if scale else 1)
    dA1 = dZ2 @ params["W2"].T
    dZ1 = dA1 * (Z1 > 0) if relu_grad else dA1
    grads = {"dW1": X.T @ dZ1, "db1": dZ1.sum(axis=0), "dW2": A1.T @ dZ2, "db2": dZ2.sum(axis=0)}
    return loss, grads


def _reference_loss_and_grads(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    return _loss_and_grads(params, X, Y)


def _mlp_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for m, n, h, k in ((6, 8, 5, 4),) + (((32, 20, 12, 10),) if hidden else ((10, 12, 7, 10),)):
        params = {
            "W1": rng.normal(size=(n, h)) * 0.5,
            "b1": rng.normal(size=h) * 0.5,
            "W2": rng.normal(size=(h, k)) * 0.5,
            "b2": rng.normal(size=k) * 0.5,
        }
        X = rng.uniform(0, 1, size=(m, n))
        Y = _one_hot(rng.integers(0, k, size=m), k)
        cases.append(Case((params, X, Y), label=N_("X {shape}, {h} hidden units, {k} classes"), label_values={"shape": X.shape, "h": h, "k": k}))
    cases.append(Case(_far_logits_model(), label=N_("large weights: logits near [1200, 0, 0] and [-1000, -999, -1001]")))
    return cases


def _far_logits_model() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Two samples whose logits are far apart and far from their row's mean (every hidden unit on, Z1 > 0): only a
    softmax shifted by each row's own max stays finite."""
    X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    params = {"W1": np.eye(3), "b1": np.full(3, 0.1)}
    A1 = X @ params["W1"] + params["b1"]
    target = np.array([[1200.0, 0.0, 0.0], [-1000.0, -999.0, -1001.0]])
    params |= {"W2": np.linalg.lstsq(A1, target, rcond=None)[0], "b2": np.zeros(3)}
    return params, X, _one_hot(np.array([1, 1]), 3)


loss_and_grads = Exercise(
    "ch05.loss_and_grads",
    title="loss_and_grads",
    outputs={"loss": Output("loss"), "dW1": Output("dW1", (Axis("features"), Axis("hidden"))),
             "db1": Output("db1", (Axis("hidden"),)), "dW2": Output("dW2", (Axis("hidden"), Axis("classes"))),
             "db2": Output("db2", (Axis("classes"),))},
    reference=_reference_loss_and_grads,
    cases=_mlp_cases,
    run="ch05.loss_and_grads",
    mistakes=[
        Mistake(
            lambda params, X, Y: _loss_and_grads(params, X, Y, relu_grad=False),
            N_("the relu's derivative is missing: dZ1 = dA1 * (Z1 > 0); the gradient stops where the relu was off."),
        ),
        Mistake(
            lambda params, X, Y: _loss_and_grads(params, X, Y, scale=False),
            N_("the 1/m is missing from the output gradient: use your softmax_ce_grad, (p - y) / m."),
        ),
        Mistake(
            lambda params, X, Y: _loss_and_grads(params, X, Y, via_softmax=True),
            N_("the loss is taken of softmax(logits), whose log is clipped at 1e-7: a sample whose true class gets "
               "probability 0 costs at most 16.1, however wrong it is. Pass the logits with from_logits=True "
               "(log_softmax keeps the loss exact)."),
        ),
        Mistake(
            lambda params, X, Y: _loss_and_grads(params, X, Y, from_logits=False),
            N_("the loss is given the logits as if they were probabilities: they are clipped to [1e-7, 1 - 1e-7] and "
               "logged. The last layer gives logits here, so pass from_logits=True."),
        ),
    ],
)
