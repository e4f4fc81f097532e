"""The torch path's Sequential trains, evaluates, predicts and saves like the NumPy reference.

Both engines start from the same initial weights (the same seed draws the same
weights on both) and see the same batches (``shuffle=False``); the reference's
history and final weights are the independent source.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from gradbook.reference import layers as R
from gradbook.reference import model as ref_model
from gradbook.reference import optimizers as ref_optimizers
from gradbook.torch_path import devices, layers as T, models

ROOT = Path(__file__).resolve().parents[1]

CUDA = pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU")])
DEVICES = ["cpu", CUDA]
DTYPES = ["float64", "float32"]
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised on a machine without a GPU")


def rtol(dtype: str, device: str) -> float:
    if dtype == "float64":
        return 1e-9
    return 1e-2 if device == "cuda" else 1e-4  # cuDNN's default TF32 convolutions round more


def data(kind: str, n: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "images":
        x = rng.random((n, 1, 10, 10))
        x[:, :, :3] = 0.0  # a flat background, as in MNIST: max-pool ties
        return x, rng.integers(0, 4, n)
    x = rng.standard_normal((n, 6))
    if kind == "binary":
        return x, (x[:, :1] + x[:, 1:2] > 0).astype(float)
    if kind == "regression":
        return x, x[:, :2] * 0.5 - x[:, 2:4]
    if kind == "sequences":  # a label per position: (n, 4 positions, 6 features) -> (n, 4) labels
        x = rng.standard_normal((n, 4, 6))
        return x, (x[..., 0] > 0).astype(np.int64) + (x[..., 1] > 0.5)
    return x, np.eye(3)[rng.integers(0, 3, n)]  # one-hot


# name -> (layers built from a layers module, data kind, optimizer, loss, metrics)
MODELS = {
    "mlp-rmsprop-categorical": (
        lambda L: [L.Dense(8, activation="relu", input_shape=(6,)), L.Dense(3, activation="softmax")],
        "onehot", lambda O: O.RMSprop(), "categorical_crossentropy", ["accuracy"]),
    "cnn-adam-sparse": (
        lambda L: [L.Conv2D(3, 3, activation="relu", input_shape=(1, 10, 10)), L.MaxPool2D(),
                   L.Conv2D(4, 2, padding="same", activation="relu"), L.MaxPool2D(), L.Flatten(),
                   L.Dense(4, activation="softmax")],
        "images", lambda O: O.Adam(learning_rate=0.01), "sparse_categorical_crossentropy", ["accuracy"]),
    "mlp-sgd-momentum-binary": (
        lambda L: [L.Dense(5, activation="tanh", input_shape=(6,)), L.Dense(1, activation="sigmoid")],
        "binary", lambda O: O.SGD(learning_rate=0.1, momentum=0.9), "binary_crossentropy", ["accuracy"]),
    "mlp-nesterov-mse": (
        lambda L: [L.Dense(7, activation="sigmoid", input_shape=(6,)), L.Dense(2)],
        "regression", lambda O: O.SGD(learning_rate=0.05, momentum=0.5, nesterov=True), "mse", []),
    "per-position-sparse-labels": (
        lambda L: [L.Dense(8, activation="tanh", input_shape=(4, 6)), L.Dense(3, activation="softmax")],
        "sequences", lambda O: O.Adam(learning_rate=0.02), "sparse_categorical_crossentropy", ["accuracy"]),
    "activation-layer-logits-loss": (
        lambda L: [L.Dense(3, input_shape=(6,)), L.Activation("softmax")],
        "onehot", lambda O: O.RMSprop(learning_rate=0.01, momentum=0.5), "categorical_crossentropy",
        ["categorical_accuracy"]),
}


def pair(name: str, dtype: str, device: str) -> tuple[ref_model.Sequential, models.Sequential]:
    make_layers, _, make_opt, loss, metrics = MODELS[name]
    ref = ref_model.Sequential(make_layers(R), dtype=dtype, seed=3)
    ours = models.Sequential(make_layers(T), dtype=dtype, seed=3, device=device)
    ref.compile(make_opt(ref_optimizers), loss, metrics)
    ours.compile(make_opt(ref_optimizers), loss, metrics)  # a reference optimiser instance is accepted too
    return ref, ours


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", MODELS)
def test_fit_evaluate_predict_agree_with_reference(name: str, dtype: str, device: str) -> None:
    ref, ours = pair(name, dtype, device)
    for a, b in zip(ref.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(b, a)  # the same seed gave the same initial weights
    x, y = data(MODELS[name][1])
    val = data(MODELS[name][1], n=30, seed=1)
    expected = ref.fit(x, y, epochs=3, batch_size=16, shuffle=False, validation_data=val, verbose=0)
    got = ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, validation_data=val, verbose=0)

    assert got.history.keys() == expected.history.keys()
    assert got.epoch == expected.epoch and got.params == expected.params
    for key, values in expected.history.items():
        if "acc" in key:  # a float32 near-tie may flip one prediction
            np.testing.assert_allclose(got.history[key], values, atol=0 if dtype == "float64" else 0.035)
        else:
            np.testing.assert_allclose(got.history[key], values, rtol=rtol(dtype, device))
    assert expected.history["loss"][-1] != expected.history["loss"][0]  # it did train
    for a, b in zip(ref.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(b, a, rtol=rtol(dtype, device) * 10, atol=rtol(dtype, device))
    np.testing.assert_allclose(ours.evaluate(*val), ref.evaluate(*val), rtol=rtol(dtype, device))
    prediction = ours.predict(val[0], batch_size=7)
    assert isinstance(prediction, np.ndarray) and prediction.dtype == np.dtype(dtype)
    np.testing.assert_allclose(prediction, ref.predict(val[0]), rtol=rtol(dtype, device) * 10,
                               atol=rtol(dtype, device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cnn_on_real_mnist_agrees_with_reference(shared_mnist, dtype: str, device: str) -> None:
    from gradbook.datasets.idx import read_idx

    images = read_idx(shared_mnist / "t10k-images-idx3-ubyte.gz")[:192, None] / 255.0
    labels = read_idx(shared_mnist / "t10k-labels-idx1-ubyte.gz")[:192]
    make = lambda L: [L.Conv2D(4, 3, activation="relu", input_shape=(1, 28, 28)), L.MaxPool2D(),  # noqa: E731
                      L.Conv2D(8, 3, activation="relu"), L.MaxPool2D(), L.Flatten(), L.Dense(10, activation="softmax")]
    ref = ref_model.Sequential(make(R), dtype=dtype, seed=0)
    ours = models.Sequential(make(T), dtype=dtype, seed=0, device=device)
    for model in (ref, ours):
        model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    expected = ref.fit(images, labels, epochs=2, batch_size=64, shuffle=False, verbose=0)
    got = ours.fit(images, labels, epochs=2, batch_size=64, shuffle=False, verbose=0)
    np.testing.assert_allclose(got.history["loss"], expected.history["loss"], rtol=rtol(dtype, device))
    np.testing.assert_allclose(got.history["accuracy"], expected.history["accuracy"], atol=2 / 192)


@pytest.mark.parametrize("device", DEVICES)
def test_shuffled_fit_is_reproducible_from_its_seed(device: str) -> None:
    x, y = data("onehot", n=200)

    def run(seed: int) -> list[float]:
        model = models.Sequential([T.Dense(8, activation="relu", input_shape=(6,)), T.Dense(3, activation="softmax")],
                                  seed=0, device=device)
        model.compile("adam", "categorical_crossentropy")
        return model.fit(x, y, epochs=3, batch_size=32, seed=seed, verbose=0).history["loss"]

    first = run(5)
    assert run(5) == first
    assert run(6) != first  # a different order of batches
    assert first[-1] < first[0]


def test_progress_bar_shows_epochs_and_the_loss(capsys: pytest.CaptureFixture[str]) -> None:
    model = models.Sequential([T.Dense(3, activation="softmax", input_shape=(6,))], seed=0, device="cpu")
    model.compile("sgd", "categorical_crossentropy", ["accuracy"])
    model.fit(*data("onehot", n=40), epochs=2, batch_size=8, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "5/5" in err
    assert "loss=" in err and "accuracy=" in err


# ---------------------------------------------------------------- no host sync in the step loop

SYNCING = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")


def _host_reads_during_fit(monkeypatch: pytest.MonkeyPatch, n: int) -> int:
    """How many times fit reads a tensor's value on the host (each would stall a GPU)."""
    model = models.Sequential([T.Conv2D(2, 3, activation="relu", input_shape=(1, 10, 10)), T.MaxPool2D(),
                               T.Flatten(), T.Dense(4, activation="softmax")], seed=0, device="cpu")
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    x, y = data("images", n=n)
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    x, y = model._prepare_input(x), y  # build before counting
    calls = {"count": 0}
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, __original=original, **kwargs):
            calls["count"] += 1
            return __original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counted)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    monkeypatch.undo()
    return calls["count"]


