"""One argument moves a model between engines: ``models.Sequential([...], device=...)``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gradbook import layers, models


def build(**kwargs):
    return models.Sequential(
        [layers.Dense(16, activation="relu", input_shape=(6,)), layers.Dense(3, activation="softmax")],
        seed=3, **kwargs,
    )


def data(n: int = 64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=n)]
    return x, y


def test_device_argument_gives_the_same_model_on_torch() -> None:
    from gradbook.torch_path import models as torch_models

    numpy_model, torch_model = build(), build(device="cpu")
    assert isinstance(numpy_model, models.Sequential)
    assert isinstance(torch_model, torch_models.Sequential)
    x, y = data()
    np.testing.assert_allclose(torch_model.predict(x), numpy_model.predict(x), rtol=1e-5, atol=1e-6)
    for model in (numpy_model, torch_model):
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    h_numpy = numpy_model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    h_torch = torch_model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_torch["loss"], h_numpy["loss"], rtol=1e-4)


def test_saved_model_loads_on_either_engine(tmp_path) -> None:
    x, _ = data(8)
    model = build()
    path = tmp_path / "model.npz"
    model.save(path)
    on_torch = models.load_model(path, device="cpu")
    np.testing.assert_allclose(on_torch.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(models.load_model(path).predict(x), model.predict(x))


def test_numpy_engine_does_not_import_torch() -> None:
    code = (
        "import sys; from gradbook import models, layers;"
        "models.Sequential([layers.Dense(2, input_shape=(3,))]);"
        "print('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_cuda_without_a_gpu_says_so() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: this tests the message shown without one")
    with pytest.raises(RuntimeError, match='device="cpu"'):
        build(device="cuda")
