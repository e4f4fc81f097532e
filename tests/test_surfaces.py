"""The 2-D loss surfaces: gradients agree with central differences, the minima are where each
surface says, and plain gradient descent at each surface's suggested rate is stable."""

from __future__ import annotations

import numpy as np
import pytest

from gradbook import surfaces
from gradbook.surfaces import SURFACES, Surface

ALL = sorted(SURFACES)


def central_difference(f, p: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(p)
    for i in range(len(p)):
        e = np.zeros_like(p)
        e[i] = h
        grad[i] = (f(p + e) - f(p - e)) / (2 * h)
    return grad


@pytest.mark.parametrize("name", ALL)
def test_gradient_agrees_with_central_differences(name: str) -> None:
    s = surfaces.get(name)
    rng = np.random.default_rng(0)
    points = [np.array(s.start)] + [np.array([rng.uniform(*s.xlim), rng.uniform(*s.ylim)]) for _ in range(20)]
    for p in points:
        np.testing.assert_allclose(s.grad(p), central_difference(s.f, p), rtol=1e-6, atol=1e-5, err_msg=f"at {p}")


@pytest.mark.parametrize("name", ALL)
def test_f_and_grad_work_on_grids(name: str) -> None:
    s = surfaces.get(name)
    X, Y, Z = s.grid(n=30)
    assert X.shape == Y.shape == Z.shape == (30, 30)
    assert Z[4, 7] == pytest.approx(s.f(np.array([X[4, 7], Y[4, 7]])))
    G = s.grad(np.array([X, Y]))
    assert G.shape == (2, 30, 30)
    np.testing.assert_allclose(G[:, 4, 7], s.grad(np.array([X[4, 7], Y[4, 7]])))


@pytest.mark.parametrize("name", ALL)
def test_minima_are_where_expected(name: str) -> None:
    s = surfaces.get(name)
    X, Y, Z = s.grid(n=401)
    lowest = min(float(s.f(np.array(m))) for m in s.minima)
    for m in s.minima:
        p = np.array(m)
        np.testing.assert_allclose(s.grad(p), 0.0, atol=1e-12)
        assert float(s.f(p)) == pytest.approx(lowest)
        # a strict local minimum: every nearby point on a circle is higher
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = p[:, None] + 1e-2 * np.array([np.cos(angles), np.sin(angles)])
        assert np.all(s.f(ring) > s.f(p))
    # and nothing on the plotting grid is lower (up to the grid's resolution)
    assert Z.min() >= lowest - 1e-9
    i = np.unravel_index(np.argmin(Z), Z.shape)
    nearest = min(np.hypot(X[i] - mx, Y[i] - my) for mx, my in s.minima)
    assert nearest < 0.05


def test_known_values() -> None:
    assert surfaces.rosenbrock.f(np.array([1.0, 1.0])) == 0.0
    assert surfaces.rosenbrock.f(np.array([0.0, 0.0])) == 1.0
    assert surfaces.bowl.f(np.array([0.0, 1.0])) == pytest.approx(surfaces.BOWL_CONDITION / 2)
    assert surfaces.saddle.f(np.array([0.0, 1.0])) == pytest.approx(-0.25)


def test_saddle_point_is_critical_but_not_a_minimum() -> None:
    s = surfaces.saddle
    origin = np.zeros(2)
    np.testing.assert_allclose(s.grad(origin), 0.0)
    assert s.f(np.array([0.0, 0.1])) < s.f(origin) < s.f(np.array([0.1, 0.0]))


@pytest.mark.parametrize("name", ALL)
def test_gradient_descent_at_the_suggested_rate_is_stable(name: str) -> None:
    s = surfaces.get(name)
    w = np.array(s.start, dtype=float)
    losses = [float(s.f(w))]
    for _ in range(300):
        w = w - s.lr * s.grad(w)
        losses.append(float(s.f(w)))
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0] or losses[-1] < losses[0] - 1.0


def test_each_surface_starts_inside_its_plotting_range() -> None:
    for s in SURFACES.values():
        assert isinstance(s, Surface)
        assert s.xlim[0] < s.start[0] < s.xlim[1] and s.ylim[0] < s.start[1] < s.ylim[1], s.name
        assert list(s.levels) == sorted(s.levels)


def test_unknown_surface_names_the_choices() -> None:
    with pytest.raises(ValueError, match="rosenbrock"):
        surfaces.get("himmelblau")
