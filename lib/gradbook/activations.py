"""Keras-style facade: ``from gradbook import activations``; ``activations.softmax(x)`` and derivatives."""

from gradbook.reference.activations import (
    get, linear, linear_derivative, log_softmax, log_softmax_backward, relu, relu_backward, relu_derivative,
    sigmoid, sigmoid_backward, sigmoid_derivative, softmax, softmax_backward, tanh, tanh_backward, tanh_derivative,
)

__all__ = [
    "get", "linear", "linear_derivative", "log_softmax", "log_softmax_backward", "relu", "relu_backward",
    "relu_derivative", "sigmoid", "sigmoid_backward", "sigmoid_derivative", "softmax", "softmax_backward",
    "tanh", "tanh_backward", "tanh_derivative",
]
