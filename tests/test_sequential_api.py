"""Every public method of `Sequential`, on both engines, against one independent source.

Each test is parametrized over the NumPy reference engine and the torch engine on the
CPU, and checks the engine's answer against what a few lines of hand-written PyTorch
(autograd, F.cross_entropy, plain SGD) compute for the same weights: so both engines
agree with that source, and with each other, to float64 rounding. The last test lists
`Sequential`'s public methods and fails when one has no test here, so a method that
only one engine implements cannot hide.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradbook import layers, models, optimizers
from gradbook.reference.model import Sequential

ENGINES = {"reference": None, "torch-cpu": "cpu"}
LEARNING_RATE = 0.1
TOL = {"rtol": 1e-10, "atol": 1e-12}
COVERED: set[str] = set()


def covers(*names: str) -> Callable[[Callable], Callable]:
    """Mark a test as the one that checks these public members of Sequential."""
    COVERED.update(names)
    return lambda test: test


def make(device: str | None, compiled: bool = True) -> Sequential:
    model = models.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)),
                               layers.Dense(3, activation="softmax")], dtype="float64", seed=0, device=device)
    if compiled:
        model.compile(optimizers.SGD(LEARNING_RATE), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def data(n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.integers(0, 3, n)


def by_hand(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> dict:
    """Probabilities, loss, accuracy and gradients of the same network, written out in PyTorch."""
    W1, b1, W2, b2 = (torch.tensor(w, requires_grad=True) for w in weights)
    z = torch.relu(torch.tensor(x) @ W1 + b1) @ W2 + b2
    loss = F.cross_entropy(z, torch.tensor(y))
    loss.backward()
    return {"p": torch.softmax(z, 1).detach().numpy(), "loss": loss.item(),
            "accuracy": float(np.mean(z.argmax(1).numpy() == y)),
            "grads": [w.grad.numpy() for w in (W1, b1, W2, b2)]}


def sgd_by_hand(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, batch_size: int, epochs: int):
    """Plain SGD in order: the weights after, and each epoch's mean loss and accuracy before each step."""
    weights = [w.copy() for w in weights]
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    for _ in range(epochs):
        losses, hits = [], []
        for start in range(0, len(x), batch_size):
            step = by_hand(weights, x[start:start + batch_size], y[start:start + batch_size])
            n = len(x[start:start + batch_size])
            losses.append(step["loss"] * n)
            hits.append(step["accuracy"] * n)
            weights = [w - LEARNING_RATE * g for w, g in zip(weights, step["grads"])]
        history["loss"].append(sum(losses) / len(x))
        history["accuracy"].append(sum(hits) / len(x))
    return weights, history


