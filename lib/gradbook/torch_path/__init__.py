"""The reference engine's API on PyTorch tensors, on a CUDA GPU when one is present.

    from gradbook.torch_path import models, layers
    model = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                               layers.Dense(10, activation="softmax")], device="auto")

The same specifications as `gradbook.reference` (the same classes: same signatures,
weight layouts and save format, so a model saved on one engine loads on the other),
computed by the torch engine (`engine`), plus ``device=``: "auto" (CUDA when
present, else the CPU), "cpu" or "cuda". Backward passes come from torch autograd;
the optimisers apply Keras' formulas, as the reference does.

Importing this package does not import torch (it costs seconds): the submodules
load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {"activations", "devices", "engine", "layers", "losses", "models", "optimizers"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gradbook.torch_path' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})
