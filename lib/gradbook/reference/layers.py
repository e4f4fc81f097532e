"""Layers: one specification each, whatever engine computes them.

A layer's specification is everything but arithmetic: its arguments and their
checks, its output shape, its initialisation (drawn in NumPy, so the same rng
gives the same weights on every engine), its config (the save format) and its
Keras name. Its `engine` computes it: NumPy by default, torch for the layers of
`gradbook.torch_path.layers`; ``layer.to(engine)`` moves a layer and its weights.

Every layer has

* ``params``: name -> array, and after ``backward`` the matching ``grads``;
* ``forward(x, training=True) -> out``, which keeps what backward needs;
* ``backward(dout, input_grad=True) -> dx``: given ``dL/dout`` of the last
  forward, fill ``grads`` and return ``dL/dx`` (``None`` when
  ``input_grad=False``: the first layer of a model never needs it);
* ``call(x)``: the plain differentiable forward an autograd engine trains through.

Images are NCHW, as in PyTorch. Weight layouts (also the save format):
Dense ``W`` (in, out) and ``b`` (out,); Conv2D ``W`` (out_c, in_c, kh, kw)
and ``b`` (out_c,). Conv2D is a cross-correlation, like ``torch.conv2d``.

A layer builds its parameters on its first input (or ``build(input_shape)``,
where ``input_shape`` excludes the batch axis, as in Keras). Every layer is
``activation(op(x))`` (linear for MaxPool2D and Flatten) and remembers the
pre-activation (``logits``), so a model can fuse a final softmax/sigmoid with its
cross-entropy: ``backward_preactivation(dz)`` starts backward below the activation.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from gradbook.reference import activations
from gradbook.reference.engine import Engine, LayerKernel, Op, Pads, resolve
from gradbook.reference.numpy_engine import NUMPY

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


def check_input_shape(where: str, input_shape: Shape | None, x_shape: Shape) -> None:
    """The error that names the layer and both shapes, when a batch of ``x_shape`` does not fit ``input_shape``."""
    if x_shape[1:] != input_shape:
        raise ValueError(f"{where} expects input of shape {_shape((None, *(input_shape or ())))}; "
                         f"got {_shape(x_shape)}")


# ---------------------------------------------------------------- the specification every layer follows

class Layer:
    """Base class. Subclasses give ``compute_output_shape`` and ``_op``, and ``_initial_params`` if they have weights."""

    def __init__(self, input_shape: Sequence[int] | None = None, *, engine: Engine = NUMPY) -> None:
        self.input_shape: Shape | None = tuple(input_shape) if input_shape is not None else None
        self.engine = engine
        self.activation: activations.Activation = activations.get(None, engine.activations)
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.logits: Any = None  # the pre-activation of the last forward: a model fuses it with the loss
        self.built = False
        self.where = type(self).__name__  # a model renames this "layer 2 (Dense)" for error messages
        self._kernel: LayerKernel | None = None

    # -- what a subclass defines
    def compute_output_shape(self, input_shape: Shape) -> Shape:
        raise NotImplementedError

    def _op(self, input_shape: Shape) -> Op:
        raise NotImplementedError

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, Array]:
        return {}

    def _make_kernel(self) -> LayerKernel:
        """The layer's arithmetic on its engine, once built (the sequence layers make theirs from `sequence`)."""
        return self.engine.layer_kernel(self._op(self.input_shape), self.activation)

    # -- building, and moving between engines
    def build(self, input_shape: Sequence[int], rng: np.random.Generator | None = None,
              dtype: str | np.dtype = "float32") -> None:
        """Create the parameters for inputs of per-sample shape ``input_shape``: the same rng, the same
        weights on every engine."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = np.dtype(dtype)
        self.compute_output_shape(self.input_shape)  # checks the shape before anything is drawn
        initial = self._initial_params(self.input_shape, rng if rng is not None else np.random.default_rng())
        self.params = {k: self.engine.parameter(v.astype(self.dtype)) for k, v in initial.items()}
        self.grads = {k: self.engine.zeros_like(p) for k, p in self.params.items()}
        self._kernel = self._make_kernel()
        self.built = True

    def to(self, target: Engine | Any) -> "Layer":
        """Move the layer and its weights to an engine, or to a device of its engine (in place; returns it)."""
        engine = resolve(self.engine, target)
        if engine != self.engine:
            self.params = {k: engine.parameter(self.engine.to_numpy(p)) for k, p in self.params.items()}
            self.grads = {k: engine.zeros_like(p) for k, p in self.params.items()}
            self.engine, self.activation = engine, activations.get(self.activation.name, engine.activations)
            if self.input_shape is not None and self.built:
                self._kernel = self._make_kernel()
        return self

    @property
    def kernel(self) -> LayerKernel:
        """The layer's arithmetic on its engine (there once the layer is built)."""
        if self._kernel is None:
            raise RuntimeError(f"{self.where} is not built yet: call build(input_shape) or forward(x) first")
        return self._kernel

    # -- forward and backward
    def call(self, x: Any) -> Any:
        """The differentiable forward of ``x``, already the engine's array in the layer's dtype."""
        return self.kernel.call(x, self.params)

    def affine(self, x: Any) -> Any:
        """`call` without the activation: the logits of a final softmax or sigmoid."""
        return self.kernel.affine(x, self.params)

    def forward(self, x: Any, training: bool = True) -> Any:
        """The output for ``x``, keeping what `backward` needs; builds the layer on its first input."""
        if not self.built:
            x = self.engine.array(x)
            self.build(tuple(x.shape[1:]), dtype=self.engine.float_dtype(x))
        self.logits, out = self.kernel.forward(self._input(x), self.params)
        return out

    def forward_logits(self, x: Any) -> Any:
        """`forward` without the activation: the logits, keeping what `backward_preactivation` needs. A model
        whose loss starts from the logits (a fused softmax or sigmoid) trains through this and never computes
        the activation it would not use."""
        if not self.built:
            x = self.engine.array(x)
            self.build(tuple(x.shape[1:]), dtype=self.engine.float_dtype(x))
        self.logits = self.kernel.forward_logits(self._input(x), self.params)
        return self.logits

    def backward(self, dout: Any, input_grad: bool = True) -> Any:
        """Given dL/dout of the last forward: fill ``grads``, return dL/dx (``None`` if not ``input_grad``)."""
        return self.backward_preactivation(self.kernel.activation_backward(self._gradient(dout)), input_grad)

    def backward_preactivation(self, dz: Any, input_grad: bool = True) -> Any:
        """Backward from dL/dz, below the activation: fill ``grads``, return dL/dx."""
        return self.kernel.backward(self._gradient(dz), self.params, self.grads, input_grad)

    def _gradient(self, d: Any) -> Any:
        if self.logits is None:
            raise RuntimeError(f"{self.where}: call forward before backward")
        return self.engine.array(d, self.dtype)

    def _input(self, x: Any) -> Any:
        """``x`` as the engine's array in the layer's dtype, once its per-sample shape is checked."""
        x = self.engine.array(x)
        check_input_shape(self.where, self.input_shape, tuple(x.shape))
        return self.engine.array(x, self.dtype)

    # -- config
    def get_config(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape) if self.input_shape is not None else None}

    @classmethod
    def from_config(cls, config: dict[str, Any], engine: Engine = NUMPY) -> "Layer":
        return cls(**config, engine=engine)

    def count_params(self) -> int:
        return sum(math.prod(p.shape) for p in self.params.values())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


