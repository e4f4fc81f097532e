"""Keras-style utilities: ``from gradbook.utils import to_categorical``."""

from __future__ import annotations

import numpy as np


def to_categorical(y, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """One-hot encode integer class labels: shape ``y.shape + (num_classes,)`` (a trailing 1 is dropped), like Keras.

    >>> to_categorical([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    labels = y.astype(np.int64)
    if y.size and (np.any(labels != y) or labels.min() < 0):
        raise ValueError("to_categorical expects non-negative integer labels")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(f"label {int(labels.max())} does not fit num_classes={num_classes}")
    out = np.zeros((*labels.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out
