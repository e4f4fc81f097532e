"""Layers of the reference engine: backward against finite differences, forward/backward against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbook.reference.gradcheck import check_layer
from gradbook.reference.layers import Activation, Conv2D, Dense, Flatten, MaxPool2D, same_padding

FEW = settings(max_examples=25, deadline=None)
ACTIVATIONS = ["relu", "sigmoid", "tanh", "linear", "softmax"]


def built(layer, input_shape, seed=0, dtype="float64"):
    layer.build(input_shape, np.random.default_rng(seed), dtype)
    for p in layer.params.values():  # non-zero biases, so a bias bug cannot hide
        p += np.random.default_rng(seed + 1).normal(scale=0.1, size=p.shape)
    return layer


# ---------------------------------------------------------------- numerical gradients

@FEW
@given(seed=st.integers(0, 2**31), n=st.integers(1, 4), d_in=st.integers(1, 6), units=st.integers(1, 5),
       activation=st.sampled_from(ACTIVATIONS))
def test_dense_backward_matches_numerical_gradient(seed, n, d_in, units, activation) -> None:
    layer = built(Dense(units, activation=activation), (d_in,), seed)
    x = np.random.default_rng(seed).standard_normal((n, d_in))
    report = check_layer(layer, x, seed=seed, tolerance=1e-6)
    assert report.passed, str(report)


@FEW
@given(seed=st.integers(0, 2**31), n=st.integers(1, 2), c=st.integers(1, 3), f=st.integers(1, 3),
       h=st.integers(3, 7), w=st.integers(3, 7), k=st.integers(1, 3), s=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same", 0, 1, 2]), activation=st.sampled_from(["linear", "tanh"]))
def test_conv2d_backward_matches_numerical_gradient(seed, n, c, f, h, w, k, s, padding, activation) -> None:
    layer = built(Conv2D(f, (k, min(k + 1, 3)), strides=s, padding=padding, activation=activation), (c, h, w), seed)
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    report = check_layer(layer, x, seed=seed)
    assert report.passed, str(report)


@FEW
@given(seed=st.integers(0, 2**31), n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 7),
       w=st.integers(2, 7), pool=st.integers(1, 3), stride=st.sampled_from([None, 1, 2]))
def test_maxpool_backward_matches_numerical_gradient(seed, n, c, h, w, pool, stride) -> None:
    pool = min(pool, h, w)
    layer = built(MaxPool2D(pool, stride), (c, h, w))
    x = np.random.default_rng(seed).permutation(n * c * h * w).reshape(n, c, h, w) / 7.0  # no ties
    report = check_layer(layer, x, seed=seed)
    assert report.passed, str(report)


@FEW
@given(seed=st.integers(0, 2**31), activation=st.sampled_from([*ACTIVATIONS, "log_softmax"]))
def test_flatten_and_activation_backward_match_numerical_gradient(seed, activation) -> None:
    x = np.random.default_rng(seed).standard_normal((2, 3, 2, 2))
    assert check_layer(built(Flatten(), (3, 2, 2)), x, seed=seed).passed
    assert check_layer(built(Activation(activation), (3, 2, 2)), x, seed=seed).passed


# ---------------------------------------------------------------- PyTorch

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_matches_torch(activation: str) -> None:
    import torch
    import torch.nn.functional as F

    layer = built(Dense(7, activation=activation), (5,), seed=1)
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 7))
    W, b, tx = (torch.tensor(a, requires_grad=True) for a in (layer.params["W"], layer.params["b"], x))
    act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "linear": lambda t: t,
           "softmax": lambda t: torch.softmax(t, -1)}[activation]
    out = act(F.linear(tx, W.T, b))  # torch keeps (out, in) weights; ours are (in, out)
    out.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.forward(x), out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], W.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel,stride,padding,torch_pad", [
    (3, 1, "valid", (0, 0, 0, 0)),
    (3, 1, "same", (1, 1, 1, 1)),
    (3, 2, 1, (1, 1, 1, 1)),
    (4, 2, "same", (1, 2, 1, 2)),   # height 7: out ceil(7/2) = 4 needs 3 rows, the odd one at the bottom
    (5, 1, 2, (2, 2, 2, 2)),
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("band_bytes", [None, 1])
def test_conv2d_matches_torch(kernel, stride, padding, torch_pad, dtype, band_bytes, monkeypatch) -> None:
    import torch
    import torch.nn.functional as F

    from gradbook.reference import numpy_engine

    if band_bytes is not None:  # one output row per band: every band boundary is crossed
        monkeypatch.setattr(numpy_engine, "BAND_BYTES", band_bytes)
    layer = built(Conv2D(4, kernel, strides=stride, padding=padding, activation="relu"), (5, 7, 7), 3, dtype)
    rng = np.random.default_rng(4)
    layer.forward(rng.standard_normal((3, 5, 7, 7)).astype(dtype))  # a larger batch first: its buffers are reused
    x = rng.standard_normal((2, 5, 7, 7)).astype(dtype)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(dtype)
    W, b, tx = (torch.tensor(a, requires_grad=True) for a in (layer.params["W"], layer.params["b"], x))
    expected = torch.relu(F.conv2d(F.pad(tx, torch_pad), W, b, stride=stride))
    expected.backward(torch.tensor(dout))
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == "float64" else {"rtol": 1e-4, "atol": 1e-5}
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected.detach().numpy(), **tol)
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.grads["W"], W.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.grads["b"], b.grad.numpy(), **tol)


@pytest.mark.parametrize("kernel", [(1, 1), (2, 3), (3, 3), (5, 2), (4, 5)])
@pytest.mark.parametrize("stride", [1, 2, (1, 2)])
@pytest.mark.parametrize("padding", [0, 1, 3, "same"])  # 3: wider than some kernels less one (dx by col2im)
@pytest.mark.parametrize("bands", ["default", "one row", "pieces of rows"])
def test_conv2d_gradients_match_torch_for_every_shape(kernel, stride, padding, bands, monkeypatch) -> None:
    """dx by either road (a convolution of dz for stride 1 and a border no wider than the kernel less one,
    col2im otherwise), bands of one output row or more, rows cut into (unequal) pieces or not, a non-square
    image, float64."""
    import torch
    import torch.nn.functional as F

    from gradbook.reference import numpy_engine

    kh, kw = kernel
    if bands == "one row":
        monkeypatch.setattr(numpy_engine, "BAND_BYTES", 1)
    elif bands == "pieces of rows":  # two output columns a piece (products of 4·kh·kw by 3 filters, 5 images)
        monkeypatch.setattr(numpy_engine, "SMALL_PRODUCT", 2 * 4 * kh * kw * 3 * 5)
    layer = built(Conv2D(3, kernel, strides=stride, padding=padding), (4, 9, 7), 7)
    x = np.random.default_rng(8).standard_normal((5, 4, 9, 7))
    out = layer.forward(x)
    dout = np.random.default_rng(9).standard_normal(out.shape)
    W, b, tx = (torch.tensor(a, requires_grad=True) for a in (layer.params["W"], layer.params["b"], x))
    (pt, pb), (pl, pr) = layer.kernel.op.pads  # "same" with an even kernel: one more row below than above
    expected = F.conv2d(F.pad(tx, (pl, pr, pt, pb)), W, b, stride=stride)
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], W.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("pool,stride", [(2, None), (3, 2), (2, 1), (3, None)])
def test_maxpool_matches_torch_even_with_ties(pool, stride) -> None:
    import torch
    import torch.nn.functional as F

    # small integers: many exact ties, as on MNIST's flat background
    x = np.random.default_rng(5).integers(0, 3, (2, 3, 8, 8)).astype(np.float64)
    layer = MaxPool2D(pool, stride)
    out = layer.forward(x)
    dout = np.random.default_rng(6).standard_normal(out.shape)
    tx = torch.tensor(x, requires_grad=True)
    expected = F.max_pool2d(tx, pool, stride if stride is not None else pool)
    expected.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, expected.detach().numpy())
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "log_softmax"])
def test_flatten_then_activation_matches_torch(activation: str) -> None:
    import torch

    rng = np.random.default_rng(8)
    x, dout = rng.standard_normal((3, 2, 3, 4)), rng.standard_normal((3, 24))
    flatten, act = Flatten(), Activation(activation)
    out = act.forward(flatten.forward(x))
    tx = torch.tensor(x, requires_grad=True)
    torch_fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                "softmax": lambda t: torch.softmax(t, 1), "log_softmax": lambda t: torch.log_softmax(t, 1)}[activation]
    expected = torch_fn(torch.flatten(tx, 1))  # C, H, W order, as torch flattens NCHW
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(flatten.backward(act.backward(dout)), tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_maxpool_backward_routes_each_window_to_exactly_one_cell() -> None:
    x = np.zeros((2, 3, 6, 6), np.float32)  # every window is a tie of four zeros
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = 5.0     # a tie between two maxima in one window
    layer = MaxPool2D(2)
    layer.forward(x)
    dout = np.arange(1, 2 * 3 * 3 * 3 + 1, dtype=np.float32).reshape(2, 3, 3, 3)
    dx = layer.backward(dout)
    windows = dx.reshape(2, 3, 3, 2, 3, 2)  # (n, c, i, a, j, b): window (i, j), cell (a, b)
    assert np.all(np.count_nonzero(windows, axis=(3, 5)) == 1)
    np.testing.assert_array_equal(windows.sum(axis=(3, 5)), dout)
    assert dx[0, 0, 0, 1] == dout[0, 0, 0, 0] and dx[0, 0, 1, 0] == 0  # the first maximum in row-major order
    assert dx[1, 2, 0, 0] == dout[1, 2, 0, 0]


def test_same_padding_like_tensorflow() -> None:
    assert same_padding(28, 3, 1) == (1, 1)
    assert same_padding(7, 4, 2) == (1, 2)
    assert same_padding(8, 2, 2) == (0, 0)
    assert Conv2D(2, 3, strides=2, padding="same").compute_output_shape((1, 7, 7)) == (2, 4, 4)


def test_parameter_shapes_and_keras_initialisation() -> None:
    dense = Dense(300, input_shape=(500,))
    dense.build((500,), np.random.default_rng(0))
    assert dense.params["W"].shape == (500, 300) and dense.params["W"].dtype == np.float32
    np.testing.assert_array_equal(dense.params["b"], np.zeros(300))
    limit = np.sqrt(6 / 800)  # glorot_uniform: U(-sqrt(6 / (fan_in + fan_out)), +...)
    assert limit * 0.99 < np.abs(dense.params["W"]).max() <= limit
    assert abs(dense.params["W"].std() - limit / np.sqrt(3)) < 0.01 * limit
    conv = Conv2D(8, 3)
    conv.build((4, 10, 10), np.random.default_rng(0))
    assert conv.params["W"].shape == (8, 4, 3, 3) and conv.params["b"].shape == (8,)
    assert np.abs(conv.params["W"]).max() <= np.sqrt(6 / (4 * 9 + 8 * 9))


def test_layer_shape_errors_name_the_layer_and_the_shapes() -> None:
    dense = Dense(3, input_shape=(4,))
    dense.build((4,))
    with pytest.raises(ValueError, match=r"Dense expects input of shape \(n, 4\); got \(2, 5\)"):
        dense.forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2D expects NCHW images, per-sample shape \(channels, height, width\); "
                                         r"got \(784,\)"):
        Conv2D(2, 3).build((784,))
    with pytest.raises(ValueError, match="a 5x5 kernel does not fit a 3x3 input"):
        Conv2D(2, 5).build((1, 3, 3))
    with pytest.raises(ValueError, match=r"Conv2D padding must be 'valid', 'same' or an int >= 0; got 'full'"):
        Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match=r"unknown initializer 'glorot'; valid initializers: glorot_uniform"):
        Dense(2, kernel_initializer="glorot")


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "relu"])
def test_forward_logits_then_backward_is_forward_then_backward(activation: str) -> None:
    # A model whose loss starts from the logits trains through `forward_logits` (no activation computed); a
    # backward through the activation afterwards must use this input's activation, not an earlier forward's.
    rng = np.random.default_rng(3)
    x, earlier, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), rng.standard_normal((4, 7))
    fresh, reused = (built(Dense(7, activation=activation), (5,), seed=1) for _ in range(2))
    fresh.forward(x)
    reused.forward(earlier)
    np.testing.assert_array_equal(reused.forward_logits(x), fresh.logits)
    np.testing.assert_array_equal(reused.logits, fresh.logits)
    np.testing.assert_allclose(reused.backward(dout), fresh.backward(dout), rtol=1e-14, atol=0)
    for k in fresh.grads:
        np.testing.assert_allclose(reused.grads[k], fresh.grads[k], rtol=1e-14, atol=0)
    reused.forward(earlier)
    reused.forward_logits(x)
    np.testing.assert_allclose(reused.backward_preactivation(dout), fresh.backward_preactivation(dout), rtol=1e-14)
