"""Chapter 9 (sequences): the solution notebook runs and learns, its stub scores zero (test_student_edition.py), and the chapter's
reference answers agree with independent sources: PyTorch (torch.nn.RNN, autograd through an unrolled
recurrent cell, torch.nn.LSTMCell, nn.Embedding's gradient, clip_grad_norm_, softmax), central
differences, and small cases worked by hand.

test_check_seeds.py proves, for every exercise, that the reference passes and every Mistake is rejected
with its hint; test_chapters_00_02.py that each exercise is graded once in its notebook.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from notebook_helpers import assert_solution_runs_and_learns

from gradbook.checks import ch09, registry
from sequence_helpers import one_torch_thread  # noqa: F401 -- an autouse fixture

NOTEBOOK = registry.chapter("ch09").notebook
# What the notebook reached: the perplexity of its own RNN and of the Keras LSTMs (62 characters: a uniform
# guess is 62), as how many times better than that guess.
LEARNED = {"V / lm_perplexity": 5.0, "V / max(engine_perplexities.values())": 1.5}


@pytest.mark.slow
def test_solution_notebook_runs_and_learns(record_property) -> None:  # noqa: ANN001
    assert_solution_runs_and_learns(NOTEBOOK, LEARNED, record_property)


def _case(seed: int = 0, batch: int = 3, steps: int = 5, features: int = 4, units: int = 6):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(batch, steps, features)), rng.normal(0, 0.5, (batch, units)),
            rng.normal(0, 0.6, (features, units)), rng.normal(0, 0.6, (units, units)), rng.normal(0, 0.3, units))


def test_rnn_forward_is_torch_s_rnn() -> None:
    x, h0, Wx, Wh, b = _case()
    rnn = torch.nn.RNN(4, 6, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(Wx.T))
        rnn.weight_hh_l0.copy_(torch.tensor(Wh.T))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
        expected, _ = rnn(torch.tensor(x), torch.tensor(h0)[None])
    np.testing.assert_allclose(ch09.rnn_forward.reference(x, h0, Wx, Wh, b), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_rnn_backward_is_torch_autograd_through_the_unrolled_cell() -> None:
    x, h0, Wx, Wh, b = _case(1)
    dhs = np.random.default_rng(2).normal(size=(3, 5, 6))
    hs = ch09.rnn_forward.reference(x, h0, Wx, Wh, b)
    got = ch09.rnn_backward.reference(dhs, x, h0, hs, Wx, Wh)
    leaves = [torch.tensor(v, requires_grad=True) for v in (x, h0, Wx, Wh, b)]
    tx, th, tWx, tWh, tb = leaves
    states = []
    for t in range(x.shape[1]):
        th = torch.tanh(tx[:, t] @ tWx + th @ tWh + tb)
        states.append(th)
    torch.sum(torch.stack(states, dim=1) * torch.tensor(dhs)).backward()
    for name, mine, leaf in zip(("dx", "dh0", "dWx", "dWh", "db"), got, leaves):
        np.testing.assert_allclose(mine, leaf.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_rnn_backward_agrees_with_central_differences() -> None:
    x, h0, Wx, Wh, b = _case(3, batch=2, steps=4, features=3, units=4)
    dhs = np.random.default_rng(4).normal(size=(2, 4, 4))
    inputs = {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "b": b}
    grads = dict(zip(inputs, ch09.rnn_backward.reference(dhs, x, h0, ch09.rnn_forward.reference(x, h0, Wx, Wh, b),
                                                          Wx, Wh)))

    def loss() -> float:
        return float(np.sum(ch09.rnn_forward.reference(*inputs.values()) * dhs))

    eps = 1e-6
    for name, array in inputs.items():
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + eps
            up = loss()
            array[index] = old - eps
            numeric[index] = (up - loss()) / (2 * eps)
            array[index] = old
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


def test_lstm_step_is_torch_s_lstm_cell() -> None:
    rng = np.random.default_rng(5)
    x, h, c = rng.normal(size=(4, 3)), rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    Wx, Wh, b = rng.normal(size=(3, 20)), rng.normal(size=(5, 20)), rng.normal(size=20)
    cell = torch.nn.LSTMCell(3, 5).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(Wx.T))
        cell.weight_hh.copy_(torch.tensor(Wh.T))
        cell.bias_ih.copy_(torch.tensor(b))
        cell.bias_hh.zero_()
        h_torch, c_torch = cell(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    h_mine, c_mine = ch09.lstm_step.reference(x, h, c, Wx, Wh, b)
    np.testing.assert_allclose(h_mine, h_torch.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_mine, c_torch.numpy(), rtol=1e-12, atol=1e-12)


def test_embedding_backward_is_nn_embedding_s_gradient() -> None:
    rng = np.random.default_rng(6)
    ids, dout = rng.integers(0, 7, (3, 8)), rng.normal(size=(3, 8, 4))  # 24 ids from 9: repeats, and unused rows
    table = torch.nn.Embedding(9, 4).double()
    (table(torch.tensor(ids)) * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(ch09.embedding_backward.reference(ids, dout, 9), table.weight.grad.numpy(), atol=1e-12)


def test_clip_by_norm_is_clip_grad_norm() -> None:
    rng = np.random.default_rng(7)
    for scale, max_norm in [(5.0, 1.0), (0.01, 1.0), (1.0, 3.0)]:
        grads = [rng.normal(0, scale, (3, 4)), rng.normal(0, scale, 4)]
        params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        for mine, p in zip(ch09.clip_by_norm.reference(grads, max_norm), params):
            np.testing.assert_allclose(mine, p.grad.numpy(), rtol=1e-6)  # torch adds 1e-6 to the norm


def test_temperature_softmax_is_torch_softmax_of_scaled_logits() -> None:
    logits = np.random.default_rng(8).normal(0, 20, (3, 2, 62))
    for temperature in (0.05, 0.5, 1.0, 3.0):
        expected = torch.softmax(torch.tensor(logits) / temperature, dim=-1).numpy()
        np.testing.assert_allclose(ch09.temperature_softmax.reference(logits, temperature), expected, rtol=1e-10,
                                   atol=1e-300)


def test_text_as_tensors_by_hand() -> None:
    np.testing.assert_array_equal(ch09.one_hot_text.reference("bab", "abc"), [[0, 1, 0], [1, 0, 0], [0, 1, 0]])
    inputs, targets = ch09.inputs_and_targets.reference(np.arange(10), 3)
    np.testing.assert_array_equal(inputs, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(targets, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert ch09.inputs_and_targets.reference(np.arange(9), 3)[0].shape == (2, 3)  # 8 would have no target
