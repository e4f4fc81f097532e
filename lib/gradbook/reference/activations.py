"""Activation functions and their derivatives, in NumPy.

Each activation ``f`` comes with a backward rule ``f_backward(dout, y)`` that
turns the upstream gradient ``dout = dL/dy`` into ``dL/dx``, written in terms
of the output ``y = f(x)`` only (so a layer keeps one array in its cache):

    relu      y = max(x, 0)               dx = dout * [y > 0]
    sigmoid   y = 1 / (1 + e^-x)          dx = dout * y (1 - y)
    tanh      y = tanh x                  dx = dout * (1 - y^2)
    linear    y = x                       dx = dout
    softmax   y_i = e^x_i / sum_j e^x_j   dx = y * (dout - sum(dout * y))
    log_softmax  y_i = x_i - log sum_j e^x_j   dx = dout - e^y * sum(dout)

The element-wise ones also have ``f_derivative(x) = f'(x)`` for chapter 4.
Softmax and log-softmax shift by the row maximum, and sigmoid branches on the
sign of x, so logits of +-1e4 neither overflow nor warn.

These are the NumPy engine's activations (`ACTIVATIONS`); the torch engine has the
same names (`gradbook.torch_path.activations`), and `get` looks a name up in either table.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from gradbook.reference.engine import Activation

Array = np.ndarray


def relu(x: Array) -> Array:
    return np.maximum(x, 0)


def relu_derivative(x: Array) -> Array:
    return (x > 0).astype(x.dtype)


def relu_backward(dout: Array, y: Array) -> Array:
    return dout * (y > 0)


def sigmoid(x: Array) -> Array:
    # e^-|x| never overflows; pick the form of 1/(1+e^-x) that uses it.
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative(x: Array) -> Array:
    s = sigmoid(x)
    return s * (1 - s)


def sigmoid_backward(dout: Array, y: Array) -> Array:
    return dout * y * (1 - y)


def tanh(x: Array) -> Array:
    return np.tanh(x)


def tanh_derivative(x: Array) -> Array:
    return 1 - np.tanh(x) ** 2


def tanh_backward(dout: Array, y: Array) -> Array:
    return dout * (1 - y * y)


def linear(x: Array) -> Array:
    return x


def linear_derivative(x: Array) -> Array:
    return np.ones_like(x)


def linear_backward(dout: Array, y: Array) -> Array:
    return dout


def softmax(x: Array, axis: int = -1) -> Array:
    # Shifting by the maximum leaves softmax unchanged and keeps every exponent <= 0.
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def softmax_backward(dout: Array, y: Array, axis: int = -1) -> Array:
    return y * (dout - np.sum(dout * y, axis=axis, keepdims=True))


def log_softmax(x: Array, axis: int = -1) -> Array:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_backward(dout: Array, y: Array, axis: int = -1) -> Array:
    return dout - np.exp(y) * np.sum(dout, axis=axis, keepdims=True)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("relu", relu, relu_backward),
        Activation("sigmoid", sigmoid, sigmoid_backward),
        Activation("tanh", tanh, tanh_backward),
        Activation("linear", linear, linear_backward),
        Activation("softmax", softmax, softmax_backward),
        Activation("log_softmax", log_softmax, log_softmax_backward),
    )
}


def get(identifier: str | Activation | None, table: Mapping[str, Activation] = ACTIVATIONS) -> Activation:
    """An activation by name (``None`` means linear, as in Keras) from an engine's ``table``, NumPy's by default."""
    if identifier is None:
        return table["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier in table:
        return table[identifier]
    raise ValueError(f"unknown activation {identifier!r}; valid activations: {', '.join(sorted(table))}")
