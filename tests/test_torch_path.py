"""The torch path's layers, losses and optimisers agree with the NumPy reference engine.

Every comparison runs both engines on the same weights and inputs; the
reference is the independent source. float64 checks the mathematics tightly,
float32 checks what students actually run. Each test is parametrized over the
devices: "cuda" skips cleanly on a machine without a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gradbook.reference import layers as ref_layers
from gradbook.reference import losses as ref_losses
from gradbook.reference import optimizers as ref_optimizers
from gradbook.torch_path import layers, losses, optimizers

CUDA = pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU")])
DEVICES = ["cpu", CUDA]
DTYPES = ["float64", "float32"]


def tolerance(dtype: str, device: str) -> dict[str, float]:
    if dtype == "float64":
        return {"rtol": 1e-9, "atol": 1e-12}
    if device == "cuda":  # cuDNN convolutions run in TF32 by default (a 10-bit mantissa)
        return {"rtol": 3e-3, "atol": 3e-4}
    return {"rtol": 1e-4, "atol": 1e-5}


def assert_close(actual: torch.Tensor | np.ndarray, expected: np.ndarray, dtype: str, device: str) -> None:
    if isinstance(actual, torch.Tensor):
        assert actual.device.type == device, f"result on {actual.device}, expected {device}"
        actual = actual.detach().cpu().numpy()
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, **tolerance(dtype, device))


def twin(ref_layer: ref_layers.Layer, input_shape: tuple[int, ...], dtype: str, device: str):
    """A built reference layer (random weights, nonzero biases) and its torch-path copy."""
    ref_layer.build(input_shape, np.random.default_rng(7), dtype)
    rng = np.random.default_rng(8)
    for p in ref_layer.params.values():
        p[...] = rng.standard_normal(p.shape)  # nonzero biases too, so a dropped bias would show
    return ref_layer, layers.from_reference(ref_layer, device=device)


LAYER_CASES = {
    "dense-linear": (lambda: ref_layers.Dense(5), (7,)),
    "dense-relu": (lambda: ref_layers.Dense(5, activation="relu"), (7,)),
    "dense-sigmoid": (lambda: ref_layers.Dense(5, activation="sigmoid"), (7,)),
    "dense-tanh": (lambda: ref_layers.Dense(5, activation="tanh"), (7,)),
    "dense-softmax": (lambda: ref_layers.Dense(5, activation="softmax"), (7,)),
    "dense-3d-input": (lambda: ref_layers.Dense(4, activation="relu"), (3, 6)),
    "conv-valid": (lambda: ref_layers.Conv2D(4, 3, activation="relu"), (2, 9, 8)),
    "conv-same": (lambda: ref_layers.Conv2D(3, 3, padding="same"), (2, 7, 7)),
    "conv-same-even-kernel-stride": (lambda: ref_layers.Conv2D(3, (2, 4), strides=2, padding="same"), (2, 7, 9)),
    "conv-int-padding-stride": (lambda: ref_layers.Conv2D(2, (3, 2), strides=(2, 1), padding=1), (3, 8, 6)),
    "maxpool-2": (lambda: ref_layers.MaxPool2D(), (3, 8, 8)),
    "maxpool-3-stride-2-overlapping": (lambda: ref_layers.MaxPool2D(3, strides=2), (2, 9, 7)),
    "flatten": (lambda: ref_layers.Flatten(), (3, 4, 5)),
    **{f"activation-{name}": (lambda name=name: ref_layers.Activation(name), (6,))
       for name in ("relu", "sigmoid", "tanh", "linear", "softmax", "log_softmax")},
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", LAYER_CASES)
def test_layer_forward_backward_agree_with_reference(case: str, dtype: str, device: str) -> None:
    make, input_shape = LAYER_CASES[case]
    ref, layer = twin(make(), input_shape, dtype, device)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, *input_shape)).astype(dtype)
    if case.startswith("maxpool"):
        x[:, :, :4, :4] = 0.0  # a flat patch, as MNIST's background: ties must go to ONE arg-max
    expected = ref.forward(x)
    out = layer.forward(x)
    assert out.dtype == getattr(torch, dtype)
    assert_close(out, expected, dtype, device)

    dout = rng.standard_normal(expected.shape).astype(dtype)
    expected_dx = ref.backward(dout)
    assert_close(layer.backward(dout), expected_dx, dtype, device)
    assert layer.grads.keys() == ref.grads.keys()
    for name in ref.grads:
        assert_close(layer.grads[name], ref.grads[name], dtype, device)

    assert layer.backward(dout, input_grad=False) is None
    dz = rng.standard_normal(expected.shape).astype(dtype)  # every layer is activation(op(x)); below it:
    assert_close(layer.backward_preactivation(dz), ref.backward_preactivation(dz), dtype, device)
    for name in ref.grads:
        assert_close(layer.grads[name], ref.grads[name], dtype, device)


@pytest.mark.parametrize("case", LAYER_CASES)
def test_layers_run_on_another_device_without_touching_the_cpu(case: str) -> None:
    """PyTorch's "meta" device stands in for a GPU: it mixes with CPU tensors no more than CUDA does."""
    make, input_shape = LAYER_CASES[case]
    ref = make()
    ref.build(input_shape, np.random.default_rng(7), "float32")
    layer = layers.from_reference(ref, device="meta")
    out = layer.forward(np.zeros((5, *input_shape), dtype=np.float32))
    dx = layer.backward(np.ones(out.shape, dtype=np.float32))
    assert out.device.type == dx.device.type == "meta"
    assert tuple(out.shape) == ref.forward(np.zeros((5, *input_shape), dtype=np.float32)).shape
    assert all(g.device.type == "meta" for g in layer.grads.values())
    assert layer.backward_preactivation(np.ones(out.shape, dtype=np.float32)).device.type == "meta"


