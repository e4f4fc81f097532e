"""The optimiser race (chapter 6): optimisers side by side on a 2-D loss surface.

    race = optimizer_race("rosenbrock")                    # GD, momentum, RMSprop, Adam (the reference ones)
    race = optimizer_race("bowl", optimizers={"my Adam": Adam, "my SGD": (SGD, 0.05)})
    race = optimizer_race(lambda p: (p[0] - 1) ** 2 + 3 * p[1] ** 2, start=(-1.5, 1.0))

An optimiser is given as
  * a class like the chapter's (``SGD``, ``Momentum``, ``RMSprop``, ``Adam`` with
    ``step(params, grads)`` updating a list of arrays in place), or a reference
    optimiser class (``gradbook.reference.Adam``): one instance per run;
  * an update function ``update(w, grad, lr, ...) -> new w``; it also gets a
    ``state`` dict (fresh each run) if it has a parameter called ``state``;
  * either of those in a tuple ``(optimizer, lr)`` to choose the starting learning rate
    (otherwise: chapter 6's rate for this surface if the class or function is called
    SGD, GD, Momentum, RMSprop or Adam, else its own default ``lr``, else the surface's).
The hyperparameters the constructor or function takes (``lr``/``learning_rate``,
``beta``, ``momentum``, ``rho``, ``beta_1``, ``beta_2``) each get a slider.

State: ``race.paths[name]`` ((k + 1, 2) points, the start first), ``race.losses[name]``,
``race.steps`` (k), ``race.diverged[name]``. Controls: ``race.lr_sliders[name]``,
``race.hyper_sliders[name][param]``, ``race.enabled[name]`` (checkboxes),
``race.surface_dropdown``, ``race.start_x`` / ``race.start_y``, ``race.step_button``,
``race.play``, ``race.reset_button``; ``race.status`` shows each optimiser's loss.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import ipywidgets as w
import numpy as np

from gradbook import surfaces as surfaces_module
from gradbook.i18n import N_, _

# The surfaces' names as the dropdown shows them (its values stay the names: `surface_dropdown.value = "saddle"`).
SURFACE_LABELS = {"rosenbrock": N_("rosenbrock"), "saddle": N_("saddle"), "bowl": N_("bowl")}
from gradbook.reference.optimizers import SGD, Adam, Optimizer, RMSprop
from gradbook.surfaces import Surface
from gradbook.widgets._view import FigureView, Stepper, WidgetBase

Array = np.ndarray
StepFn = Callable[[Array, Array], Array]  # (w, grad) -> the new w

HYPERPARAMETERS = ("lr", "learning_rate", "beta", "momentum", "rho", "beta_1", "beta_2")
LR_NAMES = ("lr", "learning_rate")
MAX_STEPS = 5000  # play stops here: recomputing longer paths on every slider move would lag

# Learning rates at which each optimiser makes visible progress on each surface (chapter 6's race).
# GD's step is lr·gradient, the adaptive ones' step is about lr itself, hence the spread.
DEFAULT_LR: dict[str, dict[str, float]] = {
    "rosenbrock": {"GD": 1e-3, "momentum": 1e-3, "RMSprop": 0.02, "Adam": 0.1},
    "saddle": {"GD": 0.05, "momentum": 0.05, "RMSprop": 0.1, "Adam": 0.1},
    "bowl": {"GD": 0.07, "momentum": 0.01, "RMSprop": 0.1, "Adam": 0.3},
}
# A student's class or function named like one of these starts at that optimiser's rate.
KIND_BY_NAME = {"gd": "GD", "sgd": "GD", "gradient_descent": "GD", "momentum": "momentum",
                "rmsprop": "RMSprop", "adam": "Adam"}


def _on_reference(optimizer: Optimizer) -> StepFn:
    def step(p: Array, g: Array) -> Array:
        optimizer.step({"w": p}, {"w": g})
        return p

    return step


def _gd(lr: float) -> StepFn:
    return _on_reference(SGD(lr))


def _momentum(lr: float, beta: float = 0.9) -> StepFn:
    return _on_reference(SGD(lr, momentum=beta))


def _rmsprop(lr: float, rho: float = 0.9) -> StepFn:
    return _on_reference(RMSprop(lr, rho=rho))


def _adam(lr: float, beta_1: float = 0.9, beta_2: float = 0.999) -> StepFn:
    return _on_reference(Adam(lr, beta_1=beta_1, beta_2=beta_2))


REFERENCE_RACERS: dict[str, Callable[..., StepFn]] = {"GD": _gd, "momentum": _momentum, "RMSprop": _rmsprop,
                                                      "Adam": _adam}


@dataclass
class Racer:
    """One contestant: ``make(**hyper)`` gives a fresh ``step(w, grad) -> w`` (fresh optimiser state)."""

    name: str
    make: Callable[..., StepFn]
    hyper: dict[str, float]  # starting values; the learning rate's key comes first
    kind: str | None = None  # "GD", "momentum", ... when the default learning rates apply


def _hyper_defaults(fn: Callable, lr: float, force_lr: bool = False) -> dict[str, float]:
    """The hyperparameters ``fn`` takes, at its own defaults; ``lr`` where it has none (or when forced)."""
    params = inspect.signature(fn).parameters
    hyper: dict[str, float] = {}
    for name in HYPERPARAMETERS:
        if name in params:
            default = params[name].default
            hyper[name] = float(default) if isinstance(default, (int, float)) else (lr if name in LR_NAMES else 0.9)
    if not any(k in hyper for k in LR_NAMES):
        raise TypeError(f"{getattr(fn, '__name__', fn)!r} needs a learning-rate parameter called lr or learning_rate")
    lr_key = next(k for k in LR_NAMES if k in hyper)
    start_lr = lr if force_lr else hyper[lr_key]
    return {lr_key: start_lr, **{k: v for k, v in hyper.items() if k != lr_key}}


def make_racer(name: str, spec: Any, surface_lr: float = 0.01) -> Racer:
    """A `Racer` from a class, an update function, or ``(either, lr)`` (see the module docstring)."""
    lr = None
    if isinstance(spec, tuple):
        spec, lr = spec
    # The starting learning rate: the one given, else the surface's table for a known kind
    # (applied by the race), else the constructor's or function's own default, else the surface's.
    kind = KIND_BY_NAME.get(getattr(spec, "__name__", "").lower()) if lr is None else None
    start_lr, force = (float(lr), True) if lr is not None else (surface_lr, False)
    if inspect.isclass(spec):
        cls = spec

        def make(**hyper: float) -> StepFn:
            optimizer = cls(**hyper)
            if isinstance(optimizer, Optimizer):
                return _on_reference(optimizer)

            def step(p: Array, g: Array) -> Array:
                optimizer.step([p], [g])  # the chapter's optimisers update a list of arrays in place
                return p

            return step

        return Racer(name, make, _hyper_defaults(cls, start_lr, force), kind)
    if callable(spec):
        update = spec
        wants_state = "state" in inspect.signature(update).parameters

        def make(**hyper: float) -> StepFn:
            extra: dict[str, Any] = {"state": {}} if wants_state else {}
            return lambda p, g: np.asarray(update(p.copy(), g, **hyper, **extra), dtype=float)

        return Racer(name, make, _hyper_defaults(update, start_lr, force), kind)
    raise TypeError(f"optimizer {name!r} must be a class, an update function or (one of those, lr); got {spec!r}")


def _css_name(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)


def numerical_grad(f: Callable[[Array], Any], h: float = 1e-5) -> Callable[[Array], Array]:
    """The central-difference gradient of a function of a 2-D point."""

    def grad(p: Array) -> Array:
        p = np.asarray(p, dtype=float)
        return np.array([(float(f(p + e)) - float(f(p - e))) / (2 * h) for e in np.eye(2) * h])

    return grad


def custom_surface(f: Callable[[Array], Any], grad: Callable[[Array], Array] | None = None,
                   start: tuple[float, float] = (-1.5, 1.5), xlim: tuple[float, float] = (-2.0, 2.0),
                   ylim: tuple[float, float] = (-2.0, 2.0), lr: float = 0.01) -> Surface:
    """A `Surface` for the student's own loss ``f(p)`` (and gradient, numerical when not given)."""
    title = getattr(f, "__name__", "<lambda>").replace("<lambda>", N_("your loss"))
    X, Y = np.meshgrid(np.linspace(*xlim, 120), np.linspace(*ylim, 120))
    try:
        Z = np.asarray(f(np.array([X, Y])), dtype=float)
        vectorised = Z.shape == X.shape
    except Exception:  # a loss written for one point at a time: evaluate it point by point
        vectorised = False
    if not vectorised:
        Z = np.array([[float(f(np.array([x, y]))) for x, y in zip(rx, ry)] for rx, ry in zip(X, Y)])
        loop_f = f

        def grid_f(p: Array) -> Array:
            p = np.asarray(p, dtype=float)
            if p.ndim == 1:
                return np.asarray(loop_f(p), dtype=float)
            return np.array([[float(loop_f(np.array([x, y]))) for x, y in zip(rx, ry)] for rx, ry in zip(p[0], p[1])])

        f = grid_f
    finite = Z[np.isfinite(Z)]
    levels = tuple(float(v) for v in np.unique(np.quantile(finite, np.linspace(0.01, 0.95, 15) ** 2)))
    return Surface(name="custom", title=title, f=f, grad=grad or numerical_grad(f), start=start, xlim=xlim,
                   ylim=ylim, minima=(), levels=levels, lr=lr)


