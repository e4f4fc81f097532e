"""The reference losses on torch tensors: the same names, semantics and checks.

Each loss gives a differentiable scalar tensor, ``value(target, y_pred)``, and
for the cross-entropies ``value_from_logits(target, z)``, the fused form the
model uses when it ends in the matching softmax or sigmoid (as the reference
does). Gradients come from autograd. Targets are checked and brought to the
form the loss uses by the reference's own `prepare_target` (so the error
messages are the same), once per call or once per `fit`, never per step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gradbook.reference import losses as reference

Tensor = torch.Tensor
EPSILON = reference.EPSILON  # Keras' backend epsilon, used to clip probabilities


def _as_numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(value, torch.Tensor):
        return value if like is None else value.to(device=like.device)
    array = np.asarray(value)
    if like is None:
        return torch.as_tensor(array)
    return torch.as_tensor(array, device=like.device)


class Loss:
    """Base class: subclasses define the value from probabilities and, where it exists, from logits."""

    name = "loss"
    link: str | None = None  # the output activation this loss fuses with, if any

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    # -- the reference's API: plain numbers and gradients
    def __call__(self, y_true: Any, y_pred: Any) -> float:
        return self.value_and_gradient(y_true, y_pred)[0]

    def gradient(self, y_true: Any, y_pred: Any) -> Tensor:
        return self.value_and_gradient(y_true, y_pred)[1]

    def value_and_gradient(self, y_true: Any, y_pred: Any, prepared: bool = False) -> tuple[float, Tensor]:
        """The batch loss and ``dL/dy_pred``; ``prepared=True`` means `prepare_target` was already applied."""
        pred = _as_tensor(y_pred).detach().requires_grad_(True)
        target = self._target(y_true, pred, prepared)
        value = self.value_from_logits(target, pred) if self.from_logits else self.value(target, pred)
        (grad,) = torch.autograd.grad(value, pred)
        return float(value.detach()), grad

    def value_and_gradient_from_logits(self, y_true: Any, logits: Any,
                                       prepared: bool = False) -> tuple[float, Tensor]:
        """The loss of ``link(logits)`` and its gradient w.r.t. the logits (the fused path)."""
        z = _as_tensor(logits).detach().requires_grad_(True)
        value = self.value_from_logits(self._target(y_true, z, prepared), z)
        (grad,) = torch.autograd.grad(value, z)
        return float(value.detach()), grad

    def prepare_target(self, y_true: Any, pred_shape: tuple[int, ...]) -> np.ndarray:
        """Check ``y_true`` against the prediction shape, as the reference does, and return it in NumPy."""
        return self.to_reference().prepare_target(_as_numpy(y_true), tuple(pred_shape))

    def target_dtype(self, pred_dtype: torch.dtype) -> torch.dtype:
        """The dtype a prepared target is computed in: the prediction's (labels override this)."""
        return pred_dtype

    def target_tensor(self, y_true: Any, pred: Tensor) -> Tensor:
        """The checked target (`prepare_target`) as a tensor on ``pred``'s device, in `target_dtype`."""
        prepared = self.prepare_target(y_true, tuple(pred.shape))
        return torch.as_tensor(prepared, device=pred.device).to(self.target_dtype(pred.dtype))

    def _target(self, y_true: Any, pred: Tensor, prepared: bool) -> Tensor:
        if prepared:
            return _as_tensor(y_true, like=pred).to(self.target_dtype(pred.dtype))
        return self.target_tensor(y_true, pred)

    # -- the torch path's API: differentiable scalars
    def value(self, target: Tensor, y_pred: Tensor) -> Tensor:
        """The loss of probabilities (or values) ``y_pred`` for a prepared ``target``."""
        raise NotImplementedError  # every concrete loss overrides this

    def value_from_logits(self, target: Tensor, z: Tensor) -> Tensor:
        raise ValueError(f"{self.name} has no from_logits form")

    def to_reference(self) -> reference.Loss:
        """The same loss on the NumPy reference engine."""
        return reference.from_config(self.get_config())

    def get_config(self) -> dict:
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


