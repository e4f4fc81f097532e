"""Chapter 10, attention: scaled dot-product attention, masks, heads, positions, layer norm, a transformer block.

Conventions (PyTorch's and Keras'): sequences are ``(batch, time, features)``; attention takes queries
``Q (..., T, d)``, keys ``K (..., S, d)`` and values ``V (..., S, dv)``, and a boolean ``mask``
(broadcasting to ``(..., T, S)``) that is True where a query may look at a key. Heads are split
``(B, T, h·dk) -> (B, h, T, dk)``, head-major in the features (``x.reshape(B, T, h, dk)``), as Keras'
and torch's layers do. The block is pre-norm (GPT-2's layout, the library's `TransformerBlock`)::

    y   = x + MHA(LN1(x))           (causal, no biases in the projections)
    out = y + relu(LN2(y) @ W1 + b1) @ W2 + b2

Layer norm uses the biased variance (``ddof=0``) and ``eps`` inside the square root, as torch does.

An answer is right within float32's rounding (`core.FLOAT32_ROUNDING` of each output array's largest value), the
library's precision, on every seed: an answer computed in float32 (its result float32, or float64 again after a
division by np.sqrt(d), a float64) passed the visible check and failed about 1 hidden seed in 4 when judged by
float64's tolerance. Besides the listed mistakes, the checks read what a wrong answer's numbers show, however
it was written: attention weights that are zero exactly where the mask allows (an inverted mask), a query whose
weights are nan though the mask lets it see keys (which ones), rows in the right proportions that do not sum to 1,
columns that sum to 1; a split whose heads hold the wrong numbers of x; positions whose columns are the right ones in
another order, or whose pairs turn at the wrong speed; a layer norm by the sample variance (ddof=1), and a flipped sign
in its backward pass's dx.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradbook.checks.ch10.public import Params, block_params
from gradbook.checks.core import FLOAT32_ROUNDING, Exercise, Mistake, compare_values
from gradbook.checks.display import hint
from gradbook.checks.drivers import Case, quiet
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


def _layer_norm_std_under_root(x, gamma, beta, eps=EPS):
    return (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.std(axis=-1, keepdims=True) + eps) * gamma + beta


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
    """The reference backward pass, or (`mistake`, a name below) one of the wrong ones students write."""
    p, s = params, _block_parts(x, params, num_heads, causal=mistake != "not-causal")
    g: dict[str, np.ndarray] = {"b2": _flat(dout).sum(axis=0),
                                "W2": _flat(s["z"] if mistake == "w2-from-z" else s["r"]).T @ _flat(dout)}
    dz = dout @ p["W2"].T if mistake == "no-relu-gradient" else (dout @ p["W2"].T) * (
        s["z"] < 0 if mistake == "relu-mask-inverted" else s["z"] > 0)
    g["b1"], g["W1"] = _flat(dz).sum(axis=0), _flat(s["y" if mistake == "w1-from-y" else "h2"]).T @ _flat(dz)
    ln2_input = s["h2"] if mistake == "ln2-of-output" else s["y"]
    dy_ln, g["ln2_gamma"], g["ln2_beta"] = _layer_norm_backward(dz @ p["W1"].T, ln2_input, p["ln2_gamma"])
    dy = dy_ln if mistake == "mlp-residual" else dout + dy_ln  # the residual's identity path carries dout through
    g["Wo"] = _flat(s["merged"]).T @ _flat(dout if mistake == "wo-from-dout" else dy)
    dh1 = _attention_backward(dy @ p["Wo"].T, x, s, p, num_heads, g, mistake)
    ln1_input = s["h1"] if mistake == "ln1-of-output" else x
    dx_ln, g["ln1_gamma"], g["ln1_beta"] = _layer_norm_backward(dh1, ln1_input, p["ln1_gamma"])
    g["x"] = {"attention-residual": dx_ln, "x-residual-dout": dout + dx_ln, "no-ln1-path": dy}.get(mistake, dy + dx_ln)
    return g


def _attention_backward(dmerged, x, s, p, num_heads, g, mistake: str) -> np.ndarray:
    """The block's attention, backwards from the gradient of its merged heads: the gradients of Wq, Wk and Wv (into
    `g`), and the gradient of its input h1 returned; `mistake` as in `_block_backward`."""
    dheads = dmerged.reshape(s["q"].shape) if mistake == "split-untransposed" else _split_heads(dmerged, num_heads)
    d_k = s["q"].shape[-1]
    w, scale = s["weights"], {"scale-by-d": 1 / d_k, "scale-multiplied": np.sqrt(d_k)}.get(mistake, 1 / np.sqrt(d_k))
    dv = (w if mistake == "dv-untransposed" else np.swapaxes(w, -1, -2)) @ dheads
    dw = dheads @ np.swapaxes(s["v"], -1, -2)
    dscores = dw * w * (1 - w) if mistake == "softmax-diagonal" else _softmax_backward(dw, w)
    if mistake != "no-scale":
        dscores = dscores * scale
    dq = dscores @ s["k"]
    dk = (dscores if mistake == "dk-untransposed" else np.swapaxes(dscores, -1, -2)) @ s["q"]
    dh1 = np.zeros_like(x)
    for name, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        joined = d.reshape(x.shape[0], x.shape[1], -1) if mistake == "merge-untransposed" else _merge_heads(d)
        g[name] = _flat(x if mistake == "weights-from-x" else s["h1"]).T @ _flat(joined)
        if name == "Wq" or mistake != "dh1-from-q":
            dh1 = dh1 + joined @ p[name].T
    return dh1


def _transformer_block_backward(dout, x, params, num_heads):
    return _block_backward(dout, x, params, num_heads)


# --------------------------------------------------------------------------- plausible mistakes


def _attention_unscaled(Q, K, V, mask=None):
    return _attention(Q * np.sqrt(Q.shape[-1]), K, V, mask)


def _attention_scaled_by_d(Q, K, V, mask=None):
    return _attention(Q / np.sqrt(Q.shape[-1]), K, V, mask)


# --------------------------------------------------------------------------- how answers are compared

OVER_QUERIES = N_("the softmax runs over the queries (axis -2): each query's weights over the keys must sum to 1, "
                  "so take the softmax over the last axis.")
MASK_AFTER = N_("the mask was applied after the softmax: the masked weights are 0 but the others no longer "
                "sum to 1. Mask the scores before the softmax: np.where(mask, scores, -np.inf).")
INVERTED_MASK = N_("the mask is inverted: True means the query MAY look at that key, so keep its score and set the "
                   "others to -inf: np.where(mask, scores, -np.inf). (torch's attn_mask marks the opposite.) Inverted, "
                   "it hides every key of a query that may see them all: that row's scores are all -inf, and its "
                   "softmax is 0 / 0 = nan (numpy's RuntimeWarning).")
NOT_NORMALISED = N_("each query's weights are in the right proportions but do not sum to 1: divide each row's "
                    "exponentials by that row's own sum, e.sum(axis=-1, keepdims=True).")

DDOF1 = N_("the variance is the sample variance (ddof=1): layer norm divides by the number of features, np.var(..., "
           "ddof=0) (np.std's default too), as torch and Keras do.")
LN_BACKWARD_SIGN = N_("a sign is flipped in dx: both shares are subtracted, dx = (dxhat - mean(dxhat) - xhat * "
                      "mean(dxhat * xhat)) / sqrt(var + eps).")


def _floats(value: Any) -> np.ndarray | None:
    """`value` as an array of floats, or None where it is not one (whole numbers, bools, text, ragged lists)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind == "f" else None


def _attention_compare(expected: Any, got: Any, case: Case) -> str | None:
    """The values, and mistakes told by the weights' pattern, however the code is written (the shift, the order of
    the steps, -inf or -1e9): normalised along the wrong axis (each key's column sums to 1 where each query's row
    must), an inverted mask (weight only on the keys the mask hides, in every row that hides one), rows in the right
    proportions that do not sum to 1 (only the rows that hide a key: the mask was applied after the softmax)."""
    problem = compare_values(expected, got, scale_tol=FLOAT32_ROUNDING)
    if problem and isinstance(got, (tuple, list)) and len(got) == 2:
        weights = _floats(got[1])
        if weights is None or weights.shape != np.shape(expected[1]) or weights.ndim < 2:
            return problem
        if (weights.shape[-2] > 1 and np.allclose(weights.sum(axis=-2), 1)
                and not np.allclose(weights.sum(axis=-1), 1)):
            return problem + "\n" + hint(_(OVER_QUERIES))
        problem += _nan_row(weights, case.kwargs.get("mask"))
        if _inverted(weights, case.kwargs.get("mask")):
            return problem + "\n" + hint(_(INVERTED_MASK))
        problem += _implied_scale(weights, case)
        ratio = _row_factors(np.asarray(expected[1], dtype=float), weights)
        if ratio is not None:
            mask = case.kwargs.get("mask")
            whole = None if mask is None else np.broadcast_to(np.asarray(mask, dtype=bool), weights.shape).all(axis=-1)
            after = whole is not None and np.allclose(ratio[whole], 1)  # only the rows that hide a key are off
            return problem + "\n" + hint(_(MASK_AFTER if after else NOT_NORMALISED))
    return problem


