"""Chapter 10, attention: scaled dot-product attention, masks, heads, positions, layer norm, a transformer block.

Conventions (PyTorch's and Keras'): sequences are ``(batch, time, features)``; attention takes queries
``Q (..., T, d)``, keys ``K (..., S, d)`` and values ``V (..., S, dv)``, and a boolean ``mask``
(broadcasting to ``(..., T, S)``) that is True where a query may look at a key. Heads are split
``(B, T, h·dk) -> (B, h, T, dk)``, head-major in the features (``x.reshape(B, T, h, dk)``), as Keras'
and torch's layers do. The block is pre-norm (GPT-2's layout, the library's `TransformerBlock`)::

    y   = x + MHA(LN1(x))           (causal, no biases in the projections)
    out = y + relu(LN2(y) @ W1 + b1) @ W2 + b2

Layer norm uses the biased variance (``ddof=0``) and ``eps`` inside the square root, as torch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbook.checks.ch10.public import Params, block_params
from gradbook.checks.core import Exercise, Mistake, compare_values
from gradbook.checks.display import hint
from gradbook.checks.drivers import Case
from gradbook.checks.meaning import Output
from gradbook.i18n import N_, _

EPS = 1e-5

# --------------------------------------------------------------------------- references


def _softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = scores - scores.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def _attention(Q: np.ndarray, K: np.ndarray, V: np.ndarray, mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = _softmax(scores)
    return weights @ V, weights


def _causal_mask(T: int) -> np.ndarray:
    return np.tril(np.ones((T, T), dtype=bool))


def _split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    B, T, D = x.shape
    return x.reshape(B, T, num_heads, D // num_heads).transpose(0, 2, 1, 3)


def _merge_heads(x: np.ndarray) -> np.ndarray:
    B, h, T, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, h * d)


def _multi_head_attention(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_mask(x.shape[1]) if causal else None)
    return _merge_heads(heads) @ Wo


def _sinusoidal_positions(T: int, d: int) -> np.ndarray:
    angles = np.arange(T)[:, None] / 10000 ** (np.arange(0, d, 2)[None, :] / d)
    pe = np.zeros((T, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe


def _layer_norm(x, gamma, beta, eps=EPS):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _softmax_backward(dweights, weights):
    return weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))


def _layer_norm_backward(dout, x, gamma, eps=EPS):
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    axes = tuple(range(x.ndim - 1))
    dxhat = dout * gamma
    dx = inv * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    return dx, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


def _block_parts(x: np.ndarray, p: Params, num_heads: int, causal: bool = True) -> dict[str, np.ndarray]:
    """Every intermediate of the block's forward pass (the backward pass reads them); `causal=False` is a mistake."""
    s: dict[str, np.ndarray] = {}
    s["h1"] = _layer_norm(x, p["ln1_gamma"], p["ln1_beta"])
    s["q"], s["k"], s["v"] = (_split_heads(s["h1"] @ p[W], num_heads) for W in ("Wq", "Wk", "Wv"))
    heads, s["weights"] = _attention(s["q"], s["k"], s["v"], _causal_mask(x.shape[1]) if causal else None)
    s["merged"] = _merge_heads(heads)
    s["y"] = x + s["merged"] @ p["Wo"]
    s["h2"] = _layer_norm(s["y"], p["ln2_gamma"], p["ln2_beta"])
    s["z"] = s["h2"] @ p["W1"] + p["b1"]
    s["r"] = np.maximum(s["z"], 0)
    s["out"] = s["y"] + s["r"] @ p["W2"] + p["b2"]
    return s


def _transformer_block(x, params, num_heads):
    return _block_parts(x, params, num_heads)["out"]


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1])