def test_maxpool_ties_route_to_first_max_only() -> None:
    """On an all-zero window the whole gradient goes to its first cell (the mask x == max would copy it 4x)."""
    pool = layers.MaxPool2D(device="cpu")
    pool.forward(np.zeros((1, 1, 2, 2)))
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dx.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_layers_keep_the_reference_config_and_checks() -> None:
    conv = layers.Conv2D(8, 3, padding="same", activation="relu", device="cpu")
    assert conv.get_config() == ref_layers.Conv2D(8, 3, padding="same", activation="relu").get_config()
    assert isinstance(conv, ref_layers.Conv2D)
    with pytest.raises(ValueError, match="positive int"):
        layers.Dense(0, device="cpu")
    dense = layers.Dense(3, input_shape=(4,), device="cpu")
    dense.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"expects input of shape \(n, 4\)"):
        dense.forward(np.ones((2, 5)))


def test_same_rng_gives_the_same_initial_weights_as_the_reference() -> None:
    ref = ref_layers.Conv2D(6, 3)
    ref.build((2, 8, 8), np.random.default_rng(3), "float32")
    layer = layers.Conv2D(6, 3, device="cpu")
    layer.build((2, 8, 8), np.random.default_rng(3), "float32")
    for name in ref.params:
        np.testing.assert_array_equal(layer.params[name].detach().numpy(), ref.params[name])
    assert np.ptp(ref.params["W"]) > 0  # glorot draws, not zeros


# ---------------------------------------------------------------- losses

