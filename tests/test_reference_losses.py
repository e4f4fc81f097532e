"""Losses of the reference engine: values and gradients against finite differences, PyTorch and by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbook.reference import activations as A
from gradbook.reference import losses as L
from gradbook.reference.gradcheck import numerical_gradient, relative_error
from gradbook.utils import to_categorical

FEW = settings(max_examples=25, deadline=None)


def make_case(name: str, from_logits: bool, seed: int, n: int, k: int):
    """(loss, y_true, y_pred) with predictions of the right kind: logits, probabilities or any reals."""
    rng = np.random.default_rng(seed)
    # probabilities near 0 make 1/p steep, and central differences less exact
    z = rng.normal(scale=2.0 if from_logits else 1.0, size=(n, k))
    loss = L.get(name) if name == "mse" else L.LOSSES[name](from_logits=from_logits)
    if name == "mse":
        return loss, rng.normal(size=(n, k)), z
    if name == "binary_crossentropy":
        y = rng.integers(0, 2, (n, k)).astype(float)
        return loss, y, z if from_logits else A.sigmoid(z)
    labels = rng.integers(0, k, n)
    y = labels if name == "sparse_categorical_crossentropy" else to_categorical(labels, k, "float64")
    return loss, y, z if from_logits else A.softmax(z)


CASES = [("mse", False), ("binary_crossentropy", False), ("binary_crossentropy", True),
         ("categorical_crossentropy", False), ("categorical_crossentropy", True),
         ("sparse_categorical_crossentropy", False), ("sparse_categorical_crossentropy", True)]


@FEW
@given(case=st.sampled_from(CASES), seed=st.integers(0, 2**31), n=st.integers(1, 6), k=st.integers(2, 6))
def test_gradient_matches_numerical_gradient(case, seed: int, n: int, k: int) -> None:
    loss, y, pred = make_case(*case, seed, n, k)
    numeric = numerical_gradient(lambda p: loss(y, p), pred.copy(), h=1e-6)
    assert relative_error(loss.gradient(y, pred), numeric) < 1e-6


@pytest.mark.parametrize("name,from_logits", CASES)
def test_value_and_gradient_match_torch(name: str, from_logits: bool) -> None:
    import torch
    import torch.nn.functional as F

    loss, y, pred = make_case(name, from_logits, seed=3, n=8, k=5)
    tp = torch.tensor(pred, requires_grad=True)
    ty = torch.tensor(y)
    if name == "mse":
        expected = F.mse_loss(tp, ty)
    elif name == "binary_crossentropy":
        expected = (F.binary_cross_entropy_with_logits if from_logits else F.binary_cross_entropy)(tp, ty)
    else:
        labels = torch.tensor(y) if name.startswith("sparse") else torch.tensor(y.argmax(1))
        expected = F.cross_entropy(tp, labels) if from_logits else F.nll_loss(torch.log(tp), labels)
    expected.backward()
    value, grad = loss.value_and_gradient(y, pred)
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_hand_computed_values() -> None:
    p = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    assert L.categorical_crossentropy(np.array([[1, 0, 0], [0, 1, 0]]), p) == pytest.approx(
        -(np.log(0.5) + np.log(0.8)) / 2)
    assert L.sparse_categorical_crossentropy(np.array([2, 1]), p) == pytest.approx(-(np.log(0.25) + np.log(0.8)) / 2)
    assert L.mse(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]])) == pytest.approx(2.5)
    assert L.binary_crossentropy(np.array([[1.0], [0.0]]), np.array([[0.75], [0.75]])) == pytest.approx(
        -(np.log(0.75) + np.log(0.25)) / 2)
    # p - y, averaged over the batch
    _, grad = L.CategoricalCrossentropy(from_logits=True).value_and_gradient(
        np.array([[0.0, 1.0]]), np.array([[0.0, np.log(3.0)]]))
    np.testing.assert_allclose(grad, [[0.25, -0.25]])


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy",
                                  "binary_crossentropy"])
def test_fused_logits_path_equals_link_then_loss(name: str) -> None:
    """What Sequential uses for softmax/sigmoid + cross-entropy: the same value, and the chain rule's gradient."""
    loss, y, z = make_case(name, True, seed=5, n=6, k=4)
    link = A.get(loss.link)
    on_probabilities = L.LOSSES[name](from_logits=False)
    p = link.forward(z)
    value, dz = on_probabilities.value_and_gradient_from_logits(y, z)
    assert value == pytest.approx(on_probabilities(y, p), rel=1e-10)
    np.testing.assert_allclose(dz, link.backward(on_probabilities.gradient(y, p), p), rtol=1e-8, atol=1e-14)


def test_cross_entropy_of_huge_logits_is_finite_and_correct() -> None:
    z = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 1e4]], np.float32)
    labels = np.array([1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = L.SparseCategoricalCrossentropy(from_logits=True).value_and_gradient(labels, z)
        one_hot_value, _ = L.CategoricalCrossentropy(from_logits=True).value_and_gradient(
            to_categorical(labels, 3), z)
        bce_value, bce_grad = L.BinaryCrossentropy(from_logits=True).value_and_gradient(
            np.array([[0.0], [1.0]]), np.array([[1e4], [-1e4]], np.float32))
    assert value == pytest.approx((2e4 + 0.0) / 2) and one_hot_value == pytest.approx(1e4)
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0], [0, 0, 0]], atol=1e-7)
    assert bce_value == pytest.approx(1e4)
    np.testing.assert_allclose(bce_grad, [[0.5], [-0.5]])


def test_probabilities_are_clipped_like_keras() -> None:
    value = L.categorical_crossentropy(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert value == pytest.approx(-np.log(1e-7), rel=1e-6)


def test_categorical_with_integer_labels_says_what_to_use() -> None:
    with pytest.raises(ValueError, match=r"categorical_crossentropy expects one-hot labels of shape \(4, 3\); "
                                         r"got \(4,\) — use sparse_categorical_crossentropy or to_categorical"):
        L.categorical_crossentropy(np.array([0, 1, 2, 0]), np.full((4, 3), 1 / 3))


def test_sparse_with_one_hot_labels_says_what_to_use() -> None:
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy expects integer labels of shape \(4,\); "
                                         r"got \(4, 3\) — these look one-hot: use categorical_crossentropy"):
        L.sparse_categorical_crossentropy(np.eye(3)[[0, 1, 2, 0]], np.full((4, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"integer labels in \[0, 3\); got values in \[0, 7\]"):
        L.sparse_categorical_crossentropy(np.array([0, 7]), np.full((2, 3), 1 / 3))


def test_unknown_loss_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown loss 'cross_entropy'; valid losses: mean_squared_error, mse, "
                                         r"binary_crossentropy, categorical_crossentropy, "
                                         r"sparse_categorical_crossentropy"):
        L.get("cross_entropy")