def _block_backward(dout, x, params, num_heads, *, mistake: str = "") -> dict[str, np.ndarray]:
    """The reference backward pass, or (`mistake`) one of the wrong ones students write."""
    p, s = params, _block_parts(x, params, num_heads)
    g: dict[str, np.ndarray] = {"b2": _flat(dout).sum(axis=0), "W2": _flat(s["r"]).T @ _flat(dout)}
    dz = (dout @ p["W2"].T) * (s["z"] > 0)
    g["b1"], g["W1"] = _flat(dz).sum(axis=0), _flat(s["h2"]).T @ _flat(dz)
    dy_ln, g["ln2_gamma"], g["ln2_beta"] = _layer_norm_backward(dz @ p["W1"].T, s["y"], p["ln2_gamma"])
    dy = dy_ln if mistake == "mlp-residual" else dout + dy_ln  # the residual's identity path carries dout through
    g["Wo"] = _flat(s["merged"]).T @ _flat(dy)
    dheads = _split_heads(dy @ p["Wo"].T, num_heads)
    w, scale = s["weights"], 1 / np.sqrt(s["q"].shape[-1])
    dv = np.swapaxes(w, -1, -2) @ dheads
    dw = dheads @ np.swapaxes(s["v"], -1, -2)
    dscores = dw * w * (1 - w) if mistake == "softmax-diagonal" else _softmax_backward(dw, w)
    if mistake != "no-scale":
        dscores = dscores * scale
    dq, dk = dscores @ s["k"], np.swapaxes(dscores, -1, -2) @ s["q"]
    dh1 = np.zeros_like(x)
    for name, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        joined = _merge_heads(d)
        g[name] = _flat(s["h1"]).T @ _flat(joined)
        dh1 = dh1 + joined @ p[name].T
    dx_ln, g["ln1_gamma"], g["ln1_beta"] = _layer_norm_backward(dh1, x, p["ln1_gamma"])
    g["x"] = dx_ln if mistake == "attention-residual" else dy + dx_ln
    return g


def _transformer_block_backward(dout, x, params, num_heads):
    return _block_backward(dout, x, params, num_heads)


# --------------------------------------------------------------------------- plausible mistakes


def _attention_unscaled(Q, K, V, mask=None):
    return _attention(Q * np.sqrt(Q.shape[-1]), K, V, mask)


def _attention_scaled_by_d(Q, K, V, mask=None):
    return _attention(Q / np.sqrt(Q.shape[-1]), K, V, mask)


OVER_QUERIES = N_("the softmax runs over the queries (axis -2): each query's weights over the keys must sum to 1, "
                  "so take the softmax over the last axis.")


def _attention_compare(expected: Any, got: Any, case: Case) -> str | None:
    """The values, and, whatever the shift or the order of the steps, weights normalised along the wrong axis:
    each key's column sums to 1 where each query's row must."""
    problem = compare_values(expected, got)
    if problem and isinstance(got, (tuple, list)) and len(got) == 2:
        weights = np.asarray(got[1], dtype=float)
        if (weights.shape == np.shape(expected[1]) and weights.ndim >= 2 and weights.shape[-2] > 1
                and np.allclose(weights.sum(axis=-2), 1) and not np.allclose(weights.sum(axis=-1), 1)):
            return problem + "\n" + hint(_(OVER_QUERIES))
    return problem


def _attention_softmax_over_queries(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.nan_to_num(_softmax(scores, axis=-2))  # a column of -inf: nan, shown as 0 to be reproducible
    return weights @ V, weights


def _attention_mask_after_softmax(Q, K, V, mask=None):
    weights = _softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1]))
    if mask is not None:
        weights = weights * mask
    return weights @ V, weights