def test_fit_reads_the_device_once_per_epoch_not_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    few, many = _host_reads_during_fit(monkeypatch, 8), _host_reads_during_fit(monkeypatch, 80)
    assert few == many, f"host reads grow with the number of steps: {few} for 2 steps/epoch, {many} for 20"
    assert few > 0  # the per-epoch read is seen, so the counting works


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_does_not_synchronise_the_gpu_per_step() -> None:
    def syncs(n: int) -> int:
        model = models.Sequential([T.Dense(8, activation="relu", input_shape=(6,)), T.Dense(3, activation="softmax")],
                                  seed=0, device="cuda")
        model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
        x, y = data("onehot", n=n)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                model.fit(x, y, epochs=2, batch_size=4, verbose=0)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    syncs(8)  # the first fit on the device also syncs once while CUDA, cuBLAS and the allocator start
    assert syncs(8) == syncs(80)


# ---------------------------------------------------------------- a device that is not the CPU, without a GPU

# PyTorch's "meta" device keeps shapes and no values. Its tensors mix with CPU tensors no more than
# CUDA tensors do, and reading one back raises. So a training epoch that completes on it kept every
# tensor on the model's device and read nothing back: the step loop never waits for the device.

@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "in-order"])
@pytest.mark.parametrize("name", MODELS)
def test_an_epoch_on_another_device_stays_there_and_reads_nothing_back(name: str, shuffle: bool) -> None:
    make_layers, kind, make_opt, loss, metrics = MODELS[name]
    model = models.Sequential(make_layers(T), seed=3, device="meta")
    model.compile(make_opt(ref_optimizers), loss, metrics)
    x, targets = model._data(*data(kind, n=40))
    params = model._named()
    totals = torch.zeros(1 + len(metrics), dtype=torch.float64, device="meta")
    order = torch.randperm(len(x), device="meta") if shuffle else None
    model._train_epoch(params, x, targets, 16, order, totals)

    assert model.optimizer.iterations == 3  # 40 samples in batches of 16
    state = [t for slots in model.optimizer.state.values() for t in slots.values()]
    assert {t.device.type for t in [*params.values(), *state, totals, model.predict_tensor(x[:5])]} == {"meta"}
    with pytest.raises((NotImplementedError, RuntimeError)):
        totals.tolist()  # the device really cannot be read: the epoch above read nothing back


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_torch_path", ROOT / "bench" / "bench_torch_path.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_a_step_launches_no_more_kernels_than_a_hand_written_pytorch_loop(kind: str) -> None:
    """At small batches a GPU step is launch-bound: its time is the kernels it launches. Counted, not timed."""
    counts = _bench_module().kernels_per_step(kind, steps=4)
    assert counts["hand"] > 20  # forward, backward and the optimiser were all seen
    assert counts["ours"] <= counts["hand"], counts


