"""Optimisers with Keras' defaults and update rules.

API: ``opt.step(params, grads)`` where both are dicts ``name -> array`` with
the same keys; every parameter is updated **in place** (layers keep
references to their arrays). The optimiser keeps its state (momentum,
velocities) per name, so give each parameter a stable, unique name;
`Sequential` uses ``"layers.{i}.{param}"``, the keys of the save format.
``opt.iterations`` counts steps (Adam's ``t``).

With ``g`` the gradient and ``lr`` the learning rate (Keras' formulas):

    SGD       m = momentum·m - lr·g;  p += m   (nesterov: p += momentum·m - lr·g)
              momentum 0: p -= lr·g
    RMSprop   v = rho·v + (1 - rho)·g²;  step = lr·g / sqrt(v + epsilon)
              p -= step   (momentum > 0: m = momentum·m + step; p -= m)
    Adam      m = beta_1·m + (1 - beta_1)·g;  v = beta_2·v + (1 - beta_2)·g²
              p -= lr·sqrt(1 - beta_2^t)/(1 - beta_1^t) · m / (sqrt(v) + epsilon)

PyTorch differs only in where epsilon goes (``sqrt(v) + eps`` in RMSprop;
in Adam torch adds eps to the bias-corrected sqrt(v)); with momentum, torch's
buffer is Keras' ``m`` divided by ``-lr``, the same steps for a fixed ``lr``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = np.ndarray
State = dict[str, Array]


class Optimizer:
    """Base class: subclasses define ``_new_state`` and ``_update`` for one parameter."""

    def __init__(self, learning_rate: float) -> None:
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive; got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self.state: dict[str, State] = {}

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> None:
        """Apply one update to every array in ``params`` in place, using ``grads`` with the same keys."""
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same keys; got {sorted(params)} and {sorted(grads)}")
        self.iterations += 1
        for name, p in params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(f"gradient of {name!r} has shape {g.shape}; the parameter has {p.shape}")
            if name not in self.state:
                self.state[name] = {k: np.zeros_like(p) for k in self._slots()} | {"scratch": np.empty_like(p)}
            self._update(p, g, self.state[name])

    def _slots(self) -> tuple[str, ...]:
        return ()

    def _update(self, p: Array, g: Array, state: State) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()) + ")"


class SGD(Optimizer):
    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1]; got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _slots(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum else ()

    def _update(self, p: Array, g: Array, state: State) -> None:
        step = state["scratch"]
        np.multiply(g, self.learning_rate, out=step)  # lr·g
        if not self.momentum:
            p -= step
            return
        m = state["momentum"]
        m *= self.momentum
        m -= step
        if self.nesterov:
            step *= -1
            step += self.momentum * m
            p += step
        else:
            p += m

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)

    def _slots(self) -> tuple[str, ...]:
        return ("velocity", "momentum") if self.momentum else ("velocity",)

    def _update(self, p: Array, g: Array, state: State) -> None:
        v, step = state["velocity"], state["scratch"]
        v *= self.rho
        np.multiply(g, g, out=step)
        step *= 1 - self.rho
        v += step                                  # v = rho·v + (1 - rho)·g²
        np.add(v, self.epsilon, out=step)
        np.sqrt(step, out=step)
        np.divide(g, step, out=step)
        step *= self.learning_rate                 # lr·g / sqrt(v + eps)
        if self.momentum:
            m = state["momentum"]
            m *= self.momentum
            m += step
            p -= m
        else:
            p -= step

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon}


class Adam(Optimizer):
    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _slots(self) -> tuple[str, ...]:
        return ("m", "v")

    def _update(self, p: Array, g: Array, state: State) -> None:
        m, v, step = state["m"], state["v"], state["scratch"]
        t = self.iterations
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)  # bias correction
        m *= self.beta_1
        np.multiply(g, 1 - self.beta_1, out=step)
        m += step
        v *= self.beta_2
        np.multiply(g, g, out=step)
        step *= 1 - self.beta_2
        v += step
        np.sqrt(v, out=step)
        step += self.epsilon
        np.divide(m, step, out=step)
        step *= alpha
        p -= step

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier: str | Optimizer) -> Optimizer:
    """An optimiser with Keras' defaults by name (``'sgd'``, ``'rmsprop'``, ``'adam'``), or the instance given."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"unknown optimizer {identifier!r}; valid optimizers: {', '.join(OPTIMIZERS)}")


def from_config(entry: dict[str, Any]) -> Optimizer:
    """An optimiser from ``{"class": "RMSprop", "config": {...}}`` (the save format)."""
    classes = {cls.__name__: cls for cls in OPTIMIZERS.values()}
    if entry["class"] not in classes:
        raise ValueError(f"unknown optimizer class {entry['class']!r}; valid: {', '.join(classes)}")
    return classes[entry["class"]](**entry["config"])
