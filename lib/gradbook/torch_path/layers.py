"""The reference layers on torch tensors: forward in torch, backward by autograd.

Each class here is its reference counterpart (`gradbook.reference.layers`) with
tensor parameters: it inherits the constructor, validation, shape rules,
initialisation and config from the reference, so the two engines cannot drift
apart in what a layer *is*, and replaces only the arithmetic. Every layer also
takes ``device=`` ("auto", "cpu", "cuda"). Parameters are leaf tensors that
require grad; weight layouts are the reference's (Dense W (in, out), Conv2D W
(out_c, in_c, kh, kw)).

Two ways in:

* ``call(x)``: the differentiable forward, used by `Sequential` so that one
  ``autograd.grad`` per step covers the whole model;
* ``forward(x)`` / ``backward(dout)``: the reference's CS231n contract for one
  layer on its own (a cache, ``grads`` filled, ``dL/dx`` returned), here
  computed by autograd on the cached graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gradbook.reference import layers as reference
from gradbook.torch_path import activations, devices

Tensor = torch.Tensor
TORCH_DTYPES = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64}


def torch_dtype(dtype: str | np.dtype) -> torch.dtype:
    name = np.dtype(dtype).name
    if name not in TORCH_DTYPES:
        raise ValueError(f"the torch path supports dtypes {', '.join(TORCH_DTYPES)}; got {name}")
    return TORCH_DTYPES[name]


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    for name, candidate in TORCH_DTYPES.items():
        if candidate == dtype:
            return np.dtype(name)
    return np.dtype("float32")  # integer images and the like are computed in float32, as in the reference


class Layer:
    """What every torch-path layer adds to its reference class: tensors, a device, autograd.

    A mixin: each concrete layer is ``class Dense(..., reference.Dense)``, so it is
    also an instance of its reference class.
    """

    params: dict[str, Tensor]
    grads: dict[str, Tensor]

    def __init__(self, *args: Any, device: devices.DeviceLike = "auto", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # the reference constructor: same arguments, same checks
        self.device = devices.resolve(device)
        self._x: Tensor | None = None
        self._graph_out: Tensor | None = None

    def build(self, input_shape: Any, rng: np.random.Generator | None = None,
              dtype: str | np.dtype = "float32") -> None:
        """Create the parameters with the reference's initialiser (the same rng gives the same weights)."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = np.dtype(dtype)
        self._build(self.input_shape, rng if rng is not None else np.random.default_rng(), self.dtype)
        self.params = {k: self._tensor(v).requires_grad_(True) for k, v in self.params.items()}
        self.grads = {k: torch.zeros_like(v) for k, v in self.params.items()}
        self.built = True

    def to(self, device: devices.DeviceLike) -> "Layer":
        """Move the parameters to ``device`` (in place; returns the layer)."""
        self.device = devices.resolve(device)
        self.params = {k: v.detach().to(self.device).requires_grad_(True) for k, v in self.params.items()}
        self.grads = {k: v.to(self.device) for k, v in self.grads.items()}
        return self

    def set_params(self, params: dict[str, Any]) -> None:
        """Replace the parameter values (NumPy arrays or tensors of the same shapes), in the layer's dtype."""
        if params.keys() != self.params.keys():
            raise ValueError(f"{self.where} has parameters {sorted(self.params)}; got {sorted(params)}")
        with torch.no_grad():
            for name, value in params.items():
                value = self._tensor(value)
                if value.shape != self.params[name].shape:
                    raise ValueError(f"{self.where}: {name} has shape {tuple(self.params[name].shape)}; "
                                     f"got {tuple(value.shape)}")
                self.params[name].copy_(value)

    def to_reference(self) -> reference.Layer:
        """The same layer, with a copy of its weights, on the NumPy reference engine."""
        layer = reference.from_config({"class": reference.layer_class_name(self), "config": self.get_config()})
        if self.built:
            layer.build(self.input_shape, dtype=self.dtype)
            for name, value in self.params.items():
                layer.params[name][...] = value.detach().cpu().numpy()
        return layer

    def _tensor(self, value: Any) -> Tensor:
        """A copy of ``value`` (array or tensor) in the layer's dtype on its device."""
        if isinstance(value, torch.Tensor):
            return value.detach().to(device=self.device, dtype=torch_dtype(self.dtype), copy=True)
        return torch.tensor(np.asarray(value), dtype=torch_dtype(self.dtype), device=self.device)

    def count_params(self) -> int:
        return sum(p.numel() for p in self.params.values())

    # -- forward
    def call(self, x: Tensor) -> Tensor:
        """The differentiable forward on a tensor already on the layer's device and dtype."""
        raise NotImplementedError

    def prepare(self, x: Any) -> Tensor:
        """``x`` as a tensor on the layer's device and dtype, building the layer on its first input."""
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if not self.built:
            self.build(tuple(x.shape[1:]), dtype=numpy_dtype(x.dtype))
        elif tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self.where} expects input of shape "
                             f"{reference._shape((None, *self.input_shape))}; got {reference._shape(tuple(x.shape))}")
        return x.to(device=self.device, dtype=torch_dtype(self.dtype))

    def forward(self, x: Any, training: bool = True) -> Tensor:
        """The output for ``x`` (detached); keeps the graph so that `backward` can follow."""
        self._x = self.prepare(x).detach().requires_grad_(True)
        with torch.enable_grad():
            self._graph_out = self._forward_graph(self._x)
        return self._graph_out.detach()

    def _forward_graph(self, x: Tensor) -> Tensor:
        return self.call(x)

    # -- backward
    def backward(self, dout: Any, input_grad: bool = True) -> Tensor | None:
        """Given ``dL/dout`` of the last forward: fill ``grads`` and return ``dL/dx`` (None if not asked)."""
        return self._backward_from(self._graph_out, dout, input_grad)

    def _backward_from(self, out: Tensor | None, dout: Any, input_grad: bool) -> Tensor | None:
        if out is None or self._x is None:
            raise RuntimeError(f"{self.where}: call forward before backward")
        dout = torch.as_tensor(dout).to(device=out.device, dtype=out.dtype)
        names = list(self.params)
        inputs = [self.params[k] for k in names] + ([self._x] if input_grad else [])
        if not inputs:
            return None
        # retain_graph: like the reference, backward may run again on the same forward.
        grads = torch.autograd.grad(out, inputs, dout, retain_graph=True)
        for name, grad in zip(names, grads):
            self.grads[name] = grad
        return grads[-1] if input_grad else None


