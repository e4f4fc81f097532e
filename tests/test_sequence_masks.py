"""Padding masks through a whole model, and the recurrent layers' returned states, against torch.

Independent sources: torch.nn's LSTM/RNN (their returned ``(h_n, c_n)`` and the initial state's gradient),
MultiheadAttention with ``key_padding_mask``, and a torch model (Embedding, packed LSTM, Linear) trained
with ``cross_entropy(ignore_index=...)``: the mean over the real steps. On the NumPy engine (hand-written
backward passes) and the torch path (autograd through ``call``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradbook import layers, models
from gradbook.reference import sequence_layers as seq
from sequence_helpers import one_torch_thread  # noqa: F401 -- an autouse fixture
from test_sequence_layers import (BATCH, EMBED, ENGINES, FEATURES, HEADS, KEY_DIM, RECURRENT, STEPS, UNITS, built,
                                  close, numpy_of, padding_mask, torch_attention, torch_block, torch_recurrent)

VOCABULARY, CLASSES = 9, 5


@pytest.mark.parametrize("device", ENGINES)
@pytest.mark.parametrize("masked", [False, True], ids=["full", "padded"])
@pytest.mark.parametrize("name", RECURRENT)
def test_gradients_flow_from_the_returned_states_into_the_weights_and_the_initial_state(
        name: str, masked: bool, device: str | None) -> None:
    spec, kind = RECURRENT[name]
    dtype, lstm = "float64", name == "LSTM"
    layer = built(spec(UNITS, return_sequences=True), (STEPS, FEATURES), dtype, device)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((BATCH, STEPS, FEATURES))
    h0, c0 = rng.standard_normal((BATCH, UNITS)), rng.standard_normal((BATCH, UNITS))
    mask = padding_mask() if masked else None
    module = torch_recurrent(layer, kind, dtype)
    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    state0 = (th0[None], tc0[None]) if lstm else th0[None]
    if mask is None:
        out, state = module(tx, state0)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(mask.sum(1)), batch_first=True,
                                                         enforce_sorted=False)
        packed_out, state = module(packed, state0)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True, total_length=STEPS)
    states = [s[0] for s in (state if lstm else (state,))]
    dout = rng.standard_normal((BATCH, STEPS, UNITS))
    d_states = [rng.standard_normal((BATCH, UNITS)) for _ in states]
    torch.autograd.backward([out, *states], [torch.tensor(d) for d in (dout, *d_states)])

    got = layer.forward(x, mask=mask, initial_state=[h0, c0] if lstm else [h0], return_state=True)
    for mine, theirs, what in zip(got, [out, *states], ("output", "h_T", "c_T")):
        close(mine, theirs, dtype, device, what)
    close(layer.backward(dout, d_state=d_states), tx.grad, dtype, device, "dL/dx")
    close(layer.grads["Wh"], module.weight_hh_l0.grad.T, dtype, device, "dL/dWh")
    close(layer.grads["Wx"], module.weight_ih_l0.grad.T, dtype, device, "dL/dWx")
    for mine, theirs, what in zip(layer.initial_state_grads, (th0.grad, tc0.grad), ("dL/dh0", "dL/dc0")):
        close(mine, theirs, dtype, device, what)
    # only h's gradient given: c's is taken as 0, as if c_T were not used
    layer.forward(x, mask=mask, initial_state=[h0, c0] if lstm else [h0], return_state=True)
    only_h = layer.backward(dout * 0, d_state=[d_states[0]])
    assert np.abs(numpy_of(only_h)).max() > 0
    with pytest.raises(ValueError, match="d_state"):
        layer.backward(dout, d_state=[d_states[0]] * 3)
    # a gradient of another batch size would broadcast into wrong numbers: refused, naming the state and its shape
    last = len(d_states) - 1
    with pytest.raises(ValueError, match=rf"d_state\[{last}\] is the gradient of the returned state {'hc'[last]}, "
                                         rf"shaped like it: \({BATCH}, {UNITS}\); got \(1, {UNITS}\)"):
        layer.backward(dout, d_state=[*d_states[:-1], d_states[-1][:1]])


@pytest.mark.parametrize("device", ENGINES)
def test_padding_masks_hide_padded_keys_as_torchs_key_padding_mask(device: str | None) -> None:
    dtype, t = "float64", 4
    layer = built(seq.MultiHeadAttention(HEADS, KEY_DIM), (t, EMBED), dtype, None)
    module = torch_attention(layer)
    if device is not None:
        from gradbook.torch_path.engine import torch_engine
        layer.to(torch_engine(device))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((BATCH, t, EMBED))
    real = np.arange(t)[None] < np.array([4, 2, 3])[:, None]  # (batch, keys)
    tx = torch.tensor(x, requires_grad=True)
    expected, weights = module(tx, tx, tx, key_padding_mask=torch.tensor(~real), average_attn_weights=False)
    dout = rng.standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))
    for keyword in ("value_mask", "key_mask"):
        out = layer.forward(x, x, **{keyword: real})
        close(out, expected, dtype, device, f"output with {keyword}")
        close(layer.attention.scores, weights, dtype, device, "attention weights")
        assert np.all(numpy_of(layer.attention.scores)[np.broadcast_to(~real[:, None, None], weights.shape)] == 0)
        dq, dv, _ = layer.backward(dout)
        close(dq + dv, tx.grad, dtype, device, "dL/dx")
        close(layer.grads["Wo"], module.out_proj.weight.grad.T, dtype, device, "dL/dWo")
    # Keras' call form; a padded query attends to nothing (uniform weights), the rest as before
    out = layer(x, x, query_mask=real, value_mask=real, use_causal_mask=True)
    assert out.shape == x.shape
    with pytest.raises(ValueError, match="value_mask"):
        layer(x, x, value_mask=real[:, :2])


@pytest.mark.parametrize("device", ENGINES)
def test_a_transformer_block_takes_the_padding_mask_as_torch_does(device: str | None) -> None:
    dtype = "float64"
    layer = built(seq.TransformerBlock(HEADS, KEY_DIM, ff_dim=8), (STEPS, EMBED), dtype, device)
    x = np.random.default_rng(11).standard_normal((BATCH, STEPS, EMBED))
    mask = padding_mask()
    tx = torch.tensor(x, requires_grad=True)
    expected = torch_block(layer, tx, causal=True, padding=torch.tensor(~mask))
    dout = np.random.default_rng(12).standard_normal(tuple(expected.shape)) * mask[..., None]
    expected.backward(torch.tensor(dout))
    out = layer.forward(x, mask=mask)
    close(out, expected, dtype, device, "output")  # the padded steps too: torch also hides only padded keys
    close(layer.backward(dout), tx.grad, dtype, device, "dL/dx")
    close(layer.grads["W1"], torch_block.params["W1"].grad, dtype, device, "dL/dW1")  # type: ignore[attr-defined]


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.integers(1, VOCABULARY, (BATCH, STEPS))
    real = padding_mask()
    x[~real] = 0  # right-padded with token 0
    return x, rng.integers(0, CLASSES, (BATCH, STEPS)), real


@pytest.mark.parametrize("device", ENGINES)
def test_a_masked_sequence_loss_is_torchs_cross_entropy_over_the_real_steps(device: str | None) -> None:
    x, y, real = _data()
    model = models.Sequential([layers.Embedding(VOCABULARY, FEATURES, mask_zero=True),
                               layers.LSTM(UNITS, return_sequences=True),
                               layers.Dense(CLASSES, activation="softmax")], seed=0, device=device, dtype="float64")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, grads = model.loss_and_gradients(x, y)

    w = [torch.tensor(a, requires_grad=True) for a in model.get_weights()]  # embeddings, Wx, Wh, b, W, b
    lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(w[1].T), lstm.weight_hh_l0.copy_(w[2].T), lstm.bias_ih_l0.copy_(w[3])
        lstm.bias_hh_l0.zero_()
    packed = torch.nn.utils.rnn.pack_padded_sequence(F.embedding(torch.tensor(x), w[0]), torch.tensor(real.sum(1)),
                                                     batch_first=True, enforce_sorted=False)
    hidden, _ = torch.nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=STEPS)
    logits = hidden @ w[4] + w[5]
    ignored = torch.tensor(np.where(real, y, -100))
    expected = F.cross_entropy(logits.reshape(-1, CLASSES), ignored.reshape(-1), ignore_index=-100)
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-9)
    for key, theirs in (("layers.0.embeddings", w[0].grad), ("layers.1.Wh", lstm.weight_hh_l0.grad.T),
                        ("layers.2.W", w[4].grad), ("layers.2.b", w[5].grad)):
        np.testing.assert_allclose(grads[key], theirs.numpy(), rtol=1e-7, atol=1e-10, err_msg=key)
    # the metric counts the real steps only
    predicted = logits.argmax(-1).numpy()
    _, accuracy = model.evaluate(x, y)
    assert accuracy == pytest.approx((predicted == y)[real].mean())


def test_a_masked_transformer_ignores_what_is_at_its_padded_steps() -> None:
    x, y, real = _data()
    model = models.Sequential([layers.TokenAndPositionEmbedding(VOCABULARY, STEPS, EMBED, mask_zero=True),
                               layers.TransformerBlock(HEADS, KEY_DIM, ff_dim=8, causal=False),
                               layers.Dense(CLASSES, activation="softmax")], seed=0, dtype="float64")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["perplexity"])
    loss, grads = model.loss_and_gradients(x, y)
    other_targets = np.where(real, y, (y + 1) % CLASSES)  # changed at the padded steps only
    assert model.loss_and_gradients(x, other_targets)[0] == loss
    out = model.predict(x)
    assert model.evaluate(x, y)[1] == pytest.approx(np.exp(-np.log(np.take_along_axis(out, y[..., None], -1))[
        real].mean()), rel=1e-6)
    # not even the attention sees the padding: the real steps' outputs do not change with it
    unmasked = models.Sequential([layers.TokenAndPositionEmbedding(VOCABULARY, STEPS, EMBED),
                                  layers.TransformerBlock(HEADS, KEY_DIM, ff_dim=8, causal=False),
                                  layers.Dense(CLASSES, activation="softmax")], seed=0, dtype="float64")
    assert not np.allclose(unmasked.predict(x)[real], out[real])
    short = int(real[1].sum())  # sequence 1 alone, without its padding: the same outputs at its real steps
    embedded, block = model.layers[0].call(x), model.layers[1]
    np.testing.assert_allclose(block.call(embedded, mask=real)[1, :short], block.call(embedded[1:2, :short])[0],
                               rtol=1e-9)


@pytest.mark.parametrize("device", ENGINES)
@pytest.mark.parametrize("fused", [True, False], ids=["softmax-crossentropy", "linear-mse"])
def test_a_batch_of_padding_only_has_nothing_to_learn(device: str | None, fused: bool) -> None:
    """Keras' masked mean divides with `divide_no_nan`: a batch whose every step is padding has loss 0 and moves no
    weight, where the mean over its real steps would be 0/0 (torch's cross_entropy with ignore_index gives nan).
    Independent check, the model on other data: training on a real batch and then on a batch of padding only
    ends with exactly the weights of training on the real batch alone."""
    x, labels, _ = _data()
    y = labels if fused else np.eye(CLASSES)[labels]
    padding = np.zeros_like(x)

    def model() -> models.Sequential:
        net = models.Sequential([layers.Embedding(VOCABULARY, FEATURES, mask_zero=True),
                                 layers.LSTM(UNITS, return_sequences=True),
                                 layers.Dense(CLASSES, activation="softmax" if fused else None)],
                                seed=0, device=device, dtype="float64")
        net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy" if fused else "mse", metrics=["accuracy"])
        return net

    loss, grads = model().loss_and_gradients(padding, y)
    assert float(loss) == 0.0
    assert all(not np.any(numpy_of(g)) for g in grads.values())
    assert model().evaluate(padding, y) == [0.0, 0.0]
    alone, then_padding = model(), model()
    alone.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    history = then_padding.fit(np.concatenate([x, padding]), np.concatenate([y, y]), batch_size=BATCH, epochs=1,
                               shuffle=False, verbose=0)
    for ours, theirs in zip(then_padding.get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert np.isfinite(history.history["loss"][0]) and np.isfinite(history.history["accuracy"][0])