def _attention_mask_with_zero(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    weights = _softmax(scores)
    return weights @ V, weights


def _causal_upper(T):
    return np.triu(np.ones((T, T), dtype=bool))


def _causal_strict(T):
    return np.tril(np.ones((T, T), dtype=bool), k=-1)


def _split_heads_wrong_order(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, num_heads, T, D // num_heads)


def _split_heads_interleaved(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, T, D // num_heads, num_heads).transpose(0, 3, 1, 2)


def _mha_merge_without_transpose(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_mask(x.shape[1]) if causal else None)
    return heads.reshape(x.shape[0], x.shape[1], -1) @ Wo


def _mha_scaled_by_width(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    q = q * np.sqrt(q.shape[-1]) / np.sqrt(Wq.shape[1])  # 1/sqrt(h·dk) instead of 1/sqrt(dk)
    heads, _ = _attention(q, k, v, _causal_mask(x.shape[1]) if causal else None)
    return _merge_heads(heads) @ Wo


def _mha_not_causal(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    return _multi_head_attention(x, Wq, Wk, Wv, Wo, num_heads, causal=False)


def _mha_no_output_projection(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    return _multi_head_attention(x, Wq, Wk, Wv, np.eye(Wq.shape[1]), num_heads, causal)


def _positions_pair_index(T, d):
    angles = np.arange(T)[:, None] / 10000 ** (np.arange(d // 2)[None, :] / d)
    pe = np.zeros((T, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def _positions_swapped(T, d):
    pe = _sinusoidal_positions(T, d)
    return np.stack([pe[:, 1::2], pe[:, 0::2]], axis=-1).reshape(T, d)


def _positions_halves(T, d):
    pe = _sinusoidal_positions(T, d)
    return np.concatenate([pe[:, 0::2], pe[:, 1::2]], axis=1)


def _positions_from_one(T, d):
    return _sinusoidal_positions(T + 1, d)[1:]


def _layer_norm_batch_axis(x, gamma, beta, eps=EPS):
    mean, var = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _layer_norm_ddof1(x, gamma, beta, eps=EPS):
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, ddof=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _layer_norm_variance(x, gamma, beta, eps=EPS):
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    return (x - mean) / (var + eps) * gamma + beta


def _ln_backward_without_gamma(dout, x, gamma, eps=EPS):
    dx, dgamma, dbeta = _layer_norm_backward(dout, x, np.ones_like(gamma), eps)
    return dx, _layer_norm_backward(dout, x, gamma, eps)[1], dbeta


def _layer_norm_eps_outside(x, gamma, beta, eps=EPS):
    mean, std = x.mean(axis=-1, keepdims=True), x.std(axis=-1, keepdims=True)
    return (x - mean) / (std + eps) * gamma + beta


def _softmax_backward_diagonal(dweights, weights):
    return dweights * weights * (1 - weights)


def _softmax_backward_wrong_axis(dweights, weights):
    return weights * (dweights - (dweights * weights).sum(axis=-2, keepdims=True))


def _softmax_backward_no_correction(dweights, weights):
    return dweights * weights


def _ln_backward_constant_stats(dout, x, gamma, eps=EPS):
    _, dgamma, dbeta = _layer_norm_backward(dout, x, gamma, eps)
    return dout * gamma / np.sqrt(x.var(axis=-1, keepdims=True) + eps), dgamma, dbeta


def _ln_backward_constant_variance(dout, x, gamma, eps=EPS):
    _, dgamma, dbeta = _layer_norm_backward(dout, x, gamma, eps)
    dxhat = dout * gamma
    return (dxhat - dxhat.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + eps), dgamma, dbeta


def _ln_backward_param_grads_first_axis(dout, x, gamma, eps=EPS):
    dx, _, _ = _layer_norm_backward(dout, x, gamma, eps)
    xhat = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _block_no_attention_residual(x, params, num_heads):
    p = params
    a = _multi_head_attention(_layer_norm(x, p["ln1_gamma"], p["ln1_beta"]), p["Wq"], p["Wk"], p["Wv"], p["Wo"],
                              num_heads, causal=True)
    h2 = _layer_norm(a, p["ln2_gamma"], p["ln2_beta"])
    return a + np.maximum(h2 @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]


def _block_no_mlp_residual(x, params, num_heads):
    s = _block_parts(x, params, num_heads)
    return s["r"] @ params["W2"] + params["b2"]


def _block_post_norm(x, params, num_heads):
    p = params
    y = _layer_norm(x + _multi_head_attention(x, p["Wq"], p["Wk"], p["Wv"], p["Wo"], num_heads, causal=True),
                    p["ln1_gamma"], p["ln1_beta"])
    return _layer_norm(y + np.maximum(y @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"], p["ln2_gamma"], p["ln2_beta"])


def _block_not_causal(x, params, num_heads):
    return _block_parts(x, params, num_heads, causal=False)["out"]


def _backward_no_attention_residual(dout, x, params, num_heads):
    return _block_backward(dout, x, params, num_heads, mistake="attention-residual")


def _backward_no_mlp_residual(dout, x, params, num_heads):
    return _block_backward(dout, x, params, num_heads, mistake="mlp-residual")


def _backward_softmax_diagonal(dout, x, params, num_heads):
    return _block_backward(dout, x, params, num_heads, mistake="softmax-diagonal")


def _backward_no_scale(dout, x, params, num_heads):
    return _block_backward(dout, x, params, num_heads, mistake="no-scale")


# --------------------------------------------------------------------------- cases


def _random_mask(rng: np.random.Generator, T: int, S: int) -> np.ndarray:
    mask = rng.random((T, S)) < 0.6
    mask[np.arange(T), rng.integers(0, S, T)] = True  # every query sees at least one key
    return mask


def _attention_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2)))),
             Case((rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 4, 3))),
                  {"mask": _causal_mask(4)}),
             Case((rng.normal(size=(2, 2, 3, 4)) * 3, rng.normal(size=(2, 2, 5, 4)), rng.normal(size=(2, 2, 5, 6))),
                  {"mask": _random_mask(rng, 3, 5)})]
    if hidden:
        cases += [Case((rng.normal(size=(4, 6, 16)) * 4, rng.normal(size=(4, 7, 16)), rng.normal(size=(4, 7, 5))),
                       {"mask": _random_mask(rng, 6, 7)}),
                  Case((rng.normal(size=(3, 2, 9, 8)), rng.normal(size=(3, 2, 9, 8)), rng.normal(size=(3, 2, 9, 8))),
                       {"mask": _causal_mask(9)}),
                  Case((rng.normal(size=(1, 5, 32)) * 10, rng.normal(size=(1, 5, 32)), rng.normal(size=(1, 5, 4))))]
    return cases


def _causal_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((T,)) for T in ([1, 3, 5] + ([2, 8, 13] if hidden else []))]


def _split_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    shapes = [((2, 3, 8), 2), ((1, 5, 6), 3)] + ([((3, 4, 12), 4), ((2, 7, 10), 2), ((1, 2, 9), 3)] if hidden else [])
    return [Case((rng.normal(size=shape), heads)) for shape, heads in shapes]


def _mha_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    settings = [(2, 4, 5, 2, 3, False), (2, 5, 6, 3, 2, True)]
    if hidden:
        settings += [(3, 6, 8, 2, 4, True), (1, 7, 4, 4, 3, True), (2, 3, 6, 1, 5, False)]
    cases = []
    for B, T, D, h, dk, causal in settings:
        Ws = [rng.normal(size=(D, h * dk)) / np.sqrt(D) for _ in range(3)]
        cases.append(Case((rng.normal(size=(B, T, D)), *Ws, rng.normal(size=(h * dk, D)), h), {"causal": causal}))
    return cases


def _positions_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case(size) for size in [(4, 6), (50, 8)] + ([(3, 2), (20, 16), (128, 32)] if hidden else [])]


def _ln_inputs(rng: np.random.Generator, hidden: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    shapes = [((4, 6), 1.0), ((2, 3, 5), 2.0), ((3, 4), 1e-3)] + ([((5, 4, 8), 0.5), ((2, 7), 1e-3), ((6, 3), 10.0)]
                                                                 if hidden else [])
    out = []
    for shape, scale in shapes:
        x = rng.normal(size=shape) * scale + rng.normal(size=shape[-1]) * scale  # features with their own offsets
        out.append((x, rng.normal(size=shape[-1]), rng.normal(size=shape[-1])))
    return out


def _ln_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((x, gamma, beta)) for x, gamma, beta in _ln_inputs(rng, hidden)]


def _ln_backward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((rng.normal(size=x.shape), x, gamma)) for x, gamma, _ in _ln_inputs(rng, hidden)]


def _softmax_backward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((rng.normal(size=(3, 5)), _softmax(rng.normal(size=(3, 5))))),
             Case((rng.normal(size=(2, 2, 4, 4)),
                   _softmax(np.where(_causal_mask(4), rng.normal(size=(2, 2, 4, 4)), -np.inf))))]
    if hidden:
        cases += [Case((rng.normal(size=(4, 6, 6)), _softmax(rng.normal(size=(4, 6, 6)) * 3))),
                  Case((rng.normal(size=(1, 9)), _softmax(rng.normal(size=(1, 9)))))]
    return cases


def _block_settings(hidden: bool) -> list[tuple[int, int, int, int, int, int]]:
    settings = [(2, 4, 6, 2, 3, 8), (1, 5, 4, 2, 2, 6)]
    return settings + ([(3, 6, 8, 4, 2, 16), (2, 3, 5, 1, 4, 7)] if hidden else [])


def _block_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((rng.normal(size=(B, T, D)), block_params(rng, D, h, dk, ff), h))
            for B, T, D, h, dk, ff in _block_settings(hidden)]


