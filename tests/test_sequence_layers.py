"""The sequence layers (Embedding, SimpleRNN, LSTM, LayerNormalization, MultiHeadAttention) against torch.nn
and numerical gradients, on both engines.

The independent sources: torch.nn's own modules (RNN, LSTM, LayerNorm, MultiheadAttention,
Embedding, packed sequences for padding) given the same weights, and central differences
(`gradbook.reference.gradcheck`). Each layer runs on the NumPy engine and on the torch path
("cpu", and "cuda" where there is a GPU): its CS231n ``forward``/``backward`` (hand-written on
both engines) and, on torch, autograd through its ``call``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradbook.reference import gradcheck
from gradbook.reference import sequence_layers as seq
from gradbook.torch_path import layers as torch_layers
from gradbook.torch_path.engine import torch_engine
from sequence_helpers import one_torch_thread  # noqa: F401 -- an autouse fixture

CUDA = pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU")])
ENGINES = [None, "cpu", CUDA]  # None: the NumPy engine
BATCH, STEPS, FEATURES, UNITS = 3, 5, 4, 6
LENGTHS = [5, 2, 4]  # right-padded sequences for the mask tests


def tolerance(dtype: str, device: str | None) -> dict[str, float]:
    if dtype == "float64":
        return {"rtol": 1e-8, "atol": 1e-10}
    if device == "cuda":  # TF32 matrix products on the GPU
        return {"rtol": 3e-3, "atol": 3e-4}
    return {"rtol": 2e-4, "atol": 2e-5}


def numpy_of(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def close(actual: Any, expected: Any, dtype: str, device: str | None, what: str) -> None:
    if device is not None:
        assert isinstance(actual, torch.Tensor) and actual.device.type == device, f"{what} not on {device}"
    np.testing.assert_allclose(numpy_of(actual), numpy_of(expected), err_msg=what, **tolerance(dtype, device))


def built(layer: seq.Layer, input_shape: tuple[int, ...], dtype: str, device: str | None,
          scale: float = 0.5) -> seq.Layer:
    """``layer`` built with random weights (nonzero biases, so a dropped bias would show), on its engine."""
    layer.build(input_shape, np.random.default_rng(7), dtype)
    rng = np.random.default_rng(8)
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape) * scale
    return layer if device is None else torch_layers.from_reference(layer, device=device)


def weights(layer: seq.Layer, name: str) -> torch.Tensor:
    return torch.tensor(numpy_of(layer.params[name]))


def padding_mask() -> np.ndarray:
    return np.arange(STEPS)[None, :] < np.array(LENGTHS)[:, None]


# ---------------------------------------------------------------- SimpleRNN and LSTM against torch.nn

def torch_recurrent(layer: seq.Layer, kind: type[torch.nn.Module], dtype: str) -> torch.nn.Module:
    """torch.nn.RNN/LSTM with ``layer``'s weights (torch's are transposed; its second bias is 0)."""
    module = kind(FEATURES, UNITS, batch_first=True).to(getattr(torch, dtype))
    with torch.no_grad():
        module.weight_ih_l0.copy_(weights(layer, "Wx").T)
        module.weight_hh_l0.copy_(weights(layer, "Wh").T)
        module.bias_ih_l0.copy_(weights(layer, "b"))
        module.bias_hh_l0.zero_()
    return module


def torch_run(module: torch.nn.Module, x: np.ndarray, mask: np.ndarray | None, return_sequences: bool) -> Any:
    """torch's output, (batch, time, units) or (batch, units); padded sequences through pack_padded_sequence."""
    tx = torch.tensor(x, requires_grad=True)
    if mask is None:
        out, state = module(tx)
    else:
        lengths = torch.tensor(mask.sum(1))
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=True, enforce_sorted=False)
        packed_out, state = module(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True, total_length=STEPS)
    h = state[0] if isinstance(state, tuple) else state
    return tx, (out if return_sequences else h[0])


RECURRENT = {"SimpleRNN": (seq.SimpleRNN, torch.nn.RNN), "LSTM": (seq.LSTM, torch.nn.LSTM)}


