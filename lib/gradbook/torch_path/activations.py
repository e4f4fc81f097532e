"""The reference activations on torch tensors; autograd supplies the derivatives.

The names and semantics are those of `gradbook.reference.activations`: relu has
derivative 0 at 0, softmax and log-softmax act on the last axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

Tensor = torch.Tensor


def relu(x: Tensor) -> Tensor:
    return torch.relu(x)


def sigmoid(x: Tensor) -> Tensor:
    return torch.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return torch.tanh(x)


def linear(x: Tensor) -> Tensor:
    return x


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return torch.softmax(x, dim=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return torch.log_softmax(x, dim=axis)


@dataclass(frozen=True)
class Activation:
    """An activation by name; ``forward(x) -> y``, differentiable by autograd."""

    name: str
    forward: Callable[[Tensor], Tensor]

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("relu", relu),
        Activation("sigmoid", sigmoid),
        Activation("tanh", tanh),
        Activation("linear", linear),
        Activation("softmax", softmax),
        Activation("log_softmax", log_softmax),
    )
}


def get(identifier: str | Activation | None) -> Activation:
    """Look an activation up by name (``None`` means linear, as in Keras)."""
    if identifier is None:
        return ACTIVATIONS["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier in ACTIVATIONS:
        return ACTIVATIONS[identifier]
    raise ValueError(f"unknown activation {identifier!r}; valid activations: {', '.join(sorted(ACTIVATIONS))}")
