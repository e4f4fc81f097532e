"""Small generated datasets for the perceptron, XOR and decision-boundary chapters.

Every function returns ``(X, y)``: X float32 of shape (n, 2) (``logic_gate("not")``: (2, 1)),
y int64 class labels of shape (n,). The same arguments and seed always give the same arrays.
Points are shuffled, so a slice is a fair sample; noise is Gaussian with standard deviation
`noise` (or `std`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["GATES", "blobs", "logic_gate", "moons", "spirals", "xor"]

Dataset = tuple[np.ndarray, np.ndarray]

_INPUTS_2 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
# Truth tables for the inputs (0,0), (0,1), (1,0), (1,1); "not" has the single input 0, 1.
GATES: dict[str, tuple[int, ...]] = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "nor": (1, 0, 0, 0),
    "xor": (0, 1, 1, 0),
    "not": (1, 0),
}


def logic_gate(name: str) -> Dataset:
    """The full truth table of a logic gate: "and", "or", "nand", "nor", "xor" (4 rows,
    2 inputs) or "not" (2 rows, 1 input), in binary counting order."""
    key = name.lower() if isinstance(name, str) else name
    if key not in GATES:
        raise ValueError(f"unknown logic gate {name!r}; choose one of {', '.join(map(repr, GATES))}")
    X = np.array([[0], [1]], dtype=np.float32) if key == "not" else _INPUTS_2.copy()
    return X, np.array(GATES[key], dtype=np.int64)


def xor(n: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Noisy XOR: `n` points in four clouds around the corners of the unit square, labelled
    by the XOR of the corner's coordinates (so (0,1) and (1,0) are class 1)."""
    _check_count(n, 1, "n")
    _check_spread(noise, "noise")
    rng = np.random.default_rng(seed)
    corners = rng.permutation(np.arange(n) % 4)  # as balanced as n allows
    X = _INPUTS_2[corners] + rng.normal(0.0, noise, size=(n, 2))
    y = np.array(GATES["xor"], dtype=np.int64)[corners]
    return X.astype(np.float32), y


def moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles of radius 1: class 0 is the upper one centred at (0, 0),
    class 1 the lower one centred at (1, 0.5); the same shape as scikit-learn's make_moons."""
    _check_count(n, 2, "n")
    _check_spread(noise, "noise")
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n - n_upper)
    X = np.concatenate([
        np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1),
        np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1),
    ])
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_upper, n - n_upper])
    X = X + rng.normal(0.0, noise, size=X.shape)
    return _shuffled(X, y, rng)


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2, seed: int = 0) -> Dataset:
    """`classes` interleaved spiral arms (the CS231n spiral): point i of arm k has radius
    r in [0, 1] and angle 4k + 4r (plus noise) radians, at (r sin(angle), r cos(angle))."""
    _check_count(classes, 2, "classes")
    _check_count(n, classes, "n")
    _check_spread(noise, "noise")
    rng = np.random.default_rng(seed)
    sizes = [n // classes + (k < n % classes) for k in range(classes)]
    X_parts, y_parts = [], []
    for k, size in enumerate(sizes):
        r = np.linspace(0.0, 1.0, size)
        angle = 4.0 * k + 4.0 * r + rng.normal(0.0, noise, size=size)
        X_parts.append(np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1))
        y_parts.append(np.full(size, k, dtype=np.int64))
    return _shuffled(np.concatenate(X_parts), np.concatenate(y_parts), rng)


def blobs(n: int = 300, centers: int | ArrayLike = 3, std: float = 1.0, seed: int = 0) -> Dataset:
    """Gaussian blobs: `centers` is a count (centres drawn uniformly from [-10, 10]^2) or
    an array of shape (k, 2); points are split as evenly as n allows; label = centre index."""
    _check_count(n, 1, "n")
    _check_spread(std, "std")
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)):
        _check_count(int(centers), 1, "centers")
        middle = rng.uniform(-10.0, 10.0, size=(int(centers), 2))
    else:
        middle = np.asarray(centers, dtype=np.float64)
        if middle.ndim != 2 or middle.shape[1] != 2 or len(middle) == 0:
            raise ValueError(f"centers must be a count or an array of shape (k, 2), got shape {middle.shape}")
    y = np.arange(n, dtype=np.int64) % len(middle)
    X = middle[y] + rng.normal(0.0, std, size=(n, 2))
    return _shuffled(X, y, rng)


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Dataset:
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


def _check_count(value: int, minimum: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_spread(value: float, name: str) -> None:
    if not isinstance(value, (int, float, np.floating, np.integer)) or not value >= 0 or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