class OptimizerRace(WidgetBase):
    """Optimisers racing on a 2-D loss surface, with a loss-vs-step plot beside it."""

    def __init__(self, surface: str | Surface | Callable[[Array], Any] = "rosenbrock",
                 optimizers: Mapping[str, Any] | None = None, *, grad: Callable[[Array], Array] | None = None,
                 start: tuple[float, float] | None = None, xlim: tuple[float, float] = (-2.0, 2.0),
                 ylim: tuple[float, float] = (-2.0, 2.0), steps_per_click: int = 10,
                 interactive: bool | None = None) -> None:
        self.surfaces: dict[str, Surface] = dict(surfaces_module.SURFACES)
        if isinstance(surface, Surface):
            self.surfaces[surface.name] = surface
        elif callable(surface):
            surface = custom_surface(surface, grad, start or (-1.5, 1.5), xlim, ylim)
            self.surfaces[surface.name] = surface
        else:
            surface = surfaces_module.get(surface)
        self.surface: Surface = surface
        self.start = np.array(start if start is not None else surface.start, dtype=float)
        if optimizers is None:
            self.racers = [Racer(name, make, _hyper_defaults(make, surface.lr), name)
                           for name, make in REFERENCE_RACERS.items()]
        else:
            self.racers = [make_racer(name, spec, surface.lr) for name, spec in optimizers.items()]
        self.steps = 0
        self.diverged: dict[str, bool] = {}
        self._points: dict[str, list[Array]] = {}
        self._loss_values: dict[str, list[float]] = {}
        self._steppers: dict[str, StepFn] = {}
        self._quiet = False  # set while the code itself moves sliders, so each move is not a recompute

        self._build_controls(steps_per_click)
        self._apply_default_lrs()
        self.view = FigureView((10.5, 4.2), interactive)
        self._build_figure()
        self.view.on_click(self._clicked)
        self._restart_all()
        self.widget = w.VBox([w.HBox([self.surface_dropdown, self.start_x, self.start_y]),
                              *self._rows, self.stepper.widget, self.status, self.view.widget])

    # ------------------------------------------------------------------ state

    @property
    def paths(self) -> dict[str, Array]:
        """Each enabled optimiser's points so far, (k + 1, 2), the start first."""
        return {name: np.array(points) for name, points in self._points.items()}

    @property
    def losses(self) -> dict[str, Array]:
        return {name: np.array(values) for name, values in self._loss_values.items()}

    def hyperparameters(self, name: str) -> dict[str, float]:
        """The slider values that ``name``'s optimiser is built with."""
        return {k: float(s.value) for k, s in self.hyper_sliders[name].items()}

    def step(self, n: int = 1) -> None:
        """Advance every enabled optimiser by ``n`` steps and redraw."""
        n = max(0, min(int(n), MAX_STEPS - self.steps))
        for name in self._points:
            self._advance(name, n)
        self.steps += n
        if self.steps >= MAX_STEPS:
            self.play.playing = False
        self._redraw()

    def reset(self) -> None:
        """Back to the start point with zero steps (fresh optimiser state)."""
        self.steps = 0
        self._restart_all()

    def set_start(self, x: float, y: float) -> None:
        """Start every optimiser from (x, y) and rerun the steps taken so far."""
        self.start = np.array([x, y], dtype=float)
        self._quiet = True
        try:
            self.start_x.value, self.start_y.value = x, y
        finally:
            self._quiet = False
        self._restart_all()

    # ------------------------------------------------------------------ the optimisation itself

    def _restart(self, name: str) -> None:
        """Rebuild ``name``'s optimiser from the sliders and replay ``self.steps`` steps from the start."""
        self._steppers[name] = next(r for r in self.racers if r.name == name).make(**self.hyperparameters(name))
        self._points[name] = [self.start.copy()]
        self._loss_values[name] = [float(self.surface.f(self.start))]
        self.diverged[name] = False
        self._advance(name, self.steps)

    def _restart_all(self) -> None:
        self._points.clear()
        self._loss_values.clear()
        for racer in self.racers:
            if self.enabled[racer.name].value:
                self._restart(racer.name)
        self._redraw()

    def _advance(self, name: str, n: int) -> None:
        points, values, step = self._points[name], self._loss_values[name], self._steppers[name]
        # Leaving a box ten times the plotting range counts as diverged: the path stops there.
        (x0, x1), (y0, y1) = self.surface.xlim, self.surface.ylim
        bound = 10 * max(abs(x0), abs(x1), abs(y0), abs(y1), x1 - x0, y1 - y0)
        p = points[-1].copy()
        with np.errstate(all="ignore"):  # divergence is a lesson here, not a warning
            for _ in range(n):
                if self.diverged[name]:
                    return
                p = step(p, np.asarray(self.surface.grad(p), dtype=float))
                loss = float(self.surface.f(p))
                if not (np.all(np.isfinite(p)) and np.isfinite(loss) and np.abs(p).max() < bound):
                    self.diverged[name] = True
                    return
                points.append(p.copy())
                values.append(loss)

    # ------------------------------------------------------------------ controls

    def _build_controls(self, steps_per_click: int) -> None:
        self.surface_dropdown = w.Dropdown(options=[(_(SURFACE_LABELS.get(n, n)), n) for n in self.surfaces],
                                           value=self.surface.name,
                                           description=_("surface"))
        self.start_x = w.FloatSlider(description=_("start x"), continuous_update=False, readout_format=".2f")
        self.start_y = w.FloatSlider(description=_("start y"), continuous_update=False, readout_format=".2f")
        self._set_start_ranges()
        self.enabled: dict[str, w.Checkbox] = {}
        self.lr_sliders: dict[str, w.FloatLogSlider] = {}
        self.hyper_sliders: dict[str, dict[str, w.FloatLogSlider | w.FloatSlider]] = {}
        self._rows: list[w.HBox] = []
        for racer in self.racers:
            check = w.Checkbox(value=True, description=racer.name, indent=False, layout=w.Layout(width="120px"))
            sliders: dict[str, w.FloatLogSlider | w.FloatSlider] = {}
            for key, value in racer.hyper.items():
                if key in LR_NAMES:
                    slider = w.FloatLogSlider(value=value, base=10, min=-4, max=0, step=0.05, description=key,
                                              readout_format=".2g", continuous_update=False)
                    self.lr_sliders[racer.name] = slider
                    slider.add_class(f"gb-lr-{_css_name(racer.name)}")  # a handle for browser tests and styling
                else:
                    slider = w.FloatSlider(value=value, min=0.0, max=0.999, step=0.001, description=key,
                                           readout_format=".3f", continuous_update=False)
                sliders[key] = slider
                slider.observe(lambda _, name=racer.name: self._hyper_changed(name), names="value")
            check.observe(lambda _, name=racer.name: self._enabled_changed(name), names="value")
            self.enabled[racer.name] = check
            self.hyper_sliders[racer.name] = sliders
            self._rows.append(w.HBox([check, *sliders.values()]))
        self.stepper = Stepper(self.step, self.reset, steps_per_click)
        self.step_button, self.play, self.reset_button = (self.stepper.step_button, self.stepper.play,
                                                          self.stepper.reset_button)
        self.steps_per_click = self.stepper.steps_per_click
        self.status = w.HTML()
        self.status.add_class("gb-status")
        self.surface_dropdown.observe(self._surface_changed, names="value")
        self.start_x.observe(self._start_slid, names="value")
        self.start_y.observe(self._start_slid, names="value")

    def _set_start_ranges(self) -> None:
        for slider, (lo, hi), value in ((self.start_x, self.surface.xlim, self.start[0]),
                                        (self.start_y, self.surface.ylim, self.start[1])):
            slider.min, slider.max = -1e9, 1e9  # widen first: min > max in between would be rejected
            slider.min, slider.max, slider.step = lo, hi, (hi - lo) / 400
            slider.value = float(value)

    def _apply_default_lrs(self) -> None:
        """The surface's sensible learning rate for each optimiser whose kind is known."""
        table = DEFAULT_LR.get(self.surface.name, {})
        self._quiet = True
        try:
            for racer in self.racers:
                if racer.kind in table:
                    self.lr_sliders[racer.name].value = table[racer.kind]
        finally:
            self._quiet = False

    def _hyper_changed(self, name: str) -> None:
        if not self._quiet and self.enabled[name].value:
            self._restart(name)
            self._redraw()

    def _enabled_changed(self, name: str) -> None:
        if self.enabled[name].value:
            self._restart(name)
        else:
            self._points.pop(name, None)
            self._loss_values.pop(name, None)
        self._redraw()

    def _start_slid(self, _: dict) -> None:
        if not self._quiet:
            self.set_start(self.start_x.value, self.start_y.value)

    def _surface_changed(self, change: dict) -> None:
        self.surface = self.surfaces[change["new"]]
        self.start = np.array(self.surface.start, dtype=float)
        self.steps = 0
        self._quiet = True
        try:
            self._set_start_ranges()
        finally:
            self._quiet = False
        self._apply_default_lrs()
        self._draw_surface()
        self._restart_all()

    def _clicked(self, x: float, y: float, axes: object) -> None:
        if axes is self.ax_surface:
            self.set_start(x, y)

    # ------------------------------------------------------------------ view

    def _build_figure(self) -> None:
        fig = self.view.fig
        self.ax_surface, self.ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.9, wspace=0.22)
        self.ax_loss.set_xlabel(_("step"))
        self.ax_loss.set_ylabel(_("loss"))
        self.ax_loss.grid(alpha=0.3)
        self._path_lines, self._heads, self._loss_lines = {}, {}, {}
        for i, racer in enumerate(self.racers):
            color = f"C{i % 10}"
            (self._loss_lines[racer.name],) = self.ax_loss.plot([], [], color=color, lw=1.5, label=racer.name)
        self.ax_loss.legend(loc="upper right", fontsize=8)
        self._draw_surface()

    def _draw_surface(self) -> None:
        """(Re)draw the contour plot: only when the surface itself changes."""
        ax, s = self.ax_surface, self.surface
        ax.clear()
        with np.errstate(all="ignore"):  # a student's loss may overflow in the plot's corners
            X, Y, Z = s.grid(150)
        ax.contour(X, Y, Z, levels=s.levels, cmap="viridis", linewidths=0.7)
        for m in s.minima:
            ax.plot(*m, "k*", ms=11)
        ax.set_xlim(s.xlim)
        ax.set_ylim(s.ylim)
        ax.set_title(_(s.title), fontsize=9)
        (self._start_marker,) = ax.plot(*self.start, "o", color="k", mfc="w", ms=7, zorder=5)
        for i, racer in enumerate(self.racers):
            color = f"C{i % 10}"
            (self._path_lines[racer.name],) = ax.plot([], [], ".-", color=color, ms=2.5, lw=1.2)
            (self._heads[racer.name],) = ax.plot([], [], "o", color=color, ms=6, zorder=6)
        # A surface that goes below zero (the saddle) cannot use a log scale for its loss.
        self._log_loss = bool(np.nanmin(Z) >= 0)
        self.ax_loss.set_yscale("log" if self._log_loss else "linear")

    def _redraw(self) -> None:
        self._start_marker.set_data([self.start[0]], [self.start[1]])
        parts = ["<b>" + _("step {steps}").format(steps=self.steps) + "</b>"]
        for racer in self.racers:
            name = racer.name
            shown = name in self._points
            for artist in (self._path_lines[name], self._heads[name], self._loss_lines[name]):
                artist.set_visible(shown)
            if not shown:
                continue
            path, values = np.array(self._points[name]), np.array(self._loss_values[name])
            self._path_lines[name].set_data(path[:, 0], path[:, 1])
            self._heads[name].set_data(path[-1:, 0], path[-1:, 1])
            shown_values = np.maximum(values, 1e-12) if self._log_loss else values
            self._loss_lines[name].set_data(np.arange(len(values)), shown_values)
            verdict = _(" (diverged)") if self.diverged[name] else ""
            loss = f"<span class='gb-loss'>{values[-1]:.4g}</span>"
            parts.append(_("{name}: loss {loss}{verdict}").format(name=name, loss=loss, verdict=verdict))
        self.ax_loss.relim(visible_only=True)
        self.ax_loss.autoscale_view()
        self.view.draw()
        # After the figure: a page that shows the new status has received the new image too.
        self.status.value = " &nbsp;·&nbsp; ".join(parts)


def optimizer_race(surface: str | Surface | Callable[[Array], Any] = "rosenbrock",
                   optimizers: Mapping[str, Any] | None = None, **options: Any) -> OptimizerRace:
    """An `OptimizerRace` (see this module's docstring); display it by making it a cell's last line."""
    return OptimizerRace(surface, optimizers, **options)


__all__ = ["OptimizerRace", "Racer", "custom_surface", "make_racer", "numerical_grad", "optimizer_race"]
