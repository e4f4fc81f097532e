"""Keras-style facade: ``from gradbook import models``; ``models.Sequential([...])``, ``models.load_model(path)``.

One argument moves a model to the PyTorch path (and the GPU when there is one):
``models.Sequential([...], device="cuda")`` (or "cpu", or "auto"); without ``device``
it is the NumPy reference engine. Layers are given as ``gradbook.layers`` either way.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from gradbook.reference import model as reference
from gradbook.reference.layers import Layer
from gradbook.reference.model import History

__all__ = ["History", "Sequential", "load_model"]


class Sequential(reference.Sequential):
    """The reference engine's model; with ``device=`` the same model on the PyTorch path instead."""

    def __new__(cls, layers: Sequence[Layer] | None = None, *args: Any, device: str | None = None, **kwargs: Any):
        if device is None:
            return super().__new__(cls)
        from gradbook.torch_path.models import from_reference  # imports torch only when asked for

        return from_reference(reference.Sequential(layers, *args, **kwargs), device)

    def __init__(self, layers: Sequence[Layer] | None = None, dtype: str = "float32", seed: int | None = None,
                 name: str = "sequential", device: None = None) -> None:
        super().__init__(layers, dtype=dtype, seed=seed, name=name)


def load_model(path: str | os.PathLike, device: str | None = None) -> reference.Sequential:
    """Read a model saved by either engine: onto the NumPy engine, or the PyTorch path with ``device=``."""
    if device is None:
        return reference.load_model(path)
    from gradbook.torch_path.models import load_model as load_on_torch

    return load_on_torch(path, device)
