"""Layers with hand-written backward passes (the CS231n contract).

Every layer has

* ``params``: name -> array, and after ``backward`` the matching ``grads``;
* ``forward(x, training=True) -> out``, which keeps what backward needs in a cache;
* ``backward(dout, input_grad=True) -> dx``: given ``dL/dout`` of the last
  forward, fill ``grads`` and return ``dL/dx`` (``None`` when
  ``input_grad=False``: the first layer of a model never needs it).

Images are NCHW, as in PyTorch. Weight layouts (also the save format):
Dense ``W`` (in, out) and ``b`` (out,); Conv2D ``W`` (out_c, in_c, kh, kw)
and ``b`` (out_c,). Conv2D is a cross-correlation, like ``torch.conv2d``.

A layer builds its parameters on its first input (or ``build(input_shape)``,
where ``input_shape`` excludes the batch axis, as in Keras). Dense and Conv2D
take an ``activation=`` and remember the pre-activation (``logits``), so a
model can fuse a final softmax/sigmoid with its cross-entropy:
``backward_preactivation(dz)`` starts backward below the activation.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from gradbook.reference import activations

Array = np.ndarray
Shape = tuple[int, ...]


# ---------------------------------------------------------------- initialisers

def _fans(shape: Shape) -> tuple[int, int]:
    if len(shape) == 2:  # Dense (in, out)
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])  # Conv2D (out, in, kh, kw)
    return shape[1] * receptive, shape[0] * receptive


def _uniform(scale: float):
    def init(shape: Shape, rng: np.random.Generator) -> Array:
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(scale(fan_in, fan_out))
        return rng.uniform(-limit, limit, size=shape)
    return init


INITIALIZERS = {
    "glorot_uniform": _uniform(lambda fi, fo: 6 / (fi + fo)),
    "he_uniform": _uniform(lambda fi, fo: 6 / fi),
    "lecun_uniform": _uniform(lambda fi, fo: 3 / fi),
    "zeros": lambda shape, rng: np.zeros(shape),
}


def _initializer(name: str):
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; valid initializers: {', '.join(INITIALIZERS)}")
    return INITIALIZERS[name]


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in pair):
        raise ValueError(f"{what} must be a positive int or a pair of them; got {value!r}")
    return int(pair[0]), int(pair[1])


def _shape(shape: Sequence[int | None]) -> str:
    dims = ["n" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


# ---------------------------------------------------------------- base classes

class Layer:
    """Base class. Subclasses implement ``_build``, ``compute_output_shape``, ``forward``, ``backward``."""

    def __init__(self, input_shape: Sequence[int] | None = None) -> None:
        self.input_shape: Shape | None = tuple(input_shape) if input_shape is not None else None
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.built = False
        self.where = type(self).__name__  # a model renames this "layer 2 (Dense)" for error messages

    def build(self, input_shape: Sequence[int], rng: np.random.Generator | None = None,
              dtype: str | np.dtype = "float32") -> None:
        """Create the parameters for inputs of per-sample shape ``input_shape``."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = np.dtype(dtype)
        self._build(self.input_shape, rng if rng is not None else np.random.default_rng(), self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.built = True

    def _build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype) -> None:
        self.compute_output_shape(input_shape)  # parameter-free layers only validate

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        raise NotImplementedError

    def forward(self, x: Array, training: bool = True) -> Array:
        raise NotImplementedError

    def backward(self, dout: Array, input_grad: bool = True) -> Array | None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape) if self.input_shape is not None else None}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Layer":
        return cls(**config)

    def count_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def _check_input(self, x: Array) -> None:
        if not self.built:
            self.build(x.shape[1:], dtype=x.dtype if x.dtype.kind == "f" else "float32")
        elif x.shape[1:] != self.input_shape:
            raise ValueError(
                f"{self.where} expects input of shape {_shape((None, *self.input_shape))}; got {_shape(x.shape)}"
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


class _Activated(Layer):
    """A layer that computes ``z = affine(x)`` and then ``activation(z)``."""

    def __init__(self, activation: str | None = None, input_shape: Sequence[int] | None = None) -> None:
        super().__init__(input_shape)
        self.activation: activations.Activation = activations.get(activation)
        self.logits: Array | None = None
        self._out: Array | None = None

    def forward(self, x: Array, training: bool = True) -> Array:
        self._check_input(x)
        self.logits = self._affine_forward(x)
        self._out = self.activation.forward(self.logits)
        return self._out

    def backward(self, dout: Array, input_grad: bool = True) -> Array | None:
        return self.backward_preactivation(self.activation.backward(dout, self._out), input_grad)

    def backward_preactivation(self, dz: Array, input_grad: bool = True) -> Array | None:
        """Backward from ``dL/dz`` (below the activation): fill ``grads``, return ``dL/dx``."""
        raise NotImplementedError

    def _affine_forward(self, x: Array) -> Array:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.activation.name, **super().get_config()}