def _implied_scale(weights: np.ndarray, case: Case) -> str:
    """Where the weights are a softmax of Q K^T over a number other than sqrt(d_k) (a row's log-weights the scores times
    one factor, plus that row's constant), that number, and which size of the inputs it is the root of; else nothing."""
    Q, K = (np.asarray(a, dtype=float) for a in case.args[:2])
    mask = case.kwargs.get("mask")
    raw = Q @ np.swapaxes(K, -1, -2)
    if raw.shape != weights.shape or not np.isfinite(weights).all():
        return ""
    seen = np.broadcast_to(np.asarray(True if mask is None else mask, dtype=bool), raw.shape) & (weights > 1e-250)
    with np.errstate(divide="ignore"):
        logs = np.where(seen, np.log(np.where(seen, weights, 1.0)), 0.0)
    count = seen.sum(axis=-1, keepdims=True)
    if (count < 2).all():
        return ""
    centre = lambda a: np.where(seen, a - np.where(seen, a, 0).sum(axis=-1, keepdims=True) / np.maximum(count, 1), 0)  # noqa: E731
    s, l = centre(raw), centre(logs)
    if not np.any(s):
        return ""
    factor = float((s * l).sum() / (s * s).sum())
    d = Q.shape[-1]
    if factor <= 0 or not np.allclose(l, factor * s, rtol=1e-4, atol=1e-6) or np.isclose(factor * np.sqrt(d), 1, rtol=1e-4):
        return ""
    divisor = 1 / factor
    sizes = {f"{name}.shape[{axis - len(np.shape(a)) if axis == len(np.shape(a)) - 1 else axis}]": n
             for name, a in zip("QKV", case.args[:3]) for axis, n in enumerate(np.shape(a))}  # the last axis as -1
    roots = [size for size, n in sizes.items() if n > 1 and np.isclose(divisor, np.sqrt(n), rtol=1e-4)]
    whole = [size for size, n in sizes.items() if n > 1 and np.isclose(divisor, n, rtol=1e-4)]
    if roots:  # every size it could be: the message cannot tell which one the code used
        named = _("the square root of {size} = {n}").format(size=" = ".join(roots), n=sizes[roots[0]])
    elif whole:
        named = f"{' = '.join(whole)} = {sizes[whole[0]]}"
    else:
        named = _("nothing (the scores are not scaled)") if np.isclose(divisor, 1, rtol=1e-4) else f"{divisor:.6g}"
    return "\n" + _("your weights are the softmax of Q K^T divided by {named}: divide by the square root of d_k = "
                    "Q.shape[-1] = {d}, np.sqrt({d}) = {root}.").format(named=named, d=d, root=f"{np.sqrt(d):.6g}")


