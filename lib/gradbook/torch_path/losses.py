"""The losses on the torch engine: `gradbook.reference.losses`, computed by torch on a device.

Each name takes the reference's arguments plus ``device=`` and makes the reference's
loss on the torch engine: the same names, semantics, target checks and messages.
``value(target, y_pred)`` and ``value_from_logits(target, z)`` are differentiable
scalar tensors; ``value_and_gradient`` gives the gradient by autograd.
"""

from __future__ import annotations

from gradbook.reference import losses as spec
from gradbook.reference.losses import Loss
from gradbook.torch_path.engine import on_torch

__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "LOSSES", "Loss", "MeanSquaredError",
           "SparseCategoricalCrossentropy", "binary_crossentropy", "categorical_crossentropy", "from_config", "get",
           "mean_squared_error", "mse", "sparse_categorical_crossentropy"]

LOSSES = {name: on_torch(cls) for name, cls in spec.LOSSES.items()}
MeanSquaredError = LOSSES["mean_squared_error"]
BinaryCrossentropy = LOSSES["binary_crossentropy"]
CategoricalCrossentropy = LOSSES["categorical_crossentropy"]
SparseCategoricalCrossentropy = LOSSES["sparse_categorical_crossentropy"]
get = on_torch(spec.get)
from_config = on_torch(spec.from_config)
mean_squared_error = mse = on_torch(spec.mean_squared_error)
binary_crossentropy = on_torch(spec.binary_crossentropy)
categorical_crossentropy = on_torch(spec.categorical_crossentropy)
sparse_categorical_crossentropy = on_torch(spec.sparse_categorical_crossentropy)