def _batch_size(y_pred: Tensor) -> int:
    return int(np.prod(tuple(y_pred.shape[:-1]), dtype=np.int64)) if y_pred.ndim > 1 else 1


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def __init__(self) -> None:
        super().__init__(from_logits=False)

    def value(self, target: Tensor, y_pred: Tensor) -> Tensor:
        return torch.mean((y_pred - target) ** 2)

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return "MeanSquaredError()"


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    link = "sigmoid"

    def value(self, target: Tensor, y_pred: Tensor) -> Tensor:
        # clamp passes no gradient where it clips, exactly as the reference's mask q == p.
        q = torch.clamp(y_pred, EPSILON, 1 - EPSILON)
        return -torch.mean(target * torch.log(q) + (1 - target) * torch.log1p(-q))

    def value_from_logits(self, target: Tensor, z: Tensor) -> Tensor:
        # torch's fused form has gradient sigmoid(z) - y everywhere, z = 0 included, like the reference.
        return F.binary_cross_entropy_with_logits(z, target)


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    link = "softmax"

    def value(self, target: Tensor, y_pred: Tensor) -> Tensor:
        q = torch.clamp(y_pred, EPSILON, 1 - EPSILON)
        return -torch.sum(target * torch.log(q)) / _batch_size(y_pred)

    def value_from_logits(self, target: Tensor, z: Tensor) -> Tensor:
        if z.ndim == 2:  # the usual case, as one fused kernel: probability targets, mean over the batch
            return F.cross_entropy(z, target)
        return -torch.sum(target * torch.log_softmax(z, dim=-1)) / _batch_size(z)


class SparseCategoricalCrossentropy(Loss):
    """The categorical cross-entropy of integer labels, which stay labels (the reference one-hots them).

    ``-mean log p[label]``: a one-hot target would cost a multiply, a sum and a
    division per step where picking one log-probability per row is one gather
    (inside ``F.cross_entropy`` for logits), so a GPU step launches fewer kernels.
    The labels are checked by the reference, with its messages.
    """

    name = "sparse_categorical_crossentropy"
    link = "softmax"

    def prepare_target(self, y_true: Any, pred_shape: tuple[int, ...]) -> np.ndarray:
        return reference.SparseCategoricalCrossentropy().labels(_as_numpy(y_true), tuple(pred_shape))

    def target_dtype(self, pred_dtype: torch.dtype) -> torch.dtype:
        return torch.int64

    def value(self, target: Tensor, y_pred: Tensor) -> Tensor:
        q = torch.clamp(y_pred.gather(-1, target[..., None]), EPSILON, 1 - EPSILON)
        return -torch.sum(torch.log(q)) / _batch_size(y_pred)

    def value_from_logits(self, target: Tensor, z: Tensor) -> Tensor:
        # cross_entropy wants the classes on dim 1 ((n, k, d...)); an unbatched (k,) row is allowed as it is.
        return F.cross_entropy(z.movedim(-1, 1) if z.ndim > 2 else z, target)


LOSSES: dict[str, type[Loss]] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier: str | Loss | reference.Loss) -> Loss:
    """A loss by its Keras name, a torch-path `Loss`, or the reference loss of the same kind."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, reference.Loss):
        return from_config(identifier.get_config())
    if isinstance(identifier, str) and identifier in LOSSES:
        return LOSSES[identifier]()
    raise ValueError(f"unknown loss {identifier!r}; valid losses: {', '.join(LOSSES)}")


def from_config(config: dict) -> Loss:
    cls = LOSSES[config["name"]]
    return cls() if cls is MeanSquaredError else cls(from_logits=config.get("from_logits", False))


# Keras' function names: per-batch mean losses as Python floats.
def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    return MeanSquaredError()(y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> float:
    return BinaryCrossentropy(from_logits)(y_true, y_pred)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> float:
    return CategoricalCrossentropy(from_logits)(y_true, y_pred)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> float:
    return SparseCategoricalCrossentropy(from_logits)(y_true, y_pred)


mse = mean_squared_error