def _row_factors(expected: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """Where each query's weights are the right ones times a number of its own, and some row's number is not 1 (the
    exponentials were divided by something else than their row's sum), those numbers; else None."""
    if not np.isfinite(weights).all():
        return None
    ratio = weights.sum(axis=-1) / expected.sum(axis=-1)
    same = np.allclose(weights, expected * ratio[..., None], rtol=1e-6, atol=1e-12)
    return ratio if same and not np.allclose(ratio, 1) else None


def _nan_row(weights: np.ndarray, mask: Any) -> str:
    """Which query's weights are nan though the mask lets it see some keys, and which keys those are; where the nan rows
    are exactly those that hide a key, that the masked scores became +inf; else nothing."""
    if mask is None:
        return ""
    allowed = np.broadcast_to(np.asarray(mask, dtype=bool), weights.shape)
    nan = np.isnan(weights).all(axis=-1)
    rows = np.argwhere(nan & allowed.any(axis=-1))
    if not len(rows):
        return ""
    hides = ~allowed.all(axis=-1)
    if np.array_equal(nan, hides):  # every row that hides a key, and only those: +inf - +inf in the softmax's shift
        return "\n" + _("the weights are nan in exactly the rows where the mask hides a key: the hidden scores were set "
                        "to a value that makes the whole row nan (+inf, whose inf - inf in the softmax is nan, or nan "
                        "itself). Set them to -inf, np.where(mask, scores, -np.inf), so that exp gives 0.")
    row = tuple(int(i) for i in rows[0])
    keys = ", ".join(str(int(k)) for k in np.flatnonzero(allowed[row]))
    return "\n" + _("the weights of query {query} (at {where}) are nan, while `mask` lets it see keys {keys}. A row "
                    "whose scores are all -inf (every key hidden), or that holds +inf, gives nan in the softmax.").format(
        query=row[-1], where=row, keys=keys)


def _inverted(weights: np.ndarray, mask: Any) -> bool:
    """In every row where the mask hides a key, the weights are 0 on the keys it allows and not on those it hides."""
    if mask is None:
        return False
    allowed = np.broadcast_to(np.asarray(mask, dtype=bool), weights.shape)
    rows = (~allowed).any(axis=-1)  # rows that hide a key
    if not rows.any():
        return False
    w, kept = np.nan_to_num(weights)[rows], allowed[rows]
    return bool(np.allclose(np.where(kept, w, 0), 0, atol=1e-9) and (np.where(kept, 0, w).sum(axis=-1) > 0.5).all())


def _mask_compare(expected: Any, got: Any, case: Case) -> str | None:
    """The values, and a mask of booleans: 1.0 and 0.0 pass np.where, but ~ of them is -2 and -1 (an integer mask),
    both true, or an error (a float one)."""
    problem = compare_values(expected, got)
    if problem is None and isinstance(got, np.ndarray) and got.dtype.kind != "b":
        return _("the values are right, but they are {dtype}: a mask holds booleans, True where a query may look "
                 "(dtype=bool). np.where reads 1 and 0 as True and False, but ~mask of integers is -2 and -1, both "
                 "true.").format(dtype=got.dtype)
    return problem


def _positions_compare(expected: Any, got: Any, case: Case) -> str | None:
    """The values, and what the numbers show however they were computed: the right columns in another order (which
    column holds which), or sines and cosines in their places that turn at the wrong speed (which pair, how fast)."""
    problem = compare_values(expected, got, scale_tol=FLOAT32_ROUNDING)
    pe = _floats(got)
    if problem is None or pe is None or pe.shape != np.shape(expected) or pe.ndim != 2 or not np.isfinite(pe).all():
        return problem
    expected = np.asarray(expected, dtype=float)
    return problem + (_columns_moved(expected, pe) or _pair_speeds(expected, pe) or _half_right(expected, pe))


def _half_right(expected: np.ndarray, pe: np.ndarray) -> str:
    """Where the sine columns are right and the cosine columns not (or the reverse): which half is wrong."""
    sines, cosines = (np.allclose(pe[:, k::2], expected[:, k::2], rtol=1e-5, atol=1e-7) for k in (0, 1))
    if sines == cosines:
        return ""
    wrong = _("the cosine columns (1, 3, 5, ...)") if sines else _("the sine columns (0, 2, 4, ...)")
    return "\n" + _("{wrong} are wrong and the others right: column 2i + 1 is the cosine of the same angle as column 2i "
                    "is the sine of, t / 10000 ** (2i / d).").format(wrong=wrong)


def _columns_moved(expected: np.ndarray, pe: np.ndarray) -> str:
    """Where the columns of `pe` are the expected ones in another order, the first that is in another's place."""
    same = np.isclose(pe[:, :, None], expected[:, None, :], atol=1e-6).all(axis=0)  # same[j, k]: pe[:, j] is column k
    if not (same.sum(axis=0) == 1).all() or not (same.sum(axis=1) == 1).all():
        return ""  # not a permutation: a column missing, or one found twice
    j = next(j for j in range(pe.shape[1]) if not same[j, j])
    k = int(np.argmax(same[j]))
    kind = _("the sine") if k % 2 == 0 else _("the cosine")
    return "\n" + _("the right columns in another order: your column {j} is column {k}, {kind} of pair {pair}.").format(
        j=j, k=k, kind=kind, pair=k // 2)


def _pair_speeds(expected: np.ndarray, pe: np.ndarray) -> str:
    """Where each pair of columns is a sine and its cosine (0 and 1 at position 0, on the unit circle), the first pair
    that turns by another angle per position than t / 10000 ** (2i / d) does."""
    T, d = pe.shape
    sines, cosines = pe[:, 0::2], pe[:, 1::2]
    if T < 2 or d % 2 or not (np.allclose(sines[0], 0, atol=1e-6) and np.allclose(cosines[0], 1, atol=1e-6)
                              and np.allclose(sines ** 2 + cosines ** 2, 1, atol=1e-5)):
        return ""
    turned = np.arctan2(sines[1], cosines[1])
    right = np.arctan2(expected[1, 0::2], expected[1, 1::2])
    wrong = np.flatnonzero(~np.isclose(turned, right, atol=1e-5))
    if not len(wrong):
        return ""
    i = int(wrong[0])
    return "\n" + _("pair {pair} (columns {sine} and {cosine}) turns by {got} radians from one position to the next; "
                    "it must turn by 1 / 10000 ** ({sine} / {d}) = {expected}.").format(
        pair=i, sine=2 * i, cosine=2 * i + 1, d=d, got=f"{turned[i]:.6g}", expected=f"{right[i]:.6g}")


def _layer_norm_compare(expected: Any, got: Any, case: Case) -> str | None:
    """The values, and the sample variance however it was written (eps inside or outside the root, np.std or a sum
    over D - 1): where a position's features vary well beyond eps, its normalised values are sqrt((D - 1) / D) times
    the right ones."""
    problem = compare_values(expected, got, scale_tol=FLOAT32_ROUNDING)
    values = _floats(got)
    if problem is None or values is None or values.shape != np.shape(expected):
        return problem
    x, gamma, beta = (np.asarray(a, dtype=float) for a in case.args[:3])
    eps = float(case.kwargs.get("eps", EPS))
    varied = np.broadcast_to(x.var(axis=-1, keepdims=True) > 1e3 * eps, x.shape)
    steady = np.broadcast_to(np.abs(gamma) > 1e-3, x.shape) & varied
    xhat = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    with np.errstate(all="ignore"):
        theirs = (values - beta) / gamma
    D = x.shape[-1]
    if D > 1 and steady.any() and np.allclose(theirs[steady], xhat[steady] * np.sqrt((D - 1) / D), rtol=1e-3, atol=1e-3):
        return problem + "\n" + hint(_(DDOF1))
    return problem + _implied_eps(x, gamma, beta, values, theirs, eps)


def _implied_eps(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, values: np.ndarray, theirs: np.ndarray,
                 eps: float) -> str:
    """Where the answer is layer norm with another eps (a default of 1e-6, 1e-12), that eps: read from the positions
    whose variance is small enough for eps to matter, then checked on every value."""
    centred, var = x - x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    usable = np.broadcast_to((np.abs(gamma) > 1e-3) & (var < 1e3 * eps), x.shape) & (np.abs(theirs) > 1e-3)
    if not usable.any():
        return ""
    with np.errstate(all="ignore"):
        guess = float(np.median(((centred / theirs) ** 2 - var)[usable]))
    smallest = float(np.broadcast_to(var, x.shape)[usable].min())
    if not np.isfinite(guess) or guess <= 1e-6 * smallest or np.isclose(guess, eps, rtol=1e-2, atol=0):
        return ""  # no eps at all (as far as float64 tells; a listed mistake says so), or the right one
    steady = np.broadcast_to(np.abs(gamma) > 1e-3, x.shape)
    if not np.allclose(theirs[steady], (centred / np.sqrt(var + guess))[steady], rtol=1e-4, atol=1e-6):
        return ""  # not the same normalisation with that eps everywhere
    return "\n" + _("your values are layer norm with eps = {found}: the exercise's is eps={eps} (torch's default), inside "
                    "the square root. Check the default in your def line.").format(found=f"{guess:.2g}", eps=f"{eps:g}")


def _layer_norm_backward_compare(expected: Any, got: Any, case: Case) -> str | None:
    """The values, and a flipped sign in dx however it was written: dx * sqrt(var + eps) is dxhat - mean(dxhat) -
    xhat * mean(dxhat * xhat); where the student's is the same three terms with a sign of one of them (or of all)
    flipped, that is said."""
    problem = compare_values(expected, got, scale_tol=FLOAT32_ROUNDING)
    dx = _floats(got[0]) if problem and isinstance(got, (tuple, list)) and len(got) == 3 else None
    if dx is None or dx.shape != np.shape(expected[0]):
        return problem
    dout, x, gamma = (np.asarray(a, dtype=float) for a in case.args[:3])
    eps = float(case.kwargs.get("eps", EPS))
    root = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    xhat, dxhat = (x - x.mean(axis=-1, keepdims=True)) / root, dout * gamma
    terms = np.stack([dxhat, np.broadcast_to(dxhat.mean(axis=-1, keepdims=True), x.shape),
                      xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)], axis=-1).reshape(-1, 3)
    target = (dx * root).reshape(-1)
    if not np.isfinite(target).all():
        return problem
    signs, *_rest = np.linalg.lstsq(terms, target, rcond=None)
    fits = np.allclose(terms @ signs, target, rtol=1e-4, atol=1e-4 * np.abs(target).max(initial=0))
    if fits and np.allclose(np.abs(signs), 1, atol=1e-3) and not np.allclose(signs, [1, -1, -1], atol=1e-3):
        return problem + "\n" + hint(_(LN_BACKWARD_SIGN))
    return problem


def _split_compare(expected: Any, got: Any, case: Case) -> str | None:
    """The values, and where a reshape or a transpose went wrong: which of x's numbers the first wrong head holds."""
    problem = compare_values(expected, got, scale_tol=FLOAT32_ROUNDING)
    if problem is None or not isinstance(got, np.ndarray) or _floats(got) is None:
        return problem  # a list of heads is no array of them: its shape says what is wrong, not which numbers it holds
    found = _holds_instead(np.asarray(case.args[0]), np.asarray(got), np.asarray(expected))
    return problem + "\n" + found if found else problem


def _holds_instead(x: np.ndarray, got: np.ndarray, expected: np.ndarray) -> str:
    """Head j at step t must be x[b, t, j*d:(j+1)*d]; where the first wrong one holds other numbers of x (each found
    once: a reshape or a transpose moves numbers, it never changes them), which ones."""
    if got.shape != expected.shape or got.ndim != 4 or x.ndim != 3:
        return ""
    wrong = np.argwhere(~np.isclose(got, expected).all(axis=-1))
    if not len(wrong):
        return ""
    b, j, t = (int(i) for i in wrong[0])
    places = [np.argwhere(x == value) for value in got[b, j, t]]
    if any(len(place) != 1 for place in places):
        return ""
    d = expected.shape[-1]
    return _("head {head} at step {step} (batch {batch}) must be x[{batch}, {step}, {start}:{stop}], the features of "
             "that head at that step; yours holds {found}.").format(
        head=j, step=t, batch=b, start=j * d, stop=(j + 1) * d,
        found=_numbers_of_x([tuple(int(i) for i in place[0]) for place in places]))


def _numbers_of_x(where: list[tuple[int, ...]]) -> str:
    """Positions in x, written as a slice where they form one (x[0, 2, 4:8], x[0, 1:4, 3]), else listed."""
    for axis in (2, 1):
        other = [tuple(i for k, i in enumerate(w) if k != axis) for w in where]
        steps = {b[axis] - a[axis] for a, b in zip(where, where[1:])}
        if len(set(other)) == 1 and len(steps) <= 1 and 0 not in steps:
            step = steps.pop() if steps else 1
            start, stop = where[0][axis], where[-1][axis] + (1 if step > 0 else -1)
            cut = f"{start}:{stop if stop >= 0 else ''}" + (f":{step}" if step != 1 else "")
            index = list(map(str, where[0]))
            index[axis] = cut
            return f"x[{', '.join(index)}]"
    shown = ", ".join(f"x[{', '.join(map(str, w))}]" for w in where[:4])
    return shown + (", ..." if len(where) > 4 else "")


# --------------------------------------------------------------------------- plausible mistakes (continued)


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
    return _positions_with(T, d, np.arange(d // 2) / d)


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


def _block_mlp_residual_of_x(x, params, num_heads):
    s = _block_parts(x, params, num_heads)
    return x + s["r"] @ params["W2"] + params["b2"]


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


def _attention_scaled_by_value_width(Q, K, V, mask=None):
    return _attention(Q * np.sqrt(Q.shape[-1] / V.shape[-1]), K, V, mask)


def _attention_scaled_by_keys(Q, K, V, mask=None):
    return _attention(Q * np.sqrt(Q.shape[-1] / K.shape[-2]), K, V, mask)


def _attention_scaled_by_queries(Q, K, V, mask=None):
    return _attention(Q * np.sqrt(Q.shape[-1] / Q.shape[-2]), K, V, mask)


def _attention_scale_multiplied(Q, K, V, mask=None):
    return _attention(Q * Q.shape[-1], K, V, mask)


@quiet  # a row whose keys are all hidden is -inf throughout: NaN, as the student's gets
def _attention_mask_inverted(Q, K, V, mask=None):
    return _attention(Q, K, V, None if mask is None else ~np.asarray(mask, dtype=bool))


def _attention_mask_ignored(Q, K, V, mask=None):
    return _attention(Q, K, V)


def _attention_without_max(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    with np.errstate(over="ignore", invalid="ignore"):  # it overflows on purpose
        e = np.exp(scores if mask is None else np.where(mask, scores, -np.inf))
        weights = e / e.sum(axis=-1, keepdims=True)
        return weights @ V, weights


def _attention_max_over_queries(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-2, keepdims=True))  # as written: a column all -inf gives nan
    weights = e / e.sum(axis=-1, keepdims=True)
    return weights @ V, weights


def _attention_normalised_over_all(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    e = np.exp(scores if mask is None else np.where(mask, scores, -np.inf))
    weights = e / e.sum()
    return weights @ V, weights


def _attention_keys_transposed(Q, K, V, mask=None):
    scores = Q @ K.T / np.sqrt(Q.shape[-1])  # K.T reverses every axis: right for (S, d) only
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = _softmax(scores)
    return weights @ V, weights


def _mha_one_head(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    heads, _ = _attention(x @ Wq, x @ Wk, x @ Wv, _causal_mask(x.shape[1]) if causal else None)
    return heads @ Wo


def _mha_merged_to_model_width(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_mask(x.shape[1]) if causal else None)
    return heads.transpose(0, 2, 1, 3).reshape(x.shape) @ Wo  # (B, T, D): right only where h*d_k = D


def _mha_mask_of_features(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_mask(x.shape[2]) if causal else None)  # D x D: right only where D = T
    return _merge_heads(heads) @ Wo


def _causal_future(T):
    return np.triu(np.ones((T, T), dtype=bool), k=1)


def _causal_one_ahead(T):
    return np.tril(np.ones((T, T), dtype=bool), k=1)


def _causal_nothing_masked(T):
    return np.ones((T, T), dtype=bool)


def _split_heads_transposed_first(x, num_heads):
    B, T, D = x.shape
    return np.swapaxes(x, 1, 2).reshape(B, num_heads, T, D // num_heads)


def _mha_merge_interleaved(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_mask(x.shape[1]) if causal else None)
    return heads.transpose(0, 2, 3, 1).reshape(x.shape[0], x.shape[1], -1) @ Wo


def _mha_merge_reversed(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_mask(x.shape[1]) if causal else None)
    return _merge_heads(heads[:, ::-1]) @ Wo


def _mha_split_without_transpose(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads_wrong_order(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_mask(x.shape[1]) if causal else None)
    return _merge_heads(heads) @ Wo


def _mha_scaled_twice(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    return _multi_head_attention(x, Wq / np.sqrt(Wq.shape[1] // num_heads), Wk, Wv, Wo, num_heads, causal)


def _mha_upper_mask(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_upper(x.shape[1]) if causal else None)
    return _merge_heads(heads) @ Wo


@quiet  # the last step sees no key: NaN, as the student's gets
def _mha_inverted_mask(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    heads, _ = _attention(q, k, v, _causal_future(x.shape[1]) if causal else None)
    return _merge_heads(heads) @ Wo


def _mha_always_causal(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    return _multi_head_attention(x, Wq, Wk, Wv, Wo, num_heads, causal=True)


def _positions_exponent_doubled(T, d):
    return _positions_with(T, d, 2 * np.arange(0, d, 2) / d)


def _positions_multiplied(T, d):
    angles = np.arange(T)[:, None] * 10000 ** (np.arange(0, d, 2)[None, :] / d)
    pe = np.zeros((T, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def _positions_sines_only(T, d):
    pe = _sinusoidal_positions(T, d)
    pe[:, 1::2] = pe[:, 0::2]
    return pe


def _positions_column_frequency(T, d):
    angles = np.arange(T)[:, None] / 10000 ** (np.arange(d)[None, :] / d)
    pe = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, 1::2])
    return pe


def _layer_norm_without_eps(x, gamma, beta, eps=EPS):
    return (x - x.mean(axis=-1, keepdims=True)) / x.std(axis=-1, keepdims=True) * gamma + beta


def _layer_norm_whole_array(x, gamma, beta, eps=EPS):
    return (x - x.mean()) / np.sqrt(x.var() + eps) * gamma + beta


def _layer_norm_axis_1(x, gamma, beta, eps=EPS):
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _layer_norm_without_gain_and_shift(x, gamma, beta, eps=EPS):
    return _layer_norm(x, np.ones_like(gamma), np.zeros_like(beta), eps)


def _softmax_backward_unweighted_sum(dweights, weights):
    return weights * (dweights - dweights.sum(axis=-1, keepdims=True))


def _softmax_backward_without_w(dweights, weights):
    return dweights - (dweights * weights).sum(axis=-1, keepdims=True)


def _softmax_backward_sum_all(dweights, weights):
    return weights * (dweights - (dweights * weights).sum())


def _softmax_backward_mean(dweights, weights):
    return weights * (dweights - (dweights * weights).mean(axis=-1, keepdims=True))


def _softmax_backward_softmax_again(dweights, weights):
    return _softmax_backward(dweights, _softmax(weights))


def _ln_parts(dout, x, gamma, eps):
    """1 / sqrt(var + eps), xhat, dxhat and the right dgamma and dbeta: what layer norm's backward mistakes share."""
    inv = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    return inv, (x - x.mean(axis=-1, keepdims=True)) * inv, dout * gamma, *_layer_norm_backward(dout, x, gamma, eps)[1:]


def _ln_backward_constant_mean(dout, x, gamma, eps=EPS):
    inv, xhat, dxhat, dgamma, dbeta = _ln_parts(dout, x, gamma, eps)
    return inv * (dxhat - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)), dgamma, dbeta


def _ln_backward_dgamma_of_x(dout, x, gamma, eps=EPS):
    dx, _, dbeta = _layer_norm_backward(dout, x, gamma, eps)
    return dx, (dout * x).sum(axis=tuple(range(x.ndim - 1))), dbeta


def _ln_backward_sums(dout, x, gamma, eps=EPS):
    inv, xhat, dxhat, dgamma, dbeta = _ln_parts(dout, x, gamma, eps)
    return inv * (dxhat - dxhat.sum(axis=-1, keepdims=True) - xhat * (dxhat * xhat).sum(axis=-1, keepdims=True)), \
        dgamma, dbeta


def _ln_backward_without_eps(dout, x, gamma, eps=EPS):
    return _layer_norm_backward(dout, x, gamma, eps=0.0)


def _ln_backward_partly_divided(dout, x, gamma, eps=EPS):
    inv, xhat, dxhat, dgamma, dbeta = _ln_parts(dout, x, gamma, eps)
    return inv * (dxhat - dxhat.mean(axis=-1, keepdims=True)) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True), \
        dgamma, dbeta


def _ln_backward_variance_term_without_gamma(dout, x, gamma, eps=EPS):
    inv, xhat, dxhat, dgamma, dbeta = _ln_parts(dout, x, gamma, eps)
    return inv * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dout * xhat).mean(axis=-1, keepdims=True)), \
        dgamma, dbeta


def _ln_backward_variance_share_added(dout, x, gamma, eps=EPS):
    inv, xhat, dxhat, dgamma, dbeta = _ln_parts(dout, x, gamma, eps)
    return inv * (dxhat - dxhat.mean(axis=-1, keepdims=True) + xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)), \
        dgamma, dbeta


def _ln_backward_mean_share_added(dout, x, gamma, eps=EPS):
    inv, xhat, dxhat, dgamma, dbeta = _ln_parts(dout, x, gamma, eps)
    return inv * (dxhat + dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)), \
        dgamma, dbeta


def _mha_keys_from_wq(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    return _multi_head_attention(x, Wq, Wq, Wv, Wo, num_heads, causal)


@quiet  # exp overflows on the large scores' case: inf / inf is nan, as the student's gets
def _mha_without_max(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    q, k, v = (_split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    e = np.exp(np.where(_causal_mask(x.shape[1]), scores, -np.inf) if causal else scores)
    return _merge_heads(e / e.sum(axis=-1, keepdims=True) @ v) @ Wo


def _positions_with(T: int, d: int, exponents: np.ndarray, base: float = 10000) -> np.ndarray:
    """Sines and cosines alternating, of t / base ** exponents (one exponent per pair of columns)."""
    angles = np.arange(T)[:, None] / base ** exponents[None, :]
    pe = np.zeros((T, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def _positions_cos_half_first(T, d):
    pe = _sinusoidal_positions(T, d)
    return np.concatenate([pe[:, 1::2], pe[:, 0::2]], axis=1)


def _positions_integer_exponent(T, d):
    return _positions_with(T, d, np.arange(0, d, 2) // d)


def _positions_base_1000(T, d):
    return _positions_with(T, d, np.arange(0, d, 2) / d, base=1000)


def _layer_norm_affine_first(x, gamma, beta, eps=EPS):
    return (x * gamma + beta - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)


def _layer_norm_affine_before_dividing(x, gamma, beta, eps=EPS):
    return ((x - x.mean(axis=-1, keepdims=True)) * gamma + beta) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)


def _layer_norm_affine_then_normalised(x, gamma, beta, eps=EPS):
    return _layer_norm(x * gamma + beta, np.ones_like(gamma), np.zeros_like(beta), eps)


def _layer_norm_ddof1_std(x, gamma, beta, eps=EPS):
    return (x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, ddof=1, keepdims=True) + eps) * gamma + beta


def _block_variant(x, p, num_heads, *, mistake: str):
    """The block's forward pass with one of the mistakes students make in it (`mistake`, a name below)."""
    ln2 = ("ln1_gamma", "ln1_beta") if mistake == "ln1-for-ln2" else ("ln2_gamma", "ln2_beta")
    h1 = x if mistake == "no-ln1" else _layer_norm(x, p["ln1_gamma"], p["ln1_beta"])
    a = _multi_head_attention(h1, p["Wq"], p["Wk"], p["Wv"], p["Wo"], num_heads, causal=True)
    y = (h1 if mistake == "normalised-residual-1" else x) + a
    h2 = (y if mistake == "no-ln2" else _layer_norm(x if mistake == "ln2-of-x" else y, p[ln2[0]], p[ln2[1]]))
    z = h2 @ p["W1"] + p["b1"]
    if mistake == "b1-after-relu":
        z = np.maximum(h2 @ p["W1"], 0) + p["b1"]
    activation = {"tanh": np.tanh, "gelu": _gelu, "no-relu": lambda a: a, "b1-after-relu": lambda a: a}.get(
        mistake, lambda a: np.maximum(a, 0))
    m = activation(z) @ p["W2"] + p["b2"]
    m = np.maximum(m, 0) if mistake == "relu-after-w2" else m
    return (h2 if mistake == "normalised-residual-2" else y) + m


def _gelu(z: np.ndarray) -> np.ndarray:
    """GPT-2's GELU (its tanh approximation): a student who knows GPT-2 may write it where this block has ReLU."""
    return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))


def _one_mistake(name: str, run: Callable[..., Any], mistake: str) -> Callable[..., Any]:
    """`run` with one of its mistakes on, as a function of the exercise's arguments named `name` (the release names
    a mistake by its function's name)."""
    def wrong(*args: Any) -> Any:
        return run(*args, mistake=mistake)
    wrong.__name__ = wrong.__qualname__ = name
    return wrong


_block_no_relu = _one_mistake("_block_no_relu", _block_variant, "no-relu")
_block_relu_after_w2 = _one_mistake("_block_relu_after_w2", _block_variant, "relu-after-w2")
_block_ln2_of_x = _one_mistake("_block_ln2_of_x", _block_variant, "ln2-of-x")
_block_normalised_attention_residual = _one_mistake("_block_normalised_attention_residual", _block_variant,
                                                    "normalised-residual-1")
_block_normalised_mlp_residual = _one_mistake("_block_normalised_mlp_residual", _block_variant, "normalised-residual-2")
_block_no_ln1 = _one_mistake("_block_no_ln1", _block_variant, "no-ln1")
_block_no_ln2 = _one_mistake("_block_no_ln2", _block_variant, "no-ln2")
_block_b1_after_relu = _one_mistake("_block_b1_after_relu", _block_variant, "b1-after-relu")
def _block_with_heads(heads: int) -> Callable[..., Any]:
    """The block with a number of heads written in where num_heads belongs (right only where it happens to be it)."""
    def wrong(x: np.ndarray, params: Params, num_heads: int) -> np.ndarray:
        return _block_parts(x, params, heads)["out"]
    wrong.__name__ = wrong.__qualname__ = f"_block_with_{heads}_heads"
    return wrong


_block_tanh = _one_mistake("_block_tanh", _block_variant, "tanh")
_block_gelu = _one_mistake("_block_gelu", _block_variant, "gelu")
_block_ln1_for_ln2 = _one_mistake("_block_ln1_for_ln2", _block_variant, "ln1-for-ln2")

_backward_no_attention_residual = _one_mistake("_backward_no_attention_residual", _block_backward, "attention-residual")
_backward_no_mlp_residual = _one_mistake("_backward_no_mlp_residual", _block_backward, "mlp-residual")
_backward_softmax_diagonal = _one_mistake("_backward_softmax_diagonal", _block_backward, "softmax-diagonal")
_backward_no_scale = _one_mistake("_backward_no_scale", _block_backward, "no-scale")
_backward_no_relu_gradient = _one_mistake("_backward_no_relu_gradient", _block_backward, "no-relu-gradient")
_backward_weights_from_x = _one_mistake("_backward_weights_from_x", _block_backward, "weights-from-x")
_backward_dv_untransposed = _one_mistake("_backward_dv_untransposed", _block_backward, "dv-untransposed")
_backward_dk_untransposed = _one_mistake("_backward_dk_untransposed", _block_backward, "dk-untransposed")
_backward_not_causal = _one_mistake("_backward_not_causal", _block_backward, "not-causal")
_backward_dh1_from_q = _one_mistake("_backward_dh1_from_q", _block_backward, "dh1-from-q")
_backward_merge_untransposed = _one_mistake("_backward_merge_untransposed", _block_backward, "merge-untransposed")
_backward_scale_by_d = _one_mistake("_backward_scale_by_d", _block_backward, "scale-by-d")
_backward_x_residual_dout = _one_mistake("_backward_x_residual_dout", _block_backward, "x-residual-dout")
_backward_ln2_of_output = _one_mistake("_backward_ln2_of_output", _block_backward, "ln2-of-output")
_backward_w1_from_y = _one_mistake("_backward_w1_from_y", _block_backward, "w1-from-y")
_backward_w2_from_z = _one_mistake("_backward_w2_from_z", _block_backward, "w2-from-z")
_backward_ln1_of_output = _one_mistake("_backward_ln1_of_output", _block_backward, "ln1-of-output")
_backward_relu_mask_inverted = _one_mistake("_backward_relu_mask_inverted", _block_backward, "relu-mask-inverted")
_backward_split_untransposed = _one_mistake("_backward_split_untransposed", _block_backward, "split-untransposed")
_backward_scale_multiplied = _one_mistake("_backward_scale_multiplied", _block_backward, "scale-multiplied")
_backward_no_ln1_path = _one_mistake("_backward_no_ln1_path", _block_backward, "no-ln1-path")
_backward_wo_from_dout = _one_mistake("_backward_wo_from_dout", _block_backward, "wo-from-dout")


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
                  {"mask": _random_mask(rng, 3, 5)}),
             _overflowing_case(rng),
             # A mask that broadcasts: each sequence's padding, (batch, 1, keys), the same for all its queries.
             # np.where takes it as it is; scores[..., ~mask] or a loop over the mask's own rows does not.
             Case((rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))),
                  {"mask": np.array([[[True, True, True, False, False]], [[True, True, True, True, False]]])})]
    if hidden:
        cases += [Case((rng.normal(size=(4, 6, 16)) * 4, rng.normal(size=(4, 7, 16)), rng.normal(size=(4, 7, 5))),
                       {"mask": _random_mask(rng, 6, 7)}),
                  Case((rng.normal(size=(3, 2, 9, 8)), rng.normal(size=(3, 2, 9, 8)), rng.normal(size=(3, 2, 9, 8))),
                       {"mask": _causal_mask(9)}),
                  Case((rng.normal(size=(1, 5, 32)) * 10, rng.normal(size=(1, 5, 32)), rng.normal(size=(1, 5, 4))))]
    return cases


def _overflowing_case(rng: np.random.Generator) -> Case:
    """Scores of 791 to 809, a few apart: exp overflows (past 709) unless each row's maximum is subtracted first.
    Whole numbers over sqrt(4) = 2, so that the scores are exact in float32 too (the library's precision)."""
    Q = np.column_stack([np.full(2, 800.0), rng.integers(-3, 4, size=(2, 3))])
    K = np.column_stack([np.full(4, 2.0), rng.integers(-2, 3, size=(4, 3))])
    return Case((Q, K, rng.normal(size=(4, 2))))


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
    return cases[:2] + [_overflowing_mha_case(rng)] + cases[2:]


def _overflowing_mha_case(rng: np.random.Generator) -> Case:
    """Every head's scores 800 plus a few tens: exp overflows (past 709) unless each row's maximum is subtracted.
    x's first feature is 40 and feeds only the first dimension of each head's query and key (800 = 40 * 40 / sqrt(4),
    the same for every key of a row); the rest are small whole numbers, so the scores are exact in float32 too."""
    B, T, D, h, dk = 2, 4, 4, 2, 4
    x = np.concatenate([np.full((B, T, 1), 40.0), rng.integers(-2, 3, size=(B, T, D - 1)).astype(float)], axis=-1)

    def projection() -> np.ndarray:
        W = rng.integers(-1, 2, size=(D, h * dk)).astype(float)
        W[0], W[:, ::dk] = 0.0, 0.0
        W[0, ::dk] = 1.0
        return W

    Wq, Wk = projection(), projection()
    return Case((x, Wq, Wk, rng.normal(size=(D, h * dk)) / 2, rng.normal(size=(h * dk, D)), h), {"causal": True})


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
    # the second visible block's heads are wider than the model (h*d_k = 6, D = 4): code that reshapes the merged
    # heads to (B, T, D), or uses D for h*d_k, fails the visible check, not only a hidden one
    # the visible blocks have 2 and 3 heads: code that passes 2 (or any one number) for num_heads fails the visible check
    settings = [(2, 4, 6, 2, 3, 8), (1, 5, 4, 3, 2, 6)]
    return settings + ([(3, 6, 8, 4, 2, 16), (2, 3, 5, 1, 4, 7)] if hidden else [])


def _block_input(rng: np.random.Generator, B: int, T: int, D: int) -> np.ndarray:
    """x, its first step's features about 1e-3 (variance about 1e-6, under eps): a layer norm without eps, or with eps
    outside the square root, is told apart on every seed, not only where a step's features happen to be close. (Small
    around 0 rather than close around 1: float32 keeps their differences, so an answer in float32 still passes.)"""
    x = rng.normal(size=(B, T, D))
    x[:, 0] *= 1e-3
    return x


def _block_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((_block_input(rng, B, T, D), block_params(rng, D, h, dk, ff), h))
            for B, T, D, h, dk, ff in _block_settings(hidden)]


def _block_backward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((rng.normal(size=(B, T, D)), _block_input(rng, B, T, D), block_params(rng, D, h, dk, ff), h))
            for B, T, D, h, dk, ff in _block_settings(hidden)]


# --------------------------------------------------------------------------- exercises

BY_LENGTH = N_("the scores are divided by the square root of a number of positions (the keys' or the queries'): "
               "the scale is sqrt(d_k), the width of each query and key, Q.shape[-1]; the scores' spread does not "
               "depend on how many there are.")
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
        Mistake(_attention_scaled_by_value_width, N_("the scores are divided by the square root of the values' "
                "width, V.shape[-1]: the scale belongs to the dot products of queries and keys, sqrt(d_k), "
                "d_k = Q.shape[-1].")),
        Mistake(_attention_scaled_by_keys, BY_LENGTH),
        Mistake(_attention_scaled_by_queries, BY_LENGTH),
        Mistake(_attention_scale_multiplied, N_("the scores are multiplied by sqrt(d_k): divide them by it, "
                "Q @ K^T / sqrt(d_k), to bring their spread back to 1.")),
        Mistake(_attention_mask_inverted, INVERTED_MASK),
        Mistake(_attention_mask_ignored, N_("the mask is not used: where it is False the query must not look at "
                "that key. Before the softmax: if mask is not None: scores = np.where(mask, scores, -np.inf).")),
        Mistake(_attention_max_over_queries, N_("the maximum subtracted for stability is taken over the queries "
                "(axis -2): subtract each row's own maximum, scores.max(axis=-1, keepdims=True); only one number "
                "per row leaves that row's softmax unchanged.")),
        Mistake(_attention_normalised_over_all, NOT_NORMALISED),
        Mistake(_attention_without_max, N_("exp overflows: scores over 709 give inf, and inf / inf is nan. "
                "Subtract each row's maximum first, scores - scores.max(axis=-1, keepdims=True): the softmax is "
                "unchanged and the largest exponential is exp(0) = 1.")),
        Mistake(_attention_keys_transposed, N_("K.T reverses EVERY axis of K, the batch's and the heads' too, so a "
                "3-D or 4-D K no longer lines up with Q: use K.swapaxes(-1, -2), which swaps only the last two.")),
    ],
)

