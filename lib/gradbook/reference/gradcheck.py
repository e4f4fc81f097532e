"""Gradient checking: compare a hand-written backward pass with central differences.

    df/dx_i  ~  (f(x + h e_i) - f(x - h e_i)) / 2h        error O(h^2)

Use float64: in float32 the rounding error of f swamps the difference quotient.
Agreement is measured by the relative error ``|a - n| / (|a| + |n|)`` over the
whole array (norms), which is ~1e-8 or less for a correct float64 gradient
and of order 1 for a wrong one; a kink such as relu's at 0 between x - h and
x + h can make it ~1e-4.

    report = check_gradients(lambda: loss(W1, b1, W2, b2), {"W1": W1, ...}, {"W1": dW1, ...})
    print(report)          # a table, one row per parameter
    assert report.passed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from gradbook.reference.layers import Layer

Array = np.ndarray


def numerical_gradient(f: Callable[[Array], float | Array], x: Array, dout: Array | None = None,
                       h: float = 1e-5) -> Array:
    """Central-difference gradient of ``f`` at ``x``.

    ``f(x)`` may return a scalar, or an array when ``dout`` (same shape as the
    output) is given: then this is the gradient of ``sum(f(x) * dout)``, what a
    layer's backward computes. ``x`` is perturbed in place and restored, so
    ``f`` may also ignore its argument and read an array it shares with ``x``.
    """
    def scalar(value: float | Array) -> float:
        return float(np.sum(np.asarray(value) * dout)) if dout is not None else float(value)

    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        original = x[i].copy()
        x[i] = original + h
        plus = scalar(f(x))
        x[i] = original - h
        minus = scalar(f(x))
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    """``||a - n|| / (||a|| + ||n||)``, 0 when both are 0."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    denominator = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / denominator) if denominator > 0 else 0.0


@dataclass(frozen=True)
class GradCheckRow:
    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    relative_error: float


@dataclass(frozen=True)
class GradCheckReport:
    """One row per checked array; ``passed`` when every relative error is below ``tolerance``."""

    rows: tuple[GradCheckRow, ...]
    tolerance: float = 1e-6

    @property
    def passed(self) -> bool:
        return all(row.relative_error < self.tolerance for row in self.rows)

    @property
    def max_relative_error(self) -> float:
        return max((row.relative_error for row in self.rows), default=0.0)

    def __getitem__(self, name: str) -> GradCheckRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no row {name!r}; rows: {', '.join(r.name for r in self.rows)}")

    def __str__(self) -> str:
        header = ("name", "shape", "max |error|", "relative error", "")
        lines = [(r.name, str(r.shape), f"{r.max_abs_error:.2e}", f"{r.relative_error:.2e}",
                  "ok" if r.relative_error < self.tolerance else "WRONG") for r in self.rows]
        widths = [max(len(str(row[c])) for row in (header, *lines)) for c in range(5)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        verdict = "passed" if self.passed else "FAILED"
        return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths)),
                          *(fmt.format(*line) for line in lines),
                          f"{verdict}: tolerance {self.tolerance:.0e}, worst {self.max_relative_error:.2e}"])


def check_gradients(f: Callable[[], float], params: Mapping[str, Array], grads: Mapping[str, Array],
                    h: float = 1e-5, tolerance: float = 1e-6) -> GradCheckReport:
    """Compare analytic ``grads`` of the scalar ``f()`` with central differences w.r.t. each of ``params``.

    ``f`` takes no arguments and must read the arrays in ``params`` (they are perturbed in place).
    """
    rows = []
    for name, p in params.items():
        numeric = numerical_gradient(lambda _: f(), p, h=h)
        analytic = np.asarray(grads[name], np.float64)
        if analytic.shape != p.shape:
            raise ValueError(f"gradient {name!r} has shape {analytic.shape}; the parameter has {p.shape}")
        rows.append(GradCheckRow(name, p.shape, float(np.max(np.abs(analytic - numeric), initial=0.0)),
                                 relative_error(analytic, numeric)))
    return GradCheckReport(tuple(rows), tolerance)


def check_layer(layer: Layer, x: Array, dout: Array | None = None, h: float = 1e-5, tolerance: float = 1e-6,
                seed: int = 0) -> GradCheckReport:
    """Check a layer's backward: ``dL/dx`` and every ``dL/dparam`` for ``L = sum(layer(x) * dout)``.

    ``dout`` defaults to a random array (seeded), so every output counts.
    Use a float64 layer and input.
    """
    out = layer.forward(x)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(out.shape)
    dx = layer.backward(dout.astype(out.dtype))
    analytic = {"x": dx, **{k: g.copy() for k, g in layer.grads.items()}}

    def loss() -> float:
        return float(np.sum(layer.forward(x) * dout))

    return check_gradients(loss, {"x": x, **layer.params}, analytic, h=h, tolerance=tolerance)