def _block_backward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((rng.normal(size=(B, T, D)), rng.normal(size=(B, T, D)), block_params(rng, D, h, dk, ff), h))
            for B, T, D, h, dk, ff in _block_settings(hidden)]


# --------------------------------------------------------------------------- exercises

MASK_AFTER = N_("the mask was applied after the softmax: the masked weights are 0 but the others no longer "
                "sum to 1. Mask the scores before the softmax: np.where(mask, scores, -np.inf).")

attention = Exercise(
    "ch10.attention",
    title="attention",
    outputs=(Output("output"), Output("weights")),
    compare=_attention_compare,
    reference=_attention,
    cases=_attention_cases,
    mistakes=[
        Mistake(_attention_unscaled, N_("the scores are not scaled: divide Q @ K^T by sqrt(d_k), d_k = "
                "Q.shape[-1]. Without it the scores grow with d_k and the softmax saturates.")),
        Mistake(_attention_scaled_by_d, N_("the scores are divided by d_k; divide by its square root, "
                "np.sqrt(Q.shape[-1]): a dot product of d_k unit-variance terms has variance d_k.")),
        Mistake(_attention_softmax_over_queries, OVER_QUERIES),
        Mistake(_attention_mask_after_softmax, MASK_AFTER),
        Mistake(_attention_mask_with_zero, N_("masked scores were set to 0, and exp(0) = 1 still gives them "
                "weight: set them to -inf (np.where(mask, scores, -np.inf)) so that exp gives exactly 0.")),
    ],
)

