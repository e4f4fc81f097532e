"""Chapters 3-5: the solution notebooks run and reach their accuracies, and the chapters' reference
answers agree with independent sources (PyTorch autograd, numerical gradients, the perceptron
convergence theorem). Their untouched student versions fail every graded cell in
test_student_edition.py (every chapter as students receive it, run once).

test_check_seeds.py proves, for every exercise, that the reference passes and every Mistake is
rejected with its hint; test_chapters_00_02.py that each exercise is graded once in its notebook.
"""

from __future__ import annotations

import numpy as np
import pytest
from notebook_helpers import assert_solution_runs_and_learns

from gradbook.checks import ch03, ch04, ch05
from gradbook.checks import registry

# Accuracy variables each notebook leaves behind, and the least each must reach.
ACCURACIES = {
    "ch03": {"xor_accuracy": 0.95, "digits_accuracy": 0.98},
    "ch04": {"moons_accuracy": 0.9},
    "ch05": {"mnist_accuracy": 0.85},
}
NOTEBOOKS = {key: registry.chapter(key).notebook for key in ACCURACIES}  # the registry's notebook names


@pytest.mark.slow
@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_solution_notebook_runs_and_learns(chapter: str, record_property) -> None:
    assert_solution_runs_and_learns(NOTEBOOKS[chapter], ACCURACIES[chapter], record_property)


# --- chapter 3: the perceptron ---------------------------------------------------------------


def test_perceptron_reference_converges_on_separable_data() -> None:
    """Rosenblatt's theorem: on linearly separable data the rule stops making mistakes."""
    rng = np.random.default_rng(7)
    X = rng.integers(-4, 5, size=(60, 3)).astype(float)
    y = (X @ np.array([2.0, -1.0, 1.0]) - 0.5 >= 0).astype(int)
    w, b, errors = ch03.answers._perceptron_train(X, y, epochs=50, lr=1.0)
    assert errors[-1] == 0 and errors[0] > 0
    np.testing.assert_array_equal(ch03.answers._perceptron_predict(X, w, b), y)


def test_perceptron_reference_never_learns_xor() -> None:
    X, y = ch03.GATES_X, ch03.GATES["XOR"]
    _, _, errors = ch03.answers._perceptron_train(X, y, epochs=30)
    assert min(errors) > 0


def test_hand_xor_weights_compute_xor_and_dense_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    W1, b1, W2, b2 = ch03.hand_xor_weights()
    out = ch03.answers._sequential_xor(ch03.GATES_X, W1, b1, W2, b2)
    np.testing.assert_array_equal((out[:, 0] >= 0.5).astype(int), ch03.GATES["XOR"])
    layer1, layer2 = torch.nn.Linear(2, 2).double(), torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        for layer, W, b in ((layer1, W1, b1), (layer2, W2, b2)):
            layer.weight.copy_(torch.tensor(W.T))  # torch stores (units, inputs)
            layer.bias.copy_(torch.tensor(b))
        expected = torch.sigmoid(layer2(torch.sigmoid(layer1(torch.tensor(ch03.GATES_X))))).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12)


# --- chapter 4: backprop against PyTorch autograd --------------------------------------------


@pytest.mark.parametrize("shape", [(5, 2, 3), (16, 4, 7)])
def test_ch04_reference_backward_agrees_with_torch_autograd(shape: tuple[int, int, int]) -> None:
    torch = pytest.importorskip("torch")
    m, n, h = shape
    X, y, params = ch04.answers._problem(np.random.default_rng(m), m, n, h)
    a2, cache = ch04.answers._forward(X, params)
    grads = ch04.answers._reference_backward(X, y, params, cache)
    loss = ch04.answers._bce_loss(a2, y)

    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    t_a2 = torch.sigmoid(torch.sigmoid(torch.tensor(X) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"])
    t_loss = torch.nn.functional.binary_cross_entropy(t_a2, torch.tensor(y))
    t_loss.backward()

    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(a2, t_a2.detach().numpy(), rtol=1e-12)
    for name in ch04.PARAM_NAMES:
        np.testing.assert_allclose(grads["d" + name], t[name].grad.numpy(), rtol=1e-9, atol=1e-14, err_msg=name)


def test_ch04_reference_numerical_gradient_matches_the_analytic_one() -> None:
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    before = x.copy()
    numeric = ch04.answers._numerical_gradient(ch04.wavy, x)
    analytic = 3 * np.cos(3 * x) * x**2 + 2 * x * np.sin(3 * x)
    np.testing.assert_allclose(numeric, analytic, rtol=1e-8, atol=1e-9)
    np.testing.assert_array_equal(x, before)
    # ... and the one-sided mistake is measurably worse, which is why its check can catch it.
    one_sided = ch04.answers._one_sided(ch04.wavy, x)
    assert np.abs(one_sided - analytic).max() > 1000 * np.abs(numeric - analytic).max()


def test_ch04_reference_training_lowers_the_loss_and_separates_moons() -> None:
    X, y = ch04.moons(200, seed=0)
    params, losses = ch04.answers._reference_train(X, y, ch04.init_params(2, 8, seed=0), epochs=1500, lr=2.0)
    assert losses[-1] < 0.5 * losses[0]
    a2, _ = ch04.answers._forward(X, params)
    assert np.mean((a2 >= 0.5) == y) > 0.9


# --- chapter 5: softmax and cross-entropy against PyTorch ------------------------------------


def test_ch05_reference_softmax_and_losses_agree_with_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 10)) * 40  # large enough that a naive softmax would overflow in float32
    labels = rng.integers(0, 10, size=6)
    y = np.eye(10)[labels]
    tz = torch.tensor(z)
    np.testing.assert_allclose(ch05.answers._softmax(z), torch.softmax(tz, dim=-1).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ch05.answers._log_softmax(z), torch.log_softmax(tz, dim=-1).numpy(), rtol=1e-12, atol=1e-12)
    expected = torch.nn.functional.cross_entropy(tz, torch.tensor(labels)).item()
    assert ch05.answers._cce(y, z, from_logits=True) == pytest.approx(expected, rel=1e-12)
    p = ch05.answers._softmax(rng.normal(size=(6, 10)))
    assert ch05.answers._cce(y, p) == pytest.approx(-np.mean(np.log(p[np.arange(6), labels])), rel=1e-12)


def test_ch05_reference_gradients_agree_with_torch_autograd() -> None:
    torch = pytest.importorskip("torch")
    (params, X, Y), = (case.args for case in ch05.answers._mlp_cases(np.random.default_rng(5), hidden=False)[:1])
    loss, grads = ch05.answers._reference_loss_and_grads(params, X, Y)

    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    logits = torch.relu(torch.tensor(X) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    t_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(Y.argmax(axis=1)))
    t_loss.backward()

    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(grads["d" + name], t[name].grad.numpy(), rtol=1e-9, atol=1e-14, err_msg=name)
    logits = np.random.default_rng(6).normal(size=(5, 4)) * 3
    labels = np.array([0, 3, 3, 1, 2])
    z = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(z, torch.tensor(labels)).backward()
    np.testing.assert_allclose(ch05.answers._softmax_ce_grad(logits, np.eye(4)[labels]), z.grad.numpy(), rtol=1e-9)