causal_mask = Exercise(
    "ch10.causal_mask",
    title="causal_mask",
    compare=_mask_compare,
    reference=_causal_mask,
    cases=_causal_cases,
    mistakes=[
        Mistake(_causal_upper, N_("the mask is upper-triangular: query i may see keys 0..i (the past and "
                "itself), the lower triangle; np.tril, not np.triu.")),
        Mistake(_causal_strict, N_("the diagonal is masked: a position may look at itself (key i for "
                "query i); use np.tril(..., k=0).")),
        Mistake(_causal_future, N_("this marks the future, the keys a query must NOT see (torch's attn_mask "
                "convention): ours is True where a query MAY look, the lower triangle with its diagonal, "
                "np.tril(np.ones((T, T), dtype=bool)).")),
        Mistake(_causal_one_ahead, N_("query i may see key i + 1, one step of the future: np.tril(..., k=1) keeps "
                "one diagonal too many; use k=0, the diagonal and below.")),
        Mistake(_causal_nothing_masked, N_("nothing is masked: query i must not see the keys after i. Keep the "
                "lower triangle: np.tril(np.ones((T, T), dtype=bool)).")),
    ],
)

split_heads = Exercise(
    "ch10.split_heads",
    title="split_heads",
    compare=_split_compare,
    reference=_split_heads,
    cases=_split_cases,
    mistakes=[
        Mistake(_split_heads_wrong_order, N_("x.reshape(B, h, T, d) mixes time steps and heads: the heads are "
                "in the features, so reshape to (B, T, h, d) first, then transpose to (B, h, T, d).")),
        Mistake(_split_heads_interleaved, N_("the heads are interleaved: head j is the features "
                "j*d .. (j+1)*d - 1, so reshape to (B, T, h, d) (heads first), not (B, T, d, h).")),
        Mistake(_split_heads_transposed_first, N_("x was transposed to (B, D, T) before the reshape, so each head "
                "gets pieces of several features over time: reshape to (B, T, h, d) first, then transpose to "
                "(B, h, T, d).")),
    ],
)

