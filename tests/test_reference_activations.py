"""Activations of the reference engine: values, derivatives, backward rules, stability."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbook.reference import activations as A
from gradbook.reference.gradcheck import numerical_gradient, relative_error

NAMES = ["relu", "sigmoid", "tanh", "linear", "softmax", "log_softmax"]
ELEMENTWISE = ["relu", "sigmoid", "tanh", "linear"]
FEW = settings(max_examples=25, deadline=None)


def random_input(seed: int, rows: int, cols: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(scale=3.0, size=(rows, cols))
    # keep relu's kink out of the finite-difference window
    return np.where(np.abs(x) < 1e-3, 0.5, x)


@FEW
@given(name=st.sampled_from(NAMES), seed=st.integers(0, 2**31), rows=st.integers(1, 5), cols=st.integers(1, 7))
def test_backward_matches_numerical_gradient(name: str, seed: int, rows: int, cols: int) -> None:
    act = A.get(name)
    x = random_input(seed, rows, cols)
    dout = np.random.default_rng(seed + 1).standard_normal(x.shape)
    y = act.forward(x)
    numeric = numerical_gradient(act.forward, x.copy(), dout)
    assert relative_error(act.backward(dout, y), numeric) < 1e-7


@FEW
@given(name=st.sampled_from(ELEMENTWISE), seed=st.integers(0, 2**31))
def test_derivative_matches_numerical_gradient(name: str, seed: int) -> None:
    x = random_input(seed, 3, 4)
    derivative = getattr(A, f"{name}_derivative")(x)
    numeric = numerical_gradient(lambda v: np.sum(getattr(A, name)(v)), x.copy())
    np.testing.assert_allclose(derivative, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_match_torch(name: str) -> None:
    import torch

    rng = np.random.default_rng(7)
    x = rng.normal(scale=3.0, size=(6, 5))
    dout = rng.standard_normal((6, 5))
    torch_fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "linear": lambda t: t,
                "softmax": lambda t: torch.softmax(t, -1), "log_softmax": lambda t: torch.log_softmax(t, -1)}[name]
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_fn(tx)
    ty.backward(torch.tensor(dout))
    act = A.get(name)
    y = act.forward(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(act.backward(dout, y), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_known_values() -> None:
    np.testing.assert_allclose(A.softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])
    np.testing.assert_allclose(A.log_softmax(np.array([[0.0, 0.0]])), [[np.log(0.5)] * 2])
    np.testing.assert_allclose(A.sigmoid(np.array([0.0, np.log(3.0)])), [0.5, 0.75])
    np.testing.assert_array_equal(A.relu(np.array([-2.0, 0.0, 3.0])), [0.0, 0.0, 3.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_of_huge_logits_are_finite_and_correct(dtype) -> None:
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow or invalid-value warning fails the test
        p = A.softmax(z)
        log_p = A.log_softmax(z)
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3] * 3, [0.5, 0.5, 0]], atol=1e-7)
    np.testing.assert_allclose(log_p, [[0, -2e4, -1e4], [np.log(1 / 3)] * 3, [np.log(0.5), np.log(0.5), -2e4 + np.log(0.5)]],
                               rtol=1e-6)
    assert p.dtype == dtype and log_p.dtype == dtype


def test_sigmoid_of_huge_inputs_is_stable() -> None:
    x = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = A.sigmoid(x)
        s32 = A.sigmoid(x.astype(np.float32))
    np.testing.assert_allclose(s, [0, 0, np.exp(-50.0), 0.5, 1, 1, 1], atol=0, rtol=1e-12)
    assert s32.dtype == np.float32 and np.all(np.isfinite(s32))


def test_unknown_activation_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'relux'; valid activations: linear, log_softmax, relu"):
        A.get("relux")
