"""Chapter 10 (attention): the solution notebook runs and learns, its stub scores zero (test_student_edition.py), and the chapter's
reference answers agree with independent sources: PyTorch (softmax, layer_norm, autograd through a whole
transformer block), central differences, and the library's own layers (`MultiHeadAttention`,
`TransformerBlock`), which were written and tested separately (tests/test_sequence_layers.py).

test_check_seeds.py proves, for every exercise, that the reference passes and every Mistake is rejected
with its hint; test_chapters_00_02.py that each exercise is graded once in its notebook. Here too: right answers
written otherwise (einsum, loops, -1e9, float32) pass on every seed, and mistakes written otherwise than their
listed form get their hint.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from notebook_helpers import assert_solution_runs_and_learns

from gradbook import layers
from gradbook.checks import ch10, collect, judge, registry
from gradbook.checks.core import REGISTRY
from gradbook.checks.ch10 import answers
from sequence_helpers import one_torch_thread  # noqa: F401 -- an autouse fixture

NOTEBOOK = registry.chapter("ch10").notebook
# What the notebook reached (evaluated in its kernel at the end), and the least it must reach: both language
# models learn well beyond the uniform guess (log V nats) in their 100 steps.
LEARNED = {"np.log(V) - transformer_loss": 1.2, "np.log(V) - lstm_loss": 0.8}


@pytest.mark.slow
def test_solution_notebook_runs_and_learns(record_property) -> None:
    assert_solution_runs_and_learns(NOTEBOOK, LEARNED, record_property)


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def test_attention_and_softmax_backward_agree_with_torch_autograd() -> None:
    rng = np.random.default_rng(0)
    Q, K, V = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(2, 3, 6, 2))
    mask = rng.random((4, 6)) < 0.6
    mask[:, 0] = True
    out, weights = answers._attention(Q, K, V, mask)
    q, k = _t(Q, True), _t(K, True)
    scores = (q @ k.transpose(-1, -2) / np.sqrt(5)).masked_fill(~torch.tensor(mask), float("-inf"))
    w = torch.softmax(scores, dim=-1)
    np.testing.assert_allclose(weights, w.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out, (w @ _t(V)).detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(weights[..., ~mask], 0.0)  # masked keys get exactly nothing
    # softmax's backward: torch's gradient of sum(w * dw) with respect to the scores
    raw = _t(rng.normal(size=(3, 4, 6)), True)
    dw = rng.normal(size=(3, 4, 6))
    soft = torch.softmax(raw, dim=-1)
    (soft * _t(dw)).sum().backward()
    np.testing.assert_allclose(answers._softmax_backward(dw, soft.detach().numpy()), raw.grad.numpy(), atol=1e-12)


def test_layer_norm_forward_and_backward_agree_with_torch() -> None:
    rng = np.random.default_rng(1)
    x, gamma, beta, dout = (rng.normal(size=(2, 3, 7)) * 3 + 1, rng.normal(size=7), rng.normal(size=7),
                            rng.normal(size=(2, 3, 7)))
    tx, tg, tb = _t(x, True), _t(gamma, True), _t(beta, True)
    y = F.layer_norm(tx, (7,), tg, tb, eps=1e-5)
    np.testing.assert_allclose(answers._layer_norm(x, gamma, beta), y.detach().numpy(), rtol=1e-10, atol=1e-12)
    (y * _t(dout)).sum().backward()
    for mine, theirs in zip(answers._layer_norm_backward(dout, x, gamma), (tx.grad, tg.grad, tb.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-11)


def _library_block(params: dict, heads: int, dk: int, ff: int, x: np.ndarray) -> np.ndarray:
    """The library's TransformerBlock with the reference's weights (its attention biases zero), on x."""
    block = layers.TransformerBlock(heads, dk, ff, causal=True, epsilon=1e-5)
    block.build(x.shape[1:], dtype="float64")
    for name, value in params.items():
        block.params[name if name.startswith(("ln", "W1", "W2", "b1", "b2")) else f"attention_{name}"][...] = value
    for bias in ("bq", "bk", "bv", "bo"):
        block.params[f"attention_{bias}"][...] = 0
    return np.asarray(block(x))


def test_multi_head_attention_and_the_block_agree_with_the_librarys_layers() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 6))
    mha = layers.MultiHeadAttention(num_heads=3, key_dim=2)
    mha.build((5, 6), dtype="float64")
    for bias in ("bq", "bk", "bv", "bo"):
        mha.params[bias][...] = 0
    p = mha.params
    for causal in (False, True):
        np.testing.assert_allclose(answers._multi_head_attention(x, p["Wq"], p["Wk"], p["Wv"], p["Wo"], 3, causal),
                                   np.asarray(mha(x, x, use_causal_mask=causal)), rtol=1e-10, atol=1e-12)
    params = ch10.block_params(rng, 6, 3, 2, 8)
    np.testing.assert_allclose(answers._transformer_block(x, params, 3), _library_block(params, 3, 2, 8, x),
                               rtol=1e-9, atol=1e-11)


def test_the_blocks_backward_agrees_with_torch_autograd_and_central_differences() -> None:
    rng = np.random.default_rng(3)
    B, T, D, H, DK, FF = 2, 4, 6, 2, 3, 5
    x, dout = rng.normal(size=(B, T, D)), rng.normal(size=(B, T, D))
    params = ch10.block_params(rng, D, H, DK, FF)
    grads = answers._transformer_block_backward(dout, x, params, H)
    t = {name: _t(value, True) for name, value in {**params, "x": x}.items()}

    def heads(a: torch.Tensor) -> torch.Tensor:
        return a.reshape(B, T, H, DK).transpose(1, 2)

    h1 = F.layer_norm(t["x"], (D,), t["ln1_gamma"], t["ln1_beta"], eps=1e-5)
    q, k, v = (heads(h1 @ t[w]) for w in ("Wq", "Wk", "Wv"))
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    w = torch.softmax((q @ k.transpose(-1, -2) / DK ** 0.5).masked_fill(~causal, float("-inf")), dim=-1)
    y = t["x"] + (w @ v).transpose(1, 2).reshape(B, T, H * DK) @ t["Wo"]
    out = y + torch.relu(F.layer_norm(y, (D,), t["ln2_gamma"], t["ln2_beta"], eps=1e-5) @ t["W1"] + t["b1"]) @ t["W2"] \
        + t["b2"]
    np.testing.assert_allclose(answers._transformer_block(x, params, H), out.detach().numpy(), atol=1e-12)
    (out * _t(dout)).sum().backward()
    assert set(grads) == set(t)
    for name, tensor in t.items():
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)

    h = 1e-6
    for name in ("x", "Wk", "ln2_gamma", "b1"):
        array = x if name == "x" else params[name]
        for index in [tuple(rng.integers(s) for s in array.shape) for _ in range(3)]:
            old = array[index]
            array[index] = old + h
            plus = np.sum(answers._transformer_block(x, params, H) * dout)
            array[index] = old - h
            minus = np.sum(answers._transformer_block(x, params, H) * dout)
            array[index] = old
            assert grads[name][index] == pytest.approx((plus - minus) / (2 * h), rel=1e-5, abs=1e-7), (name, index)


def test_sinusoidal_positions_follow_the_papers_formula_and_rotate() -> None:
    pe = answers._sinusoidal_positions(50, 8)
    # position 7, pair i = 2 (columns 4 and 5): frequency 1 / 10000 ** (4 / 8) = 0.01
    assert pe[7, 4] == pytest.approx(np.sin(0.07)) and pe[7, 5] == pytest.approx(np.cos(0.07))
    # PE[t + k] is PE[t] rotated, pair by pair, by an angle that depends on k only
    for i in range(4):
        step = 3 / 10000 ** (2 * i / 8)
        rotation = np.array([[np.cos(step), -np.sin(step)], [np.sin(step), np.cos(step)]])
        np.testing.assert_allclose(pe[:-3, 2 * i:2 * i + 2] @ rotation, pe[3:, 2 * i:2 * i + 2], atol=1e-12)


# --- right answers written differently pass on every seed; wrong ones written differently get the right hint -----


def _attention_einsum_logsumexp(Q, K, V, mask=None):
    scores = np.einsum("...td,...sd->...ts", Q, K) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)  # a large negative number rather than -inf
    weights = np.exp(scores - np.logaddexp.reduce(scores, axis=-1, keepdims=True))
    return np.einsum("...ts,...sv->...tv", weights, V), weights


def _attention_masked_after_exp_renormalised(Q, K, V, mask=None):
    scores = (Q / np.sqrt(Q.shape[-1])) @ np.swapaxes(K, -1, -2)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    if mask is not None:
        e = e * mask
    weights = e / e.sum(axis=-1, keepdims=True)
    return weights @ V, weights


def _float32(fn):
    """The answer computed in float32, the library's precision (inputs cast, outputs left in float32)."""
    def cast(a):
        if isinstance(a, dict):
            return {k: cast(v) for k, v in a.items()}
        return a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a

    def run(*args, **kwargs):
        return fn(*map(cast, args), **{k: cast(v) for k, v in kwargs.items()})
    return run