UPPER_MASK = N_("with causal=True, a step must see itself and the steps before it, the lower triangle: pass your "
                "causal_mask(T), not the upper triangle or its opposite.")

multi_head_attention = Exercise(
    "ch10.multi_head_attention",
    title="multi_head_attention",
    scale_tol=FLOAT32_ROUNDING,
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
        Mistake(_mha_merge_interleaved, N_("the merged heads are interleaved: transpose (B, h, T, d) back to "
                "(B, T, h, d), transpose(0, 2, 1, 3), so that head j fills features j*d .. (j+1)*d - 1; "
                "(B, T, d, h) mixes the heads' features.")),
        Mistake(_mha_merge_reversed, N_("the heads are merged in the wrong order: head 0 first, head j filling "
                "features j*d .. (j+1)*d - 1, as they were split.")),
        Mistake(_mha_split_without_transpose, N_("the heads were split with a reshape alone, (B, T, h*d) to (B, h, T, "
                "d), which mixes time steps and heads: use your split_heads (reshape to (B, T, h, d), then "
                "transpose).")),
        Mistake(_mha_scaled_twice, N_("the scores are scaled twice: your attention already divides by sqrt(d_k), so "
                "dividing q by it as well gives 1/d_k. Pass the heads' q, k and v as they are.")),
        Mistake(_mha_upper_mask, UPPER_MASK),
        Mistake(_mha_inverted_mask, N_("with causal=True, a step must see itself and the steps before it, the "
                "lower triangle; your mask lets each step see only the steps AFTER it, so the last step sees no key: "
                "its scores are all -inf and its softmax is 0 / 0 = nan (numpy's RuntimeWarning). Keep the scores "
                "where causal_mask(T) is True: np.where(mask, scores, -np.inf).")),
        Mistake(_mha_keys_from_wq, N_("the keys are projected with Wq: queries, keys and values each have their own "
                "projection, q = x @ Wq, k = x @ Wk, v = x @ Wv (with k = q the scores q @ q.T are symmetric: query i "
                "scores key j as query j scores key i).")),
        Mistake(_mha_without_max, N_("exp overflows in the heads' softmax: scores over 709 give inf, and inf / inf "
                "is nan. Subtract each row's maximum first, scores - scores.max(axis=-1, keepdims=True), or call "
                "your attention, which does.")),
        Mistake(_mha_always_causal, N_("with causal=False nothing is masked: pass the causal mask only when causal "
                "is True, causal_mask(T) if causal else None.")),
        Mistake(_mha_one_head, N_("the heads are not split: one attention over the whole width h*d_k is not h "
                "attentions of width d_k (each with its own softmax and the scale 1/sqrt(d_k)). Split q, k and v with "
                "split_heads, attend, then merge the heads back.")),
        Mistake(_mha_merged_to_model_width, N_("the merged heads have width h*d_k = Wq.shape[1], which need not be "
                "D = x.shape[-1]: reshape to (B, T, -1) (or (B, T, h*d_k)); Wo then maps that width back to D.")),
        Mistake(_mha_mask_of_features, N_("the causal mask is T x T, one row per query and one column per key: "
                "causal_mask(T) with T = x.shape[1], the number of time steps, not the number of features.")),
    ],
)