def _positive(value: Any, what: str) -> int:
    if not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what} must be a positive int; got {value!r}")
    return int(value)


# ---------------------------------------------------------------- Dense

class Dense(Layer):
    """``activation(x @ W + b)`` with ``W`` of shape (in, units)."""

    def __init__(self, units: int, activation: str | None = None, input_shape: Sequence[int] | None = None,
                 kernel_initializer: str = "glorot_uniform", *, engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
        self.activation = activations.get(activation, engine.activations)
        self.units = _positive(units, "Dense units")
        self.kernel_initializer = kernel_initializer
        _initializer(kernel_initializer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 1:
            raise ValueError(f"{self.where} needs inputs with a feature axis; got per-sample shape {input_shape}")
        return (*input_shape[:-1], self.units)

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, Array]:
        kernel = _initializer(self.kernel_initializer)((input_shape[-1], self.units), rng)
        return {"W": kernel, "b": np.zeros(self.units)}

    def _op(self, input_shape: Shape) -> Op:
        return Op("dense")

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.activation.name, **super().get_config(),
                "kernel_initializer": self.kernel_initializer}


# ---------------------------------------------------------------- Conv2D

def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding: output ceil(size / stride), the odd pixel at the end."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2D(Layer):
    """2-D cross-correlation over NCHW inputs, ``W`` of shape (filters, in_channels, kh, kw)."""

    def __init__(self, filters: int, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1,
                 padding: str | int = "valid", activation: str | None = None,
                 input_shape: Sequence[int] | None = None, kernel_initializer: str = "glorot_uniform",
                 *, engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
        self.activation = activations.get(activation, engine.activations)
        self.filters = _positive(filters, "Conv2D filters")
        if not (padding in ("valid", "same") or (isinstance(padding, (int, np.integer)) and padding >= 0)):
            raise ValueError(f"Conv2D padding must be 'valid', 'same' or an int >= 0; got {padding!r}")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = padding if isinstance(padding, str) else int(padding)
        self.kernel_initializer = kernel_initializer
        _initializer(kernel_initializer)

    def _pads(self, h: int, w: int) -> Pads:
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

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, Array]:
        kernel = _initializer(self.kernel_initializer)((self.filters, input_shape[0], *self.kernel_size), rng)
        return {"W": kernel, "b": np.zeros(self.filters)}

    def _op(self, input_shape: Shape) -> Op:
        return Op("conv2d", strides=self.strides, pads=self._pads(*input_shape[1:]))

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "activation": self.activation.name, **super().get_config(),
                "kernel_initializer": self.kernel_initializer}