# ---------------------------------------------------------------- Dense

class Dense(_Activated):
    """``activation(x @ W + b)`` with ``W`` of shape (in, units)."""

    def __init__(self, units: int, activation: str | None = None, input_shape: Sequence[int] | None = None,
                 kernel_initializer: str = "glorot_uniform") -> None:
        super().__init__(activation, input_shape)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense units must be a positive int; got {units!r}")
        self.units = int(units)
        self.kernel_initializer = kernel_initializer
        _initializer(kernel_initializer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 1:
            raise ValueError(f"{self.where} needs inputs with a feature axis; got per-sample shape {input_shape}")
        return (*input_shape[:-1], self.units)

    def _build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype) -> None:
        self.compute_output_shape(input_shape)
        kernel = _initializer(self.kernel_initializer)((input_shape[-1], self.units), rng)
        self.params = {"W": kernel.astype(dtype), "b": np.zeros(self.units, dtype)}

    def _affine_forward(self, x: Array) -> Array:
        self._x = x
        z = x @ self.params["W"]
        z += self.params["b"]
        return z

    def backward_preactivation(self, dz: Array, input_grad: bool = True) -> Array | None:
        x = self._x
        x2, dz2 = x.reshape(-1, x.shape[-1]), dz.reshape(-1, self.units)
        np.matmul(x2.T, dz2, out=self.grads["W"])
        np.sum(dz2, axis=0, out=self.grads["b"])
        return dz @ self.params["W"].T if input_grad else None

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, **super().get_config(), "kernel_initializer": self.kernel_initializer}


# ---------------------------------------------------------------- Conv2D

