"""The activations on torch tensors: the torch engine's kernels for the reference's names.

The names and semantics are those of `gradbook.reference.activations`: relu has
derivative 0 at 0, softmax and log-softmax act on the last axis. Layers
differentiate them by autograd; the ``*_backward(dout, y)`` rules are the
reference's, for an `Activation` used on its own.
"""

from __future__ import annotations

import torch

from gradbook.reference import activations as reference
from gradbook.reference.engine import Activation

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


def softmax_backward(dout: Tensor, y: Tensor, axis: int = -1) -> Tensor:
    return y * (dout - torch.sum(dout * y, dim=axis, keepdim=True))


def log_softmax_backward(dout: Tensor, y: Tensor, axis: int = -1) -> Tensor:
    return dout - torch.exp(y) * torch.sum(dout, dim=axis, keepdim=True)


# relu, sigmoid, tanh and linear: the reference's rules are plain arithmetic, the same on tensors.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("relu", relu, reference.relu_backward),
        Activation("sigmoid", sigmoid, reference.sigmoid_backward),
        Activation("tanh", tanh, reference.tanh_backward),
        Activation("linear", linear, reference.linear_backward),
        Activation("softmax", softmax, softmax_backward),
        Activation("log_softmax", log_softmax, log_softmax_backward),
    )
}


def get(identifier: str | Activation | None) -> Activation:
    """Look an activation up by name (``None`` means linear, as in Keras)."""
    return reference.get(identifier, ACTIVATIONS)
