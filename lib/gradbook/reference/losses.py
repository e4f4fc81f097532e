"""Losses: one specification each (Keras' names and semantics), whatever engine computes them.

A loss object compares ``y_true`` with a batch of predictions ``y_pred`` of
shape ``(n, ..., k)``: a per-sample loss (reduced over the last axis) averaged
over the batch, as Keras does. ``loss(y_true, y_pred)`` is that scalar and
``loss.gradient(y_true, y_pred)`` is ``dL/dy_pred``.

    mse                              mean_k (p - y)^2
    binary_crossentropy              mean_k -(y log p + (1 - y) log(1 - p))
    categorical_crossentropy         -sum_k y log p        (y one-hot, shape (n, k))
    sparse_categorical_crossentropy  -log p[label]         (integer labels, shape (n,))

With ``from_logits=True`` the prediction is a logit ``z`` (p = sigmoid(z) for
binary, softmax(z) for the categorical ones), and the loss is computed from it
directly: log-softmax and ``max(z, 0) - z y + log(1 + e^-|z|)`` never overflow,
and the gradient is simply ``(p - y) / n``. `Sequential` uses the same path
(``value_from_logits``) when the model ends in the matching softmax or sigmoid,
so a probability that rounds to 0 cannot turn into log 0. Probabilities are
otherwise clipped to ``[1e-7, 1 - 1e-7]`` like Keras.

What is the same on every engine lives here: the names, the checks of ``y_true``
against the prediction's shape (`prepare_target`, with its messages) and the
config. The loss's `engine` computes the values: NumPy by default, torch for
`gradbook.torch_path.losses`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbook.reference.engine import Engine, resolve
from gradbook.reference.numpy_engine import NUMPY

Array = np.ndarray


class Loss:
    """Base class: a name, the output activation it fuses with (``link``) and the targets it accepts."""

    name = "loss"
    link: str | None = None  # the output activation this loss fuses with, if any
    has_logits_form = True

    def __init__(self, from_logits: bool = False, *, engine: Engine = NUMPY) -> None:
        self.from_logits, self.engine = bool(from_logits), engine

    # -- plain numbers and gradients, for one batch
    def __call__(self, y_true: Any, y_pred: Any) -> float:
        return self.value_and_gradient(y_true, y_pred)[0]

    def gradient(self, y_true: Any, y_pred: Any) -> Any:
        return self.value_and_gradient(y_true, y_pred)[1]

    def value_and_gradient(self, y_true: Any, y_pred: Any, prepared: bool = False) -> tuple[float, Any]:
        """The batch loss and ``dL/dy_pred``; ``prepared=True`` skips `prepare_target` (already done)."""
        pred = self.engine.array(y_pred)
        return self.engine.loss_and_gradient(self.name, self._target(y_true, pred, prepared), pred, self.from_logits)

    def value_and_gradient_from_logits(self, y_true: Any, logits: Any, prepared: bool = False) -> tuple[float, Any]:
        """The loss of ``link(logits)`` and its gradient w.r.t. the logits (the fused path)."""
        z = self.engine.array(logits)
        return self.engine.loss_and_gradient(self.name, self._target(y_true, z, prepared), z, self._logits_form())

    # -- the loss as the engine's scalar (differentiable where the engine differentiates by itself)
    def value(self, target: Any, y_pred: Any) -> Any:
        """The loss of predictions ``y_pred`` for a prepared ``target``."""
        return self.engine.loss(self.name, target, y_pred, self.from_logits)

    def value_from_logits(self, target: Any, z: Any) -> Any:
        """The loss of ``link(z)`` for a prepared ``target``."""
        return self.engine.loss(self.name, target, z, self._logits_form())

    def _logits_form(self) -> bool:
        if not self.has_logits_form:
            raise ValueError(f"{self.name} has no from_logits form")
        return True

    # -- targets
    def prepare_target(self, y_true: Any, pred_shape: tuple[int, ...]) -> np.ndarray:
        """Check ``y_true`` (NumPy) against the prediction shape and bring it to the form the loss uses."""
        y_true = np.asarray(y_true)
        if y_true.shape == tuple(pred_shape):
            return y_true
        if y_true.shape + (1,) == tuple(pred_shape):  # (n,) targets for a (n, 1) output
            return y_true[..., None]
        raise ValueError(
            f"{self.name} expects targets of the model's output shape {_shape(pred_shape)}; "
            f"got {_shape(y_true.shape)}"
        )

    def target_dtype(self, pred_dtype: np.dtype) -> np.dtype:
        """The dtype a prepared target is computed in: the prediction's (labels override this)."""
        return np.dtype(pred_dtype)

    def _target(self, y_true: Any, pred: Any, prepared: bool) -> Any:
        dtype = self.target_dtype(self.engine.float_dtype(pred))
        if not prepared:
            y_true = self.prepare_target(self.engine.to_numpy(y_true), tuple(pred.shape))
        return self.engine.array(y_true, dtype)

    # -- config, engines
    def to(self, target: Engine | Any) -> "Loss":
        """Compute on another engine, or another device of this one (in place; returns the loss)."""
        self.engine = resolve(self.engine, target)
        return self

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class MeanSquaredError(Loss):
    name = "mean_squared_error"
    has_logits_form = False

    def __init__(self, *, engine: Engine = NUMPY) -> None:
        super().__init__(from_logits=False, engine=engine)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return "MeanSquaredError()"


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    link = "sigmoid"


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    link = "softmax"

    def prepare_target(self, y_true: Any, pred_shape: tuple[int, ...]) -> np.ndarray:
        y_true = np.asarray(y_true)
        if y_true.shape != tuple(pred_shape):
            hint = " — use sparse_categorical_crossentropy or to_categorical" if y_true.ndim == len(pred_shape) - 1 else ""
            raise ValueError(
                f"{self.name} expects one-hot labels of shape {_shape(pred_shape)}; got {_shape(y_true.shape)}{hint}"
            )
        return y_true