@pytest.mark.slow
def test_the_benchmark_prints_every_figure_it_promises(capsys: pytest.CaptureFixture[str]) -> None:
    """A smoke run of the script a GPU session will run: every row is there, every figure a number."""
    _bench_module().main(["--device", "cpu", "--quick", "--batch-sizes", "1024", "--repeats", "1",
                          "--numpy-images", "256"])
    out = capsys.readouterr().out
    epoch_rows = re.findall(r"^(mlp|cnn) +1024 \| +([\d.]+)s +([\d.]+)s +([\d.]+)x \| +([\d.]+)s +([\d.]+)x$", out, re.M)
    step_rows = re.findall(r"^(mlp|cnn) +\| +([\d.]+) +([\d.]+) +([\d.]+)x \| +(\d+)us +(\d+)us +([\d.]+)x$", out, re.M)
    assert [row[0] for row in epoch_rows] == ["mlp", "cnn"], out
    assert [row[0] for row in step_rows] == ["mlp", "cnn"], out
    assert all(float(v) > 0 for row in epoch_rows + step_rows for v in row[1:]), out


# ---------------------------------------------------------------- save / load / convert

@pytest.mark.parametrize("device", DEVICES)
def test_saved_on_torch_path_loads_on_reference(tmp_path, device: str) -> None:
    _, ours = pair("cnn-adam-sparse", "float32", device)
    x, y = data("images", n=40)
    ours.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "model.npz"
    ours.save(path)
    with np.load(path, allow_pickle=False) as saved:
        config = json.loads(str(saved["__config__"]))
        assert config["format"] == "gradbook-model" and config["version"] == 1 and config["dtype"] == "float32"
        assert [entry["class"] for entry in config["layers"]] == \
            ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense"]
        assert saved["layers.0.W"].shape == (3, 1, 3, 3) and saved["layers.5.W"].shape == (16, 4)
    loaded = ref_model.load_model(path)
    for a, b in zip(loaded.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.optimizer.get_config() == ours.optimizer.get_config() and loaded.metrics == ["accuracy"]
    np.testing.assert_allclose(loaded.predict(x), ours.predict(x), rtol=rtol("float32", device) / 10, atol=1e-6)
    np.testing.assert_allclose(loaded.evaluate(x, y), ours.evaluate(x, y), rtol=rtol("float32", device) / 10)


@pytest.mark.parametrize("device", DEVICES)
def test_saved_on_reference_loads_on_torch_path(tmp_path, device: str) -> None:
    ref, _ = pair("mlp-rmsprop-categorical", "float64", "cpu")
    x, y = data("onehot")
    ref.fit(x, y, epochs=1, batch_size=10, verbose=0)
    ref.save(tmp_path / "model.npz")
    loaded = models.load_model(tmp_path / "model.npz", device=device)
    assert isinstance(loaded, ref_model.Sequential) and loaded.device.type == device
    assert loaded.dtype == np.float64 and loaded.get_config() == ref.get_config()
    assert all(p.device.type == device for layer in loaded.layers for p in layer.params.values())
    np.testing.assert_allclose(loaded.predict(x), ref.predict(x), rtol=1e-12)
    np.testing.assert_allclose(loaded.evaluate(x, y), ref.evaluate(x, y), rtol=1e-12)
    # Training continues from the loaded weights the same way on both engines (fresh optimiser state on both).
    again = ref_model.load_model(tmp_path / "model.npz")
    np.testing.assert_allclose(loaded.fit(x, y, batch_size=10, shuffle=False, verbose=0).history["loss"],
                               again.fit(x, y, batch_size=10, shuffle=False, verbose=0).history["loss"], rtol=1e-9)


def test_to_reference_and_back_keeps_layers_weights_and_compile_settings() -> None:
    _, ours = pair("mlp-sgd-momentum-binary", "float64", "cpu")
    ref = ours.to_reference()
    assert type(ref) is ref_model.Sequential and ref.get_config() == ours.get_config()
    back = models.from_reference(ref, device="cpu")
    assert back.get_config() == ours.get_config()
    for a, b, c in zip(ours.get_weights(), ref.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    ref.layers[0].params["b"][0] = 42.0  # copies, not shared memory
    assert ours.get_weights()[1][0] != 42.0


def test_set_weights_updates_in_place_and_checks_shapes() -> None:
    model = models.Sequential([T.Dense(2, input_shape=(3,))], device="cpu")
    W = model.layers[0].params["W"]
    model.set_weights([np.ones((3, 2)), np.arange(2.0)])
    assert model.layers[0].params["W"] is W
    np.testing.assert_array_equal(model.predict(np.ones((1, 3))), [[3.0, 4.0]])
    with pytest.raises(ValueError, match="has shape"):
        model.set_weights([np.ones((2, 3)), np.zeros(2)])


def test_a_built_numpy_layer_moves_onto_the_model_with_its_weights() -> None:
    layer = R.Dense(3, activation="tanh", input_shape=(2,))
    layer.build((2,), np.random.default_rng(0), "float32")
    weights = [p.copy() for p in layer.params.values()]
    model = models.Sequential([layer], device="cpu")
    assert model.layers[0] is layer and all(isinstance(p, torch.Tensor) for p in layer.params.values())
    x = np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), np.tanh(x @ weights[0] + weights[1]), rtol=1e-6)


