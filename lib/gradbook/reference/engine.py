"""What an engine is: the arithmetic the layers, losses, optimisers and model ask of it.

gradbook has one specification of each layer, loss, optimiser, activation and of the
model (`layers`, `losses`, `optimizers`, `activations`, `model` in this package): its
arguments and their checks, shapes, initialisation, save format and Keras names. The
specification holds an engine and calls into it for every number it computes; an engine
holds nothing but that arithmetic, on its own kind of array:

* `gradbook.reference.numpy_engine.NUMPY`: NumPy arrays, hand-written backward passes;
* `gradbook.torch_path.engine.TorchEngine`: torch tensors on a device, backward by autograd.

Everything an engine does is an abstract method below, so an engine that leaves one out
cannot be instantiated.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Literal, Mapping, Sequence

import numpy as np

Array = Any  # an engine's array: np.ndarray on NumPy, torch.Tensor on torch
Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))
Params = dict[str, Array]


@dataclass(frozen=True)
class Op:
    """A layer's arithmetic below its activation, with the settings it needs (fixed once the layer is built)."""

    kind: Literal["dense", "conv2d", "max_pool2d", "flatten", "identity"]
    strides: tuple[int, int] = (1, 1)
    pads: Pads = ((0, 0), (0, 0))  # conv2d: Keras' 'same' may pad one more pixel at the end
    window: tuple[int, int] = (1, 1)  # max_pool2d


@dataclass(frozen=True)
class Activation:
    """An activation by name on one engine: ``forward(x) -> y`` and ``backward(dout, y) -> dx``."""

    name: str
    forward: Callable[[Array], Array]
    backward: Callable[[Array, Array], Array]

    def __call__(self, x: Array) -> Array:
        return self.forward(x)


class LayerKernel(ABC):
    """One layer's arithmetic on one engine: ``activation(op(x, params))``, forward and backward.

    `forward`/`backward` are the CS231n contract (backward follows the last forward);
    `call` is the plain differentiable forward an autograd engine trains through.
    """

    def __init__(self, op: Op, activation: Activation) -> None:
        self.op, self.activation = op, activation

    def call(self, x: Array, params: Params) -> Array:
        return self.activation(self.affine(x, params))

    @abstractmethod
    def affine(self, x: Array, params: Params) -> Array:
        """The pre-activation ``z`` (the logits of a final softmax or sigmoid)."""

    @abstractmethod
    def forward(self, x: Array, params: Params) -> tuple[Array, Array]:
        """``(z, activation(z))``, keeping what the backward passes need."""

    def forward_logits(self, x: Array, params: Params) -> Array:
        """`forward` that keeps what `backward` needs but may skip the activation: ``z`` alone. (This default
        computes the activation all the same; an engine overrides it where that saves the work.)"""
        return self.forward(x, params)[0]

    @abstractmethod
    def activation_backward(self, dout: Array) -> Array:
        """dL/dz from dL/d(output) of the last forward."""

    @abstractmethod
    def backward(self, dz: Array, params: Params, grads: Params, input_grad: bool) -> Array | None:
        """Given dL/dz of the last forward: fill ``grads``, return dL/dx (``None`` unless ``input_grad``)."""


class SequenceOps(ABC):
    """The sequence contract's narrow backend: the few calls the sequence layers make that NumPy and
    torch spell differently.

    minitorch's idea: an engine writes a handful of primitives, and every sequence layer
    (`gradbook.reference.sequence`: Embedding, SimpleRNN, LSTM, LayerNormalization, attention) is
    written ONCE above them, forward and hand-written backward alike. Everything else those layers
    use is what both kinds of array already share: ``+ - * / @ **``, indexing, ``.shape``,
    ``.reshape``, ``.swapaxes``, ``.T``, comparisons. A new engine adds no RNN, LSTM or attention
    kernel, only these.

    Sequences are ``(batch, time, features)``; a padding mask is ``(batch, time)`` (True or 1 where a
    step is real), an attention mask ``(batch, queries, keys)`` (True where a query may attend).
    """

    @abstractmethod
    def sum(self, x: Array, axis: int | tuple[int, ...], keepdims: bool = False) -> Array: ...

    @abstractmethod
    def zeros(self, shape: Sequence[int], like: Array) -> Array:
        """Zeros of ``shape`` in ``like``'s dtype, on its device."""

    @abstractmethod
    def stack(self, arrays: Sequence[Array], axis: int) -> Array: ...

    @abstractmethod
    def concatenate(self, arrays: Sequence[Array], axis: int) -> Array:
        """The arrays joined along an existing axis."""

    @abstractmethod
    def indices(self, x: Array) -> Array:
        """Token ids as the engine's integer array (they may arrive as floats: a model casts its inputs)."""

    @abstractmethod
    def add_rows(self, rows: int, ids: Array, values: Array) -> Array:
        """``out[ids[i]] += values[i]`` into zeros of ``(rows, values.shape[-1])``: repeated ids add up."""

    @abstractmethod
    def activation(self, name: str) -> Activation:
        """The activation ``name`` (forward and backward rule) on this engine."""