class SparseCategoricalCrossentropy(Loss):
    """The categorical cross-entropy of integer labels, which stay labels: ``-mean log p[label]``."""

    name = "sparse_categorical_crossentropy"
    link = "softmax"

    def prepare_target(self, y_true: Any, pred_shape: tuple[int, ...]) -> np.ndarray:
        """``y_true`` checked against the prediction shape, as int64 labels of shape ``pred_shape[:-1]``."""
        y_true = np.asarray(y_true)
        labels_shape = tuple(pred_shape[:-1])
        if y_true.shape == labels_shape + (1,):
            y_true = y_true[..., 0]
        if y_true.shape != labels_shape:
            hint = (
                " — these look one-hot: use categorical_crossentropy or y.argmax(axis=-1)"
                if y_true.shape == tuple(pred_shape) else ""
            )
            raise ValueError(
                f"{self.name} expects integer labels of shape {_shape(labels_shape)}; got {_shape(y_true.shape)}{hint}"
            )
        k = pred_shape[-1]
        labels = y_true.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= k or np.any(labels != y_true)):
            raise ValueError(f"{self.name} expects integer labels in [0, {k}); got values in [{y_true.min()}, {y_true.max()}]")
        return labels

    def target_dtype(self, pred_dtype: np.dtype) -> np.dtype:
        return np.dtype(np.int64)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


LOSSES: dict[str, type[Loss]] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier: str | Loss, engine: Engine | None = None) -> Loss:
    """A loss by its Keras name (``'mse'``, ``'categorical_crossentropy'``, ...) or a `Loss` instance,
    on ``engine`` (an instance is moved there; without an engine it stays where it is, a new one is NumPy's)."""
    if isinstance(identifier, Loss):
        return identifier if engine is None else identifier.to(engine)
    if isinstance(identifier, str) and identifier in LOSSES:
        return from_config({"name": identifier}, engine or NUMPY)
    raise ValueError(f"unknown loss {identifier!r}; valid losses: {', '.join(LOSSES)}")


def from_config(config: dict[str, Any], engine: Engine = NUMPY) -> Loss:
    cls = LOSSES[config["name"]]
    if not cls.has_logits_form:
        return cls(engine=engine)
    return cls(from_logits=config.get("from_logits", False), engine=engine)


# Keras' function names: the per-batch mean loss as a float (the classes are the primary API).
def mean_squared_error(y_true: Any, y_pred: Any, *, engine: Engine = NUMPY) -> float:
    return MeanSquaredError(engine=engine)(y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, *, engine: Engine = NUMPY) -> float:
    return BinaryCrossentropy(from_logits, engine=engine)(y_true, y_pred)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, *, engine: Engine = NUMPY) -> float:
    return CategoricalCrossentropy(from_logits, engine=engine)(y_true, y_pred)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, *,
                                    engine: Engine = NUMPY) -> float:
    return SparseCategoricalCrossentropy(from_logits, engine=engine)(y_true, y_pred)


mse = mean_squared_error
