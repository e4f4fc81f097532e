"""Sequential on the reference engine: training, Keras semantics, save/load, clear errors, MNIST."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from gradbook import layers, models, optimizers
from gradbook.reference.gradcheck import check_gradients
from gradbook.utils import to_categorical


def blobs(n: int = 300, k: int = 3, d: int = 4, seed: int = 0):
    """k separable Gaussian clusters in d dimensions: (x float32, integer labels)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    centres = rng.normal(scale=4.0, size=(k, d))
    return (centres[labels] + rng.standard_normal((n, d))).astype(np.float32), labels


def mlp(seed: int | None = 0, dtype: str = "float32", **compile_kwargs) -> models.Sequential:
    model = models.Sequential([layers.Dense(16, activation="relu", input_shape=(4,)),
                               layers.Dense(3, activation="softmax")], dtype=dtype, seed=seed)
    model.compile(**{"optimizer": "rmsprop", "loss": "categorical_crossentropy", "metrics": ["accuracy"],
                     **compile_kwargs})
    return model


def cnn(dtype: str = "float64", loss: str = "sparse_categorical_crossentropy") -> models.Sequential:
    model = models.Sequential([
        layers.Conv2D(3, 3, padding="same", activation="relu", input_shape=(1, 6, 6)),
        layers.MaxPool2D(2),
        layers.Conv2D(2, 2, activation="tanh"),
        layers.Flatten(),
        layers.Dense(4, activation="softmax"),
    ], dtype=dtype, seed=1)
    model.compile("adam", loss, metrics=["accuracy"])
    return model


# ---------------------------------------------------------------- gradients of whole models

@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_model_gradients_match_numerical_gradients(loss: str) -> None:
    """Covers the fused softmax + cross-entropy path and every layer's backward in a chain."""
    model = cnn(loss=loss)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 1, 6, 6))
    labels = rng.integers(0, 4, 5)
    y = labels if loss.startswith("sparse") else to_categorical(labels, 4, "float64")
    _, grads = model.loss_and_gradients(x, y)
    params = {f"layers.{i}.{k}": p for i, layer in enumerate(model.layers) for k, p in layer.params.items()}
    report = check_gradients(lambda: model.evaluate(x, y, batch_size=5)[0], params, grads)
    assert report.passed, str(report)


def test_binary_model_gradients_match_numerical_gradients() -> None:
    model = models.Sequential([layers.Dense(3, activation="tanh", input_shape=(4,)),
                               layers.Dense(2, activation="sigmoid")], dtype="float64", seed=0)
    model.compile("sgd", "binary_crossentropy")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 2, (6, 2))
    _, grads = model.loss_and_gradients(x, y)
    params = {f"layers.{i}.{k}": p for i, layer in enumerate(model.layers) for k, p in layer.params.items()}
    assert check_gradients(lambda: model.evaluate(x, y), params, grads).passed


def test_fused_and_unfused_paths_give_the_same_loss_and_gradients() -> None:
    x, labels = blobs(20)
    y = to_categorical(labels, 3, "float64")
    fused, unfused = mlp(dtype="float64"), mlp(dtype="float64")
    unfused.loss.link = None  # this loss object no longer fuses: softmax backward applied to -y/p
    value, grads = fused.loss_and_gradients(x, y)
    value2, grads2 = unfused.loss_and_gradients(x, y)
    assert value == pytest.approx(value2, rel=1e-10)
    for k in grads:
        np.testing.assert_allclose(grads[k], grads2[k], rtol=1e-7, atol=1e-12)


