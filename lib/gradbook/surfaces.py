"""Two-dimensional loss surfaces for watching optimisers move (chapter 6 and the widgets).

Each `Surface` has a loss ``f(p)`` and its gradient ``grad(p)`` for a point ``p = (x, y)``.
Both also accept a grid: ``f(np.array([X, Y]))`` evaluates every point at once, which is
what contour plots need (`Surface.grid` does it for you).

    from gradbook.surfaces import SURFACES, rosenbrock
    X, Y, Z = rosenbrock.grid()
    plt.contour(X, Y, Z, levels=rosenbrock.levels)
    w = np.array(rosenbrock.start)
    w -= 1e-3 * rosenbrock.grad(w)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gradbook.i18n import N_

Point = tuple[float, float]


@dataclass(frozen=True)
class Surface:
    """A loss over two parameters, with where to start and what to plot.

    name     short id, e.g. ``"rosenbrock"``
    title    what a plot says, with the formula
    f        loss at ``p`` (shape ``(2, ...)``)
    grad     gradient at ``p``, same shape as ``p``
    start    a suggested starting point that makes the surface's difficulty visible
    xlim     plotting range of the first parameter
    ylim     plotting range of the second parameter
    minima   the points where the loss is lowest (a saddle surface has two)
    levels   contour levels that show the shape well
    lr       a learning rate at which plain gradient descent is stable from `start`
    """

    name: str
    title: str
    f: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    start: Point
    xlim: Point
    ylim: Point
    minima: tuple[Point, ...]
    levels: tuple[float, ...]
    lr: float

    def grid(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``X, Y, Z`` on an ``n`` x ``n`` grid over the plotting range, for ``plt.contour``."""
        X, Y = np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))
        return X, Y, self.f(np.array([X, Y]))


def _rosenbrock(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


def _saddle(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return x**2 + y**4 / 4 - y**2 / 2


def _saddle_grad(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return np.array([2 * x, y**3 - y])


BOWL_CONDITION = 25.0  # also in the bowl's title


def _bowl(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return 0.5 * (x**2 + BOWL_CONDITION * y**2)


def _bowl_grad(p: np.ndarray) -> np.ndarray:
    x, y = p[0], p[1]
    return np.array([x, BOWL_CONDITION * y])


rosenbrock = Surface(
    name="rosenbrock",
    title="Rosenbrock: (1 - x)² + 100 (y - x²)²",
    f=_rosenbrock,
    grad=_rosenbrock_grad,
    start=(-1.5, 2.0),
    xlim=(-2.0, 2.0),
    ylim=(-1.0, 3.0),
    minima=((1.0, 1.0),),
    levels=tuple(float(v) for v in np.logspace(-1, 3.5, 15)),
    lr=1e-3,
)

saddle = Surface(
    name="saddle",
    title=N_("saddle: x² + y⁴/4 - y²/2 (saddle point at the origin)"),
    f=_saddle,
    grad=_saddle_grad,
    start=(-1.8, 1e-3),
    xlim=(-2.0, 2.0),
    ylim=(-1.6, 1.6),
    minima=((0.0, 1.0), (0.0, -1.0)),
    levels=tuple(float(v) for v in np.linspace(-0.24, 4.0, 22)),
    lr=0.05,
)

bowl = Surface(
    name="bowl",
    title=N_("ill-conditioned bowl: (x² + 25 y²) / 2"),  # BOWL_CONDITION
    f=_bowl,
    grad=_bowl_grad,
    start=(-4.5, 1.0),
    xlim=(-5.0, 5.0),
    ylim=(-1.5, 1.5),
    minima=((0.0, 0.0),),
    levels=tuple(float(v) for v in np.linspace(0.25, 25.0, 16)),
    lr=0.07,
)

SURFACES: dict[str, Surface] = {s.name: s for s in (rosenbrock, saddle, bowl)}


def get(name: str) -> Surface:
    """The surface called `name` (one of `SURFACES`)."""
    try:
        return SURFACES[name]
    except KeyError:
        raise ValueError(f"unknown surface {name!r}; choose one of {sorted(SURFACES)}") from None