@pytest.mark.parametrize("device", ENGINES)
@pytest.mark.parametrize("masked", [False, True], ids=["full", "padded"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("name", RECURRENT)
def test_recurrent_layers_agree_with_torch_nn(name: str, return_sequences: bool, masked: bool,
                                              device: str | None) -> None:
    spec, kind = RECURRENT[name]
    dtype = "float64"
    layer = built(spec(UNITS, return_sequences=return_sequences), (STEPS, FEATURES), dtype, device)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, STEPS, FEATURES))
    mask = padding_mask() if masked else None
    module = torch_recurrent(layer, kind, dtype)
    tx, expected = torch_run(module, x, mask, return_sequences)
    dout = rng.standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))

    out = layer.forward(x, mask=mask)
    close(out, expected, dtype, device, "output")
    dx = layer.backward(dout)
    close(dx, tx.grad, dtype, device, "dL/dx")
    close(layer.grads["Wx"], module.weight_ih_l0.grad.T, dtype, device, "dL/dWx")
    close(layer.grads["Wh"], module.weight_hh_l0.grad.T, dtype, device, "dL/dWh")
    close(layer.grads["b"], module.bias_ih_l0.grad, dtype, device, "dL/db")

    if device is not None:  # the torch path also trains through `call` by autograd: the same gradients
        x_t = torch.tensor(x, device=device, requires_grad=True)
        mask_t = None if mask is None else torch.tensor(mask, device=device)
        y = layer.call(x_t, mask=mask_t)
        grads = torch.autograd.grad(y, [x_t, layer.params["Wh"]], torch.tensor(dout, device=device))
        close(grads[0], tx.grad, dtype, device, "autograd dL/dx")
        close(grads[1], module.weight_hh_l0.grad.T, dtype, device, "autograd dL/dWh")


@pytest.mark.parametrize("device", ENGINES)
@pytest.mark.parametrize("name", RECURRENT)
def test_float32_recurrent_layers_agree_with_torch_nn(name: str, device: str | None) -> None:
    spec, kind = RECURRENT[name]
    layer = built(spec(UNITS, return_sequences=True), (STEPS, FEATURES), "float32", device)
    x = np.random.default_rng(2).standard_normal((BATCH, STEPS, FEATURES)).astype("float32")
    _, expected = torch_run(torch_recurrent(layer, kind, "float32"), x, None, True)
    out = layer.forward(x)
    assert numpy_of(out).dtype == np.float32
    close(out, expected, "float32", device, "output")


@pytest.mark.parametrize("name", RECURRENT)
def test_forward_again_changes_no_earlier_output_and_backward_follows_the_last_forward(name: str) -> None:
    # The LSTM keeps its per-step arrays in buffers it reuses from one forward to the next: what it hands out
    # (outputs, the last state) must never be those buffers, and backward must read the last forward's.
    spec, kind = RECURRENT[name]
    layer = built(spec(UNITS, return_sequences=True), (STEPS, FEATURES), "float64", None)
    rng = np.random.default_rng(7)
    x, other = rng.standard_normal((BATCH, STEPS, FEATURES)), rng.standard_normal((BATCH, STEPS, FEATURES))
    layer.forward(rng.standard_normal((BATCH + 1, STEPS - 1, FEATURES)))  # another shape first: buffers remade
    first, h, *_ = layer(x, return_state=True)
    out, kept = layer.forward(x), (first.copy(), h.copy())
    out_kept = out.copy()
    layer.forward(other)  # the shape of x again: the same buffers, written again
    np.testing.assert_array_equal(out, out_kept)
    np.testing.assert_array_equal(first, kept[0])
    np.testing.assert_array_equal(h, kept[1])
    tx, expected = torch_run(torch_recurrent(layer, kind, "float64"), other, None, True)
    dout = rng.standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))
    close(layer.backward(dout), tx.grad, "float64", None, "dL/dx")


