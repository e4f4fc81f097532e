"""Loss functions: value and gradient with respect to the prediction, Keras semantics.

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
(``value_and_gradient_from_logits``) when the model ends in the matching
softmax or sigmoid, so a probability that rounds to 0 cannot turn into log 0.
Probabilities are otherwise clipped to ``[1e-7, 1 - 1e-7]`` like Keras.
"""

from __future__ import annotations

import numpy as np

from gradbook.reference import activations

Array = np.ndarray
EPSILON = 1e-7  # Keras' backend epsilon, used to clip probabilities


def _batch_size(y_pred: Array) -> int:
    return int(np.prod(y_pred.shape[:-1], dtype=np.int64)) if y_pred.ndim > 1 else 1


class Loss:
    """Base class: subclasses define the per-sample loss and its gradient."""

    name = "loss"
    link: str | None = None  # the output activation this loss fuses with, if any

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def __call__(self, y_true: Array, y_pred: Array) -> float:
        return self.value_and_gradient(y_true, y_pred)[0]

    def gradient(self, y_true: Array, y_pred: Array) -> Array:
        return self.value_and_gradient(y_true, y_pred)[1]

    def value_and_gradient(self, y_true: Array, y_pred: Array, prepared: bool = False) -> tuple[float, Array]:
        """The batch loss and ``dL/dy_pred``; ``prepared=True`` skips `prepare_target` (already done)."""
        y_pred = np.asarray(y_pred)
        if not prepared:
            y_true = self.prepare_target(y_true, y_pred.shape)
        if self.from_logits:
            return self._from_logits(y_true, y_pred)
        return self._from_probabilities(y_true, y_pred)

    def value_and_gradient_from_logits(self, y_true: Array, logits: Array,
                                       prepared: bool = False) -> tuple[float, Array]:
        """The loss of ``link(logits)`` and its gradient w.r.t. the logits (the fused path)."""
        logits = np.asarray(logits)
        return self._from_logits(y_true if prepared else self.prepare_target(y_true, logits.shape), logits)

    def prepare_target(self, y_true: Array, pred_shape: tuple[int, ...]) -> Array:
        """Check ``y_true`` against the prediction shape and bring it to the form the loss uses."""
        y_true = np.asarray(y_true)
        if y_true.shape == tuple(pred_shape):
            return y_true
        if y_true.shape + (1,) == tuple(pred_shape):  # (n,) targets for a (n, 1) output
            return y_true[..., None]
        raise ValueError(
            f"{self.name} expects targets of the model's output shape {_shape(pred_shape)}; "
            f"got {_shape(y_true.shape)}"
        )

    def get_config(self) -> dict:
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"

    def _from_logits(self, y_true: Array, z: Array) -> tuple[float, Array]:
        raise ValueError(f"{self.name} has no from_logits form")

    def _from_probabilities(self, y_true: Array, p: Array) -> tuple[float, Array]:
        raise NotImplementedError  # every concrete loss overrides this


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def __init__(self) -> None:
        super().__init__(from_logits=False)

    def _from_probabilities(self, y_true: Array, p: Array) -> tuple[float, Array]:
        diff = p - y_true.astype(p.dtype, copy=False)
        return float(np.mean(diff * diff)), diff * (2 / diff.size)

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return "MeanSquaredError()"


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    link = "sigmoid"

    def _from_logits(self, y_true: Array, z: Array) -> tuple[float, Array]:
        y = y_true.astype(z.dtype, copy=False)
        per_element = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        return float(np.mean(per_element)), (activations.sigmoid(z) - y) / z.size

    def _from_probabilities(self, y_true: Array, p: Array) -> tuple[float, Array]:
        y = y_true.astype(p.dtype, copy=False)
        q = np.clip(p, EPSILON, 1 - EPSILON)
        per_element = -(y * np.log(q) + (1 - y) * np.log(1 - q))
        grad = (q - y) / (q * (1 - q)) / p.size
        return float(np.mean(per_element)), np.where(q == p, grad, 0).astype(p.dtype, copy=False)


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    link = "softmax"

    def prepare_target(self, y_true: Array, pred_shape: tuple[int, ...]) -> Array:
        y_true = np.asarray(y_true)
        if y_true.shape != tuple(pred_shape):
            hint = " — use sparse_categorical_crossentropy or to_categorical" if y_true.ndim == len(pred_shape) - 1 else ""
            raise ValueError(
                f"{self.name} expects one-hot labels of shape {_shape(pred_shape)}; got {_shape(y_true.shape)}{hint}"
            )
        return y_true

    def _from_logits(self, y_true: Array, z: Array) -> tuple[float, Array]:
        y = y_true.astype(z.dtype, copy=False)
        log_p = activations.log_softmax(z)
        n = _batch_size(z)
        return float(-np.sum(y * log_p) / n), (np.exp(log_p) - y) / n

    def _from_probabilities(self, y_true: Array, p: Array) -> tuple[float, Array]:
        y = y_true.astype(p.dtype, copy=False)
        q = np.clip(p, EPSILON, 1 - EPSILON)
        n = _batch_size(p)
        grad = np.where(q == p, -y / q, 0) / n
        return float(-np.sum(y * np.log(q)) / n), grad.astype(p.dtype, copy=False)


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"
    link = "softmax"

    def prepare_target(self, y_true: Array, pred_shape: tuple[int, ...]) -> Array:
        """Integer labels of shape ``pred_shape[:-1]`` (or with a trailing 1) become a one-hot array."""
        return self.labels(y_true, pred_shape)[..., None] == np.arange(pred_shape[-1])

    def labels(self, y_true: Array, pred_shape: tuple[int, ...]) -> Array:
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

    def _from_logits(self, y_true: Array, z: Array) -> tuple[float, Array]:
        return CategoricalCrossentropy._from_logits(self, y_true, z)

    def _from_probabilities(self, y_true: Array, p: Array) -> tuple[float, Array]:
        return CategoricalCrossentropy._from_probabilities(self, y_true, p)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


LOSSES: dict[str, type[Loss]] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier: str | Loss) -> Loss:
    """A loss by its Keras name (``'mse'``, ``'categorical_crossentropy'``, ...) or a `Loss` instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in LOSSES:
        return LOSSES[identifier]()
    raise ValueError(f"unknown loss {identifier!r}; valid losses: {', '.join(LOSSES)}")


def from_config(config: dict) -> Loss:
    cls = LOSSES[config["name"]]
    return cls() if cls is MeanSquaredError else cls(from_logits=config.get("from_logits", False))


# Keras' function names: per-batch mean losses (the classes are the primary API).
def mean_squared_error(y_true: Array, y_pred: Array) -> float:
    return MeanSquaredError()(y_true, y_pred)


def binary_crossentropy(y_true: Array, y_pred: Array, from_logits: bool = False) -> float:
    return BinaryCrossentropy(from_logits)(y_true, y_pred)


def categorical_crossentropy(y_true: Array, y_pred: Array, from_logits: bool = False) -> float:
    return CategoricalCrossentropy(from_logits)(y_true, y_pred)


def sparse_categorical_crossentropy(y_true: Array, y_pred: Array, from_logits: bool = False) -> float:
    return SparseCategoricalCrossentropy(from_logits)(y_true, y_pred)


mse = mean_squared_error