causal_mask = Exercise(
    "ch10.causal_mask",
    title="causal_mask",
    reference=_causal_mask,
    cases=_causal_cases,
    mistakes=[
        Mistake(_causal_upper, N_("the mask is upper-triangular: query i may see keys 0..i (the past and "
                "itself), the lower triangle; np.tril, not np.triu.")),
        Mistake(_causal_strict, N_("the diagonal is masked: a position may look at itself (key i for "
                "query i); use np.tril(..., k=0).")),
    ],
)

split_heads = Exercise(
    "ch10.split_heads",
    title="split_heads",
    reference=_split_heads,
    cases=_split_cases,
    mistakes=[
        Mistake(_split_heads_wrong_order, N_("x.reshape(B, h, T, d) mixes time steps and heads: the heads are "
                "in the features, so reshape to (B, T, h, d) first, then transpose to (B, h, T, d).")),
        Mistake(_split_heads_interleaved, N_("the heads are interleaved: head j is the features "
                "j*d .. (j+1)*d - 1, so reshape to (B, T, h, d) (heads first), not (B, T, d, h).")),
    ],
)

multi_head_attention = Exercise(
    "ch10.multi_head_attention",
    title="multi_head_attention",
    reference=_multi_head_attention,
    cases=_mha_cases,
    mistakes=[
        Mistake(_mha_merge_without_transpose, N_("the heads were merged with a reshape alone: (B, h, T, d) must "
                "be transposed back to (B, T, h, d) before the reshape to (B, T, h*d).")),
        Mistake(_mha_scaled_by_width, N_("the scores are scaled by 1/sqrt(h*d_k), the width of all heads: each "
                "head is its own attention of width d_k, so scale by 1/sqrt(d_k).")),
        Mistake(_mha_not_causal, N_("with causal=True a step must not see the steps after it: pass the causal "
                "mask to the attention.")),
        Mistake(_mha_no_output_projection, N_("the output projection is missing: multiply the merged heads by Wo.")),
    ],
)

sinusoidal_positions = Exercise(
    "ch10.sinusoidal_positions",
    title="sinusoidal_positions",
    reference=_sinusoidal_positions,
    cases=_positions_cases,
    mistakes=[
        Mistake(_positions_pair_index, N_("the exponent uses the pair index i, 10000 ** (i / d): it is "
                "10000 ** (2i / d), the column index of the sine (0, 2, 4, ...) over d.")),
        Mistake(_positions_swapped, N_("sine and cosine are swapped: even columns are sines, odd columns "
                "cosines.")),
        Mistake(_positions_halves, N_("the sines and cosines are side by side in two halves: they alternate, "
                "pe[:, 0::2] = sin, pe[:, 1::2] = cos.")),
        Mistake(_positions_from_one, N_("positions start at 0 (np.arange(T)), not 1.")),
    ],
)