def assert_weights(actual: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert isinstance(a, np.ndarray)
        np.testing.assert_allclose(a, e, **TOL)


engines = pytest.mark.parametrize("device", ENGINES.values(), ids=ENGINES.keys())


# ---------------------------------------------------------------- one batch: the two bugs of issue 15

@covers("train_on_batch")
@pytest.mark.parametrize("labels", ["sparse", "one-hot"])
@engines
def test_train_on_batch_returns_loss_and_metrics_before_one_step(device: str | None, labels: str) -> None:
    model, (x, y) = make(device), data()
    if labels == "one-hot":
        model.compile(optimizers.SGD(LEARNING_RATE), "categorical_crossentropy", ["accuracy"])
    before = model.get_weights()
    expected = by_hand(before, x, y)
    loss, accuracy = model.train_on_batch(x, y if labels == "sparse" else np.eye(3)[y])
    assert isinstance(loss, float) and isinstance(accuracy, float)
    assert loss == pytest.approx(expected["loss"], rel=1e-12)
    assert accuracy == expected["accuracy"]
    assert_weights(model.get_weights(), [w - LEARNING_RATE * g for w, g in zip(before, expected["grads"])])


@covers("loss_and_gradients")
@engines
def test_loss_and_gradients_are_numpy_copies_and_change_nothing(device: str | None) -> None:
    model, (x, y) = make(device), data()
    before = model.get_weights()
    expected = by_hand(before, x, y)
    loss, grads = model.loss_and_gradients(x, y)
    assert isinstance(loss, float) and loss == pytest.approx(expected["loss"], rel=1e-12)
    assert list(grads) == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    assert_weights(list(grads.values()), expected["grads"])
    assert_weights(model.get_weights(), before)  # no update
    grads["layers.0.W"][...] = 0.0  # copies: the next call is not affected
    assert_weights(list(model.loss_and_gradients(x, y)[1].values()), expected["grads"])


# ---------------------------------------------------------------- training and inference

@covers("fit")
@engines
def test_fit_is_plain_sgd_and_reports_a_keras_history(device: str | None) -> None:
    model, (x, y) = make(device), data()
    expected_weights, expected = sgd_by_hand(model.get_weights(), x, y, batch_size=3, epochs=2)
    history = model.fit(x, y, epochs=2, batch_size=3, shuffle=False, validation_data=(x, y), verbose=0)
    assert history.epoch == [0, 1] and history.params == {"epochs": 2, "steps": 3, "batch_size": 3}
    np.testing.assert_allclose(history.history["loss"], expected["loss"], **TOL)
    np.testing.assert_allclose(history.history["accuracy"], expected["accuracy"], **TOL)
    assert_weights(model.get_weights(), expected_weights)
    after = by_hand(expected_weights, x, y)  # validation runs after the epoch's last step
    assert history.history["val_loss"][-1] == pytest.approx(after["loss"], rel=1e-10)
    assert history.history["val_accuracy"][-1] == after["accuracy"]


@covers("fit")
@engines
def test_shuffled_fit_is_reproducible_from_its_seed(device: str | None) -> None:
    x, y = data(32)
    runs = [make(device).fit(x, y, epochs=2, batch_size=4, seed=seed, verbose=0).history["loss"]
            for seed in (1, 1, 2)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


@covers("evaluate")
@engines
def test_evaluate_is_the_mean_loss_and_accuracy_over_all_batches(device: str | None) -> None:
    model, (x, y) = make(device), data(10)
    expected = by_hand(model.get_weights(), x, y)
    loss, accuracy = model.evaluate(x, y, batch_size=3)
    assert loss == pytest.approx(expected["loss"], rel=1e-12) and accuracy == pytest.approx(expected["accuracy"])
    model.compile("sgd", "sparse_categorical_crossentropy")  # no metrics: a bare float, as in Keras
    assert model.evaluate(x, y) == pytest.approx(expected["loss"], rel=1e-12)


@covers("predict")
@engines
def test_predict_returns_numpy_probabilities(device: str | None) -> None:
    model, (x, _) = make(device, compiled=False), data(10)
    out = model.predict(x, batch_size=3)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, by_hand(model.get_weights(), x, np.zeros(10, np.int64))["p"], **TOL)


@covers("predict_tensor")
@engines
def test_predict_tensor_leaves_the_outputs_on_the_engine(device: str | None) -> None:
    model, (x, _) = make(device, compiled=False), data(10)
    out = model.predict_tensor(x, batch_size=4)
    assert isinstance(out, np.ndarray if device is None else torch.Tensor)
    np.testing.assert_allclose(np.asarray(out), model.predict(x), **TOL)


# ---------------------------------------------------------------- building

@covers("add", "build", "built", "output_shape", "output_shape_of", "count_params")
@engines
def test_building_layer_by_layer(device: str | None) -> None:
    model = models.Sequential(dtype="float64", seed=0, device=device)
    assert not model.built and model.output_shape is None
    model.add(layers.Conv2D(2, 3, padding="same", activation="relu"))
    model.add(layers.MaxPool2D())
    model.add(layers.Flatten())
    model.build((1, 6, 6))
    assert model.built and model.output_shape == (18,)
    model.add(layers.Dense(3, activation="softmax"))  # built as it is added, on the model's engine
    assert model.output_shape_of(1) == (2, 6, 6) and model.output_shape_of(2) == (2, 3, 3)
    assert model.output_shape == (3,)
    assert model.count_params() == (2 * 9 + 2) + (18 * 3 + 3)
    x = np.random.default_rng(0).standard_normal((5, 1, 6, 6))
    assert model.predict(x).shape == (5, 3)
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2D\) expects input of shape \(n, 1, 6, 6\)"):
        model.predict(np.zeros((2, 1, 5, 5)))


@covers("compile")
@engines
def test_compile_resolves_names_and_refuses_bad_ones(device: str | None) -> None:
    model = make(device, compiled=False)
    with pytest.raises(RuntimeError, match=r"call model.compile\(optimizer=..., loss=...\) before model.evaluate"):
        model.evaluate(*data())
    with pytest.raises(ValueError, match=r"unknown metric 'f1'"):
        model.compile("adam", "categorical_crossentropy", ["f1"])
    assert model.loss is None and model.optimizer is None  # a failed compile changes nothing
    model.compile("adam", "categorical_crossentropy", ["acc"])
    assert model.metrics == ["acc"] and model.loss.get_config() == {"name": "categorical_crossentropy",
                                                                     "from_logits": False}
    assert model.optimizer.get_config() == {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    x, y = data()
    onehot = np.eye(3)[y]
    _, accuracy = model.evaluate(x, onehot)
    assert accuracy == by_hand(model.get_weights(), x, y)["accuracy"]


# ---------------------------------------------------------------- weights, config, saving

@covers("get_weights", "set_weights")
@engines
def test_set_weights_then_get_weights(device: str | None) -> None:
    model, (x, y) = make(device), data()
    weights = [np.random.default_rng(i).standard_normal(w.shape) for i, w in enumerate(model.get_weights())]
    model.set_weights(weights)
    assert_weights(model.get_weights(), weights)
    model.get_weights()[0][...] = 0.0  # copies
    np.testing.assert_allclose(model.predict(x), by_hand(weights, x, y)["p"], **TOL)
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\) weight 'W' has shape \(3, 4\); got \(4, 3\)"):
        model.set_weights([weights[0].T, *weights[1:]])
    with pytest.raises(ValueError, match="set_weights expects 4 arrays; got 1"):
        model.set_weights(weights[:1])


