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

from gradbook.checks import ch09, collect, judge, registry
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


# --- right answers written differently pass, on the visible seed and every hidden one -------------------------


def _float32(reference):
    """The reference computed in float32 (chapter 8's frameworks' default): its rounding must pass on every seed,
    not on the visible one only."""
    def answer(*args):
        out = reference(*[a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else
                          [g.astype(np.float32) for g in a] if isinstance(a, list) else a for a in args])
        return tuple(o.astype(np.float32) for o in out) if isinstance(out, tuple) else out
    return answer


def _one_hot_eye(text, vocab):
    return np.eye(len(vocab))[[vocab.index(ch) for ch in text]]


def _embedding_backward_einsum(ids, dout, vocab_size):
    return np.einsum("btv,btd->vd", np.eye(vocab_size)[ids], dout)


def _rnn_forward_per_sample(x, h0, Wx, Wh, b):
    hs = np.zeros((x.shape[0], x.shape[1], len(b)))
    for i in range(len(x)):
        h = h0[i].copy()
        for t in range(x.shape[1]):
            h[:] = np.tanh(x[i, t] @ Wx + h @ Wh + b)  # in place, on a copy of h0's row
            hs[i, t] = h
    return hs


def _rnn_backward_einsum(dhs, x, h0, hs, Wx, Wh):
    das, dh_next = np.zeros(hs.shape), np.zeros(h0.shape)
    for t in range(x.shape[1] - 1, -1, -1):
        das[:, t] = (dhs[:, t] + dh_next) * (1 - hs[:, t] ** 2)
        dh_next = das[:, t] @ Wh.T
    before = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    return (np.einsum("btu,fu->btf", das, Wx), dh_next, np.einsum("btf,btu->fu", x, das),
            np.einsum("btu,btv->uv", before, das), das.sum(axis=(0, 1)))


def _clip_torch_form(grads, max_norm):
    coef = max_norm / (np.sqrt(sum(float(np.vdot(g, g)) for g in grads)) + 1e-6)
    return [g * coef if coef < 1 else g for g in grads]


def _lstm_step_slices(x, h_prev, c_prev, Wx, Wh, b):
    units = h_prev.shape[1]
    z = [x @ Wx[:, k * units:(k + 1) * units] + h_prev @ Wh[:, k * units:(k + 1) * units] + b[k * units:(k + 1) * units]
         for k in range(4)]
    i, f, o = (0.5 * (1 + np.tanh(z[k] / 2)) for k in (0, 1, 3))  # the sigmoid, written with tanh
    c = f * c_prev + i * np.tanh(z[2])
    return o * np.tanh(c), c


def _inputs_and_targets_rows(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    inputs, targets = np.zeros((n, seq_len), dtype=ids.dtype), np.zeros((n, seq_len), dtype=ids.dtype)
    for r in range(n):
        inputs[r], targets[r] = ids[r * seq_len:(r + 1) * seq_len], ids[r * seq_len + 1:(r + 1) * seq_len + 1]
    return inputs, targets


def _temperature_logaddexp(logits, temperature):
    z = logits / temperature
    return np.exp(z - np.logaddexp.reduce(z, axis=-1, keepdims=True))


ALTERNATIVES = [
    ("one_hot_text", _one_hot_eye), ("embedding_backward", _embedding_backward_einsum),
    ("rnn_forward", _rnn_forward_per_sample), ("rnn_backward", _rnn_backward_einsum), ("clip_by_norm", _clip_torch_form),
    ("lstm_step", _lstm_step_slices), ("inputs_and_targets", _inputs_and_targets_rows),
    ("temperature_softmax", _temperature_logaddexp),
    *[(name, "float32") for name in ("rnn_forward", "rnn_backward", "lstm_step", "clip_by_norm", "temperature_softmax")],
]


@pytest.mark.parametrize(("name", "answer"), ALTERNATIVES, ids=[f"{n}-{getattr(a, '__name__', a)}" for n, a in ALTERNATIVES])
def test_right_answers_written_differently_pass_on_every_seed(name: str, answer) -> None:
    exercise = getattr(ch09, name)
    answer = _float32(exercise.reference) if answer == "float32" else answer
    for seed in range(21):
        verdict = judge(exercise, collect(exercise, answer, seed, seed > 0))
        assert verdict.passed, f"{name}, seed {seed}: {verdict.message}"


def test_right_values_of_the_wrong_kind_of_number_are_told_so() -> None:
    """A bool one-hot (no listed mistake gives it) and float token ids are rejected, saying what the dtype is."""
    def one_hot_bool(text, vocab):
        return np.array([[ch == v for v in vocab] for ch in text], dtype=bool).reshape(len(text), len(vocab))

    verdict = judge(ch09.one_hot_text, collect(ch09.one_hot_text, one_hot_bool, 0, False))
    assert not verdict.passed and "they are bool: floats are expected" in verdict.message, verdict.message
    float_ids = ch09.inputs_and_targets.mistakes[3].wrong
    verdict = judge(ch09.inputs_and_targets, collect(ch09.inputs_and_targets, float_ids, 0, False))
    assert "`inputs`: the values are right, but they are float64" in verdict.message, verdict.message