sinusoidal_positions = Exercise(
    "ch10.sinusoidal_positions",
    title="sinusoidal_positions",
    compare=_positions_compare,
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
        Mistake(_positions_exponent_doubled, N_("the exponent doubles 2i: np.arange(0, d, 2) already counts 0, 2, "
                "4, ..., so the exponent is np.arange(0, d, 2) / d, not 2 * np.arange(0, d, 2) / d.")),
        Mistake(_positions_multiplied, N_("the position is multiplied by 10000 ** (2i / d): divide it, t / 10000 ** "
                "(2i / d), so that the frequencies fall from 1 down to 1/10000 along the columns.")),
        Mistake(_positions_sines_only, N_("the odd columns are sines too: they are the cosines of the same angles, "
                "pe[:, 1::2] = np.cos(angles).")),
        Mistake(_positions_cos_half_first, N_("the cosines come first, in a half of their own: the columns "
                "alternate, a sine then its cosine, pe[:, 0::2] = sin and pe[:, 1::2] = cos.")),
        Mistake(_positions_integer_exponent, N_("every column has the frequency 1: the exponent 2i / d was computed "
                "with // (integer division), which is 0 for every 2i < d. Divide with /, 10000 ** (np.arange(0, d, 2) "
                "/ d).")),
        Mistake(_positions_base_1000, N_("the frequencies fall from 1 to 1/1000: the base is 10000, t / 10000 ** "
                "(2i / d), so that the slowest pair of columns turns once in 2*pi*10000 positions.")),
        Mistake(_positions_column_frequency, N_("each column has its own frequency: a sine and its cosine share "
                "one, column 2i + 1 uses 10000 ** (2i / d) like column 2i, not 10000 ** ((2i + 1) / d).")),
    ],
)