def _loss_cases(rng: np.random.Generator):
    n, k = 6, 4
    logits = rng.standard_normal((n, k)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    probs[0] = [1.0, 0.0, 0.0, 0.0]  # clipped at both ends: no gradient flows through the clip
    labels = rng.integers(0, k, n)
    labels[0] = 1
    onehot = np.eye(k)[labels]
    bin_p = 1 / (1 + np.exp(-logits))
    bin_p[0, :2] = [0.0, 1.0]
    bin_y = rng.integers(0, 2, (n, k)).astype(float)
    return {
        "mse": ("mse", {}, rng.standard_normal((n, k)), rng.standard_normal((n, k))),
        "binary": ("binary_crossentropy", {}, bin_y, bin_p),
        "binary-logits": ("binary_crossentropy", {"from_logits": True}, bin_y, np.r_[logits[:-1], np.zeros((1, k))]),
        "binary-(n,)-targets": ("binary_crossentropy", {}, bin_y[:, 0], bin_p[:, :1]),
        "categorical": ("categorical_crossentropy", {}, onehot, probs),
        "categorical-logits": ("categorical_crossentropy", {"from_logits": True}, onehot, logits),
        "sparse": ("sparse_categorical_crossentropy", {}, labels, probs),
        "sparse-logits": ("sparse_categorical_crossentropy", {"from_logits": True}, labels, logits),
        # (n, d, k) predictions, as from Dense on (n, d, features): the classes are the last axis
        "sparse-per-position": ("sparse_categorical_crossentropy", {}, labels.reshape(3, 2), probs.reshape(3, 2, k)),
        "sparse-logits-per-position": ("sparse_categorical_crossentropy", {"from_logits": True},
                                       labels.reshape(3, 2), logits.reshape(3, 2, k)),
        "sparse-(n,1)-labels": ("sparse_categorical_crossentropy", {}, labels[:, None], probs),
        "categorical-logits-per-position": ("categorical_crossentropy", {"from_logits": True},
                                            onehot.reshape(3, 2, k), logits.reshape(3, 2, k)),
    }


LOSS_CASES = list(_loss_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", LOSS_CASES)
def test_loss_value_and_gradient_agree_with_reference(case: str, dtype: str, device: str) -> None:
    name, kwargs, y_true, y_pred = _loss_cases(np.random.default_rng(0))[case]
    y_pred = y_pred.astype(dtype)
    ref = ref_losses.LOSSES[name](**kwargs)
    loss = losses.LOSSES[name](**kwargs, device=device)
    expected_value, expected_grad = ref.value_and_gradient(y_true, y_pred)
    value, grad = loss.value_and_gradient(y_true, torch.as_tensor(y_pred, device=device))
    assert value == pytest.approx(expected_value, rel=tolerance(dtype, device)["rtol"])
    assert_close(grad, expected_grad, dtype, device)
    assert loss(y_true, y_pred) == pytest.approx(expected_value, rel=tolerance(dtype, device)["rtol"])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_fused_loss_from_logits_agrees_with_reference(name: str, device: str) -> None:
    rng = np.random.default_rng(2)
    z = rng.standard_normal((5, 3)) * 50  # saturated: the unfused softmax would clip
    y = rng.integers(0, 3, 5) if name.startswith("sparse") else np.eye(3)[rng.integers(0, 3, 5)]
    if name == "binary_crossentropy":
        y = rng.integers(0, 2, (5, 3))
    expected_value, expected_grad = ref_losses.LOSSES[name]().value_and_gradient_from_logits(y, z)
    value, grad = losses.LOSSES[name](device=device).value_and_gradient_from_logits(
        y, torch.as_tensor(z, device=device))
    assert value == pytest.approx(expected_value, rel=1e-12)
    assert_close(grad, expected_grad, "float64", device)


def test_loss_target_errors_are_the_reference_ones() -> None:
    with pytest.raises(ValueError, match="one-hot labels of shape"):
        losses.CategoricalCrossentropy()(np.array([0, 1]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"integer labels in \[0, 3\)"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 5]), np.full((2, 3), 1 / 3))


# ---------------------------------------------------------------- optimisers

OPTIMIZER_CASES = {
    "sgd": lambda m: m.SGD(),
    "sgd-momentum": lambda m: m.SGD(learning_rate=0.05, momentum=0.9),
    "sgd-nesterov": lambda m: m.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda m: m.RMSprop(),
    "rmsprop-momentum": lambda m: m.RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5),
    "adam": lambda m: m.Adam(),
    "adam-custom": lambda m: m.Adam(learning_rate=0.02, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", OPTIMIZER_CASES)
def test_optimizer_steps_agree_with_reference(case: str, dtype: str, device: str) -> None:
    rng = np.random.default_rng(4)
    shapes = {"layers.0.W": (4, 3), "layers.0.b": (3,), "layers.1.W": (2, 3, 2, 2), "layers.1.b": (2,)}
    ref_params = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    params = {k: torch.tensor(v, device=device) for k, v in ref_params.items()}
    ref_opt, opt = OPTIMIZER_CASES[case](ref_optimizers), OPTIMIZER_CASES[case](optimizers)
    assert opt.get_config() == ref_opt.get_config()
    for step in range(4):  # several steps: momentum, velocities and Adam's bias correction all come in
        # Shrinking gradients, and one parameter whose gradients stay far below epsilon:
        # where sqrt(v) ~ epsilon, epsilon's placement decides the step.
        scales = {k: 10.0 ** -step for k in shapes} | {"layers.1.b": 1e-8}
        grads = {k: (rng.standard_normal(s) * scales[k]).astype(dtype) for k, s in shapes.items()}
        ref_opt.step(ref_params, grads)
        opt.step(params, {k: torch.tensor(g, device=device) for k, g in grads.items()})
        for k in shapes:
            assert_close(params[k], ref_params[k], dtype, device)
    assert opt.iterations == ref_opt.iterations == 4


def test_torch_optim_adam_would_not_agree() -> None:
    """Why the update rules are written out: torch.optim.Adam places epsilon differently from Keras."""
    rng = np.random.default_rng(5)
    w0, grads = rng.standard_normal(5), [rng.standard_normal(5) * 1e-6 for _ in range(3)]
    ref_w, ours = {"w": w0.copy()}, {"w": torch.tensor(w0)}
    ref_opt, opt = ref_optimizers.Adam(epsilon=1e-6), optimizers.Adam(epsilon=1e-6)
    torch_w = torch.tensor(w0, requires_grad=True)
    torch_opt = torch.optim.Adam([torch_w], lr=1e-3, betas=(0.9, 0.999), eps=1e-6)
    for g in grads:
        ref_opt.step(ref_w, {"w": g})
        opt.step(ours, {"w": torch.tensor(g)})
        torch_w.grad = torch.tensor(g)
        torch_opt.step()
    np.testing.assert_allclose(ours["w"].numpy(), ref_w["w"], rtol=1e-12)
    assert np.abs(torch_w.detach().numpy() - ref_w["w"]).max() > 1e-5


def test_a_reference_optimizer_moves_to_the_torch_engine_with_its_settings_and_state() -> None:
    rng = np.random.default_rng(6)
    w0, grads = rng.standard_normal(5), [rng.standard_normal(5) for _ in range(3)]
    moved, stays = ref_optimizers.RMSprop(0.05, rho=0.8, momentum=0.5), ref_optimizers.RMSprop(0.05, rho=0.8, momentum=0.5)
    ref_w, ours = {"w": w0.copy()}, {"w": w0.copy()}
    moved.step(ours, {"w": grads[0]})  # state (velocity, momentum) on NumPy
    stays.step(ref_w, {"w": grads[0]})
    opt = optimizers.get(moved, device="cpu")
    assert opt is moved and isinstance(opt.state["w"]["velocity"], torch.Tensor)
    assert opt.get_config() == stays.get_config() and opt.iterations == 1
    ours = {"w": torch.tensor(ours["w"])}
    for g in grads[1:]:  # the next steps continue from the moved state
        opt.step(ours, {"w": torch.tensor(g)})
        stays.step(ref_w, {"w": g})
    np.testing.assert_allclose(ours["w"].numpy(), ref_w["w"], rtol=1e-12)
    assert optimizers.get("Adam").get_config() == ref_optimizers.get("adam").get_config()
