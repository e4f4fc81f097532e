"""The NumPy engine: every layer's forward and hand-written backward, the losses' values and
gradients, and the optimisers' in-place updates, on NumPy arrays (see `engine` for the contract).

Layer kernels keep what backward needs in a cache (the CS231n contract), so a model is
differentiated by running each layer's backward in turn (`Sequential._backprop`).
Images are NCHW; a convolution is a cross-correlation, like ``torch.conv2d``.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterable, Iterator, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gradbook.reference.activations import ACTIVATIONS, log_softmax, sigmoid
from gradbook.reference.engine import Activation, Engine, LayerKernel, Op, Pads, Params, SequenceOps, Step

Array = np.ndarray
EPSILON = 1e-7  # Keras' backend epsilon, used to clip probabilities


# ---------------------------------------------------------------- convolution as matrix products

def _out_size(size: int, kernel: int, stride: int, pads: tuple[int, int]) -> int:
    return (size + pads[0] + pads[1] - kernel) // stride + 1


@dataclass(frozen=True)
class _Geometry:
    """A convolution's shapes: input (N, C, H, W), kernel, stride, padding, and the output's Ho x Wo."""

    n: int
    c: int
    h: int
    w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: Pads
    ho: int
    wo: int

    @classmethod
    def of(cls, x_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int], pads: Pads) -> _Geometry:
        n, c, h, w = x_shape
        return cls(n, c, h, w, kernel, stride, pads, _out_size(h, kernel[0], stride[0], pads[0]),
                   _out_size(w, kernel[1], stride[1], pads[1]))

    def padded(self, x: Array, reuse: Array | None = None) -> Array:
        """NCHW ``x`` as (C, H', W', N) with its zero border: the layout every patch is read from.

        ``reuse``: an earlier result of the same shape (and dtype) to write into instead of a new array:
        for speed, only its inside is written, since its border is zero already."""
        (pt, pb), (pl, pr) = self.pads
        xt = x.transpose(1, 2, 3, 0)  # (C, H, W, N): a free view when x came from a Conv2D
        if not (pt or pb or pl or pr):
            return xt
        shape = (self.c, self.h + pt + pb, self.w + pl + pr, self.n)
        fits = reuse is not None and reuse.shape == shape and reuse.dtype == x.dtype
        xp = reuse if fits else np.zeros(shape, x.dtype)
        xp[:, pt:pt + self.h, pl:pl + self.w] = xt
        return xp

    def windows(self, xp: Array) -> Array:
        """Every patch of the padded input, (C, Ho, Wo, N, kh, kw), as a view (no copy): patch (i, j) of
        channel c starts at row i·sh, column j·sw."""
        (sh, sw) = self.stride
        return sliding_window_view(xp, self.kernel, axis=(1, 2))[:, :sh * self.ho:sh, :sw * self.wo:sw]

    def row_windows(self, xp: Array) -> Array:
        """The patches' rows, (H', C, kw, Wo, N), as a view (no copy): entry (u, c, j, x, n) is
        ``xp[c, u, x·sw + j, n]``, and the patches of output row r are rows r·sh to r·sh + kh - 1 of it."""
        sw = self.stride[1]
        return sliding_window_view(xp, self.kernel[1], axis=2)[:, :, :sw * self.wo:sw].transpose(1, 0, 4, 2, 3)

    def bands(self, itemsize: int) -> list[range]:
        """The output rows cut into bands whose patch rows (`row_windows`) fit in BAND_BYTES (one row at least):
        a band of R output rows reads (R - 1)·sh + kh of them."""
        (kh, kw), sh = self.kernel, self.stride[0]
        row_bytes = self.c * kw * self.wo * self.n * itemsize
        step = max(1, min(self.ho, (BAND_BYTES // row_bytes - kh) // sh + 1))
        return [range(r, min(r + step, self.ho)) for r in range(0, self.ho, step)]

    def pieces(self, filters: int) -> list[range]:
        """An output row's columns cut into (nearly) equal pieces whose products with ``filters`` filters stay
        within SMALL_PRODUCT; not cut where even one column's would not."""
        most = SMALL_PRODUCT // (self.c * self.kernel[0] * self.kernel[1] * filters * self.n)
        count = -(-self.wo // most) if most else 1
        cuts = [self.wo * p // count for p in range(count + 1)]
        return [range(a, b) for a, b in zip(cuts, cuts[1:])]


# For speed: the patch matrix of a whole batch (im2col) is C·kh·kw times the input: 14 MB for chapter 7's
# second convolution of 64 images. Written whole, every matrix product then streams it from memory and the
# convolution runs at memory speed. The kernel makes it from the patches' rows instead (`_Geometry.row_windows`,
# kw times the input): output row r's patch matrix is kh consecutive patch rows, a view, so each patch row is
# copied once for kh output rows. The patch rows of a band of output rows are made together and used by its
# products while they are still in cache (2 MiB: the fastest of 0.5 to 4 MiB for `bench/bench_engine.py --only
# conv`); the input is all the backward pass keeps, and it makes each band again. The arithmetic is the same.
BAND_BYTES = 1 << 21  # 2 MiB
# For speed too: OpenBLAS's builds for AVX-512 CPUs compute a product of m x k by k x n with m·n·k up to 100³
# in its small-matrix kernels, which need no packing of the operands. A convolution's products are skinny
# (16 x 72 by 72 x 1,792 for one output row in `bench/bench_engine.py --only conv`): cut into pieces that
# fit, each runs 15-45% faster there (elsewhere a piece only costs a little more Python).
SMALL_PRODUCT = 100 ** 3


def _add_patches(dx: Array, g: _Geometry, rows: range, cols: range, d6: Array) -> None:
    """The adjoint of im2col: add each patch of ``d6`` (C, kh, kw, output rows ``rows``, output columns ``cols``,
    N) back onto the pixels of ``dx`` (C, H, W, N) it came from; what was copied from the zero border goes
    nowhere. (No padded array to add into and cut down afterwards: for speed, each add is clipped to the
    pixels inside.)"""
    (kh, kw), (sh, sw), ((pt, _), (pl, _)) = g.kernel, g.stride, g.pads
    top, left = rows.start * sh, cols.start * sw
    for i in range(kh):  # one add per kernel offset, never a loop over pixels
        r0, r1 = _inside(top + i - pt, sh, len(rows), g.h)
        for j in range(kw):
            c0, c1 = _inside(left + j - pl, sw, len(cols), g.w)
            if r0 < r1 and c0 < c1:
                y, x = top + i - pt + sh * r0, left + j - pl + sw * c0
                dx[:, y:y + sh * (r1 - r0):sh, x:x + sw * (c1 - c0):sw] += d6[:, i, j, r0:r1, c0:c1]


def _dz_border(g: _Geometry) -> Pads | None:
    """The zero border around dz whose convolution with the flipped kernel is dx (`_Conv2D._input_gradient`):
    kh-1-pt rows on top, kh-1-pb below, and so on; None where there is none (a stride above 1, or x's border
    wider than the kernel less one)."""
    (kh, kw), ((pt, pb), (pl, pr)) = g.kernel, g.pads
    pads = ((kh - 1 - pt, kh - 1 - pb), (kw - 1 - pl, kw - 1 - pr))
    return pads if g.stride == (1, 1) and min(min(p) for p in pads) >= 0 else None


def _inside(first: int, stride: int, count: int, size: int) -> tuple[int, int]:
    """Which of the positions ``first + stride·k`` (k < count) fall inside ``range(size)``: k in [lo, hi)."""
    return max(0, -(first // stride)), min(count, -((first - size) // stride))


def im2col(x: Array, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads, out: Array | None = None) -> Array:
    """Patches of NCHW ``x`` as columns: shape (C·kh·kw, Ho·Wo·N), rows ordered like ``W.reshape(F, -1)``.

    One matmul ``W2 @ cols`` then convolves the whole batch. The columns go
    (output row, output column, image), the image index last: chapter 7's
    im2col orders them (image, row, column), which is the same matrix up to a
    permutation of its columns, but with N innermost every copy here and every
    add in `col2im` runs over Wo·N contiguous numbers instead of Wo, which
    makes them ~1.5x faster on MNIST-sized maps. No loop over pixels or images:
    `sliding_window_view` sees every patch of the padded input without a copy,
    and one copy lays the patches out as columns. (`_Conv2D` makes this matrix
    another way, a band of output rows at a time: see BAND_BYTES.)
    """
    g = _Geometry.of(x.shape, kernel, stride, pads)
    kh, kw = kernel
    shape = (g.c * kh * kw, g.ho * g.wo * g.n)
    if out is None or out.shape != shape or out.dtype != x.dtype:
        out = np.empty(shape, x.dtype)
    np.copyto(out.reshape(g.c, kh, kw, g.ho, g.wo, g.n), g.windows(g.padded(x)).transpose(0, 4, 5, 1, 2, 3))
    return out


def col2im(cols: Array, x_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
           pads: Pads) -> Array:
    """The adjoint of `im2col`: add every column back onto the pixels it was copied from (NCHW result)."""
    g = _Geometry.of(x_shape, kernel, stride, pads)
    dx = np.zeros((g.c, g.h, g.w, g.n), cols.dtype)
    _add_patches(dx, g, range(g.ho), range(g.wo), cols.reshape(g.c, *kernel, g.ho, g.wo, g.n))
    return dx.transpose(3, 0, 1, 2)  # NCHW to the caller, (C, H, W, N) in memory: the layer below reads it freely


# ---------------------------------------------------------------- layer kernels

class _Kernel(LayerKernel):
    """`affine` keeps the op's cache for `backward`, `forward` the activation's output for its backward rule."""

    _y: Array | None = None

    def forward(self, x: Array, params: Params) -> tuple[Array, Array]:
        z = self.affine(x, params)
        self._y = self.activation.forward(z)
        return z, self._y

    def forward_logits(self, x: Array, params: Params) -> Array:
        # The cache backward needs, without the activation's work (made later if a backward asks for it)
        self._z, self._y = self.affine(x, params), None
        return self._z

    def activation_backward(self, dout: Array) -> Array:
        if self._y is None:  # the last forward was `forward_logits`
            self._y = self.activation.forward(self._z)
        return self.activation.backward(dout, self._y)


class _Dense(_Kernel):
    """``x @ W + b`` with ``W`` of shape (in, units); x may have more axes than (n, in)."""

    def affine(self, x: Array, params: Params) -> Array:
        self._x = x
        z = x @ params["W"]
        z += params["b"]
        return z

    def backward(self, dz: Array, params: Params, grads: Params, input_grad: bool) -> Array | None:
        W = params["W"]
        x2, dz2 = self._x.reshape(-1, W.shape[0]), dz.reshape(-1, W.shape[1])
        np.matmul(x2.T, dz2, out=grads["W"])
        dz2.sum(axis=0, out=grads["b"])  # the method, not np.sum: for speed, it skips np.sum's dispatch
        return dz @ W.T if input_grad else None  # the first layer needs no dX: its product is skipped


class _Conv2D(_Kernel):
    """Cross-correlation as matrix products, ``W`` of shape (filters, in_channels, kh, kw).

    With ``cols`` the patch matrix of x (`im2col`) and ``W2`` the matching reshape of ``W``::

        z = W2 @ cols + b        dW2 = dz @ cols.T        dx = col2im(W2.T @ dz)

    With stride 1, dx is computed as a convolution instead, with no col2im (`_input_gradient`).
    The products are computed piece by piece: a piece of one output row's pixels, for every image (the
    columns of ``cols`` and of the result it owns), its patches made a band of output rows at a time, so
    that they are still in cache; see BAND_BYTES and SMALL_PRODUCT.
    """

    _band: Array | None = None  # scratch for one band's patch rows: made once, refilled band after band
    _padded: Array | None = None  # the last input with its zero border, refilled by the next batch of its shape
    _dz_padded: Array | None = None  # the same for dz, when dx is a convolution of it (`_input_gradient`)

    def _pieces(self, xp: Array, g: _Geometry, filters: int) -> Iterator[tuple[slice, slice, Array]]:
        """Each band of output rows (`_Geometry.bands`) and piece of their columns (`_Geometry.pieces`: a run of
        the Wo·N columns of each row's patch matrix), as slices, with the piece's patch matrices, one per output
        row: (rows, kh·C·kw, columns), the rows of each ordered (i, c, j) like `_by_rows` (W). A view of the
        scratch buffer, valid until the next band's."""
        (kh, kw), sh = g.kernel, g.stride[0]
        windows, width = g.row_windows(xp), g.wo * g.n
        bands, pieces = g.bands(xp.dtype.itemsize), g.pieces(filters)
        size = max((len(rows) - 1) * sh + kh for rows in bands) * g.c * kw * width
        if self._band is None or self._band.size < size or self._band.dtype != xp.dtype:
            self._band = np.empty(size, xp.dtype)
        for rows in bands:
            used = windows[rows.start * sh:(rows.stop - 1) * sh + kh]
            patch_rows = self._band[:used.size].reshape(used.shape)
            np.copyto(patch_rows, used)  # the band's only copy: each patch row serves kh output rows
            # output row r's patch matrix is kh consecutive patch rows: a view, (kh·C·kw, Wo·N)
            per_row = sliding_window_view(patch_rows.reshape(len(used), -1, width), kh, axis=0)[::sh]
            per_row = per_row.transpose(0, 3, 1, 2).reshape(len(rows), -1, width)
            for piece in pieces:
                columns = slice(piece.start * g.n, piece.stop * g.n)
                yield slice(rows.start, rows.stop), columns, per_row[:, :, columns]

    def affine(self, x: Array, params: Params) -> Array:
        W = params["W"]
        filters, _, kh, kw = W.shape
        g = _Geometry.of(x.shape, (kh, kw), self.op.strides, self.op.pads)
        self._padded = g.padded(x, reuse=self._padded)
        self._g = g  # backward makes the patches again from the padded input
        W2 = _by_rows(W)
        z = np.empty((filters, g.ho, g.wo * g.n), x.dtype)
        for rows, columns, cols in self._pieces(self._padded, g, filters):
            # one product per output row (NumPy loops over them), written into z through a view
            np.matmul(W2, cols, out=z[:, rows, columns].transpose(1, 0, 2))
        z += params["b"][:, None, None]  # once for the whole batch: for speed (~4x faster than piece by piece)
        # A view: NCHW to the caller, (F, Ho, Wo, N) in memory, which the next layer's patches read without a copy.
        return z.reshape(filters, g.ho, g.wo, g.n).transpose(3, 0, 1, 2)

    def backward(self, dz: Array, params: Params, grads: Params, input_grad: bool) -> Array | None:
        W = params["W"]
        (filters, _, kh, kw), g = W.shape, self._g
        W2 = _by_rows(W)
        border = _dz_border(g) if input_grad else None
        if border is not None:  # dx is a convolution of dz in this zero border (`_input_gradient`): for speed,
            # dz is laid out there at once (one copy, not two), and its inside is the dz the products read
            gd = _Geometry.of(dz.shape, (kh, kw), (1, 1), border)
            # (F, H', W', N); a copy even with no border, for its inside and rows are read as flat runs
            self._dz_padded = np.ascontiguousarray(gd.padded(dz, reuse=self._dz_padded))
            (top, _), (left, _) = border
            dz3 = self._dz_padded[:, top:top + g.ho, left:left + g.wo].reshape(filters, g.ho, -1)  # a view
            dz_rows = self._dz_padded.reshape(filters, -1)  # its zero border adds nothing to db
        else:
            dz3 = dz.transpose(1, 2, 3, 0).reshape(filters, g.ho, -1)  # (F, Ho, Wo·N): free if laid out like z
            dz_rows = dz3.reshape(filters, -1)
        # the sum of each row of dz: for speed, einsum's loop, 2.5x faster on these long rows than np.sum's
        np.einsum("fk->f", dz_rows, out=grads["b"], casting="same_kind")  # casting as np.sum's
        dW2t = np.zeros(W2.shape[::-1], W.dtype)  # dW2 transposed, summed over the pieces
        dx = np.zeros((g.c, g.h, g.w, g.n), dz.dtype) if input_grad and border is None else None  # by col2im
        for rows, columns, cols in self._pieces(self._padded, g, filters):
            dz_piece = dz3[:, rows, columns].transpose(1, 0, 2)  # (rows, F, columns)
            # cols @ dz.T, transposed at the end: on whole rows of patches (too long for OpenBLAS's small-matrix
            # kernels), this long-K, tiny-output product ran ~2x faster than dz @ cols.T; on pieces, as fast
            dW2t += (cols @ dz_piece.transpose(0, 2, 1)).sum(axis=0)
            if dx is not None:  # dcols = W2.T @ dz, added back onto the pixels its patches came from
                dcols = (W2.T @ dz_piece).reshape(len(dz_piece), kh, g.c, kw, -1, g.n)
                pixels = range(columns.start // g.n, columns.stop // g.n)
                _add_patches(dx, g, range(rows.start, rows.stop), pixels, dcols.transpose(2, 1, 3, 0, 4, 5))
        grads["W"][...] = dW2t.T.reshape(filters, kh, g.c, kw).transpose(0, 2, 1, 3)
        if border is not None:
            dx = self._input_gradient(gd, W)
        # NCHW to the caller, (C, H, W, N) in memory, which the layer below reads without a copy.
        return None if dx is None else dx.transpose(3, 0, 1, 2)

    def _input_gradient(self, gd: _Geometry, W: Array) -> Array:
        """dx, (C, H, W, N) in memory, for stride 1: the convolution of dz in a zero border (`_dz_border`; laid
        out by `backward` in ``_dz_padded``, of geometry ``gd``) with the kernel flipped and its input and output
        channels swapped, ``Wf[c, f, i, j] = W[f, c, kh-1-i, kw-1-j]``: pixel (y, x) of x met weight W[f, c, i, j]
        in output (y-i+pt, x-j+pl), and collects their products. The same sums as col2im(W2.T @ dz), for speed:
        col2im's kh·kw adds per piece run on strided slices, which NumPy's element-wise operations take ~1 µs
        per row of (2 of the 11 ms of `bench/bench_engine.py --only conv`); the patches' copies and one product
        per piece take half that."""
        g = self._g
        Wf = _by_rows(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        dx = np.empty((g.c, g.h, g.w * g.n), self._dz_padded.dtype)  # gd's output is x's H x W
        for rows, columns, cols in self._pieces(self._dz_padded, gd, g.c):
            np.matmul(Wf, cols, out=dx[:, rows, columns].transpose(1, 0, 2))
        return dx.reshape(g.c, g.h, g.w, g.n)


def _by_rows(W: Array) -> Array:
    """``W`` (F, C, kh, kw) as the matrix (F, kh·C·kw) whose columns are ordered (i, c, j) like the rows of
    `_Conv2D._pieces`' patch matrices (a copy where the orders differ: small)."""
    return W.transpose(0, 2, 1, 3).reshape(len(W), -1)


class _MaxPool2D(_Kernel):
    """Max over windows. Backward sends each window's gradient to ONE cell: the first maximum in
    row-major order, as torch does. A mask ``x == max`` would copy it to every tied cell, and
    MNIST's flat background is full of ties.

    Both passes loop over the ph·pw offsets in a window, never over pixels: offset (a, b) of
    every window is one strided view of x. They use NumPy's fast (SIMD) element-wise operations
    only: a copy under a mask (``np.copyto(..., where=)``) is ~20x slower.
    """

    def _windows(self, ho: int, wo: int) -> Iterator[tuple[slice, ...]]:
        (ph, pw), (sh, sw) = self.op.window, self.op.strides
        for a in range(ph):
            for b in range(pw):
                yield (slice(None), slice(None), slice(a, a + sh * ho, sh), slice(b, b + sw * wo, sw))

    def affine(self, x: Array, params: Params) -> Array:
        (ph, pw), (sh, sw) = self.op.window, self.op.strides
        first, *others = self._windows((x.shape[2] - ph) // sh + 1, (x.shape[3] - pw) // sw + 1)
        out = x[first].copy(order="K")  # keep the input's memory layout
        for index in others:
            np.maximum(out, x[index], out=out)
        self._x, self._out = x, out
        return out

    def backward(self, dz: Array, params: Params, grads: Params, input_grad: bool) -> Array | None:
        if not input_grad:
            return None
        x, out = self._x, self._out
        (ph, pw), (sh, sw) = self.op.window, self.op.strides
        ho, wo = out.shape[2:]
        overlap = sh < ph or sw < pw  # a cell may be in several windows: its gradients add up
        # For speed: when the windows tile x exactly (stride = window, as in chapter 7), every cell gets its
        # gradient from one window below, so dx needs no zeros first and each offset is written, not added.
        tiled = (sh, sw) == (ph, pw) and x.shape[2:] == (ho * ph, wo * pw)
        dx = (np.empty_like if tiled else np.zeros_like)(x, dtype=dz.dtype)  # same memory layout as x
        dz_k = np.empty_like(out, dtype=dz.dtype)
        dz_k[...] = dz  # for speed: dz in out's memory layout, so every operation below runs in order
        unrouted = np.ones_like(out, dtype=bool)  # windows whose gradient has no cell yet
        first_max = np.empty_like(unrouted)
        for index in self._windows(ho, wo):
            np.equal(x[index], out, out=first_max)
            first_max &= unrouted  # an earlier cell of the window was the maximum: not this one
            unrouted ^= first_max
            if overlap:
                dx[index] += dz_k * first_max
            else:  # each cell in one window at most: write the gradient straight into dx
                np.multiply(dz_k, first_max, out=dx[index])
        return dx


class _Flatten(_Kernel):
    def affine(self, x: Array, params: Params) -> Array:
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dz: Array, params: Params, grads: Params, input_grad: bool) -> Array | None:
        return dz.reshape(self._x_shape) if input_grad else None


class _Identity(_Kernel):
    def affine(self, x: Array, params: Params) -> Array:
        return x

    def backward(self, dz: Array, params: Params, grads: Params, input_grad: bool) -> Array | None:
        return dz if input_grad else None


KERNELS: dict[str, type[_Kernel]] = {
    "dense": _Dense, "conv2d": _Conv2D, "max_pool2d": _MaxPool2D, "flatten": _Flatten, "identity": _Identity,
}


# ---------------------------------------------------------------- losses: (batch loss, dL/dpred)

def _batch_size(pred: Array) -> int:
    return math.prod(pred.shape[:-1]) if pred.ndim > 1 else 1


def _mse(y: Array, p: Array) -> tuple[float, Array]:
    diff = p - y.astype(p.dtype, copy=False)
    return float(np.mean(diff * diff)), diff * (2 / diff.size)


def _binary(y: Array, p: Array) -> tuple[float, Array]:
    y = y.astype(p.dtype, copy=False)
    q = np.clip(p, EPSILON, 1 - EPSILON)
    per_element = -(y * np.log(q) + (1 - y) * np.log(1 - q))
    grad = (q - y) / (q * (1 - q)) / p.size
    return float(np.mean(per_element)), np.where(q == p, grad, 0).astype(p.dtype, copy=False)


def _binary_from_logits(y: Array, z: Array) -> tuple[float, Array]:
    y = y.astype(z.dtype, copy=False)
    per_element = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return float(np.mean(per_element)), (sigmoid(z) - y) / z.size


def _categorical(y: Array, p: Array) -> tuple[float, Array]:
    y = y.astype(p.dtype, copy=False)
    q = np.clip(p, EPSILON, 1 - EPSILON)
    n = _batch_size(p)
    grad = np.where(q == p, -y / q, 0) / n
    return float(-np.sum(y * np.log(q)) / n), grad.astype(p.dtype, copy=False)


def _categorical_from_logits(y: Array, z: Array) -> tuple[float, Array]:
    z = z.astype(np.result_type(z, 1.0), copy=False)  # integer logits compute in float64
    y = y.astype(z.dtype, copy=False)
    n = _batch_size(z)
    log_p = z - z.max(axis=-1, keepdims=True)  # shifted: every exponent <= 0
    grad = np.exp(log_p)  # softmax's exponentials, once for the loss and its gradient
    total = grad.sum(axis=-1, keepdims=True)
    log_p -= np.log(total)
    grad /= total  # p
    grad -= y
    grad /= n
    # sum(y · log p) as one dot product (for speed: no temporary y · log p, one call instead of two)
    return -float(np.vdot(y, log_p)) / n, grad  # gradient (p - y) / n


def _sparse(labels: Array, p: Array) -> tuple[float, Array]:
    """The categorical cross-entropy of integer labels: ``-mean log p[label]``, without a one-hot array."""
    index, n = labels[..., None], _batch_size(p)
    picked = np.take_along_axis(p, index, axis=-1)
    q = np.clip(picked, EPSILON, 1 - EPSILON)
    grad = np.zeros_like(p)
    np.put_along_axis(grad, index, np.where(q == picked, -1 / q, 0) / n, axis=-1)
    return float(-np.sum(np.log(q)) / n), grad


def _sparse_from_logits(labels: Array, z: Array) -> tuple[float, Array]:
    z = z.astype(np.result_type(z, 1.0), copy=False)  # integer logits compute in float64
    index, n = labels[..., None], _batch_size(z)
    log_p = z - z.max(axis=-1, keepdims=True)  # shifted: every exponent <= 0
    grad = np.exp(log_p)  # softmax's exponentials, once for the loss and its gradient
    total = grad.sum(axis=-1, keepdims=True)
    log_p -= np.log(total)
    grad /= total  # p
    np.put_along_axis(grad, index, np.take_along_axis(grad, index, axis=-1) - 1, axis=-1)  # p - onehot
    grad /= n
    return float(-np.sum(np.take_along_axis(log_p, index, axis=-1)) / n), grad


LOSSES: dict[tuple[str, bool], Callable[[Array, Array], tuple[float, Array]]] = {
    ("mean_squared_error", False): _mse,
    ("binary_crossentropy", False): _binary,
    ("binary_crossentropy", True): _binary_from_logits,
    ("categorical_crossentropy", False): _categorical,
    ("categorical_crossentropy", True): _categorical_from_logits,
    ("sparse_categorical_crossentropy", False): _sparse,
    ("sparse_categorical_crossentropy", True): _sparse_from_logits,
}


# ---------------------------------------------------------------- the engine

@dataclass(frozen=True)
class NumpyEngine(Engine):
    """NumPy on the CPU; every instance is the same engine."""

    name = "numpy"
    device = "cpu"
    activations = ACTIVATIONS

    def on(self, device: Any) -> Engine:
        if device is None or str(device) == "cpu":
            return self
        raise ValueError(f"the NumPy engine computes on the CPU only; got device={str(device)!r}. For a GPU "
                         "use the torch path: models.Sequential([...], device=...), or "
                         "gradbook.torch_path.models.from_reference(model, device)")

    def array(self, value: Any, dtype: np.dtype | str | None = None) -> Array:
        return np.asarray(value, dtype=dtype)

    def parameter(self, value: np.ndarray) -> Array:
        return np.array(value)

    def to_numpy(self, value: Any) -> np.ndarray:
        return np.asarray(value)

    def float_dtype(self, value: Any) -> np.dtype:
        dtype = np.asarray(value).dtype
        return dtype if dtype.kind == "f" else np.dtype("float32")

    def assign(self, target: Array, value: Any) -> None:
        target[...] = value

    def zeros_like(self, value: Array) -> Array:
        return np.zeros_like(value)

    def empty(self, shape: Sequence[int], dtype: np.dtype) -> Array:
        return np.empty(tuple(shape), dtype)

    def sums(self, count: int) -> Array:
        return np.zeros(count)

    def add_to(self, sums: Array, index: int, value: Any, scale: float = 1.0) -> None:
        sums[index] += value * scale

    def shuffler(self, seed: int | None) -> Callable[[int], Array]:
        return np.random.default_rng(seed).permutation

    def inference(self) -> ContextManager[object]:
        return contextlib.nullcontext()

    def fitting(self) -> ContextManager[object]:
        return contextlib.nullcontext()

    def layer_kernel(self, op: Op, activation: Activation) -> LayerKernel:
        return KERNELS[op.kind](op, activation)

    def sequence_ops(self) -> SequenceOps:
        return NUMPY_SEQUENCE_OPS

    def loss(self, name: str, target: Array, pred: Array, from_logits: bool) -> float:
        return LOSSES[name, from_logits](target, pred)[0]

    def loss_and_gradient(self, name: str, target: Array, pred: Array, from_logits: bool) -> tuple[float, Array]:
        return LOSSES[name, from_logits](target, pred)

    def gradients(self, loss_of: Callable[[], tuple[Array, Array | None]], backprop: Callable[[], Step],
                  params: Params) -> Step:
        return backprop()  # NumPy has no autograd: each layer's hand-written backward

    # -- optimisers (Keras' formulas; see `gradbook.reference.optimizers`). Every operation writes in
    # place (``out=``, ``*=``), the intermediate ``step`` into a scratch block `_by_blocks` hands in (made once
    # per update, not once per block); `_by_blocks` runs the formulas block by block, for speed only.

    def sgd(self, ps: list[Array], gs: list[Array], momenta: list[Array] | None, learning_rate: float,
            momentum: float, nesterov: bool) -> None:
        def update(step: Array, p: Array, g: Array, m: Array | None = None) -> None:
            np.multiply(g, learning_rate, out=step)  # lr·g
            if m is None:
                p -= step
                return
            m *= momentum
            m -= step
            if nesterov:
                step *= -1
                step += momentum * m
                p += step
            else:
                p += m

        _by_blocks(update, ps, gs, momenta)

    def rmsprop(self, ps: list[Array], gs: list[Array], velocities: list[Array], momenta: list[Array] | None,
                learning_rate: float, rho: float, momentum: float, epsilon: float) -> None:
        def update(step: Array, p: Array, g: Array, v: Array, m: Array | None = None) -> None:
            v *= rho
            np.multiply(g, g, out=step)
            step *= 1 - rho
            v += step                                  # v = rho·v + (1 - rho)·g²
            np.add(v, epsilon, out=step)
            np.sqrt(step, out=step)
            np.divide(g, step, out=step)
            step *= learning_rate                      # lr·g / sqrt(v + eps)
            if m is None:
                p -= step
                return
            m *= momentum
            m += step
            p -= m

        _by_blocks(update, ps, gs, velocities, momenta)

    def adam(self, ps: list[Array], gs: list[Array], ms: list[Array], vs: list[Array], alpha: float,
             beta_1: float, beta_2: float, epsilon: float) -> None:
        def update(step: Array, p: Array, g: Array, m: Array, v: Array) -> None:
            m *= beta_1
            np.multiply(g, 1 - beta_1, out=step)
            m += step                                  # m = beta_1·m + (1 - beta_1)·g
            v *= beta_2
            np.multiply(g, g, out=step)
            step *= 1 - beta_2
            v += step                                  # v = beta_2·v + (1 - beta_2)·g²
            np.sqrt(v, out=step)
            step += epsilon
            np.divide(m, step, out=step)
            step *= alpha                              # alpha·m / (sqrt(v) + eps)
            p -= step

        _by_blocks(update, ps, gs, ms, vs)


# For speed only: an update makes about ten passes over each parameter. On a whole 784x512 weight
# matrix every pass streams 1.6 MB per array from memory; cut into blocks of BLOCK numbers, a block of
# every array the update touches stays in the core's cache for all ten passes. The arithmetic is the same,
# element by element, in any order of the blocks. (One thread: sharing the blocks among BLAS's threads was
# slower on a 2-core machine, 690 against 630 µs a step, since BLAS's idle threads spin on the other core.)
BLOCK = 1 << 16  # 256 KiB of float32 per array: with the four arrays of an RMSprop step, 1 MiB, within L2


def _by_blocks(update: Callable[..., None], ps: list[Array], *others: list[Array] | None) -> None:
    """``update(step, p, g, ...)`` for every parameter and its arrays, one cache-sized block at a time, with
    ``step`` a scratch array of the block's shape.

    ``others`` are lists parallel to ``ps`` (gradients, optimiser state); a None list is left out.
    Arrays that are not all C-contiguous are updated whole (a flat view of them would be a copy).
    """
    scratch: dict[np.dtype, Array] = {}  # one block's worth per dtype
    for arrays in zip(ps, *(arrays for arrays in others if arrays is not None)):
        p = arrays[0]
        if p.size <= BLOCK or not all(a.flags.c_contiguous and a.size == p.size for a in arrays):
            update(np.empty_like(p), *arrays)
            continue
        if p.dtype not in scratch:
            scratch[p.dtype] = np.empty(BLOCK, p.dtype)
        flat = [a.reshape(-1) for a in arrays]  # views: the blocks are written in place
        for start in range(0, p.size, BLOCK):
            block = [a[start:start + BLOCK] for a in flat]
            update(scratch[p.dtype][:block[0].size], *block)


TINY = {np.dtype(np.float32): 1e-30, np.dtype(np.float64): 1e-290}  # ~1e8 times the smallest normal float


def flush_interval(decays: Iterable[float]) -> int | None:
    """How many steps may pass between two flushes (`flush_tiny`) of optimiser state that decays by these factors
    per step, or None when none of it decays. A number just above TINY, multiplied by ``d`` at every step, stays a
    normal float for log(smallest normal / TINY) / log(d) steps: 173 for d = 0.9, 7 for d = 0.1 (float32's margin,
    the narrower one)."""
    margin = math.log(np.finfo(np.float32).tiny / TINY[np.dtype(np.float32)])
    steps = [math.floor(margin / math.log(d)) for d in decays if 0 < d < 1]
    return max(1, min(steps)) if steps else None


def flush_tiny(arrays: list[Array]) -> None:
    """Set to 0 every number of ``arrays`` (optimiser state) smaller in size than TINY: before a decaying
    momentum or velocity turns subnormal (slow arithmetic), long after it stopped mattering (a float32 weight
    moves by nothing near 1e-30)."""
    def flush(scratch: Array, a: Array) -> None:  # one block, while it is in cache (for speed: no big temporaries)
        small = np.abs(a, out=scratch) < TINY.get(a.dtype, 0)
        if small.any():
            a[small] = 0

    _by_blocks(flush, arrays)


# ---------------------------------------------------------------- the sequence layers' primitives

def _fast_sigmoid(x: Array) -> Array:
    # For speed (an LSTM calls it every step): one tanh instead of exp, abs, where and two divisions.
    # The same function, and as stable: 1/(1 + e^-x) = (1 + tanh(x/2)) / 2.
    y = np.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


class NumpySequenceOps(SequenceOps):
    """The primitives `gradbook.reference.sequence` is written in, in NumPy."""

    activations = {**ACTIVATIONS, "sigmoid": Activation("sigmoid", _fast_sigmoid, ACTIVATIONS["sigmoid"].backward)}

    def sum(self, x: Array, axis: int | tuple[int, ...], keepdims: bool = False) -> Array:
        return np.sum(x, axis=axis, keepdims=keepdims)

    def zeros(self, shape: Sequence[int], like: Array) -> Array:
        return np.zeros(tuple(shape), like.dtype)

    def stack(self, arrays: Sequence[Array], axis: int) -> Array:
        return np.stack(arrays, axis)

    def concatenate(self, arrays: Sequence[Array], axis: int) -> Array:
        return np.concatenate(arrays, axis)

    def indices(self, x: Array) -> Array:
        return np.asarray(x).astype(np.int64, copy=False)

    def add_rows(self, rows: int, ids: Array, values: Array) -> Array:
        out = np.zeros((rows, values.shape[-1]), values.dtype)
        np.add.at(out, ids, values)  # unbuffered: a repeated id adds every time
        return out

    def activation(self, name: str) -> Activation:
        return self.activations[name]


NUMPY_SEQUENCE_OPS = NumpySequenceOps()
NUMPY = NumpyEngine()