def test_initial_state_is_carried_on_and_return_state_gives_the_state_after_the_last_step() -> None:
    layer = built(seq.LSTM(UNITS, return_sequences=True), (STEPS, FEATURES), "float64", None)
    x = np.random.default_rng(3).standard_normal((BATCH, STEPS, FEATURES))
    whole, h, c = layer(x, return_state=True)
    first, h1, c1 = layer(x[:, :2], return_state=True)
    rest = layer(x[:, 2:], initial_state=[h1, c1])  # one step at a time is how a language model samples
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), whole, rtol=1e-12)
    np.testing.assert_allclose(h, whole[:, -1], rtol=1e-12)
    module = torch_recurrent(layer, torch.nn.LSTM, "float64")
    _, (th, tc) = module(torch.tensor(x))
    np.testing.assert_allclose(c, tc[0].detach().numpy(), rtol=1e-10)


# ---------------------------------------------------------------- Embedding, LayerNormalization

@pytest.mark.parametrize("device", ENGINES)
def test_embedding_agrees_with_torch_nn_and_adds_repeated_tokens(device: str | None) -> None:
    layer = built(seq.Embedding(10, 4), (STEPS,), "float64", device)
    ids = np.array([[1, 2, 2, 9, 0], [3, 3, 3, 3, 3], [0, 1, 0, 1, 7]])
    module = torch.nn.Embedding(10, 4).double()
    with torch.no_grad():
        module.weight.copy_(weights(layer, "embeddings"))
    expected = module(torch.tensor(ids))
    dout = np.random.default_rng(4).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))
    close(layer.forward(ids.astype("float64")), expected, "float64", device, "output")  # a model casts ids to floats
    layer.backward(dout)
    close(layer.grads["embeddings"], module.weight.grad, "float64", device, "dL/dembeddings")


def test_embedding_refuses_ids_outside_its_vocabulary_and_makes_a_padding_mask() -> None:
    layer = seq.Embedding(5, 3, mask_zero=True)
    with pytest.raises(ValueError, match=r"token ids in \[0, 5\); got values in \[0(\.0)?, 5(\.0)?\]"):
        layer.forward(np.array([[0, 5]]))
    with pytest.raises(ValueError, match="integer token ids"):
        layer.forward(np.array([[0.5, 1]]))
    np.testing.assert_array_equal(layer.compute_mask(np.array([[3, 1, 0, 0]])), [[True, True, False, False]])


@pytest.mark.parametrize("device", ENGINES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_layer_normalization_agrees_with_torch_nn(dtype: str, device: str | None) -> None:
    layer = built(seq.LayerNormalization(epsilon=1e-5), (STEPS, FEATURES), dtype, device)
    x = np.random.default_rng(5).standard_normal((BATCH, STEPS, FEATURES)).astype(dtype) * 3 + 1
    module = torch.nn.LayerNorm(FEATURES, eps=1e-5).to(getattr(torch, dtype))
    with torch.no_grad():
        module.weight.copy_(weights(layer, "gamma"))
        module.bias.copy_(weights(layer, "beta"))
    tx = torch.tensor(x, requires_grad=True)
    expected = module(tx)
    dout = np.random.default_rng(6).standard_normal(tuple(expected.shape)).astype(dtype)
    expected.backward(torch.tensor(dout))
    close(layer.forward(x), expected, dtype, device, "output")
    close(layer.backward(dout), tx.grad, dtype, device, "dL/dx")
    close(layer.grads["gamma"], module.weight.grad, dtype, device, "dL/dgamma")
    close(layer.grads["beta"], module.bias.grad, dtype, device, "dL/dbeta")


# ---------------------------------------------------------------- MultiHeadAttention

HEADS, KEY_DIM = 2, 3
EMBED = HEADS * KEY_DIM  # torch's MultiheadAttention needs heads·key_dim = the query's features


def torch_attention(layer: seq.MultiHeadAttention) -> torch.nn.MultiheadAttention:
    module = torch.nn.MultiheadAttention(EMBED, HEADS, batch_first=True).double()
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([weights(layer, w).T for w in ("Wq", "Wk", "Wv")]))
        module.in_proj_bias.copy_(torch.cat([weights(layer, b) for b in ("bq", "bk", "bv")]))
        module.out_proj.weight.copy_(weights(layer, "Wo").T)
        module.out_proj.bias.copy_(weights(layer, "bo"))
    return module