# ---------------------------------------------------------------- devices and imports

def test_auto_device_is_cuda_exactly_when_a_gpu_is_present() -> None:
    assert devices.resolve("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert devices.resolve("cpu") == torch.device("cpu")


@NO_GPU
@pytest.mark.parametrize("make", [
    lambda: models.Sequential([T.Dense(2, input_shape=(3,), device="cpu")], device="cuda"),
    lambda: T.Dense(2, device="cuda"),
    lambda: models.Sequential(device="cuda:0"),
], ids=["model", "layer", "cuda:0"])
def test_cuda_without_a_gpu_says_so_and_offers_cpu(make) -> None:
    with pytest.raises(RuntimeError, match=r"no CUDA GPU.*device=\"cpu\""):
        make()


@NO_GPU
def test_load_model_onto_cuda_without_a_gpu_says_so(tmp_path) -> None:
    models.Sequential([T.Dense(2, input_shape=(3,))], device="cpu").save(tmp_path / "m.npz")
    with pytest.raises(RuntimeError, match=r"no CUDA GPU.*device=\"cpu\""):
        models.load_model(tmp_path / "m.npz", device="cuda")


def test_importing_gradbook_and_the_torch_path_does_not_import_torch() -> None:
    code = (
        "import sys, gradbook, gradbook.torch_path\n"
        "assert 'torch' not in sys.modules, 'importing gradbook.torch_path imported torch'\n"
        "from gradbook.torch_path import models, layers\n"
        "assert 'torch' in sys.modules\n"  # and using it does load torch: the check above can fail
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