layer_norm = Exercise(
    "ch10.layer_norm",
    title="layer_norm",
    reference=_layer_norm,
    cases=_ln_cases,
    mistakes=[
        Mistake(_layer_norm_batch_axis, N_("this normalised over the batch (axis 0): that is batch "
                "normalisation. Layer normalisation normalises each position over its own features, axis=-1.")),
        Mistake(_layer_norm_ddof1, N_("the variance is the sample variance (ddof=1): layer norm divides by the "
                "number of features, np.var(..., ddof=0), as torch and Keras do.")),
        Mistake(_layer_norm_variance, N_("this divides by the variance: divide by the standard deviation, "
                "np.sqrt(var + eps), so that every position ends with variance 1.")),
        Mistake(_layer_norm_eps_outside, N_("eps goes inside the square root, sqrt(var + eps), not std + eps: "
                "it matters when the features barely vary.")),
    ],
)

softmax_backward = Exercise(
    "ch10.softmax_backward",
    library_answers=(
        "gradbook.reference.activations.softmax_backward",
        "gradbook.torch_path.activations.softmax_backward",
    ),
    title="softmax_backward",
    reference=_softmax_backward,
    cases=_softmax_backward_cases,
    mistakes=[
        Mistake(_softmax_backward_diagonal, N_("this is only the diagonal of softmax's Jacobian, w * (1 - w): "
                "every weight of a row depends on every score of it. dscores = w * (dw - sum(dw * w, axis=-1)).")),
        Mistake(_softmax_backward_no_correction, N_("the term every weight shares is missing: dscores = w * (dw - "
                "sum(dw * w, axis=-1, keepdims=True)); the weights sum to 1, so pushing one up pushes the others down.")),
        Mistake(_softmax_backward_wrong_axis, N_("the sum runs over the wrong axis: the softmax was over the last "
                "axis, so sum(dw * w, axis=-1, keepdims=True).")),
    ],
)

layer_norm_backward = Exercise(
    "ch10.layer_norm_backward",
    title="layer_norm_backward",
    outputs=(Output("dx"), Output("dgamma"), Output("dbeta")),
    reference=_layer_norm_backward,
    cases=_ln_backward_cases,
    mistakes=[
        Mistake(_ln_backward_constant_stats, N_("dx treats the mean and the variance as constants: both depend on "
                "every feature of x. dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps).")),
        Mistake(_ln_backward_constant_variance, N_("dx misses the variance's share: subtract xhat * mean(dxhat * "
                "xhat, axis=-1) too, before dividing by sqrt(var + eps).")),
        Mistake(_ln_backward_without_gamma, N_("dx misses gamma: the output is xhat * gamma + beta, so the "
                "gradient reaching xhat is dxhat = dout * gamma.")),
        Mistake(_ln_backward_param_grads_first_axis, N_("dgamma and dbeta are summed over the first axis only: "
                "gamma is used at every position of every sequence, so sum over every axis but the last.")),
    ],
)

transformer_block = Exercise(
    "ch10.transformer_block",
    title="transformer_block",
    reference=_transformer_block,
    cases=_block_cases,
    mistakes=[
        Mistake(_block_no_attention_residual, N_("the residual around the attention is missing: y = x + "
                "attention(LN1(x)), not attention(LN1(x)) alone.")),
        Mistake(_block_no_mlp_residual, N_("the residual around the MLP is missing: out = y + MLP(LN2(y)).")),
        Mistake(_block_post_norm, N_("this is the post-norm block (LN after each residual, as in the 2017 "
                "paper); ours is pre-norm, as GPT-2: LN is applied to each sub-layer's input, y = x + "
                "attention(LN1(x)).")),
        Mistake(_block_not_causal, N_("the block's attention must be causal: pass causal=True.")),
    ],
)

transformer_block_backward = Exercise(
    "ch10.transformer_block_backward",
    title="transformer_block_backward",
    reference=_transformer_block_backward,
    cases=_block_backward_cases,
    mistakes=[
        Mistake(_backward_no_attention_residual, N_("dx misses the residual path: x reaches the output through "
                "LN1 and the attention AND directly (y = x + ...), so dx = dy + the gradient through LN1.")),
        Mistake(_backward_no_mlp_residual, N_("dy misses the residual path of the MLP: out = y + MLP(LN2(y)), so "
                "dy = dout + the gradient through LN2.")),
        Mistake(_backward_softmax_diagonal, N_("the softmax's gradient uses only the diagonal of its Jacobian, "
                "w * (1 - w): use your softmax_backward.")),
        Mistake(_backward_no_scale, N_("the backward pass forgot the scale: the scores were Q K^T / sqrt(d_k), so "
                "dQ and dK carry the factor 1 / sqrt(d_k) too.")),
    ],
)