MASKS = {
    "none": lambda t, s: (None, False),
    "causal": lambda t, s: (None, True),
    "padding-keys": lambda t, s: (np.broadcast_to(np.arange(s)[None, None] < np.array([s, 2, 3])[:, None, None],
                                                  (BATCH, t, s)), False),
    "padding-and-causal": lambda t, s: (np.arange(s)[None, None] < np.array([s, 2, 3])[:, None, None], True),
}


@pytest.mark.parametrize("device", ENGINES)
@pytest.mark.parametrize("mask_case", MASKS)
@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_multi_head_attention_agrees_with_torch_nn(cross: bool, mask_case: str, device: str | None) -> None:
    dtype, t = "float64", 4
    s = 5 if cross and mask_case == "none" else t
    layer = seq.MultiHeadAttention(HEADS, KEY_DIM)
    layer.build((t, EMBED), np.random.default_rng(7), dtype, value_shape=(s, EMBED))
    rng = np.random.default_rng(8)
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape) * 0.5
    module = torch_attention(layer)
    if device is not None:
        layer.to(torch_engine(device))
    query = rng.standard_normal((BATCH, t, EMBED))
    value = rng.standard_normal((BATCH, s, EMBED)) if cross else query
    key = rng.standard_normal((BATCH, s, EMBED)) if cross else None
    allowed, causal = MASKS[mask_case](t, s)
    full = np.ones((BATCH, t, s), bool) if allowed is None else np.broadcast_to(allowed, (BATCH, t, s))
    if causal:
        full = full & np.tril(np.ones((t, s), bool))
    tq = torch.tensor(query, requires_grad=True)
    tv = torch.tensor(value, requires_grad=True) if cross else tq  # self-attention: one tensor, three uses
    tk = torch.tensor(key, requires_grad=True) if cross else tq
    expected, expected_weights = module(tq, tk, tv, attn_mask=torch.tensor(~full).repeat_interleave(HEADS, 0),
                                        average_attn_weights=False)
    dout = rng.standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))

    out = layer.forward(query, value, key, attention_mask=allowed, use_causal_mask=causal)
    close(out, expected, dtype, device, "output")
    close(layer.attention.scores, expected_weights, dtype, device, "attention weights")
    dq, dv, dk = layer.backward(dout)
    if cross:
        close(dq, tq.grad, dtype, device, "dL/dquery")
        close(dv, tv.grad, dtype, device, "dL/dvalue")
        close(dk, tk.grad, dtype, device, "dL/dkey")
    else:
        assert dk is None  # the key was the value: its gradient is in dvalue
        close(dq + dv, tq.grad, dtype, device, "dL/dx of self-attention")
    in_grad = module.in_proj_weight.grad
    for i, w in enumerate(("Wq", "Wk", "Wv")):
        close(layer.grads[w], in_grad[i * EMBED:(i + 1) * EMBED].T, dtype, device, f"dL/d{w}")
        close(layer.grads["b" + w[1]], module.in_proj_bias.grad[i * EMBED:(i + 1) * EMBED], dtype, device,
              f"dL/db{w[1]}")
    close(layer.grads["Wo"], module.out_proj.weight.grad.T, dtype, device, "dL/dWo")
    close(layer.grads["bo"], module.out_proj.bias.grad, dtype, device, "dL/dbo")


def test_causal_attention_does_not_look_ahead() -> None:
    mha = seq.MultiHeadAttention(num_heads=2, key_dim=4)
    x = np.random.default_rng(9).standard_normal((2, 6, 5))
    out, scores = mha(x, x, use_causal_mask=True, return_attention_scores=True)
    assert out.shape == (2, 6, 5) and scores.shape == (2, 2, 6, 6)
    assert np.all(np.triu(scores[0, 0], 1) == 0)
    changed = x.copy()
    changed[:, 4:] += 1.0  # the future changes: the first four outputs must not
    np.testing.assert_allclose(mha(changed, changed, use_causal_mask=True)[:, :4], out[:, :4], rtol=1e-12)


