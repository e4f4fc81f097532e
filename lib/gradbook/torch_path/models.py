"""`Sequential` on the torch engine: the reference model, trained on a device without host syncs.

    from gradbook.torch_path import models, layers
    model = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                               layers.Dense(10, activation="softmax")], seed=0, device="auto")
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=128)

``Sequential(..., device=...)`` is `gradbook.reference.model.Sequential` on the torch
engine: the same class, so building, seeds (the same seed gives the same initial
weights on both engines), the fused softmax/sigmoid cross-entropy, metrics and the
save format are one code. ``load_model`` reads either engine's file;
``model.to_reference()`` and ``from_reference(model)`` copy a model between engines.

Why `fit` is fast on a GPU: the data and targets go to the device once; each
epoch's order is a device-side `randperm`; a step is forward, one ``autograd.grad``
for the whole model and a multi-tensor optimiser update, with the loss and metrics
summed on the device and read once per epoch. Nothing in the step loop waits for the
GPU, so Python runs ahead and queues the kernels.
"""

from __future__ import annotations

from gradbook.reference import model as spec
from gradbook.reference.model import History
from gradbook.torch_path import devices
from gradbook.torch_path.engine import on_torch, torch_engine

__all__ = ["History", "Sequential", "from_reference", "load_model"]

Sequential = on_torch(spec.Sequential)
load_model = on_torch(spec.load_model)


def from_reference(model: spec.Sequential, device: devices.DeviceLike = "auto") -> spec.Sequential:
    """A copy of ``model`` (layers, weights, compile settings; not the optimiser's state) on the torch engine."""
    return model.to_reference().to(torch_engine(device))
