"""The torch engine: the arithmetic of every specification on torch tensors on one device.

Forward passes are torch's (one fused kernel where torch has one); gradients come
from autograd, for a training step in ONE ``autograd.grad`` over the batch loss. The
optimisers' updates are Keras' formulas, not torch.optim's (which places epsilon
elsewhere), each a handful of multi-tensor ``torch._foreach_*`` calls over all
parameters at once. Nothing here reads a value back from the device unless asked
for a number (``loss_and_gradient``, ``to_numpy``).

`on_torch` turns a specification (a class or function taking ``engine=``) into the
torch path's version of it, which takes ``device=`` instead.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator, Sequence, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from gradbook.reference.engine import Activation, Engine, LayerKernel, Op, Params, SequenceOps, Step
from gradbook.torch_path import devices
from gradbook.torch_path.activations import ACTIVATIONS

Tensor = torch.Tensor
EPSILON = 1e-7  # Keras' backend epsilon, used to clip probabilities
FLOATS = (torch.float16, torch.float32, torch.float64)


def torch_dtype(dtype: np.dtype | str) -> torch.dtype:
    return torch.from_numpy(np.empty(0, np.dtype(dtype))).dtype


# ---------------------------------------------------------------- layers: forward in torch, backward by autograd

def _dense(x: Tensor, params: Params, op: Op) -> Tensor:
    W, b = params["W"], params["b"]
    return torch.addmm(b, x, W) if x.ndim == 2 else x @ W + b  # addmm: one fused kernel for the usual case


def _conv2d(x: Tensor, params: Params, op: Op) -> Tensor:
    (pt, pb), (pl, pr) = op.pads
    if pt == pb and pl == pr:
        return F.conv2d(x, params["W"], params["b"], stride=op.strides, padding=(pt, pl))
    # Keras' 'same' puts the odd pixel at the end; torch's padding= is symmetric, so pad by hand.
    return F.conv2d(F.pad(x, (pl, pr, pt, pb)), params["W"], params["b"], stride=op.strides)


LAYER_FUNCTIONS: dict[str, Callable[[Tensor, Params, Op], Tensor]] = {
    "dense": _dense,
    "conv2d": _conv2d,
    # max_pool2d sends a window's gradient to its first maximum, as the reference does.
    "max_pool2d": lambda x, params, op: F.max_pool2d(x, op.window, op.strides),
    "flatten": lambda x, params, op: x.reshape(x.shape[0], -1),
    "identity": lambda x, params, op: x,
}


class AutogradKernel(LayerKernel):
    """A layer's forward in torch; its backward passes by autograd on the graph of the last forward."""

    def __init__(self, function: Callable[[Tensor, Params, Op], Tensor], op: Op, activation: Activation) -> None:
        super().__init__(op, activation)
        self._function = function
        self._x = self._z = self._out = torch.empty(0)

    def affine(self, x: Tensor, params: Params) -> Tensor:
        return self._function(x, params, self.op)

    def forward(self, x: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        self._x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            self._z = self.affine(self._x, params)
            self._out = self.activation(self._z)
        return self._z.detach(), self._out.detach()

    def activation_backward(self, dout: Tensor) -> Tensor:
        if self._out is self._z:  # linear
            return dout
        (dz,) = torch.autograd.grad(self._out, self._z, dout, retain_graph=True)
        return dz

    def backward(self, dz: Tensor, params: Params, grads: Params, input_grad: bool) -> Tensor | None:
        names = list(params)
        inputs = [params[k] for k in names] + ([self._x] if input_grad else [])
        if not inputs:
            return None
        # retain_graph: like the reference, backward may run again on the same forward.
        results = torch.autograd.grad(self._z, inputs, dz, retain_graph=True)
        grads.update(zip(names, results))
        return results[-1] if input_grad else None


# ---------------------------------------------------------------- losses: differentiable scalars

def _batch_size(pred: Tensor) -> int:
    return math.prod(pred.shape[:-1]) if pred.ndim > 1 else 1


def _binary(target: Tensor, p: Tensor) -> Tensor:
    # clamp passes no gradient where it clips, exactly as the reference's mask q == p.
    q = torch.clamp(p, EPSILON, 1 - EPSILON)
    return -torch.mean(target * torch.log(q) + (1 - target) * torch.log1p(-q))


def _categorical(target: Tensor, p: Tensor) -> Tensor:
    q = torch.clamp(p, EPSILON, 1 - EPSILON)
    return -torch.sum(target * torch.log(q)) / _batch_size(p)


def _categorical_from_logits(target: Tensor, z: Tensor) -> Tensor:
    if z.ndim == 2:  # the usual case, as one fused kernel: probability targets, mean over the batch
        return F.cross_entropy(z, target)
    return -torch.sum(target * torch.log_softmax(z, dim=-1)) / _batch_size(z)


def _sparse(labels: Tensor, p: Tensor) -> Tensor:
    # Labels stay labels: picking one probability per row is one gather, where a one-hot target
    # would cost a multiply, a sum and a division per step.
    q = torch.clamp(p.gather(-1, labels[..., None]), EPSILON, 1 - EPSILON)
    return -torch.sum(torch.log(q)) / _batch_size(p)


def _sparse_from_logits(labels: Tensor, z: Tensor) -> Tensor:
    # cross_entropy wants the classes on dim 1 ((n, k, d...)); an unbatched (k,) row is allowed as it is.
    return F.cross_entropy(z.movedim(-1, 1) if z.ndim > 2 else z, labels)


LOSSES: dict[tuple[str, bool], Callable[[Tensor, Tensor], Tensor]] = {
    ("mean_squared_error", False): lambda target, p: torch.mean((p - target) ** 2),
    ("binary_crossentropy", False): _binary,
    # torch's fused form has gradient sigmoid(z) - y everywhere, z = 0 included, like the reference.
    ("binary_crossentropy", True): lambda target, z: F.binary_cross_entropy_with_logits(z, target),
    ("categorical_crossentropy", False): _categorical,
    ("categorical_crossentropy", True): _categorical_from_logits,
    ("sparse_categorical_crossentropy", False): _sparse,
    ("sparse_categorical_crossentropy", True): _sparse_from_logits,
}


@contextlib.contextmanager
def _cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """Let cuDNN pick the fastest convolution algorithm for the (few, fixed) batch shapes of a fit."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


# ---------------------------------------------------------------- the engine

# ---------------------------------------------------------------- the sequence layers' primitives

class TorchSequenceOps(SequenceOps):
    """The primitives `gradbook.reference.sequence` is written in, on torch tensors (any device)."""

    def sum(self, x: Tensor, axis: int | tuple[int, ...], keepdims: bool = False) -> Tensor:
        return torch.sum(x, dim=axis, keepdim=keepdims)

    def zeros(self, shape: Sequence[int], like: Tensor) -> Tensor:
        return torch.zeros(tuple(shape), dtype=like.dtype, device=like.device)

    def stack(self, arrays: Sequence[Tensor], axis: int) -> Tensor:
        return torch.stack(list(arrays), dim=axis)

    def concatenate(self, arrays: Sequence[Tensor], axis: int) -> Tensor:
        return torch.cat(list(arrays), dim=axis)

    def indices(self, x: Tensor) -> Tensor:
        return x.to(torch.long)

    def add_rows(self, rows: int, ids: Tensor, values: Tensor) -> Tensor:
        return torch.zeros((rows, values.shape[-1]), dtype=values.dtype, device=values.device).index_add_(0, ids, values)

    def activation(self, name: str) -> Activation:
        return ACTIVATIONS[name]


TORCH_SEQUENCE_OPS = TorchSequenceOps()


@dataclass(frozen=True)
class TorchEngine(Engine):
    """torch on ``device``; engines on the same device are the same engine."""

    device: torch.device
    name = "torch"
    activations = ACTIVATIONS

    def on(self, device: Any) -> Engine:
        return torch_engine(device)

    def array(self, value: Any, dtype: np.dtype | str | None = None) -> Tensor:
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(np.asarray(value))
        return value.to(device=self.device, dtype=torch_dtype(dtype) if dtype is not None else None)

    def parameter(self, value: np.ndarray) -> Tensor:
        return torch.tensor(np.asarray(value), device=self.device).requires_grad_(True)

    def to_numpy(self, value: Any) -> np.ndarray:
        return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)

    def float_dtype(self, value: Any) -> np.dtype:
        if isinstance(value, torch.Tensor):
            return np.dtype(str(value.dtype).removeprefix("torch.")) if value.dtype in FLOATS else np.dtype("float32")
        dtype = np.asarray(value).dtype
        return dtype if dtype.kind == "f" else np.dtype("float32")

    def assign(self, target: Tensor, value: Any) -> None:
        with torch.no_grad():
            target.copy_(self.array(value))

    def zeros_like(self, value: Tensor) -> Tensor:
        return torch.zeros_like(value)

    def empty(self, shape: Sequence[int], dtype: np.dtype) -> Tensor:
        return torch.empty(tuple(shape), dtype=torch_dtype(dtype), device=self.device)

    def sums(self, count: int) -> Tensor:
        return torch.zeros(count, dtype=torch.float64, device=self.device)

    def add_to(self, sums: Tensor, index: int, value: Tensor, scale: float = 1.0) -> None:
        sums[index].add_(value, alpha=scale)  # one kernel; nothing is read back

    def shuffler(self, seed: int | None) -> Callable[[int], Tensor]:
        generator = torch.Generator(device=self.device)
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
        return lambda n: torch.randperm(n, device=self.device, generator=generator)  # drawn on the device

    def inference(self) -> ContextManager[object]:
        return torch.no_grad()

    def fitting(self) -> ContextManager[object]:
        return _cudnn_benchmark(self.device)

    def layer_kernel(self, op: Op, activation: Activation) -> LayerKernel:
        return AutogradKernel(LAYER_FUNCTIONS[op.kind], op, activation)

    def sequence_ops(self) -> SequenceOps:
        return TORCH_SEQUENCE_OPS

    def loss(self, name: str, target: Tensor, pred: Tensor, from_logits: bool) -> Tensor:
        return LOSSES[name, from_logits](target, pred)

    def loss_and_gradient(self, name: str, target: Tensor, pred: Tensor, from_logits: bool) -> tuple[float, Tensor]:
        pred = pred.detach().requires_grad_(True)
        with torch.enable_grad():
            value = self.loss(name, target, pred, from_logits)
        (grad,) = torch.autograd.grad(value, pred)
        return float(value.detach()), grad

    def gradients(self, loss_of: Callable[[], tuple[Tensor, Tensor | None]], backprop: Callable[[], Step],
                  params: Params) -> Step:
        loss, out = loss_of()
        return loss, out, dict(zip(params, torch.autograd.grad(loss, list(params.values()))))

    # -- optimisers (Keras' formulas; see `gradbook.reference.optimizers`)

    @torch.no_grad()
    def sgd(self, ps: list[Tensor], gs: list[Tensor], momenta: list[Tensor] | None, learning_rate: float,
            momentum: float, nesterov: bool) -> None:
        if momenta is None:
            torch._foreach_add_(ps, gs, alpha=-learning_rate)  # p -= lr·g
            return
        torch._foreach_mul_(momenta, momentum)
        torch._foreach_add_(momenta, gs, alpha=-learning_rate)  # m = momentum·m - lr·g
        if nesterov:
            torch._foreach_add_(ps, momenta, alpha=momentum)
            torch._foreach_add_(ps, gs, alpha=-learning_rate)  # p += momentum·m - lr·g
        else:
            torch._foreach_add_(ps, momenta)

    @torch.no_grad()
    def rmsprop(self, ps: list[Tensor], gs: list[Tensor], velocities: list[Tensor], momenta: list[Tensor] | None,
                learning_rate: float, rho: float, momentum: float, epsilon: float) -> None:
        torch._foreach_mul_(velocities, rho)
        torch._foreach_addcmul_(velocities, gs, gs, value=1 - rho)  # v = rho·v + (1 - rho)·g²
        denominators = torch._foreach_add(velocities, epsilon)
        torch._foreach_sqrt_(denominators)  # sqrt(v + eps): Keras' placement of epsilon
        if momenta is None:
            torch._foreach_addcdiv_(ps, gs, denominators, value=-learning_rate)
            return
        torch._foreach_mul_(momenta, momentum)
        torch._foreach_addcdiv_(momenta, gs, denominators, value=learning_rate)  # m = momentum·m + step
        torch._foreach_sub_(ps, momenta)

    @torch.no_grad()
    def adam(self, ps: list[Tensor], gs: list[Tensor], ms: list[Tensor], vs: list[Tensor], alpha: float,
             beta_1: float, beta_2: float, epsilon: float) -> None:
        torch._foreach_mul_(ms, beta_1)
        torch._foreach_add_(ms, gs, alpha=1 - beta_1)
        torch._foreach_mul_(vs, beta_2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - beta_2)
        denominators = torch._foreach_sqrt(vs)
        torch._foreach_add_(denominators, epsilon)  # sqrt(v) + eps, v not bias-corrected: Keras' form
        torch._foreach_addcdiv_(ps, ms, denominators, value=-alpha)


def torch_engine(device: devices.DeviceLike = "auto") -> TorchEngine:
    """The torch engine on ``device``: "auto" (CUDA when present, else the CPU), "cpu", "cuda", ..."""
    return TorchEngine(devices.resolve(device))


S = TypeVar("S")


def on_torch(spec: Callable[..., S]) -> Callable[..., S]:
    """``spec`` (a class or function taking ``engine=``) with ``device=`` in its place: the torch engine there."""
    def on_device(*args: Any, device: devices.DeviceLike = "auto", **kwargs: Any) -> S:
        return spec(*args, engine=torch_engine(device), **kwargs)

    name = getattr(spec, "__name__", "spec")
    on_device.__name__ = on_device.__qualname__ = name
    on_device.__doc__ = (f"`{spec.__module__}.{name}` on the torch engine, with ``device=`` (\"auto\", \"cpu\", "
                         f"\"cuda\", ...) in place of ``engine=``.\n\n{spec.__doc__ or ''}")
    return on_device