# ---------------------------------------------------------------- numerical gradients (float64, NumPy engine)

def layer_gradients(layer: Any, forward: Callable[[], Any], backward: Callable[[Any], Any], inputs: dict[str, Any],
                    seed: int = 10) -> dict[str, float]:
    """The relative error of every hand-written gradient (inputs and each weight) against central differences."""
    out = forward()
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    analytic_inputs = backward(dout)
    analytic = {**{k: g.copy() for k, g in layer.grads.items()}, **analytic_inputs}
    errors = {}
    for name, array in {**layer.params, **inputs}.items():
        numeric = gradcheck.numerical_gradient(lambda _: forward(), array, dout)
        errors[name] = gradcheck.relative_error(analytic[name], numeric)
    return errors


GRADCHECK = {
    "SimpleRNN": lambda: seq.SimpleRNN(3, return_sequences=True),
    "SimpleRNN-relu-last": lambda: seq.SimpleRNN(3, activation="relu"),
    "LSTM": lambda: seq.LSTM(3, return_sequences=True),
    "LSTM-last": lambda: seq.LSTM(3),
    "LayerNormalization": lambda: seq.LayerNormalization(),
}


@pytest.mark.parametrize("masked", [False, True], ids=["full", "padded"])
@pytest.mark.parametrize("name", GRADCHECK)
def test_numerical_gradients(name: str, masked: bool) -> None:
    layer = GRADCHECK[name]()
    layer.build((4, 2), np.random.default_rng(0), "float64")
    for p in layer.params.values():
        p += np.random.default_rng(1).standard_normal(p.shape) * 0.3
    x = np.random.default_rng(2).standard_normal((2, 4, 2))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool) if masked else None
    errors = layer_gradients(layer, lambda: layer.forward(x, mask=mask),
                             lambda d: {"x": layer.backward(d)}, {"x": x})
    assert max(errors.values()) < 1e-7, errors


def test_numerical_gradients_of_embedding_and_attention() -> None:
    emb = seq.Embedding(6, 3)
    emb.build((4,), np.random.default_rng(0), "float64")
    ids = np.array([[1, 5, 1, 0], [2, 2, 2, 3]], float)
    errors = layer_gradients(emb, lambda: emb.forward(ids), lambda d: (emb.backward(d), {})[1], {})
    mha = seq.MultiHeadAttention(2, 2, value_dim=3)
    mha.build((3, 4), np.random.default_rng(0), "float64", value_shape=(5, 2))
    for p in mha.params.values():
        p += np.random.default_rng(1).standard_normal(p.shape) * 0.3
    rng = np.random.default_rng(3)
    q, v, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 2)), rng.standard_normal((2, 5, 2))
    allowed = np.ones((2, 3, 5), bool)
    allowed[1, :, 3:] = False
    errors.update(layer_gradients(
        mha, lambda: mha.forward(q, v, k, attention_mask=allowed),
        lambda d: dict(zip(("query", "value", "key"), mha.backward(d))), {"query": q, "value": v, "key": k}))
    # The key's bias adds the same score to every key of a query, which softmax ignores: its gradient is 0
    # (the numerical one is rounding noise, so their relative error means nothing).
    assert np.abs(mha.grads["bk"]).max() < 1e-12
    del errors["bk"]
    assert max(errors.values()) < 1e-7, errors


# ---------------------------------------------------------------- a transformer's parts

