"""The reference optimisers (Keras' defaults and formulas) on torch tensors.

API as in `gradbook.reference.optimizers`: ``opt.step(params, grads)`` with two
dicts ``name -> tensor`` updates every parameter **in place**; state is kept per
name; ``opt.iterations`` counts steps. With ``g`` the gradient:

    SGD       m = momentum·m - lr·g;  p += m   (nesterov: p += momentum·m - lr·g)
    RMSprop   v = rho·v + (1 - rho)·g²;  step = lr·g / sqrt(v + epsilon)
    Adam      m = beta_1·m + (1 - beta_1)·g;  v = beta_2·v + (1 - beta_2)·g²
              p -= lr·sqrt(1 - beta_2^t)/(1 - beta_1^t) · m / (sqrt(v) + epsilon)

These are NOT torch.optim's: torch puts epsilon outside the square root in
RMSprop and adds it to the bias-corrected sqrt(v) in Adam, which changes the
steps where v is small. Agreement with the reference is the requirement here.

Each update is a handful of `torch._foreach_*` calls over all parameters at
once (the multi-tensor kernels torch.optim itself uses), so a step costs a few
kernel launches on a GPU, not a few per parameter. The bias-correction factor
is computed in Python from the step count: no value is read from the device.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gradbook.reference import optimizers as reference

Tensor = torch.Tensor


class Optimizer(reference.Optimizer):
    """The reference optimiser's settings, validation and config, with a multi-tensor ``step``.

    Subclasses also inherit from their reference twin (``SGD(Optimizer, reference.SGD)``), so
    the constructors, slots and ``get_config`` are the reference's; only ``_update`` is torch.
    """

    @torch.no_grad()
    def step(self, params: dict[str, Tensor], grads: dict[str, Tensor]) -> None:
        """Apply one update to every tensor in ``params`` in place, using ``grads`` with the same keys."""
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same keys; got {sorted(params)} and {sorted(grads)}")
        self.iterations += 1
        ps, gs = list(params.values()), [grads[name] for name in params]
        for name, p, g in zip(params, ps, gs):
            if name not in self.state:
                if g.shape != p.shape:
                    raise ValueError(f"gradient of {name!r} has shape {tuple(g.shape)}; "
                                     f"the parameter has {tuple(p.shape)}")
                self.state[name] = {k: torch.zeros_like(p) for k in self._slots()}
        slots = {k: [self.state[name][k] for name in params] for k in self._slots()}
        self._update(ps, gs, slots)

    def _update(self, ps: list[Tensor], gs: list[Tensor], slots: dict[str, list[Tensor]]) -> None:  # type: ignore[override]
        raise NotImplementedError

    def to_reference(self) -> reference.Optimizer:
        """An optimiser with the same settings on the NumPy engine (fresh state)."""
        return reference.from_config({"class": type(self).__name__, "config": self.get_config()})


class SGD(Optimizer, reference.SGD):
    def _update(self, ps: list[Tensor], gs: list[Tensor], slots: dict[str, list[Tensor]]) -> None:  # type: ignore[override]
        lr = self.learning_rate
        if not self.momentum:
            torch._foreach_add_(ps, gs, alpha=-lr)  # p -= lr·g
            return
        ms = slots["momentum"]
        torch._foreach_mul_(ms, self.momentum)
        torch._foreach_add_(ms, gs, alpha=-lr)  # m = momentum·m - lr·g
        if self.nesterov:
            torch._foreach_add_(ps, ms, alpha=self.momentum)
            torch._foreach_add_(ps, gs, alpha=-lr)  # p += momentum·m - lr·g
        else:
            torch._foreach_add_(ps, ms)


class RMSprop(Optimizer, reference.RMSprop):
    def _update(self, ps: list[Tensor], gs: list[Tensor], slots: dict[str, list[Tensor]]) -> None:  # type: ignore[override]
        vs = slots["velocity"]
        torch._foreach_mul_(vs, self.rho)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - self.rho)  # v = rho·v + (1 - rho)·g²
        denominators = torch._foreach_add(vs, self.epsilon)
        torch._foreach_sqrt_(denominators)  # sqrt(v + eps): Keras' placement of epsilon
        if self.momentum:
            ms = slots["momentum"]
            torch._foreach_mul_(ms, self.momentum)
            torch._foreach_addcdiv_(ms, gs, denominators, value=self.learning_rate)  # m = momentum·m + step
            torch._foreach_sub_(ps, ms)
        else:
            torch._foreach_addcdiv_(ps, gs, denominators, value=-self.learning_rate)


class Adam(Optimizer, reference.Adam):
    def _update(self, ps: list[Tensor], gs: list[Tensor], slots: dict[str, list[Tensor]]) -> None:  # type: ignore[override]
        ms, vs = slots["m"], slots["v"]
        t = self.iterations
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)  # bias correction
        torch._foreach_mul_(ms, self.beta_1)
        torch._foreach_add_(ms, gs, alpha=1 - self.beta_1)
        torch._foreach_mul_(vs, self.beta_2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - self.beta_2)
        denominators = torch._foreach_sqrt(vs)
        torch._foreach_add_(denominators, self.epsilon)  # sqrt(v) + eps, v not bias-corrected: Keras' form
        torch._foreach_addcdiv_(ps, ms, denominators, value=-alpha)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier: str | Optimizer | reference.Optimizer) -> Optimizer:
    """An optimiser by name with Keras' defaults, a torch-path instance, or the twin of a reference one."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, reference.Optimizer):
        return from_config({"class": type(identifier).__name__, "config": identifier.get_config()})
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"unknown optimizer {identifier!r}; valid optimizers: {', '.join(OPTIMIZERS)}")


def from_config(entry: dict[str, Any]) -> Optimizer:
    """An optimiser from ``{"class": "RMSprop", "config": {...}}`` (the save format)."""
    classes = {cls.__name__: cls for cls in OPTIMIZERS.values()}
    if entry["class"] not in classes:
        raise ValueError(f"unknown optimizer class {entry['class']!r}; valid: {', '.join(classes)}")
    return classes[entry["class"]](**entry["config"])
