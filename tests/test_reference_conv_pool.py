"""Conv2D and MaxPool2D of the reference engine across batches: what the kernels reuse from one batch to the next
(the padded input's buffer, the band scratch) never changes a result or an array already handed out, whatever
the batch sizes, strides and paddings; checked against torch's conv2d and max_pool2d and their gradients."""

from __future__ import annotations

import numpy as np
import pytest

from gradbook.reference.layers import Conv2D, MaxPool2D

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = {"rtol": 1e-4, "atol": 1e-5}  # float32, like the engine's models


def torch_conv(layer: Conv2D, x: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, ...]:
    """torch's relu(conv2d(x)) and its gradients (dx, dW, db) for ``dout``, with the layer's weights and padding."""
    (pt, pb), (pl, pr) = layer.kernel.op.pads
    W, b, tx = (torch.tensor(a, requires_grad=True) for a in (layer.params["W"], layer.params["b"], x))
    out = torch.relu(F.conv2d(F.pad(tx, (pl, pr, pt, pb)), W, b, stride=layer.strides))
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), tx.grad.numpy(), W.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("kernel,strides,padding", [
    (3, 1, 1),              # chapter 7's layers
    ((3, 2), (2, 1), "same"),  # odd sizes, a non-square kernel, unequal strides, padding uneven at the bottom
    (2, 3, 2),              # a stride larger than the kernel: pixels no patch reads
    (3, 1, "valid"),        # no padding: the input itself, no padded buffer
])
def test_conv2d_batches_of_changing_size_match_torch_and_leave_earlier_outputs_alone(kernel, strides, padding) -> None:
    rng = np.random.default_rng(11)
    layer = Conv2D(4, kernel, strides=strides, padding=padding, activation="relu")
    layer.build((3, 9, 7), rng, "float32")
    layer.params["b"][:] = rng.normal(size=4)
    kept: list[tuple[np.ndarray, ...]] = []
    # full batch, the same shape again (the buffers are refilled), a smaller last batch, then full again;
    # large inputs first, so a stale border or band would show
    for n, scale in [(5, 100.0), (5, 1.0), (2, 1.0), (5, 1.0)]:
        x = (scale * rng.standard_normal((n, 3, 9, 7))).astype(np.float32)
        out = layer.forward(x)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        dx = layer.backward(dout)
        expected = torch_conv(layer, x, dout)
        for got, want in zip((out, dx, layer.grads["W"], layer.grads["b"]), expected):
            np.testing.assert_allclose(got, want, rtol=TOL["rtol"], atol=TOL["atol"] * scale)
        kept.append((out, dx, out.copy(), dx.copy()))
    for out, dx, out_then, dx_then in kept:  # nothing handed out was written by a later batch
        np.testing.assert_array_equal(out, out_then)
        np.testing.assert_array_equal(dx, dx_then)


def test_conv2d_reads_a_conv2d_output_as_torch_does() -> None:
    """Two convolutions stacked (the second reads the first's output in the layout the first wrote it, (C, H, W,
    N) in memory), forward and backward against torch, for two batches."""
    rng = np.random.default_rng(12)
    first, second = Conv2D(6, 3, padding=1, activation="relu"), Conv2D(5, 3, padding=1, activation="relu")
    first.build((2, 8, 8), rng, "float32"), second.build((6, 8, 8), rng, "float32")
    for n in (4, 3):
        x = rng.standard_normal((n, 2, 8, 8)).astype(np.float32)
        a = first.forward(x)
        out = second.forward(a)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        da = second.backward(dout)
        dx = first.backward(da)
        want_out, want_da, *_ = torch_conv(second, np.ascontiguousarray(a), dout)
        np.testing.assert_allclose(out, want_out, **TOL)
        np.testing.assert_allclose(da, want_da, **TOL)
        np.testing.assert_allclose(dx, torch_conv(first, x, np.ascontiguousarray(da))[1], **TOL)


@pytest.mark.parametrize("shape,pool,stride", [
    ((2, 3, 8, 8), 2, None),   # windows tile the input exactly: every cell written straight from one window
    ((2, 3, 7, 9), 2, None),   # odd sizes: the last row and column belong to no window
    ((2, 3, 8, 8), 2, 3),      # a stride larger than the window: gaps between windows
    ((2, 3, 9, 9), 3, 2),      # overlapping windows: gradients add up
])
@pytest.mark.parametrize("after_conv", [False, True])
def test_maxpool_gradient_matches_torch_with_ties_and_no_stale_memory(shape, pool, stride, after_conv) -> None:
    rng = np.random.default_rng(13)
    # small integers: many exact ties, as on MNIST's flat background
    x = rng.integers(0, 3, shape).astype(np.float32)
    if after_conv:  # laid out as a Conv2D writes its output: (C, H, W, N) in memory
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    layer = MaxPool2D(pool, stride)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    tx = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    expected = F.max_pool2d(tx, pool, stride if stride is not None else pool)
    expected.backward(torch.tensor(dout))
    np.full(x.shape, np.nan, np.float32)  # made and freed: memory dx may be given next, so a cell left unwritten shows
    dx = layer.backward(dout)
    np.testing.assert_array_equal(out, expected.detach().numpy())
    exact = {"rtol": 1e-6, "atol": 0}  # the same numbers (overlapping windows may add them in another order)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **exact)
    again = layer.backward(2 * dout)  # a second backward: a new array, the first one untouched
    np.testing.assert_allclose(dx, tx.grad.numpy(), **exact)
    np.testing.assert_allclose(again, 2 * tx.grad.numpy(), **exact)
