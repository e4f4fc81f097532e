"""Chapter 7, convolution: conv2d with loops, im2col, vectorised forward, backward, max-pooling.

Conventions (the reference engine's and PyTorch's): images are NCHW, kernels
``W`` are ``(F, C, kh, kw)``, biases ``(F,)``, and a "convolution" layer computes
a cross-correlation (the kernel is not flipped). The output size along one axis
is ``(H + 2 * pad - kh) // stride + 1``. ``im2col`` puts one patch per column,
rows ordered (channel, kernel row, kernel column) to match ``W.reshape(F, -1)``
and columns ordered (image, output row, output column). Max-pool backward sends
each window's gradient to one cell: the first maximum in row-major order (what
``np.argmax`` picks, and what PyTorch does), so ties in flat backgrounds are safe.
"""

from __future__ import annotations

import numpy as np

from gradbook.checks.core import Exercise, Mistake
from gradbook.checks.ch07.public import col2im, out_size
from gradbook.checks.drivers import Case
from gradbook.checks.meaning import Axis, Output
from gradbook.i18n import N_


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


# --------------------------------------------------------------------------- references


def _conv2d_naive(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    Ho, Wo = out_size(H, kh, stride, pad), out_size(Wd, kw, stride, pad)
    xp = _pad(x, pad)
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[n, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                    out[n, f, i, j] = np.sum(patch * W[f]) + b[f]
    return out


def _im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    N, C, H, Wd = x.shape
    Ho, Wo = out_size(H, kh, stride, pad), out_size(Wd, kw, stride, pad)
    xp = _pad(x, pad)
    cols = np.empty((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i : i + stride * Ho : stride, j : j + stride * Wo : stride]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * Ho * Wo)


def _conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    N, _, H, Wd = x.shape
    F, _, kh, kw = W.shape
    Ho, Wo = out_size(H, kh, stride, pad), out_size(Wd, kw, stride, pad)
    out = W.reshape(F, -1) @ _im2col(x, kh, kw, stride, pad) + b[:, None]
    return out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)


def _conv2d_backward(
    dout: np.ndarray, x: np.ndarray, W: np.ndarray, stride: int = 1, pad: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    F, _, kh, kw = W.shape
    d = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dW = (d @ _im2col(x, kh, kw, stride, pad).T).reshape(W.shape)
    db = dout.sum(axis=(0, 2, 3))
    dx = col2im(W.reshape(F, -1).T @ d, x.shape, kh, kw, stride, pad)
    return dx, dW, db


def _maxpool_forward(x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    N, C, H, Wd = x.shape
    Ho, Wo = out_size(H, size, stride), out_size(Wd, size, stride)
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size].max(axis=(2, 3))
    return out


def _maxpool_backward(dout: np.ndarray, x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    N, C, _, _ = x.shape
    dx = np.zeros_like(x, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            window = x[:, :, rows, cols].reshape(N, C, -1)
            first_max = window.argmax(axis=2)  # one cell per window, even when several tie
            onehot = np.arange(size * size) == first_max[..., None]
            dx[:, :, rows, cols] += (onehot * dout[:, :, i, j, None]).reshape(N, C, size, size)
    return dx


# --------------------------------------------------------------------------- plausible mistakes


def _conv_flipped(x, W, b, stride=1, pad=0):
    return _conv2d_forward(x, W[:, :, ::-1, ::-1], b, stride, pad)


def _conv_size_ignores_pad(x, W, b, stride=1, pad=0):
    Ho, Wo = out_size(x.shape[2], W.shape[2], stride), out_size(x.shape[3], W.shape[3], stride)
    return _conv2d_forward(x, W, b, stride, pad)[:, :, :Ho, :Wo]


def _conv_size_no_plus_one(x, W, b, stride=1, pad=0):
    Ho = (x.shape[2] + 2 * pad - W.shape[2]) // stride
    Wo = (x.shape[3] + 2 * pad - W.shape[3]) // stride
    return _conv2d_forward(x, W, b, stride, pad)[:, :, :Ho, :Wo]


def _conv_no_bias(x, W, b, stride=1, pad=0):
    return _conv2d_forward(x, W, np.zeros_like(b), stride, pad)


def _conv_reshape_without_transpose(x, W, b, stride=1, pad=0):
    N, F = x.shape[0], W.shape[0]
    Ho, Wo = out_size(x.shape[2], W.shape[2], stride, pad), out_size(x.shape[3], W.shape[3], stride, pad)
    out = W.reshape(F, -1) @ _im2col(x, W.shape[2], W.shape[3], stride, pad) + b[:, None]
    return out.reshape(N, F, Ho, Wo)


CONV_MISTAKES = [
    Mistake(_conv_flipped, N_("your kernel is flipped: that is the convolution of mathematics, but deep-learning "
            "'convolution' layers compute a cross-correlation: out[i, j] = sum(patch * W), with W as it is.")),
    Mistake(_conv_size_ignores_pad, N_("the output is too small: padding adds 2 * pad to the input, so the size is "
            "(H + 2 * pad - kh) // stride + 1.")),
    Mistake(_conv_size_no_plus_one, N_("the output misses its last row and column: the size is "
            "(H + 2 * pad - kh) // stride + 1 (count the first position too).")),
    Mistake(_conv_no_bias, N_("the bias is missing: add b[f] to every output of filter f.")),
]


def _im2col_rows_ijc(x, kh, kw, stride=1, pad=0):
    C = x.shape[1]
    cols = _im2col(x, kh, kw, stride, pad)
    return cols.reshape(C, kh, kw, -1).transpose(1, 2, 0, 3).reshape(C * kh * kw, -1)


def _im2col_transposed(x, kh, kw, stride=1, pad=0):
    return _im2col(x, kh, kw, stride, pad).T


def _im2col_columns_hwn(x, kh, kw, stride=1, pad=0):
    N, _, H, Wd = x.shape
    Ho, Wo = out_size(H, kh, stride, pad), out_size(Wd, kw, stride, pad)
    cols = _im2col(x, kh, kw, stride, pad)
    return cols.reshape(-1, N, Ho, Wo).transpose(0, 2, 3, 1).reshape(cols.shape)


def _backward_last_sample(dout, x, W, stride=1, pad=0):
    dx, _, db = _conv2d_backward(dout, x, W, stride, pad)
    _, dW, _ = _conv2d_backward(dout[-1:], x[-1:], W, stride, pad)
    return dx, dW, db


def _backward_mean_dw(dout, x, W, stride=1, pad=0):
    dx, dW, db = _conv2d_backward(dout, x, W, stride, pad)
    return dx, dW / x.shape[0], db


def _backward_padded_dx(dout, x, W, stride=1, pad=0):
    _, dW, db = _conv2d_backward(dout, x, W, stride, pad)
    F, _, kh, kw = W.shape
    d = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    xp_shape = (x.shape[0], x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad)
    return col2im(W.reshape(F, -1).T @ d, xp_shape, kh, kw, stride, 0), dW, db


def _pool_window_not_strided(x, size=2, stride=2):
    N, C, H, Wd = x.shape
    Ho, Wo = out_size(H, size, stride), out_size(Wd, size, stride)
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i : i + size, j : j + size].max(axis=(2, 3))
    return out


def _pool_integer_buffer(x, size=2, stride=2):
    N, C, H, Wd = x.shape
    Ho, Wo = out_size(H, size, stride), out_size(Wd, size, stride)
    out = np.zeros((N, C, Ho, Wo), dtype=int)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size].max(axis=(2, 3))
    return out


def _pool_size_by_division(x, size=2, stride=2):
    return _maxpool_forward(x, size, stride)[:, :, : x.shape[2] // size, : x.shape[3] // size]


def _pool_size_by_stride(x, size=2, stride=2):
    N, C, H, Wd = x.shape
    out = np.empty((N, C, H // stride, Wd // stride), dtype=x.dtype)
    for i in range(H // stride):
        for j in range(Wd // stride):  # the last windows run past the edge: numpy's slice keeps what is left of them
            out[:, :, i, j] = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size].max(axis=(2, 3))
    return out


def _pool_back_every_tie(dout, x, size=2, stride=2):
    dx = np.zeros_like(x, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            window = x[:, :, rows, cols]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, rows, cols] += mask * dout[:, :, i, j, None, None]
    return dx


def _pool_back_window_not_strided(dout, x, size=2, stride=2):
    N, C, _, _ = x.shape
    dx = np.zeros_like(x, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i, i + size), slice(j, j + size)
            window = x[:, :, rows, cols].reshape(N, C, -1)
            onehot = np.arange(size * size) == window.argmax(axis=2)[..., None]
            dx[:, :, rows, cols] += (onehot * dout[:, :, i, j, None]).reshape(N, C, size, size)
    return dx


def _pool_back_assigns(dout, x, size=2, stride=2):
    N, C, _, _ = x.shape
    dx = np.zeros_like(x, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            window = x[:, :, rows, cols].reshape(N, C, -1)
            onehot = np.arange(size * size) == window.argmax(axis=2)[..., None]
            dx[:, :, rows, cols] = (onehot * dout[:, :, i, j, None]).reshape(N, C, size, size)
    return dx


def _average_pool(x, size=2, stride=2):
    N, C, H, Wd = x.shape
    Ho, Wo = out_size(H, size, stride), out_size(Wd, size, stride)
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size].mean(axis=(2, 3))
    return out


def _pool_back_whole_window(dout, x, size=2, stride=2):
    dx = np.zeros_like(x, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
            dx[:, :, rows, cols] += dout[:, :, i, j, None, None]
    return dx


# --------------------------------------------------------------------------- cases


def _conv_shapes(hidden: bool) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int], int, int]]:
    shapes = [((1, 1, 4, 4), (1, 1, 3, 3), 1, 0), ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1), ((2, 2, 7, 6), (3, 2, 3, 2), 2, 1)]
    if hidden:
        shapes += [((3, 3, 9, 8), (2, 3, 3, 3), 2, 2), ((4, 1, 8, 8), (5, 1, 5, 5), 1, 2), ((2, 2, 6, 6), (2, 2, 1, 1), 1, 0)]
    return shapes


def _conv_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for xs, ws, stride, pad in _conv_shapes(hidden):
        x, W, b = rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[0])
        cases.append(Case((x, W, b), {"stride": stride, "pad": pad},
                          label=f"x {xs}, W {ws}, b ({ws[0]},), stride={stride}, pad={pad}"))
    return cases


def _im2col_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for xs, ws, stride, pad in _conv_shapes(hidden):
        x = rng.normal(size=xs)
        cases.append(Case((x, ws[2], ws[3]), {"stride": stride, "pad": pad},
                          label=f"x {xs}, kh={ws[2]}, kw={ws[3]}, stride={stride}, pad={pad}"))
    return cases


def _backward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for xs, ws, stride, pad in _conv_shapes(hidden):
        x, W = rng.normal(size=xs), rng.normal(size=ws)
        dout = rng.normal(size=(xs[0], ws[0], out_size(xs[2], ws[2], stride, pad), out_size(xs[3], ws[3], stride, pad)))
        cases.append(Case((dout, x, W), {"stride": stride, "pad": pad},
                          label=f"dout {dout.shape}, x {xs}, W {ws}, stride={stride}, pad={pad}"))
    return cases


TIED_LEVELS = np.array([0.0, 0.35, 1.7, 2.25])


def tied_images(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Images with the flat background and exact ties of real MNIST digits.

    The levels are not whole numbers, so an integer buffer (which would round every maximum
    down) cannot pass by luck; a few of them make many exact ties.
    """
    x = TIED_LEVELS[rng.integers(0, len(TIED_LEVELS), size=shape)]
    x[..., : shape[-2] // 2, : shape[-1] // 2] = 0.0  # a blank corner: every cell of a window ties
    return x


def _pool_settings(hidden: bool) -> list[tuple[tuple[int, int, int, int], int, int]]:
    # The last visible one has windows of 3 every 2 over 8 rows: 3 of them, where H // stride (4) or H // size (2)
    # counts otherwise (a window that runs past the edge, or one too few), so the visible check tells them apart.
    settings = [((2, 2, 4, 4), 2, 2), ((1, 3, 6, 6), 2, 2), ((2, 1, 7, 7), 3, 2), ((1, 2, 8, 8), 3, 2)]
    if hidden:
        settings += [((3, 2, 8, 8), 2, 2), ((2, 2, 9, 9), 3, 2), ((2, 2, 6, 6), 3, 3)]
    return settings


def _pool_forward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [
        Case((tied_images(rng, xs),), {"size": size, "stride": stride}, label=f"x {xs}, size={size}, stride={stride}")
        for xs, size, stride in _pool_settings(hidden)
    ]


def _pool_backward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for xs, size, stride in _pool_settings(hidden):
        x = tied_images(rng, xs)
        dout = rng.normal(size=(xs[0], xs[1], out_size(xs[2], size, stride), out_size(xs[3], size, stride)))
        cases.append(Case((dout, x), {"size": size, "stride": stride},
                          label=N_("dout {dout}, x {x} with ties, size={size}, stride={stride}"),
                          label_values={"dout": dout.shape, "x": xs, "size": size, "stride": stride}))
    return cases


# --------------------------------------------------------------------------- exercises

MAPS = Output(axes=(Axis("samples"), Axis("channels"), Axis("rows"), Axis("columns")))  # (N, C, H, W)
MAPS_LOOPED = Output(axes=MAPS.axes[:2] + (Axis("rows", loop=True), Axis("columns", loop=True)))  # loops over positions

conv2d_naive = Exercise(
    "ch07.conv2d_naive",
    library_answers=(
        "gradbook.widgets.kernels.correlate_valid",
    ),
    title="conv2d_naive",
    outputs=MAPS_LOOPED,
    reference=_conv2d_naive,
    cases=_conv_cases,
    mistakes=CONV_MISTAKES,
)

im2col = Exercise(
    "ch07.im2col",
    library_answers=(
        "gradbook.reference.numpy_engine.im2col",
    ),
    title="im2col",
    reference=_im2col,
    cases=_im2col_cases,
    mistakes=[
        Mistake(_im2col_rows_ijc, N_("the rows are in the wrong order: they must go channel, kernel row, kernel "
                "column, the order of W.reshape(F, -1), so that one matrix product lines them up.")),
        Mistake(_im2col_transposed, N_("one patch per column, not per row: the shape is (C * kh * kw, N * Ho * Wo).")),
        Mistake(_im2col_columns_hwn, N_("the columns are in the wrong order: they must go image, output row, "
                "output column, so that the product reshapes to (F, N, Ho, Wo).")),
    ],
)

conv2d_forward = Exercise(
    "ch07.conv2d_forward",
    library_answers=(
        "gradbook.reference.numpy_engine._Conv2D",
        "gradbook.torch_path.engine._conv2d",
    ),
    title="conv2d_forward",
    outputs=MAPS,
    reference=_conv2d_forward,
    cases=_conv_cases,
    mistakes=[
        *CONV_MISTAKES,
        Mistake(_conv_reshape_without_transpose, N_("images and filters are scrambled: the product has shape "
                "(F, N * Ho * Wo), so reshape it to (F, N, Ho, Wo) and then transpose to (N, F, Ho, Wo); reshaping "
                "straight to (N, F, Ho, Wo) mixes them up.")),
    ],
)

conv2d_backward = Exercise(
    "ch07.conv2d_backward",
    title="conv2d_backward",
    outputs=(Output("dx", MAPS.axes), Output("dW"), Output("db")),
    reference=_conv2d_backward,
    cases=_backward_cases,
    mistakes=[
        Mistake(_backward_last_sample, N_("dW only has the last image's contribution: every image in the batch "
                "uses the same W, so dW is the SUM over the batch (+=, not =).")),
        Mistake(_backward_mean_dw, N_("dW is divided by the batch size: the layer's gradient is the sum over the "
                "batch (dout already carries any 1/N from the loss).")),
        Mistake(_backward_padded_dx, N_("dx still has the padding: crop it off, dx_padded[:, :, pad:-pad, pad:-pad], "
                "so dx has x's shape.")),
    ],
)

maxpool_forward = Exercise(
    "ch07.maxpool_forward",
    library_answers=(
        "gradbook.reference.numpy_engine._MaxPool2D",
    ),
    title="maxpool_forward",
    outputs=MAPS,
    reference=_maxpool_forward,
    cases=_pool_forward_cases,
    mistakes=[
        Mistake(_average_pool, N_("this is the mean of each window (average pooling): max pooling keeps its "
                "largest value, .max(axis=(2, 3)).")),
        Mistake(_pool_window_not_strided, N_("the windows overlap where they should not: window (i, j) starts at "
                "row i * stride and column j * stride.")),
        Mistake(_pool_size_by_division, N_("the output size is (H - size) // stride + 1, not H // size "
                "(they differ when stride != size).")),
        Mistake(_pool_integer_buffer, N_("the output array holds integers, so every maximum lost its fractional part "
                "(np.zeros(shape, dtype=int)); make it like the input: np.zeros(shape, dtype=x.dtype).")),
        Mistake(_pool_size_by_stride, N_("the output size is (H - size) // stride + 1, not H // stride: the last "
                "windows would run past the edge of the image (numpy's slice quietly keeps what is left of them).")),
    ],
)

maxpool_backward = Exercise(
    "ch07.maxpool_backward",
    title="maxpool_backward",
    outputs=Output("dx", MAPS.axes),
    reference=_maxpool_backward,
    cases=_pool_backward_cases,
    mistakes=[
        Mistake(_pool_back_whole_window, N_("every cell of a window got the window's gradient: only the cell that "
                "was the maximum (the one the forward pass kept) gets it; the others did not affect the output.")),
        Mistake(_pool_back_every_tie, N_("when several cells tie for the maximum you sent the gradient to all of "
                "them (mask x == max), multiplying it. Send it to one: the first arg-max of the window "
                "(np.argmax on the flattened window), as PyTorch does. MNIST's blank background is full of ties.")),
        Mistake(_pool_back_window_not_strided, N_("the gradient goes to the wrong window: window (i, j) starts at "
                "row i * stride and column j * stride.")),
        Mistake(_pool_back_assigns, N_("with overlapping windows (stride < size) one cell can be the maximum of two "
                "windows: add the gradients (+=) instead of overwriting (=).")),
    ],
)