AFFINE_FIRST = N_("gamma and beta are applied before normalising: normalise x first, xhat = (x - mean) / sqrt(var + "
                  "eps), then scale and shift it, xhat * gamma + beta.")

layer_norm = Exercise(
    "ch10.layer_norm",
    title="layer_norm",
    compare=_layer_norm_compare,
    reference=_layer_norm,
    cases=_ln_cases,
    mistakes=[
        Mistake(_layer_norm_std_under_root,
                N_("x.std is already the square root of the variance: np.sqrt(std + eps) takes the root twice. Use the "
                "variance, np.sqrt(x.var(axis=-1, keepdims=True) + eps).")),
        Mistake(_layer_norm_batch_axis, N_("this normalised over the batch (axis 0): that is batch "
                "normalisation. Layer normalisation normalises each position over its own features, axis=-1.")),
        Mistake(_layer_norm_ddof1, DDOF1),
        Mistake(_layer_norm_ddof1_std, DDOF1),
        Mistake(_layer_norm_affine_first, AFFINE_FIRST),
        Mistake(_layer_norm_affine_before_dividing, AFFINE_FIRST),
        Mistake(_layer_norm_affine_then_normalised, AFFINE_FIRST),
        Mistake(_layer_norm_variance, N_("this divides by the variance: divide by the standard deviation, "
                "np.sqrt(var + eps), so that every position ends with variance 1.")),
        Mistake(_layer_norm_eps_outside, N_("eps goes inside the square root, sqrt(var + eps), not std + eps: "
                "it matters when the features barely vary.")),
        Mistake(_layer_norm_without_eps, N_("eps is missing: divide by np.sqrt(var + eps). It keeps the division "
                "finite, and it changes the result when the features barely vary.")),
        Mistake(_layer_norm_whole_array, N_("the mean and the variance are taken over the whole array: each "
                "position is normalised over its own features, x.mean(axis=-1, keepdims=True).")),
        Mistake(_layer_norm_axis_1, N_("axis=1 is the features only for a 2-D input: for (B, T, D) it is time. "
                "Normalise over the last axis, axis=-1, whatever the number of axes.")),
        Mistake(_layer_norm_without_gain_and_shift, N_("gamma and beta are not applied: after normalising, scale "
                "and shift each feature, xhat * gamma + beta.")),
    ],
)

WRONG_SUM = N_("the sum runs over the wrong axis: the softmax was over the last axis, so sum(dw * w, axis=-1, "
               "keepdims=True).")

softmax_backward = Exercise(
    "ch10.softmax_backward",
    library_answers=(
        "gradbook.reference.activations.softmax_backward",
        "gradbook.torch_path.activations.softmax_backward",
    ),
    title="softmax_backward",
    scale_tol=FLOAT32_ROUNDING,
    reference=_softmax_backward,
    cases=_softmax_backward_cases,
    mistakes=[
        Mistake(_softmax_backward_diagonal, N_("this is only the diagonal of softmax's Jacobian, w * (1 - w): "
                "every weight of a row depends on every score of it. dscores = w * (dw - sum(dw * w, axis=-1)).")),
        Mistake(_softmax_backward_no_correction, N_("the term every weight shares is missing: dscores = w * (dw - "
                "sum(dw * w, axis=-1, keepdims=True)); the weights sum to 1, so pushing one up pushes the others down.")),
        Mistake(_softmax_backward_wrong_axis, WRONG_SUM),
        Mistake(_softmax_backward_sum_all, WRONG_SUM),
        Mistake(_softmax_backward_unweighted_sum, N_("the shared term is sum(dw), unweighted: it is the sum of dw * w "
                "over the row, sum(dw * w, axis=-1, keepdims=True).")),
        Mistake(_softmax_backward_without_w, N_("the result is not multiplied by w: dscores = w * (dw - sum(dw * w, "
                "axis=-1, keepdims=True)).")),
        Mistake(_softmax_backward_mean, N_("the shared term is a mean: it is the sum of dw * w over the row, "
                "sum(dw * w, axis=-1, keepdims=True).")),
        Mistake(_softmax_backward_softmax_again, N_("`weights` is already the softmax's output: use it as it is, "
                "without a softmax of it.")),
    ],
)