Step = tuple[Array, Array | None, Params]  # a batch's loss, what the metrics read, dL/dparam by name


class Engine(ABC):
    """The arithmetic of every specification, on this engine's arrays (see the module docstring)."""

    name: str
    device: Any
    activations: Mapping[str, Activation]

    @abstractmethod
    def on(self, device: Any) -> Engine:
        """This engine on ``device`` (a clear error where it has no such device)."""

    # -- arrays
    @abstractmethod
    def array(self, value: Any, dtype: np.dtype | str | None = None) -> Array:
        """``value`` (an array of any engine, or a list) as this engine's array; a copy only if needed."""

    @abstractmethod
    def parameter(self, value: np.ndarray) -> Array:
        """A trainable copy of ``value``, in its dtype."""

    @abstractmethod
    def to_numpy(self, value: Any) -> np.ndarray:
        """``value`` as a NumPy array (shares memory where it can: copy before changing it)."""

    @abstractmethod
    def float_dtype(self, value: Any) -> np.dtype:
        """The dtype to compute ``value`` in: its own if it is a float type this engine has, else float32."""

    @abstractmethod
    def assign(self, target: Array, value: Any) -> None:
        """Copy ``value`` into ``target`` in place (the optimiser's state stays attached to it)."""

    @abstractmethod
    def zeros_like(self, value: Array) -> Array: ...

    @abstractmethod
    def empty(self, shape: Sequence[int], dtype: np.dtype) -> Array: ...

    @abstractmethod
    def sums(self, count: int) -> Array:
        """``count`` float64 zeros to add a fit's loss and metrics into."""

    @abstractmethod
    def add_to(self, sums: Array, index: int, value: Array, scale: float = 1.0) -> None:
        """``sums[index] += scale * value``."""

    @abstractmethod
    def shuffler(self, seed: int | None) -> Callable[[int], Array]:
        """A source of permutations of ``range(n)``, seeded."""

    @abstractmethod
    def inference(self) -> ContextManager[object]:
        """A context in which nothing is recorded for differentiation."""

    @abstractmethod
    def fitting(self) -> ContextManager[object]:
        """A context around a whole `fit`."""

    # -- layers, losses, differentiation
    @abstractmethod
    def layer_kernel(self, op: Op, activation: Activation) -> LayerKernel: ...

    @abstractmethod
    def sequence_ops(self) -> SequenceOps:
        """The primitives every sequence layer is written in (see `SequenceOps`)."""

    @abstractmethod
    def loss(self, name: str, target: Array, pred: Array, from_logits: bool) -> Array:
        """The batch loss (a differentiable scalar where the engine differentiates by itself)."""

    @abstractmethod
    def loss_and_gradient(self, name: str, target: Array, pred: Array, from_logits: bool) -> tuple[float, Array]:
        """The batch loss as a float and its gradient with respect to ``pred``."""

    @abstractmethod
    def gradients(self, loss_of: Callable[[], tuple[Array, Array | None]], backprop: Callable[[], Step],
                  params: Params) -> Step:
        """A training step's loss, output and gradients: by differentiating ``loss_of`` (autograd),
        or by ``backprop``, the layers' own backward passes (the CS231n contract)."""

    # -- optimisers: one update of every parameter, in place
    @abstractmethod
    def sgd(self, ps: list[Array], gs: list[Array], momenta: list[Array] | None, learning_rate: float,
            momentum: float, nesterov: bool) -> None: ...

    @abstractmethod
    def rmsprop(self, ps: list[Array], gs: list[Array], velocities: list[Array], momenta: list[Array] | None,
                learning_rate: float, rho: float, momentum: float, epsilon: float) -> None: ...

    @abstractmethod
    def adam(self, ps: list[Array], gs: list[Array], ms: list[Array], vs: list[Array], alpha: float,
             beta_1: float, beta_2: float, epsilon: float) -> None: ...


def resolve(current: Engine, target: Engine | Any) -> Engine:
    """``target`` if it is an engine, else ``current``'s engine on the device ``target``."""
    return target if isinstance(target, Engine) else current.on(target)