def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding: output ceil(size / stride), the odd pixel at the end."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def im2col(x: Array, kernel: tuple[int, int], stride: tuple[int, int],
           pads: tuple[tuple[int, int], tuple[int, int]], out: Array | None = None) -> Array:
    """Patches of NCHW ``x`` as columns: shape (C·kh·kw, Ho·Wo·N), rows ordered like ``W.reshape(F, -1)``.

    One matmul ``W2 @ cols`` then convolves the whole batch. The columns go
    (output row, output column, image), the image index last: chapter 7's
    im2col orders them (image, row, column), which is the same matrix up to a
    permutation of its columns, but with N innermost every copy here and every
    add in `col2im` runs over Wo·N contiguous numbers instead of Wo, which
    makes them ~1.5x faster on MNIST-sized maps. The loop is over the kh·kw
    kernel offsets, never over pixels or images.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, pads
    ho, wo = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    xt = x.transpose(1, 2, 3, 0)  # (C, H, W, N): a free view when x came from a Conv2D
    if pt or pb or pl or pr:
        xp = np.zeros((c, h + pt + pb, w + pl + pr, n), x.dtype)
        xp[:, pt:pt + h, pl:pl + w] = xt
    else:
        xp = np.ascontiguousarray(xt)
    if out is None or out.shape != (c * kh * kw, ho * wo * n) or out.dtype != x.dtype:
        out = np.empty((c * kh * kw, ho * wo * n), x.dtype)
    cols = out.reshape(c, kh, kw, ho, wo, n)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[:, i:i + sh * ho:sh, j:j + sw * wo:sw]
    return out


def col2im(cols: Array, x_shape: Shape, kernel: tuple[int, int], stride: tuple[int, int],
           pads: tuple[tuple[int, int], tuple[int, int]]) -> Array:
    """The adjoint of `im2col`: add every column back onto the pixels it was copied from (NCHW result)."""
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = kernel, stride, pads
    ho, wo = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    dxp = np.zeros((c, h + pt + pb, w + pl + pr, n), cols.dtype)
    cols6 = cols.reshape(c, kh, kw, ho, wo, n)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i:i + sh * ho:sh, j:j + sw * wo:sw] += cols6[:, i, j]
    # Stays (C, H, W, N) in memory: the layer below reads it as NCHW through a free transpose.
    return dxp[:, pt:pt + h, pl:pl + w].transpose(3, 0, 1, 2)


class Conv2D(_Activated):
    """2-D cross-correlation over NCHW inputs, ``W`` of shape (filters, in_channels, kh, kw)."""

    def __init__(self, filters: int, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1,
                 padding: str | int = "valid", activation: str | None = None,
                 input_shape: Sequence[int] | None = None, kernel_initializer: str = "glorot_uniform") -> None:
        super().__init__(activation, input_shape)
        if not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"Conv2D filters must be a positive int; got {filters!r}")
        if not (padding in ("valid", "same") or (isinstance(padding, (int, np.integer)) and padding >= 0)):
            raise ValueError(f"Conv2D padding must be 'valid', 'same' or an int >= 0; got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = padding if isinstance(padding, str) else int(padding)
        self.kernel_initializer = kernel_initializer
        _initializer(kernel_initializer)
        self._cols: Array | None = None

    def _pads(self, h: int, w: int) -> tuple[tuple[int, int], tuple[int, int]]:
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":
            return (same_padding(h, self.kernel_size[0], self.strides[0]),
                    same_padding(w, self.kernel_size[1], self.strides[1]))
        p = int(self.padding)
        return (p, p), (p, p)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(
                f"{self.where} expects NCHW images, per-sample shape (channels, height, width); "
                f"got {_shape(input_shape)}"
            )
        _, h, w = input_shape
        (pt, pb), (pl, pr) = self._pads(h, w)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        ho, wo = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"{self.where}: a {kh}x{kw} kernel does not fit a {h}x{w} input")
        return (self.filters, ho, wo)

    def _build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype) -> None:
        self.compute_output_shape(input_shape)
        shape = (self.filters, input_shape[0], *self.kernel_size)
        kernel = _initializer(self.kernel_initializer)(shape, rng)
        self.params = {"W": kernel.astype(dtype), "b": np.zeros(self.filters, dtype)}

    def _affine_forward(self, x: Array) -> Array:
        n, _, h, w = x.shape
        self._x_shape = x.shape
        self._pad = self._pads(h, w)
        self._cols = im2col(x, self.kernel_size, self.strides, self._pad, out=self._cols)
        _, ho, wo = self.compute_output_shape(x.shape[1:])
        z = self.params["W"].reshape(self.filters, -1) @ self._cols  # (F, Ho·Wo·N)
        z += self.params["b"][:, None]
        # A view: NCHW to the caller, (F, Ho, Wo, N) in memory, which the next im2col reads without a copy.
        return z.reshape(self.filters, ho, wo, n).transpose(3, 0, 1, 2)

    def backward_preactivation(self, dz: Array, input_grad: bool = True) -> Array | None:
        dz2 = dz.transpose(1, 2, 3, 0).reshape(self.filters, -1)  # (F, Ho·Wo·N): free if dz is laid out like z
        W2 = self.params["W"].reshape(self.filters, -1)
        # cols @ dz2.T, then transpose: OpenBLAS runs this long-K, tiny-output product ~2x faster than dz2 @ cols.T
        self.grads["W"][...] = (self._cols @ dz2.T).T.reshape(self.grads["W"].shape)
        np.sum(dz2, axis=1, out=self.grads["b"])
        if not input_grad:
            return None
        return col2im(W2.T @ dz2, self._x_shape, self.kernel_size, self.strides, self._pad)

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, **super().get_config(), "kernel_initializer": self.kernel_initializer}


# ---------------------------------------------------------------- MaxPool2D

class MaxPool2D(Layer):
    """Max over ``pool_size`` windows of NCHW inputs (strides default to the pool size; 'valid' padding).

    Backward sends each window's gradient to ONE cell: the first maximum in
    row-major order, as torch does. A mask ``x == max`` would copy it to every
    tied cell, and MNIST's flat background is full of ties.
    """

    def __init__(self, pool_size: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(input_shape)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"{self.where} expects NCHW images, per-sample shape (channels, height, width); "
                             f"got {_shape(input_shape)}")
        c, h, w = input_shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        if h < ph or w < pw:
            raise ValueError(f"{self.where}: a {ph}x{pw} pool does not fit a {h}x{w} input")
        return (c, (h - ph) // sh + 1, (w - pw) // sw + 1)

    def _windows(self, ho: int, wo: int):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        for a in range(ph):
            for b in range(pw):
                yield (slice(None), slice(None), slice(a, a + sh * ho, sh), slice(b, b + sw * wo, sw))

    def forward(self, x: Array, training: bool = True) -> Array:
        self._check_input(x)
        _, ho, wo = self.compute_output_shape(x.shape[1:])
        self._x = x
        windows = self._windows(ho, wo)
        out = x[next(windows)].copy(order="K")  # keep the input's memory layout
        self._argmax = np.zeros(out.shape, np.uint8 if np.prod(self.pool_size) < 256 else np.int32)
        for k, index in enumerate(windows, start=1):
            candidate = x[index]
            better = candidate > out  # strict: the first maximum keeps the window
            np.copyto(out, candidate, where=better)
            self._argmax[better] = k
        return out

    def backward(self, dout: Array, input_grad: bool = True) -> Array | None:
        if not input_grad:
            return None
        _, ho, wo = dout.shape[1:]
        dx = np.zeros_like(self._x, dtype=dout.dtype)  # same memory layout as the input
        for k, index in enumerate(self._windows(ho, wo)):
            dx[index] += np.where(self._argmax == k, dout, 0)
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), **super().get_config()}


# ---------------------------------------------------------------- Flatten, Activation

class Flatten(Layer):
    """(n, d1, d2, ...) -> (n, d1·d2·...); for NCHW images the order is C, H, W as in torch."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def forward(self, x: Array, training: bool = True) -> Array:
        self._check_input(x)
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: Array, input_grad: bool = True) -> Array | None:
        return dout.reshape(self._x_shape) if input_grad else None