def torch_block(layer: seq.TransformerBlock, x: torch.Tensor, causal: bool,
                padding: torch.Tensor | None = None) -> torch.Tensor:
    """The same block in torch.nn: LayerNorm, MultiheadAttention, LayerNorm, Linear-ReLU-Linear, two residuals
    (``padding``: torch's key_padding_mask, True where a step is padding)."""
    d = x.shape[-1]
    p = {k: torch.tensor(numpy_of(v), requires_grad=True) for k, v in layer.params.items()}
    attention = torch.nn.MultiheadAttention(d, HEADS, batch_first=True).double()
    with torch.no_grad():  # its weights are leaves of their own: copied in, their gradients read back below
        attention.in_proj_weight.copy_(torch.cat([p[f"attention_W{w}"].T for w in "qkv"]))
        attention.in_proj_bias.copy_(torch.cat([p[f"attention_b{w}"] for w in "qkv"]))
        attention.out_proj.weight.copy_(p["attention_Wo"].T)
        attention.out_proj.bias.copy_(p["attention_bo"])
    normed = F.layer_norm(x, (d,), p["ln1_gamma"], p["ln1_beta"], eps=1e-3)
    future = torch.triu(torch.ones(x.shape[1], x.shape[1], dtype=torch.bool), 1) if causal else None
    y = x + attention(normed, normed, normed, attn_mask=future, key_padding_mask=padding, need_weights=False)[0]
    hidden = torch.relu(F.layer_norm(y, (d,), p["ln2_gamma"], p["ln2_beta"], eps=1e-3) @ p["W1"] + p["b1"])
    out = y + hidden @ p["W2"] + p["b2"]
    torch_block.params, torch_block.attention = p, attention  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize("device", ENGINES)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_transformer_block_agrees_with_torch_nn(causal: bool, device: str | None) -> None:
    dtype = "float64"
    layer = built(seq.TransformerBlock(HEADS, KEY_DIM, ff_dim=8, causal=causal), (STEPS, EMBED), dtype, device)
    x = np.random.default_rng(11).standard_normal((BATCH, STEPS, EMBED))
    tx = torch.tensor(x, requires_grad=True)
    expected = torch_block(layer, tx, causal)
    dout = np.random.default_rng(12).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))
    close(layer.forward(x), expected, dtype, device, "output")
    close(layer.backward(dout), tx.grad, dtype, device, "dL/dx")
    p, attention = torch_block.params, torch_block.attention  # type: ignore[attr-defined]
    in_grad = attention.in_proj_weight.grad
    for i, w in enumerate("qkv"):
        close(layer.grads[f"attention_W{w}"], in_grad[i * EMBED:(i + 1) * EMBED].T, dtype, device, f"dL/dW{w}")
    close(layer.grads["attention_Wo"], attention.out_proj.weight.grad.T, dtype, device, "dL/dWo")
    for name in ("ln1_gamma", "ln1_beta", "ln2_gamma", "ln2_beta", "W1", "b1", "W2", "b2"):
        close(layer.grads[name], p[name].grad, dtype, device, f"dL/d{name}")


@pytest.mark.parametrize("device", ENGINES)
def test_token_and_position_embedding_agrees_with_torch(device: str | None) -> None:
    layer = built(seq.TokenAndPositionEmbedding(10, 7, 4), (STEPS,), "float64", device)
    ids = np.array([[1, 2, 2, 9, 0], [3, 3, 3, 3, 3], [0, 1, 0, 1, 7]])
    tokens = torch.tensor(numpy_of(layer.params["token_embeddings"]), requires_grad=True)
    positions = torch.tensor(numpy_of(layer.params["position_embeddings"]), requires_grad=True)
    expected = F.embedding(torch.tensor(ids), tokens) + positions[:STEPS]
    dout = np.random.default_rng(13).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))
    close(layer.forward(ids), expected, "float64", device, "output")
    layer.backward(dout)
    close(layer.grads["token_embeddings"], tokens.grad, "float64", device, "dL/dtokens")
    close(layer.grads["position_embeddings"], positions.grad, "float64", device, "dL/dpositions")


def test_numerical_gradients_of_the_transformer_block() -> None:
    block = seq.TransformerBlock(2, 2, ff_dim=5)
    block.build((4, 3), np.random.default_rng(0), "float64")
    for p in block.params.values():
        p += np.random.default_rng(1).standard_normal(p.shape) * 0.3
    x = np.random.default_rng(2).standard_normal((2, 4, 3))
    errors = layer_gradients(block, lambda: block.forward(x), lambda d: {"x": block.backward(d)}, {"x": x})
    assert abs(block.grads["attention_bk"]).max() < 1e-12  # softmax ignores a score added to every key
    del errors["attention_bk"]
    assert max(errors.values()) < 1e-7, errors
