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

What is the same on every engine lives here: the settings and their checks, the
state kept per parameter, the step count and bias correction, the config. The
optimiser's `engine` applies the formulas: NumPy by default, torch (multi-tensor
`torch._foreach_*` kernels) for `gradbook.torch_path.optimizers`.
"""

from __future__ import annotations

import math
from typing import Any

from gradbook.reference.engine import Array, Engine, resolve
from gradbook.reference.numpy_engine import NUMPY, flush_interval, flush_tiny

# For speed: a parameter whose gradient stays 0 (the weights of a ReLU unit that has died) keeps momenta and
# velocities that only decay, by beta at each step; some 700 steps later they are subnormal floats, on which the
# CPU computes ~100x slower (measured: chapter 5's MLP, 250 ms an epoch, took 390 ms after 10 epochs). The NumPy
# engine sets such state to 0 (`numpy_engine.flush_tiny`) as often as its fastest decay requires
# (`numpy_engine.flush_interval`: every 173 steps for a factor of 0.9); 0 stays 0 and is fast.

Slots = dict[str, list[Array]]  # slot name -> that slot's array for every parameter, in order


class Optimizer:
    """Base class: subclasses name their state and its decay per step (``_slots``) and hand the update to the
    engine (``_update``)."""

    def __init__(self, learning_rate: float, *, engine: Engine = NUMPY) -> None:
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive; got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.engine = engine
        self.iterations = 0
        self.state: dict[str, dict[str, Array]] = {}

    def step(self, params: dict[str, Array], grads: dict[str, Array]) -> None:
        """Apply one update to every array in ``params`` in place, using ``grads`` with the same keys."""
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same keys; got {sorted(params)} and {sorted(grads)}")
        for name, p in params.items():
            if grads[name].shape != p.shape:
                raise ValueError(f"gradient of {name!r} has shape {tuple(grads[name].shape)}; "
                                 f"the parameter has {tuple(p.shape)}")
            if name not in self.state:
                self.state[name] = {k: self.engine.zeros_like(p) for k in self._slots()}
        self.iterations += 1
        slots = {k: [self.state[name][k] for name in params] for k in self._slots()}
        self._update(list(params.values()), [grads[name] for name in params], slots)
        if self.engine is NUMPY:
            every = flush_interval(self._slots().values())
            if every is not None and self.iterations % every == 0:
                flush_tiny([array for arrays in slots.values() for array in arrays])

    def _slots(self) -> dict[str, float]:
        """The state kept per parameter, each with the factor it decays by at a step whose gradient is 0."""
        return {}

    def _update(self, ps: list[Array], gs: list[Array], slots: Slots) -> None:
        raise NotImplementedError

    def to(self, target: Engine | Any) -> "Optimizer":
        """Move the optimiser and its state to an engine, or a device of its engine (in place; returns it)."""
        engine = resolve(self.engine, target)
        if engine != self.engine:
            self.state = {name: {k: engine.array(self.engine.to_numpy(v)) for k, v in slots.items()}
                          for name, slots in self.state.items()}
            self.engine = engine
        return self

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()) + ")"


class SGD(Optimizer):
    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, *,
                 engine: Engine = NUMPY) -> None:
        super().__init__(learning_rate, engine=engine)
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1]; got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _slots(self) -> dict[str, float]:
        return {"momentum": self.momentum} if self.momentum else {}

    def _update(self, ps: list[Array], gs: list[Array], slots: Slots) -> None:
        self.engine.sgd(ps, gs, slots.get("momentum"), self.learning_rate, self.momentum, self.nesterov)

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, *, engine: Engine = NUMPY) -> None:
        super().__init__(learning_rate, engine=engine)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)

    def _slots(self) -> dict[str, float]:
        return {"velocity": self.rho} | ({"momentum": self.momentum} if self.momentum else {})

    def _update(self, ps: list[Array], gs: list[Array], slots: Slots) -> None:
        self.engine.rmsprop(ps, gs, slots["velocity"], slots.get("momentum"), self.learning_rate, self.rho,
                            self.momentum, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon}


class Adam(Optimizer):
    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, *, engine: Engine = NUMPY) -> None:
        super().__init__(learning_rate, engine=engine)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _slots(self) -> dict[str, float]:
        return {"m": self.beta_1, "v": self.beta_2}

    def _update(self, ps: list[Array], gs: list[Array], slots: Slots) -> None:
        t = self.iterations
        # The bias correction, in Python from the step count: nothing is read back from the engine.
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        self.engine.adam(ps, gs, slots["m"], slots["v"], alpha, self.beta_1, self.beta_2, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier: str | Optimizer, engine: Engine | None = None) -> Optimizer:
    """An optimiser with Keras' defaults by name (``'sgd'``, ``'rmsprop'``, ``'adam'``), or the instance given,
    on ``engine`` (an instance is moved there; without an engine it stays where it is, a new one is NumPy's)."""
    if isinstance(identifier, Optimizer):
        return identifier if engine is None else identifier.to(engine)
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()](engine=engine or NUMPY)
    raise ValueError(f"unknown optimizer {identifier!r}; valid optimizers: {', '.join(OPTIMIZERS)}")


def from_config(entry: dict[str, Any], engine: Engine = NUMPY) -> Optimizer:
    """An optimiser from ``{"class": "RMSprop", "config": {...}}`` (the save format)."""
    classes = {cls.__name__: cls for cls in OPTIMIZERS.values()}
    if entry["class"] not in classes:
        raise ValueError(f"unknown optimizer class {entry['class']!r}; valid: {', '.join(classes)}")
    return classes[entry["class"]](**entry["config"], engine=engine)
