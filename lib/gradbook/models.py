"""Keras-style facade: ``from gradbook import models``; ``models.Sequential([...])``, ``models.load_model(path)``.

One argument moves a model to the PyTorch path (and the GPU when there is one):
``models.Sequential([...], device="cuda")`` (or "cpu", or "auto"); without ``device``
it is the NumPy reference engine. Layers are given as ``gradbook.layers`` either way:
the model moves them onto its engine.
"""

from __future__ import annotations

import os
from typing import Sequence

from gradbook.reference import model
from gradbook.reference.engine import Engine
from gradbook.reference.layers import Layer
from gradbook.reference.model import History
from gradbook.reference.numpy_engine import NUMPY

__all__ = ["History", "Sequential", "load_model"]


def Sequential(layers: Sequence[Layer] | None = None, dtype: str = "float32", seed: int | None = None,  # noqa: N802
               name: str = "sequential", device: str | None = None) -> model.Sequential:
    """A Keras-style model on the NumPy engine, or with ``device=`` on the PyTorch path (see the module docstring)."""
    return model.Sequential(layers, dtype=dtype, seed=seed, name=name, engine=_engine(device))


def load_model(path: str | os.PathLike, device: str | None = None) -> model.Sequential:
    """Read a model saved by either engine: onto the NumPy engine, or the PyTorch path with ``device=``."""
    return model.load_model(path, _engine(device))


def _engine(device: str | None) -> Engine:
    if device is None:
        return NUMPY
    from gradbook.torch_path.engine import torch_engine  # imports torch only when asked for

    return torch_engine(device)