class _TorchActivated(Layer):
    """Dense and Conv2D: ``z = affine(x)`` then ``activation(z)``, keeping ``z`` for the fused loss."""

    def __init__(self, *args: Any, device: devices.DeviceLike = "auto", **kwargs: Any) -> None:
        super().__init__(*args, device=device, **kwargs)
        self.activation = activations.get(self.activation.name)  # the torch version of the same function
        self._graph_z: Tensor | None = None

    def affine(self, x: Tensor) -> Tensor:
        """The pre-activation ``z`` (the logits of a final softmax/sigmoid layer)."""
        raise NotImplementedError

    def call(self, x: Tensor) -> Tensor:
        return self.activation(self.affine(x))

    def _forward_graph(self, x: Tensor) -> Tensor:
        self._graph_z = self.affine(x)
        self.logits = self._graph_z.detach()
        return self.activation(self._graph_z)

    def backward_preactivation(self, dz: Any, input_grad: bool = True) -> Tensor | None:
        """Backward from ``dL/dz`` (below the activation): fill ``grads``, return ``dL/dx``."""
        return self._backward_from(self._graph_z, dz, input_grad)


class Dense(_TorchActivated, reference.Dense):
    """``activation(x @ W + b)`` with ``W`` of shape (in, units); the reference's arguments plus ``device=``."""

    def affine(self, x: Tensor) -> Tensor:
        W, b = self.params["W"], self.params["b"]
        if x.ndim == 2:
            return torch.addmm(b, x, W)  # one fused kernel for the common case
        return x @ W + b


class Conv2D(_TorchActivated, reference.Conv2D):
    """2-D cross-correlation over NCHW inputs, ``W`` (filters, in_channels, kh, kw); plus ``device=``."""

    def affine(self, x: Tensor) -> Tensor:
        (pt, pb), (pl, pr) = self._pads(x.shape[2], x.shape[3])
        if pt == pb and pl == pr:
            return F.conv2d(x, self.params["W"], self.params["b"], stride=self.strides, padding=(pt, pl))
        # Keras' 'same' puts the odd pixel at the end; torch's padding= is symmetric, so pad by hand.
        return F.conv2d(F.pad(x, (pl, pr, pt, pb)), self.params["W"], self.params["b"], stride=self.strides)


class MaxPool2D(Layer, reference.MaxPool2D):
    """Max over windows; backward routes each window's gradient to its first arg-max, like the reference."""

    def call(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.pool_size, self.strides)


class Flatten(Layer, reference.Flatten):
    """(n, d1, d2, ...) -> (n, d1·d2·...), C-order, like the reference."""

    def call(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class ActivationLayer(Layer, reference.ActivationLayer):
    """An activation as a layer of its own: ``Activation('relu')``."""

    def __init__(self, activation: str, input_shape: Any = None, *, device: devices.DeviceLike = "auto") -> None:
        super().__init__(activation, input_shape, device=device)
        self.activation = activations.get(self.activation.name)

    def call(self, x: Tensor) -> Tensor:
        return self.activation(x)

    def _forward_graph(self, x: Tensor) -> Tensor:
        self.logits = x.detach()
        return self.activation(x)

    def backward_preactivation(self, dz: Any, input_grad: bool = True) -> Tensor | None:
        return torch.as_tensor(dz).to(self.device) if input_grad else None


Activation = ActivationLayer  # Keras' name

# Keras aliases
MaxPooling2D = MaxPool2D
Convolution2D = Conv2D

LAYERS: dict[str, type[Layer]] = {
    "Dense": Dense, "Conv2D": Conv2D, "MaxPool2D": MaxPool2D, "Flatten": Flatten, "Activation": ActivationLayer,
}


def from_config(entry: dict[str, Any], device: devices.DeviceLike = "auto") -> Layer:
    """A layer from its ``{"class": ..., "config": {...}}`` entry in a saved model."""
    name = entry["class"]
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}; valid layers: {', '.join(LAYERS)}")
    return LAYERS[name](**entry["config"], device=device)


def from_reference(layer: reference.Layer, device: devices.DeviceLike = "auto") -> Layer:
    """The torch-path twin of a reference layer, with a copy of its weights."""
    twin = from_config({"class": reference.layer_class_name(layer), "config": layer.get_config()}, device=device)
    if layer.built:
        twin.build(layer.input_shape, dtype=layer.dtype)
        twin.set_params(layer.params)
    return twin
