"""One argument moves a model between engines: ``models.Sequential([...], device=...)``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

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
    from gradbook.reference import NUMPY, Sequential
    from gradbook.torch_path.engine import TorchEngine

    numpy_model, torch_model = build(), build(device="cpu")
    assert type(numpy_model) is type(torch_model) is Sequential  # one model, two engines
    assert numpy_model.engine == NUMPY and torch_model.engine == TorchEngine(torch.device("cpu"))
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
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: this tests the message shown without one")
    with pytest.raises(RuntimeError, match='device="cpu"'):
        build(device="cuda")


def test_both_engines_have_every_kernel() -> None:
    """The ABC makes an engine implement every method; these tables are what the methods look names up in."""
    from typing import get_args, get_type_hints

    from gradbook.reference import losses as spec_losses
    from gradbook.reference import numpy_engine
    from gradbook.reference.engine import Op
    from gradbook.torch_path import engine as torch_engine

    ops = set(get_args(get_type_hints(Op)["kind"]))
    assert numpy_engine.KERNELS.keys() == torch_engine.LAYER_FUNCTIONS.keys() == ops
    every_loss = {(cls.name, logits) for cls in spec_losses.LOSSES.values() for logits in (False, True)
                  if cls.has_logits_form or not logits}
    assert numpy_engine.LOSSES.keys() == torch_engine.LOSSES.keys() == every_loss
    assert numpy_engine.NUMPY.activations.keys() == torch_engine.TorchEngine.activations.keys()


STEPS = {  # layers, loss, labels: a fused softmax, a fused Activation layer, and no fusion at all
    "cnn-sparse": (lambda: [layers.Conv2D(2, 3, padding="same", activation="relu", input_shape=(1, 5, 5)),
                            layers.MaxPool2D(), layers.Flatten(), layers.Dense(3, activation="softmax")],
                   "sparse_categorical_crossentropy", lambda rng: rng.integers(0, 3, 6)),
    "activation-layer": (lambda: [layers.Dense(3, input_shape=(1, 5, 5)), layers.Flatten(),
                                  layers.Activation("softmax")],
                         "categorical_crossentropy", lambda rng: np.eye(15)[rng.integers(0, 15, 6)]),
    "mse-unfused": (lambda: [layers.Flatten(input_shape=(1, 5, 5)), layers.Dense(2, activation="tanh")],
                    "mse", lambda rng: rng.standard_normal((6, 2))),
}


@pytest.mark.parametrize("case", STEPS)
def test_the_two_ways_to_differentiate_a_step_agree(case: str) -> None:
    """torch differentiates `_batch_loss` by autograd; NumPy runs `_backprop`, which works on torch too."""
    make_layers, loss, make_y = STEPS[case]
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 1, 5, 5)), make_y(rng)
    results = []
    for device in (None, "cpu"):
        model = models.Sequential(make_layers(), dtype="float64", seed=1, device=device)
        model.compile("sgd", loss)
        xs, targets = model._data(x, y)
        params = model._named()
        results.append(model.engine.gradients(lambda: model._batch_loss(xs, targets, False),
                                              lambda: model._backprop(xs, targets), params))
        if device is not None:
            results.append(model._backprop(xs, targets))  # each layer's backward, by autograd layer by layer
    expected_loss, _, expected = results[0]  # the NumPy engine's hand-written backward passes
    for value, _, grads in results[1:]:
        assert torch.as_tensor(value, dtype=torch.float64).item() == pytest.approx(expected_loss, rel=1e-12)
        assert grads.keys() == expected.keys()
        for k in expected:
            np.testing.assert_allclose(grads[k].detach().numpy(), expected[k], rtol=1e-9, atol=1e-12)