layer_norm_backward = Exercise(
    "ch10.layer_norm_backward",
    title="layer_norm_backward",
    compare=_layer_norm_backward_compare,
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
        Mistake(_ln_backward_constant_mean, N_("dx misses the mean's share: subtract mean(dxhat, axis=-1) too, "
                "dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps).")),
        Mistake(_ln_backward_dgamma_of_x, N_("dgamma is the sum of dout * xhat, the normalised x that gamma "
                "multiplies, not dout * x.")),
        Mistake(_ln_backward_sums, N_("the two corrections are sums over the features: they are means (divide by "
                "D), mean(dxhat) and xhat * mean(dxhat * xhat).")),
        Mistake(_ln_backward_without_eps, N_("eps is missing: the backward pass divides by sqrt(var + eps), the "
                "same as the forward pass.")),
        Mistake(_ln_backward_partly_divided, N_("only part of dx is divided by sqrt(var + eps): divide the whole "
                "bracket, (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps).")),
        Mistake(_ln_backward_variance_term_without_gamma, N_("the variance's share uses dout: both shares use dxhat "
                "= dout * gamma, xhat * mean(dxhat * xhat, axis=-1).")),
        Mistake(_ln_backward_variance_share_added, LN_BACKWARD_SIGN),
        Mistake(_ln_backward_mean_share_added, LN_BACKWARD_SIGN),
    ],
)

FIXED_HEADS = N_("the number of heads is fixed in your code: it is given, num_heads, so pass it on to "
                 "multi_head_attention (a number written in is right only for the blocks that happen to have it).")
OTHER_ACTIVATION = N_("the MLP's activation is ReLU, np.maximum(z, 0), between W1 and W2 (GPT-2 uses GELU; this block, "
                      "like the library's TransformerBlock, uses ReLU).")
NORMALISED_RESIDUAL = N_("a residual adds the normalised input: the identity path carries the input itself, y = x + "
                         "attention(LN1(x)) and out = y + MLP(LN2(y)).")
MISSING_LN = N_("a layer norm is missing: in the pre-norm block each sub-layer's input is normalised, "
                "attention(LN1(x)) and MLP(LN2(y)).")

transformer_block = Exercise(
    "ch10.transformer_block",
    title="transformer_block",
    scale_tol=FLOAT32_ROUNDING,
    reference=_transformer_block,
    cases=_block_cases,
    mistakes=[
        Mistake(_block_no_attention_residual, N_("the residual around the attention is missing: y = x + "
                "attention(LN1(x)), not attention(LN1(x)) alone.")),
        Mistake(_block_no_mlp_residual, N_("the residual around the MLP is missing: out = y + MLP(LN2(y)).")),
        Mistake(_block_mlp_residual_of_x, N_("the MLP's residual adds x, the block's input: it adds y, the output of "
                "the attention's residual, out = y + MLP(LN2(y)), or the attention's output is lost.")),
        Mistake(_block_post_norm, N_("this is the post-norm block (LN after each residual, as in the 2017 "
                "paper); ours is pre-norm, as GPT-2: LN is applied to each sub-layer's input, y = x + "
                "attention(LN1(x)).")),
        Mistake(_block_not_causal, N_("the block's attention must be causal: pass causal=True.")),
        Mistake(_block_no_relu, N_("the MLP has no activation: relu(LN2(y) @ W1 + b1) @ W2 + b2, np.maximum(z, 0) "
                "between the two layers; without it they are one linear map.")),
        Mistake(_block_relu_after_w2, N_("the ReLU is applied after W2 too: it goes between the two layers only, "
                "relu(LN2(y) @ W1 + b1) @ W2 + b2.")),
        Mistake(_block_ln2_of_x, N_("LN2 normalises x: it normalises y, the output of the attention's residual, "
                "out = y + MLP(LN2(y)).")),
        Mistake(_block_normalised_attention_residual, NORMALISED_RESIDUAL),
        Mistake(_block_normalised_mlp_residual, NORMALISED_RESIDUAL),
        Mistake(_block_no_ln1, MISSING_LN),
        Mistake(_block_no_ln2, MISSING_LN),
        Mistake(_block_b1_after_relu, N_("b1 is added after the ReLU: it belongs to the first layer, inside it, "
                "relu(LN2(y) @ W1 + b1).")),
        Mistake(_block_ln1_for_ln2, N_("LN2 uses LN1's gamma and beta: each layer norm has its own, "
                "params['ln2_gamma'] and params['ln2_beta'] for LN2.")),
        *[Mistake(_block_with_heads(heads), FIXED_HEADS) for heads in (1, 2, 3, 4)],
        Mistake(_block_tanh, OTHER_ACTIVATION),
        Mistake(_block_gelu, OTHER_ACTIVATION),
    ],
)

LN_OF_OUTPUT = N_("a layer norm's backward pass was given its output: it needs its input, x for LN1 and y for LN2, "
                  "layer_norm_backward(dh, its input, gamma).")

transformer_block_backward = Exercise(
    "ch10.transformer_block_backward",
    title="transformer_block_backward",
    scale_tol=FLOAT32_ROUNDING,
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
        Mistake(_backward_scale_by_d, N_("the scores' gradient is divided by d_k: the forward pass divided the "
                "scores by sqrt(d_k), so the gradient is divided by sqrt(d_k) too.")),
        Mistake(_backward_no_relu_gradient, N_("the ReLU's gradient is missing: it passes the gradient only where "
                "z > 0, dz = (dout @ W2.T) * (z > 0).")),
        Mistake(_backward_weights_from_x, N_("Wq, Wk and Wv multiply h1 = LN1(x), not x: their gradients are "
                "h1^T @ d (flattened over batch and time).")),
        Mistake(_backward_dv_untransposed, N_("dv = w @ dout_h: with out_h = w @ v, the values' gradient is "
                "w^T @ dout_h, w.swapaxes(-1, -2) @ dheads.")),
        Mistake(_backward_dk_untransposed, N_("dk = dscores @ q: with scores = q @ k^T, the keys' gradient is "
                "dscores^T @ q, dscores.swapaxes(-1, -2) @ q.")),
        Mistake(_backward_not_causal, N_("the forward pass the backward pass replays is not causal: it must be the "
                "block's own, attention(q, k, v, causal_mask(T)).")),
        Mistake(_backward_dh1_from_q, N_("h1 reaches the output through q, k AND v: dh1 is the sum of dq @ Wq^T, "
                "dk @ Wk^T and dv @ Wv^T (each merged back to (B, T, h*d)).")),
        Mistake(_backward_merge_untransposed, N_("the heads' gradients were merged with a reshape alone: transpose "
                "(B, h, T, d) back to (B, T, h, d) before the reshape to (B, T, h*d), as in the forward pass.")),
        Mistake(_backward_x_residual_dout, N_("dx's residual path carries dy, the gradient at y (dout plus the "
                "gradient through the MLP), not dout: dx = dy + the gradient through LN1.")),
        Mistake(_backward_ln2_of_output, LN_OF_OUTPUT),
        Mistake(_backward_ln1_of_output, LN_OF_OUTPUT),
        Mistake(_backward_w1_from_y, N_("W1 multiplies h2 = LN2(y), not y: its gradient is h2^T @ dz (flattened over "
                "batch and time).")),
        Mistake(_backward_w2_from_z, N_("W2 multiplies r = relu(z), not z: its gradient is r^T @ dout (flattened over "
                "batch and time).")),
        Mistake(_backward_wo_from_dout, N_("Wo's gradient is merged^T @ dy, the gradient at y (where the attention's "
                "output is added), not merged^T @ dout.")),
        Mistake(_backward_split_untransposed, N_("the gradient of the merged heads was split with a reshape alone: "
                "split it as the forward pass split q, k and v, split_heads(dy @ Wo.T, num_heads) (reshape to (B, T, "
                "h, d), then transpose).")),
        Mistake(_backward_scale_multiplied, N_("the scores' gradient is multiplied by sqrt(d_k): the forward pass "
                "divided the scores by sqrt(d_k), so their gradient is divided by it too.")),
        Mistake(_backward_relu_mask_inverted, N_("the ReLU's gradient passes where z < 0: relu passes its input "
                "where z > 0 (and gives 0 elsewhere), so dz = (dout @ W2.T) * (z > 0).")),
        Mistake(_backward_no_ln1_path, N_("dx misses the path through LN1 and the attention: x reaches the output "
                "directly (y = x + ...) AND through LN1, so dx = dy + layer_norm_backward(dh1, x, ln1_gamma)'s dx.")),
    ],
)
