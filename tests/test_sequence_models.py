"""Sequence models in `Sequential`, on both engines: the Keras-style listings, padding masks, a language
model's loss (sparse categorical cross-entropy over (batch, time, classes)) and perplexity, save and load.

The independent sources: accuracy on held-out data of a task with a known answer, torch's
``F.cross_entropy`` for the sequence loss, e^(mean cross-entropy) computed by hand, and the same
model run on unpadded sequences for the padding masks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradbook import layers, models
from sequence_helpers import one_torch_thread  # noqa: F401 -- an autouse fixture

ENGINES = [None, "cpu"]  # None: the NumPy engine (the default); "cpu": the torch path
VOCAB, STEPS, SIGNAL = 10, 12, 7


def contains_token(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of tokens 1..9; the label says whether token 7 occurs (half of them hold it once or more)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, (n, STEPS))
    y = rng.integers(0, 2, n)
    x[(y == 0)[:, None] & (x == SIGNAL)] = SIGNAL - 1
    x[np.flatnonzero(y), rng.integers(0, STEPS, int(y.sum()))] = SIGNAL
    return x, y


@pytest.fixture(scope="module")
def task() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    return contains_token(1200, 0), contains_token(400, 1)


@pytest.mark.parametrize("device", ENGINES)
@pytest.mark.parametrize("recurrent", ["SimpleRNN", "LSTM"])
def test_the_keras_listing_classifies_sequences(task, recurrent: str, device: str | None) -> None:
    (x_train, y_train), (x_test, y_test) = task
    rnn = getattr(layers, recurrent)
    # A Keras listing, unchanged but for the imports, the seeds and the engine (device=None: NumPy).
    model = models.Sequential([
        layers.Embedding(VOCAB, 16),
        rnn(16),
        layers.Dense(2, activation="softmax"),
    ], seed=0, device=device)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0, seed=0)
    test_loss, test_acc = model.evaluate(x_test, y_test)
    assert test_acc >= 0.9, f"{recurrent} on {device or 'numpy'}: test accuracy {test_acc:.3f}"
    assert model.output_shape == (2,)


@pytest.mark.parametrize("device", ENGINES)
def test_padding_masks_flow_from_the_embedding_through_the_recurrent_layers(device: str | None) -> None:
    model = models.Sequential([layers.Embedding(VOCAB, 5, mask_zero=True), layers.LSTM(4, return_sequences=True),
                               layers.SimpleRNN(3), layers.Dense(2)], seed=0, device=device)
    model.build((6,))
    rng = np.random.default_rng(0)
    short = rng.integers(1, VOCAB, (1, 3))
    padded = np.concatenate([short, np.zeros((1, 3), int)], axis=1)  # the same sequence, padded with id 0
    unpadded = models.Sequential([layers.Embedding(VOCAB, 5), layers.LSTM(4, return_sequences=True),
                                  layers.SimpleRNN(3), layers.Dense(2)], seed=0, device=device)
    unpadded.build((3,))
    np.testing.assert_allclose(model.predict(padded), unpadded.predict(short), rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    unpadded.compile(optimizer="sgd", loss="mse")
    target = np.ones((1, 2))
    loss, grads = model.loss_and_gradients(padded, target)
    loss_short, grads_short = unpadded.loss_and_gradients(short, target)
    assert loss == pytest.approx(loss_short, rel=1e-5)
    for name, g in grads_short.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("device", ENGINES)
def test_a_language_model_is_scored_per_token_with_perplexity(device: str | None) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (16, 8))
    y = np.roll(x, -1, axis=1)  # the next token at every step
    model = models.Sequential([layers.Embedding(VOCAB, 8), layers.LSTM(16, return_sequences=True),
                               layers.LayerNormalization(), layers.Dense(VOCAB)], seed=0, device=device)
    model.compile(optimizer="adam", loss=_sparse(from_logits=True), metrics=["perplexity", "accuracy"])
    loss, perplexity, accuracy = model.evaluate(x, y, batch_size=16)
    logits = torch.tensor(model.predict(x), dtype=torch.float64)
    expected = F.cross_entropy(logits.reshape(-1, VOCAB), torch.tensor(y).reshape(-1)).item()  # mean over tokens
    assert loss == pytest.approx(expected, rel=1e-5)
    assert perplexity == pytest.approx(math.exp(expected), rel=1e-5)
    assert accuracy == pytest.approx((logits.argmax(-1).numpy() == y).mean())
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0, seed=0)
    assert history.history["perplexity"][-1] == pytest.approx(math.exp(history.history["loss"][-1]), rel=1e-5)
    assert history.history["perplexity"][-1] < history.history["perplexity"][0]


def _sparse(from_logits: bool):
    from gradbook import losses

    return losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def test_perplexity_needs_a_cross_entropy_loss() -> None:
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="perplexity needs a cross-entropy loss"):
        model.compile(optimizer="sgd", loss="mse", metrics=["perplexity"])


@pytest.mark.parametrize("device", ENGINES)
def test_sequence_models_save_and_load_on_both_engines(device: str | None, tmp_path) -> None:
    model = models.Sequential([layers.Embedding(VOCAB, 4, mask_zero=True), layers.SimpleRNN(5, return_sequences=True),
                               layers.LSTM(3), layers.Dense(2, activation="softmax")], seed=0, device=device)
    transformer = models.Sequential([layers.TokenAndPositionEmbedding(VOCAB, 6, 4), layers.TransformerBlock(2, 2, 8),
                                     layers.LayerNormalization(), layers.Dense(VOCAB)], seed=0, device=device)
    x = np.random.default_rng(0).integers(0, VOCAB, (4, 6))
    for i, m in enumerate((model, transformer)):
        m.build((6,))
        m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.save(tmp_path / f"{i}.npz")
        for target in (None, "cpu"):
            loaded = models.load_model(tmp_path / f"{i}.npz", device=target)
            assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in m.layers]
            assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in m.layers]
            np.testing.assert_allclose(loaded.predict(x), m.predict(x), rtol=1e-5, atol=1e-6)
    assert model.layers[0].mask_zero and model.layers[1].return_sequences


def test_recurrent_layers_say_what_input_they_need() -> None:
    with pytest.raises(ValueError, match=r"expects sequences, per-sample shape \(time, features\); got \(8,\)"):
        models.Sequential([layers.SimpleRNN(4, input_shape=(8,))], seed=0)
    with pytest.raises(ValueError, match="padding mask has one entry per sequence and step"):
        layers.LSTM(2).forward(np.zeros((2, 3, 4)), mask=np.ones((2, 4)))


@pytest.mark.parametrize("device", ENGINES)
def test_a_tiny_transformer_learns_to_look_back_and_never_ahead(device: str | None) -> None:
    vocab, steps = 8, 8
    rng = np.random.default_rng(0)
    back = np.maximum(np.arange(steps) - 2, 0)  # the answer at step t is the token two steps back
    x, x_test = rng.integers(0, vocab, (512, steps)), rng.integers(0, vocab, (256, steps))
    model = models.Sequential([layers.TokenAndPositionEmbedding(vocab, steps, 32), layers.TransformerBlock(2, 16, 64),
                               layers.Dense(vocab, activation="softmax")], seed=0, device=device)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy", "perplexity"])
    model.fit(x, x[:, back], epochs=3, batch_size=32, verbose=0, seed=0)
    _, accuracy, perplexity = model.evaluate(x_test, x_test[:, back])
    assert accuracy >= 0.95 and perplexity < 1.5, (accuracy, perplexity)
    changed = x_test.copy()
    changed[:, 5:] = (changed[:, 5:] + 1) % vocab  # the future changes: the first five predictions must not
    np.testing.assert_allclose(model.predict(changed)[:, :5], model.predict(x_test)[:, :5], rtol=1e-5, atol=1e-6)
