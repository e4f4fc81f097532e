"""The gradient checker students use in chapter 4: right answers pass, wrong ones are caught and shown."""

from __future__ import annotations

import numpy as np
import pytest

from gradbook.reference.gradcheck import check_gradients, check_layer, numerical_gradient, relative_error
from gradbook.reference.layers import Dense


def test_numerical_gradient_of_known_functions() -> None:
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-8)
    dout = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(np.sin, x, dout), np.cos(x) * dout, rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.3, -1.2], [2.0, 0.5]])  # perturbations are undone


def test_relative_error() -> None:
    assert relative_error(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)
    assert relative_error(np.array([3.0, 4.0]), np.array([3.0, 4.0 + 1e-6])) == pytest.approx(1e-7)


def two_layer_net(seed: int = 0):
    """Chapter 4's net, sigmoid + binary cross-entropy, with its hand-derived backward pass."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 2, (5, 1)).astype(float)
    params = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4),
              "W2": rng.standard_normal((4, 1)), "b2": rng.standard_normal(1)}

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def loss() -> float:
        a2 = sigmoid(sigmoid(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"])
        return float(-np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2)))

    a1 = sigmoid(x @ params["W1"] + params["b1"])
    a2 = sigmoid(a1 @ params["W2"] + params["b2"])
    dZ2 = (a2 - y) / len(x)
    dZ1 = dZ2 @ params["W2"].T * a1 * (1 - a1)
    grads = {"W1": x.T @ dZ1, "b1": dZ1.sum(0), "W2": a1.T @ dZ2, "b2": dZ2.sum(0)}
    return loss, params, grads


def test_check_gradients_passes_a_correct_backward_pass_and_prints_a_table() -> None:
    loss, params, grads = two_layer_net()
    report = check_gradients(loss, params, grads)
    assert report.passed and report.max_relative_error < 1e-8
    text = str(report)
    assert text.splitlines()[0].split() == ["name", "shape", "max", "|error|", "relative", "error"]
    assert "W1" in text and "(3, 4)" in text and text.splitlines()[-1].startswith("passed: tolerance 1e-06")


def test_check_gradients_catches_a_wrong_gradient_and_names_it() -> None:
    loss, params, grads = two_layer_net()
    grads["b1"] = -grads["b1"]  # a sign error
    report = check_gradients(loss, params, grads)
    assert not report.passed
    assert report["b1"].relative_error == pytest.approx(1.0)
    assert report["W1"].relative_error < 1e-8
    assert "WRONG" in str(report) and str(report).splitlines()[-1].startswith("FAILED")


def test_check_layer_catches_a_broken_layer() -> None:
    class ForgetsTheBiasGradient(Dense):
        def backward_preactivation(self, dz, input_grad=True):
            dx = super().backward_preactivation(dz, input_grad)
            self.grads["b"][...] = 0
            return dx

    x = np.random.default_rng(0).standard_normal((4, 3))
    good, bad = Dense(2), ForgetsTheBiasGradient(2)
    for layer in (good, bad):
        layer.build((3,), np.random.default_rng(1), "float64")
    assert check_layer(good, x).passed
    report = check_layer(bad, x)
    assert [row.name for row in report.rows if row.relative_error > 1e-6] == ["b"]