def test_one_epoch_of_sgd_matches_torch() -> None:
    import torch

    model = mlp(dtype="float64", optimizer=optimizers.SGD(0.1, momentum=0.9))
    x, labels = blobs(100)
    W1, b1, W2, b2 = (torch.tensor(w.copy(), requires_grad=True) for w in model.get_weights())
    opt = torch.optim.SGD([W1, b1, W2, b2], lr=0.1, momentum=0.9)
    tx = torch.tensor(x, dtype=torch.float64)
    for start in range(0, 100, 32):
        out = torch.relu(tx[start:start + 32] @ W1 + b1) @ W2 + b2
        loss = torch.nn.functional.cross_entropy(out, torch.tensor(labels[start:start + 32]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.fit(x, to_categorical(labels, 3), batch_size=32, shuffle=False, verbose=0)
    for ours, theirs in zip(model.get_weights(), (W1, b1, W2, b2)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- Keras semantics

def test_fit_learns_and_reports_a_keras_history() -> None:
    x, labels = blobs()
    model = mlp(optimizer=optimizers.RMSprop(0.01))
    history = model.fit(x[:200], to_categorical(labels[:200]), epochs=8, batch_size=32, verbose=0,
                        validation_data=(x[200:], to_categorical(labels[200:])), seed=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 8 for v in history.history.values()) and history.epoch == list(range(8))
    assert history.history["loss"][-1] < history.history["loss"][0] / 3
    assert history.history["val_accuracy"][-1] > 0.95
    loss, accuracy = model.evaluate(x[200:], to_categorical(labels[200:]))
    assert loss == pytest.approx(history.history["val_loss"][-1], rel=1e-6)
    assert accuracy == history.history["val_accuracy"][-1]


def test_evaluate_is_the_mean_loss_over_all_samples() -> None:
    x, labels = blobs(50)
    model = mlp(dtype="float64", metrics=None)
    p = model.predict(x, batch_size=7)
    by_hand = -np.mean(np.log(p[np.arange(50), labels]))
    result = model.evaluate(x, to_categorical(labels), batch_size=7)
    assert isinstance(result, float) and result == pytest.approx(by_hand, rel=1e-10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_accuracy_follows_the_loss_like_keras() -> None:
    x, labels = blobs(60)
    model = mlp(loss="sparse_categorical_crossentropy")
    _, accuracy = model.evaluate(x, labels)
    assert accuracy == pytest.approx(np.mean(model.predict(x).argmax(1) == labels))
    binary = models.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(4,))], seed=0)
    binary.compile(optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    y = (labels == 0).astype(np.float32)
    _, accuracy = binary.evaluate(x, y)
    assert accuracy == pytest.approx(np.mean((binary.predict(x)[:, 0] > 0.5) == (y > 0.5)))
    history = binary.fit(x, y, epochs=30, verbose=0, seed=0)
    assert history.history["accuracy"][-1] > 0.9


def test_training_is_deterministic_given_seeds() -> None:
    x, labels = blobs()
    y = to_categorical(labels)
    runs = [mlp(seed=3).fit(x, y, epochs=2, verbose=0, seed=4).history for _ in range(2)]
    assert runs[0] == runs[1]
    unseeded = [models.Sequential([layers.Dense(3, activation="softmax")], seed=None) for _ in range(2)]
    for m in unseeded:
        m.compile("sgd", "categorical_crossentropy")
        m.fit(x, y, verbose=0, seed=5)  # built inside fit: the fit seed draws the weights
    np.testing.assert_array_equal(unseeded[0].get_weights()[0], unseeded[1].get_weights()[0])
    other = mlp(seed=4).fit(x, y, epochs=2, verbose=0, seed=4).history
    assert other != runs[0]


def test_dtypes() -> None:
    x, labels = blobs(40)
    for dtype in ("float32", "float64"):
        model = mlp(dtype=dtype)
        model.fit(x.astype(np.float64), to_categorical(labels), verbose=0)
        assert all(w.dtype == dtype for w in model.get_weights()) and model.predict(x).dtype == dtype


def test_train_on_batch_and_weights() -> None:
    x, labels = blobs(32)
    model = mlp()
    before = model.get_weights()
    loss, accuracy = model.train_on_batch(x, to_categorical(labels))
    assert loss > 0 and 0 <= accuracy <= 1
    assert not np.array_equal(before[0], model.get_weights()[0])
    model.set_weights(before)
    np.testing.assert_array_equal(model.get_weights()[0], before[0])
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\) weight 'W' has shape \(4, 16\); got \(16, 4\)"):
        model.set_weights([before[0].T, *before[1:]])


def test_summary(capsys) -> None:
    cnn().summary()
    text = capsys.readouterr().out
    assert "conv2d_0 (Conv2D)" in text and "(None, 3, 6, 6)" in text and "(None, 2, 2, 2)" in text
    assert f"Total params: {30 + 26 + 4 * 8 + 4}" in text  # 3·1·3·3+3, 2·3·2·2+2, Dense 8->4


# ---------------------------------------------------------------- save / load

def test_save_and_load_round_trip(tmp_path) -> None:
    model = cnn(dtype="float32")
    x = np.random.default_rng(0).standard_normal((6, 1, 6, 6)).astype(np.float32)
    model.fit(x, np.arange(6) % 4, epochs=2, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as data:
        config = json.loads(str(data["__config__"]))
        assert data["layers.0.W"].shape == (3, 1, 3, 3) and data["layers.4.W"].shape == (8, 4)
        assert set(data.files) == {"__config__", *(f"layers.{i}.{p}" for i in (0, 2, 4) for p in "Wb")}
    assert config["format"] == "gradbook-model" and config["version"] == 1 and config["dtype"] == "float32"
    assert config["layers"][0] == {"class": "Conv2D", "config": {
        "filters": 3, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "activation": "relu",
        "input_shape": [1, 6, 6], "kernel_initializer": "glorot_uniform"}}
    assert [entry["class"] for entry in config["layers"]] == ["Conv2D", "MaxPool2D", "Conv2D", "Flatten", "Dense"]
    assert config["compile"] == {"optimizer": {"class": "Adam", "config": {
        "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}},
        "loss": {"name": "sparse_categorical_crossentropy", "from_logits": False}, "metrics": ["accuracy"]}
    loaded = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, np.arange(6) % 4) == model.evaluate(x, np.arange(6) % 4)


def test_load_rejects_other_files(tmp_path) -> None:
    path = tmp_path / "weights.npz"
    np.savez(path, W=np.zeros(3))
    with pytest.raises(ValueError, match="is not a gradbook model: it has no __config__ entry"):
        models.load_model(path)


# ---------------------------------------------------------------- clear errors

def test_fit_with_integer_labels_for_categorical_crossentropy_says_what_to_do() -> None:
    x, labels = blobs(50)
    with pytest.raises(ValueError, match=r"categorical_crossentropy expects one-hot labels of shape \(50, 3\); "
                                         r"got \(50,\) — use sparse_categorical_crossentropy or to_categorical"):
        mlp().fit(x, labels, verbose=0)


def test_shape_mismatches_name_the_layer() -> None:
    model = mlp()
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\) expects input of shape \(n, 4\); got \(10, 5\)"):
        model.predict(np.zeros((10, 5)))
    with pytest.raises(ValueError, match=r"layer 1 \(Conv2D\) expects NCHW images, per-sample shape "
                                         r"\(channels, height, width\); got \(8,\)"):
        models.Sequential([layers.Dense(8, input_shape=(4,)), layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="x and y have different numbers of samples: 10 and 9"):
        model.fit(np.zeros((10, 4)), np.zeros((9, 3)), verbose=0)


def test_unknown_strings_list_the_valid_ones() -> None:
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamw'; valid optimizers: sgd, rmsprop, adam"):
        model.compile("adamw", "mse")
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; valid losses: mean_squared_error, mse"):
        model.compile("sgd", "hinge")
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; valid metrics: accuracy, acc, categorical_accuracy"):
        model.compile("sgd", "mse", metrics=["f1"])
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'; valid activations: linear, log_softmax"):
        layers.Dense(2, activation="gelu")
    with pytest.raises(RuntimeError, match=r"call model.compile\(optimizer=..., loss=...\) before model.fit"):
        model.fit(np.zeros((2, 3)), np.zeros((2, 2)))


# ---------------------------------------------------------------- utils, facades, imports

def test_to_categorical_like_keras() -> None:
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    out = to_categorical(np.array([[1], [3]]), num_classes=5, dtype="int64")
    assert out.shape == (2, 5) and out.dtype == np.int64 and out[1, 3] == 1 and out.sum() == 2
    assert to_categorical(np.array([[0, 1], [1, 0]])).shape == (2, 2, 2)
    with pytest.raises(ValueError, match="label 3 does not fit num_classes=3"):
        to_categorical([3], 3)


def test_import_gradbook_and_the_engine_do_not_import_torch() -> None:
    code = ("import sys, gradbook; from gradbook import models, layers, optimizers, losses, activations, utils; "
            "import gradbook.reference.gradcheck; models.Sequential([layers.Dense(2, input_shape=(3,))]); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_keras_mnist_listing_reaches_85_percent_on_the_real_test_set(shared_mnist) -> None:
    from gradbook.datasets import mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the notice that the 5,000 offline training digits are used
        (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
    assert train_images.shape == (5000, 28, 28) and test_images.shape == (10000, 28, 28)
    train_images = train_images.reshape((5000, 28 * 28)).astype("float32") / 255
    test_images = test_images.reshape((10000, 28 * 28)).astype("float32") / 255

    # The listing from "Deep Learning with Python", unchanged but for the imports and the seeds.
    network = models.Sequential([layers.Dense(512, activation="relu", input_shape=(28 * 28,)),
                                 layers.Dense(10, activation="softmax")], seed=0)
    network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    network.fit(train_images, to_categorical(train_labels), epochs=5, batch_size=128, verbose=0, seed=0)
    test_loss, test_acc = network.evaluate(test_images, to_categorical(test_labels))
    assert test_acc >= 0.85, f"test accuracy {test_acc:.3f}"
    assert test_loss < 0.5