@covers("get_config")
@engines
def test_get_config_is_the_save_format(device: str | None) -> None:
    assert make(device).get_config() == {
        "format": "gradbook-model", "version": 1, "dtype": "float64", "input_shape": [3],
        "layers": [
            {"class": "Dense", "config": {"units": 4, "activation": "relu", "input_shape": [3],
                                          "kernel_initializer": "glorot_uniform"}},
            {"class": "Dense", "config": {"units": 3, "activation": "softmax", "input_shape": [4],
                                          "kernel_initializer": "glorot_uniform"}}],
        "compile": {"optimizer": {"class": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.0,
                                                             "nesterov": False}},
                    "loss": {"name": "sparse_categorical_crossentropy", "from_logits": False},
                    "metrics": ["accuracy"]}}


@covers("save")
@engines
def test_saved_model_loads_on_both_engines(device: str | None, tmp_path) -> None:
    model, (x, y) = make(device), data()
    model.fit(x, y, batch_size=4, verbose=0)
    model.save(tmp_path / "model.npz")
    expected = by_hand(model.get_weights(), x, y)
    for other in ENGINES.values():
        loaded = models.load_model(tmp_path / "model.npz", device=other)
        assert loaded.get_config() == model.get_config()
        np.testing.assert_allclose(loaded.predict(x), expected["p"], **TOL)
        np.testing.assert_allclose(loaded.evaluate(x, y), [expected["loss"], expected["accuracy"]], **TOL)


@covers("summary")
@engines
def test_summary(device: str | None) -> None:
    lines: list[str] = []
    make(device).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "sequential"' in text
    assert [line.split() for line in text.splitlines() if line.startswith("dense_")] == [
        ["dense_0", "(Dense)", "(None,", "4)", "16"], ["dense_1", "(Dense)", "(None,", "3)", "15"]]
    assert "Total params: 31" in text


# ---------------------------------------------------------------- moving between engines

@covers("to", "device")
@engines
def test_to_moves_the_model_with_its_weights_and_optimizer(device: str | None) -> None:
    model, (x, y) = make(device), data()
    assert str(model.device) == "cpu"
    assert model.to("cpu") is model
    other = make(None if device else "cpu")
    model.fit(x, y, batch_size=4, verbose=0)  # optimizer state exists: it moves too
    weights = model.get_weights()
    assert model.to(other.engine) is model and model.engine == other.engine
    assert_weights(model.get_weights(), weights)
    np.testing.assert_allclose(model.predict(x), by_hand(weights, x, y)["p"], **TOL)
    _, expected = sgd_by_hand(weights, x, y, batch_size=4, epochs=1)
    np.testing.assert_allclose(model.fit(x, y, batch_size=4, shuffle=False, verbose=0).history["loss"],
                               expected["loss"], **TOL)


@covers("to_reference")
@engines
def test_to_reference_is_a_copy_on_the_numpy_engine(device: str | None) -> None:
    model, (x, y) = make(device), data()
    copy = model.to_reference()
    assert copy is not model and isinstance(copy.predict_tensor(x), np.ndarray)
    assert copy.get_config() == model.get_config()
    np.testing.assert_allclose(copy.predict(x), model.predict(x), **TOL)
    copy.set_weights([np.zeros_like(w) for w in copy.get_weights()])
    assert np.abs(model.get_weights()[0]).max() > 0  # the weights were copied, not shared


# ---------------------------------------------------------------- nothing left out

def test_every_public_member_of_sequential_is_covered_by_the_matrix() -> None:
    public = {name for name, _ in inspect.getmembers(Sequential) if not name.startswith("_")}
    for device in ENGINES.values():  # the public members of whatever class each engine's model is
        public |= {name for name, _ in inspect.getmembers(type(make(device))) if not name.startswith("_")}
    assert public - COVERED == set(), "public members of Sequential with no test on both engines"
    assert COVERED - public == set(), "tests that cover members Sequential does not have"
