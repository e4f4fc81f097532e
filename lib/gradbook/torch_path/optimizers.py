"""The optimisers on the torch engine: `gradbook.reference.optimizers`, updating tensors on a device.

Each name takes the reference's arguments plus ``device=`` and makes the reference's
optimiser (Keras' defaults and formulas, NOT torch.optim's: torch puts epsilon
outside the square root in RMSprop and adds it to the bias-corrected sqrt(v) in Adam)
on the torch engine, whose update is a handful of multi-tensor ``torch._foreach_*``
calls over all parameters at once.
"""

from __future__ import annotations

from gradbook.reference import optimizers as spec
from gradbook.reference.optimizers import Optimizer
from gradbook.torch_path.engine import on_torch

__all__ = ["SGD", "Adam", "OPTIMIZERS", "Optimizer", "RMSprop", "from_config", "get"]

OPTIMIZERS = {name: on_torch(cls) for name, cls in spec.OPTIMIZERS.items()}
SGD, RMSprop, Adam = OPTIMIZERS["sgd"], OPTIMIZERS["rmsprop"], OPTIMIZERS["adam"]
get = on_torch(spec.get)
from_config = on_torch(spec.from_config)