def _split_heads_by_slices(x, num_heads):
    d = x.shape[-1] // num_heads
    return np.stack([x[..., j * d:(j + 1) * d] for j in range(num_heads)], axis=1)


def _mha_loop_over_heads(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    dk = Wq.shape[1] // num_heads
    mask = np.tril(np.ones((x.shape[1],) * 2, dtype=bool)) if causal else None
    outs = [answers._attention(x @ Wq[:, j * dk:(j + 1) * dk], x @ Wk[:, j * dk:(j + 1) * dk],
                               x @ Wv[:, j * dk:(j + 1) * dk], mask)[0] for j in range(num_heads)]
    return np.concatenate(outs, axis=-1) @ Wo


def _positions_torch_form(T, d):
    position = np.arange(T, dtype=np.float32)[:, None]
    div = np.exp(np.arange(0, d, 2) * (-np.log(10000.0) / d))
    pe = np.empty((T, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(position * div), np.cos(position * div)
    return pe


def _softmax_backward_full_jacobian(dweights, weights):
    jacobian = weights[..., :, None] * (np.eye(weights.shape[-1]) - weights[..., None, :])
    return np.einsum("...ij,...i->...j", jacobian, dweights)


RIGHT = [("ch10.attention", _attention_einsum_logsumexp), ("ch10.attention", _attention_masked_after_exp_renormalised),
         ("ch10.attention", _float32(answers._attention)), ("ch10.split_heads", _split_heads_by_slices),
         ("ch10.multi_head_attention", _mha_loop_over_heads),
         ("ch10.multi_head_attention", _float32(answers._multi_head_attention)),
         ("ch10.sinusoidal_positions", _positions_torch_form), ("ch10.layer_norm", _float32(answers._layer_norm)),
         ("ch10.softmax_backward", _softmax_backward_full_jacobian),
         ("ch10.layer_norm_backward", _float32(answers._layer_norm_backward)),
         ("ch10.transformer_block_backward", _float32(answers._transformer_block_backward))]


@pytest.mark.parametrize(("name", "answer"), RIGHT, ids=[f"{n}-{i}" for i, (n, _a) in enumerate(RIGHT)])
def test_right_answers_written_differently_pass_on_every_seed(name: str, answer) -> None:
    """einsum, a loop over the heads, -1e9 for -inf, torch's form of the frequencies, the softmax's whole Jacobian,
    float32 (the library's precision: a float32 answer passed the visible check and failed 5 of 20 hidden seeds)."""
    exercise = REGISTRY[name]
    for seed, hidden in [(0, False)] + [(seed, True) for seed in range(1, 21)]:
        verdict = judge(exercise, collect(exercise, answer, seed, hidden))
        assert verdict.passed, f"{name}, seed {seed}: {verdict.message}"


def _attention_inverted_by_adding(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores + mask * -1e9  # -1e9 where the mask is True: inverted, and no row is all -inf
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True) @ V, e / e.sum(axis=-1, keepdims=True)


def _attention_divided_by_everything(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))  # each row shifted, then one sum for the whole batch
    return e / e.sum() @ V, e / e.sum()


def _mha_keys_from_wq_per_head(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    dk = Wq.shape[1] // num_heads
    mask = np.tril(np.ones((x.shape[1],) * 2, dtype=bool)) if causal else None
    heads = [answers._attention(x @ Wq[:, j * dk:(j + 1) * dk], x @ Wq[:, j * dk:(j + 1) * dk],  # Wq for the keys
                                x @ Wv[:, j * dk:(j + 1) * dk], mask)[0] for j in range(num_heads)]
    return np.concatenate(heads, axis=-1) @ Wo


def _mha_exp_unshifted(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (answers._split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    scores = np.einsum("bhtd,bhsd->bhts", q, k) / np.sqrt(q.shape[-1])
    if causal:
        scores[..., ~np.tril(np.ones(scores.shape[-2:], dtype=bool))] = -np.inf
    weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return answers._merge_heads(weights @ v) @ Wo


def _mha_causal_written_as_hidden(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (answers._split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:  # the lower triangle taken for the keys to hide: the last step sees none
        scores = np.where(np.tril(np.ones(scores.shape[-2:], dtype=bool)), -np.inf, scores)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return answers._merge_heads(e / e.sum(axis=-1, keepdims=True) @ v) @ Wo


def _attention_where_hidden(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, -np.inf, scores)  # -inf where the query MAY look
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True) @ V, e / e.sum(axis=-1, keepdims=True)


def _positions_cos_in_first_half(T, d):
    angles = np.arange(T)[:, None] / 10000 ** (np.arange(0, d, 2)[None, :] / d)
    pe = np.empty((T, d))
    pe[:, :d // 2], pe[:, d // 2:] = np.cos(angles), np.sin(angles)
    return pe


def _positions_pairs(T, d, exponent):
    angles = np.arange(T)[:, None] * exponent(np.arange(d // 2), d)[None, :]
    return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(T, d)


def _layer_norm_shifted_then_normalised(x, gamma, beta, eps=1e-5):
    scaled = x * gamma + beta
    return (scaled - x.mean(axis=-1, keepdims=True)) / np.sqrt(((x - x.mean(axis=-1, keepdims=True)) ** 2).mean(
        axis=-1, keepdims=True) + eps)


def _layer_norm_unbiased_std(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, ddof=1, keepdims=True) + eps) + beta


def _ln_backward_variance_share_added_apart(dout, x, gamma, eps=1e-5):
    inv = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    xhat, dxhat = (x - x.mean(axis=-1, keepdims=True)) * inv, dout * gamma
    dx = inv * (dxhat - dxhat.mean(axis=-1, keepdims=True)) + inv * xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)
    return dx, (dout * xhat).reshape(-1, x.shape[-1]).sum(axis=0), dout.reshape(-1, x.shape[-1]).sum(axis=0)


def _layer_norm_unbiased_eps_outside_the_root(x, gamma, beta, eps=1e-5):
    m = x.mean(axis=-1, keepdims=True)
    return gamma * (x - m) / (np.sqrt(((x - m) ** 2).sum(axis=-1, keepdims=True) / (x.shape[-1] - 1)) + eps) + beta


def _layer_norm_of_the_scaled_input(x, gamma, beta, eps=1e-5):
    y = x * gamma + beta
    return (y - y.mean(axis=-1, keepdims=True)) / np.sqrt(y.var(axis=-1, keepdims=True) + eps)


def _ln_backward_signs(signs):
    def backward(dout, x, gamma, eps=1e-5):
        inv = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
        xhat, dxhat = (x - x.mean(axis=-1, keepdims=True)) * inv, dout * gamma
        shares = (dxhat, dxhat.mean(axis=-1, keepdims=True), xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
        axes = tuple(range(x.ndim - 1))
        return inv * sum(s * t for s, t in zip(signs, shares)), (dout * xhat).sum(axis=axes), dout.sum(axis=axes)
    return backward


WRONG = [("ch10.attention", _attention_inverted_by_adding, answers.INVERTED_MASK),
         ("ch10.attention", _attention_where_hidden, answers.INVERTED_MASK),
         ("ch10.multi_head_attention", _mha_keys_from_wq_per_head, "the keys are projected with Wq"),
         ("ch10.multi_head_attention", _mha_exp_unshifted, "exp overflows in the heads' softmax"),
         ("ch10.multi_head_attention", _mha_causal_written_as_hidden, "your mask lets each step see only the steps AFTER"),
         ("ch10.sinusoidal_positions", _positions_cos_in_first_half, "the cosines come first"),
         ("ch10.sinusoidal_positions", lambda T, d: _positions_pairs(T, d, lambda i, d: 1 / 10000 ** (2 * i // d)),
          "computed with // (integer division)"),
         ("ch10.sinusoidal_positions", lambda T, d: _positions_pairs(T, d, lambda i, d: np.exp(2 * i * -np.log(1000) / d)),
          "the frequencies fall from 1 to 1/1000"),
         ("ch10.layer_norm", _layer_norm_shifted_then_normalised, answers.AFFINE_FIRST),
         ("ch10.layer_norm", _layer_norm_unbiased_std, answers.DDOF1),
         ("ch10.layer_norm", _layer_norm_unbiased_eps_outside_the_root, answers.DDOF1),  # told by the numbers
         ("ch10.layer_norm", _layer_norm_of_the_scaled_input, answers.AFFINE_FIRST),
         ("ch10.layer_norm_backward", _float32(_ln_backward_signs((1, 1, 1))), answers.LN_BACKWARD_SIGN),  # the numbers
         ("ch10.layer_norm_backward", _ln_backward_signs((-1, 1, 1)), answers.LN_BACKWARD_SIGN),
         ("ch10.layer_norm_backward", _ln_backward_variance_share_added_apart, answers.LN_BACKWARD_SIGN),
         ("ch10.attention", _attention_divided_by_everything, answers.NOT_NORMALISED),
         ("ch10.attention", _float32(answers._attention_unscaled), "the scores are not scaled"),
         ("ch10.layer_norm_backward", _float32(answers._ln_backward_constant_mean), "dx misses the mean's share")]


@pytest.mark.parametrize(("name", "answer", "said"), WRONG, ids=[f"{n}-{i}" for i, (n, _a, _s) in enumerate(WRONG)])
def test_a_mistake_written_otherwise_than_its_listed_form_gets_its_hint(name: str, answer, said: str) -> None:
    """The inverted mask and the rows divided by the wrong sum are told by the weights' pattern, however written; a
    float32 answer with a listed mistake still gets that mistake's hint (judged within float32's rounding)."""
    exercise = REGISTRY[name]
    for seed, hidden in [(0, False), (1, True), (2, True)]:
        with np.errstate(all="ignore"):
            verdict = judge(exercise, collect(exercise, answer, seed, hidden))
        assert not verdict.passed and said in verdict.message and verdict.mistake is not None, verdict.message


@pytest.mark.parametrize(("name", "answer", "said"), [
    ("ch10.attention", _attention_where_hidden, answers.INVERTED_MASK),
    ("ch10.multi_head_attention", _mha_causal_written_as_hidden, "your mask lets each step see only the steps AFTER"),
    ("ch10.multi_head_attention", _mha_exp_unshifted, "exp overflows in the heads' softmax"),
], ids=["attention", "mha-mask", "mha-overflow"])
def test_a_floating_point_warning_made_an_error_is_told_its_slip(name: str, answer, said: str) -> None:
    """Where numpy's RuntimeWarning is an error (a student's filter, the grader's warning mode), the answer raises
    on the case whose row hides every key (or overflows): the message names the slip, not only the warning."""
    exercise = REGISTRY[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        observation = collect(exercise, answer, 0, False)
    assert any(str(r["error"] or "").startswith("RuntimeWarning") for r in observation["results"])
    verdict = judge(exercise, observation)
    assert not verdict.passed and "RuntimeWarning" in verdict.message and said in verdict.message, verdict.message
    assert verdict.mistake is not None


def test_a_query_whose_weights_are_nan_is_told_which_keys_the_mask_let_it_see() -> None:
    """An inverted mask written with -inf hides every key of the last query of the causal case (its weights are nan):
    the message says so and names the keys the mask allows it, 0 to 3."""
    def attention(Q, K, V, mask=None):
        with np.errstate(all="ignore"):
            return answers._attention(Q, K, V, None if mask is None else ~np.asarray(mask))

    verdict = judge(ch10.attention, collect(ch10.attention, attention, 0, False))
    assert "the weights of query 3 (at (0, 3)) are nan" in verdict.message, verdict.message
    assert "lets it see keys 0, 1, 2, 3." in verdict.message and answers.INVERTED_MASK in verdict.message


def test_positions_say_which_column_holds_which_and_how_fast_a_pair_turns() -> None:
    """Wrong positions no listed mistake reproduces: the pairs in reverse order (the lesson says which column the
    first one holds), and the exponent (2i + 1) / d (pair 0 turns by 10000 ** (-1/6) = 0.215443 per position, by
    hand, where it must turn by 1)."""
    def reversed_pairs(T, d):
        return answers._sinusoidal_positions(T, d).reshape(T, -1, 2)[:, ::-1].reshape(T, d)

    def odd_exponent(T, d):
        angles = np.arange(T)[:, None] / 10000 ** ((np.arange(0, d, 2)[None, :] + 1) / d)
        return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(T, d)

    exercise = ch10.sinusoidal_positions
    message = judge(exercise, collect(exercise, reversed_pairs, 0, False)).message
    assert "your column 0 is column 4, the sine of pair 2." in message, message  # the visible (4, 6) first
    message = judge(exercise, collect(exercise, odd_exponent, 0, False)).message
    assert f"pair 0 (columns 0 and 1) turns by {10000 ** (-1 / 6):.6g} radians" in message, message
    assert "it must turn by 1 / 10000 ** (0 / 6) = 1." in message, message


def test_split_heads_says_which_numbers_of_x_a_wrong_head_holds() -> None:
    """A reshape or a transpose moves x's numbers: the lesson says where the first wrong head's came from (here
    `x.reshape(B, h, d, T)`, a wrong split no listed mistake reproduces)."""
    def split(x, num_heads):
        B, T, D = x.shape
        return x.reshape(B, num_heads, D // num_heads, T).transpose(0, 1, 3, 2)

    verdict = judge(ch10.split_heads, collect(ch10.split_heads, split, 0, False))
    assert "head 0 at step 0 (batch 0) must be x[0, 0, 0:4]" in verdict.message
    assert "yours holds x[0, 0, 0], x[0, 0, 3], x[0, 0, 6], x[0, 1, 1]." in verdict.message, verdict.message


@pytest.mark.parametrize(("name", "answer"), [
    ("ch10.attention", lambda Q, K, V, mask=None: (Q, "weights")),
    ("ch10.attention", lambda Q, K, V, mask=None: (Q, [np.zeros(2), np.zeros(3)])),
    ("ch10.split_heads", lambda x, num_heads: [np.zeros(2), np.zeros(3)]),
    ("ch10.split_heads", lambda x, num_heads: np.full(x.shape[:2] + (num_heads, x.shape[2] // num_heads), "a")),
    ("ch10.layer_norm", lambda x, gamma, beta, eps=1e-5: [[1.0, 2.0], [3.0]]),
], ids=["text", "ragged", "ragged-split", "text-split", "ragged-rows"])
def test_an_answer_of_the_wrong_kind_is_told_so_not_crashed_on(name: str, answer) -> None:
    """The chapter's comparisons read the weights' pattern and the heads' numbers only from arrays of numbers."""
    verdict = judge(REGISTRY[name], collect(REGISTRY[name], answer, 0, False))
    assert not verdict.passed and "not right yet" in verdict.message, verdict.message


def test_a_mask_of_numbers_and_a_mask_that_must_broadcast() -> None:
    """A causal mask of 1.0 and 0.0 has the right values but is no mask (~ of it is not its opposite); an attention that
    indexes with the mask (scores[..., ~mask]) fails on a padding mask of shape (B, 1, S), which np.where broadcasts."""
    verdict = judge(ch10.causal_mask, collect(ch10.causal_mask, lambda T: np.tril(np.ones((T, T))), 0, False))
    assert not verdict.passed and "dtype=bool" in verdict.message, verdict.message

    def indexed(Q, K, V, mask=None):  # noqa: ANN001, ANN202
        scores = Q @ K.swapaxes(-1, -2) / np.sqrt(Q.shape[-1])
        if mask is not None:
            scores[..., ~np.asarray(mask)] = -np.inf
        weights = answers._softmax(scores)
        return weights @ V, weights

    verdict = judge(ch10.attention, collect(ch10.attention, indexed, 0, False))
    assert not verdict.passed and "does not broadcast" in verdict.message, verdict.message


def test_a_number_of_heads_written_in_fails_the_visible_check() -> None:
    """The visible blocks have 2 and 3 heads: a block that passes 2 for num_heads is told on the visible check, not only
    when graded."""
    def block(x, params, num_heads):  # noqa: ANN001, ANN202
        return answers._transformer_block(x, params, 2)

    verdict = judge(ch10.transformer_block, collect(ch10.transformer_block, block, 0, False))
    assert not verdict.passed and answers.FIXED_HEADS in verdict.message, verdict.message