class ActivationLayer(Layer):
    """An activation as a layer of its own: ``Activation('relu')``."""

    def __init__(self, activation: str, input_shape: Sequence[int] | None = None) -> None:
        super().__init__(input_shape)
        self.activation = activations.get(activation)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def forward(self, x: Array, training: bool = True) -> Array:
        self._check_input(x)
        self.logits = x
        self._out = self.activation.forward(x)
        return self._out

    def backward(self, dout: Array, input_grad: bool = True) -> Array | None:
        return self.activation.backward(dout, self._out) if input_grad else None

    def backward_preactivation(self, dz: Array, input_grad: bool = True) -> Array | None:
        return dz if input_grad else None

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.activation.name, **super().get_config()}


Activation = ActivationLayer  # Keras' name (activations.Activation is the function pair it wraps)

# Keras aliases
MaxPooling2D = MaxPool2D
Convolution2D = Conv2D

LAYERS: dict[str, type[Layer]] = {
    "Dense": Dense, "Conv2D": Conv2D, "MaxPool2D": MaxPool2D, "Flatten": Flatten, "Activation": ActivationLayer,
}


def layer_class_name(layer: Layer) -> str:
    """The name a layer is saved under (the keys of `LAYERS`), on either engine: the torch
    path's layers subclass these under the same class names."""
    for name, cls in LAYERS.items():
        if isinstance(layer, cls) and type(layer).__name__ == cls.__name__:
            return name
    raise ValueError(f"{type(layer).__name__} cannot be saved; savable layers: {', '.join(LAYERS)}")


def from_config(entry: dict[str, Any]) -> Layer:
    """A layer from its ``{"class": ..., "config": {...}}`` entry in a saved model."""
    name = entry["class"]
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}; valid layers: {', '.join(LAYERS)}")
    return LAYERS[name].from_config(entry["config"])