# ---------------------------------------------------------------- MaxPool2D

class MaxPool2D(Layer):
    """Max over ``pool_size`` windows of NCHW inputs (strides default to the pool size; 'valid' padding).

    Backward sends each window's gradient to ONE cell, the first maximum in row-major order, as torch does.
    """

    def __init__(self, pool_size: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None,
                 input_shape: Sequence[int] | None = None, *, engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
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

    def _op(self, input_shape: Shape) -> Op:
        return Op("max_pool2d", strides=self.strides, window=self.pool_size)

    def get_config(self) -> dict[str, Any]:
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), **super().get_config()}


# ---------------------------------------------------------------- Flatten, Activation

class Flatten(Layer):
    """(n, d1, d2, ...) -> (n, d1·d2·...); for NCHW images the order is C, H, W as in torch."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def _op(self, input_shape: Shape) -> Op:
        return Op("flatten")


class ActivationLayer(Layer):
    """An activation as a layer of its own: ``Activation('relu')``."""

    def __init__(self, activation: str, input_shape: Sequence[int] | None = None, *, engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
        self.activation = activations.get(activation, engine.activations)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def _op(self, input_shape: Shape) -> Op:
        return Op("identity")

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
    """The name a layer is saved under (the keys of `LAYERS`)."""
    for name, cls in LAYERS.items():
        if type(layer) is cls:
            return name
    raise ValueError(f"{type(layer).__name__} cannot be saved; savable layers: {', '.join(LAYERS)}")


def from_config(entry: dict[str, Any], engine: Engine = NUMPY) -> Layer:
    """A layer on ``engine`` from its ``{"class": ..., "config": {...}}`` entry in a saved model."""
    name = entry["class"]
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}; valid layers: {', '.join(LAYERS)}")
    return LAYERS[name].from_config(entry["config"], engine)


def clone(layer: Layer, engine: Engine) -> Layer:
    """A copy of ``layer`` on ``engine``: the same settings and, if it is built, a copy of its weights."""
    copy = from_config({"class": layer_class_name(layer), "config": layer.get_config()}, engine)
    if layer.built and layer.input_shape is not None:
        copy.build(layer.input_shape, dtype=layer.dtype)
        for name, p in copy.params.items():
            engine.assign(p, layer.engine.to_numpy(layer.params[name]))
    return copy
