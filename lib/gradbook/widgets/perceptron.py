"""The perceptron explorer (chapter 3): move one neuron's line with sliders to compute a logic gate.

    explorer = perceptron_explorer(perceptron_predict, gate="or")   # the chapter's function, or none
    explorer.gate_dropdown.value = "nand"       # the points shown are NAND's truth table
    explorer.w1_slider.value, explorer.w2_slider.value, explorer.b_slider.value = -1, -1, 1.5
    explorer.correct                            # 4: every point on its side of the line

State: ``gate``, ``X`` and ``y`` (the gate's truth table, the points shown), ``w``, ``b``,
``predictions`` and ``correct``. Controls: ``gate_dropdown``, ``w1_slider``, ``w2_slider``,
``b_slider``. The points are coloured by the answer the gate wants; the plane by what the
perceptron says; a point the perceptron gets wrong has a thick black ring.
"""

from __future__ import annotations

import html
from typing import Callable

import ipywidgets as w
import numpy as np

from gradbook.datasets import toy
from gradbook.i18n import _
from gradbook.widgets._view import FigureView, WidgetBase

GATES = ("and", "or", "nand", "nor")  # two inputs each: a line in the plane can compute them all
LIMITS = (-0.5, 1.5)  # the plotted square around the four inputs
REGION_COLORS = np.array([[0.81, 0.89, 0.95], [0.96, 0.80, 0.80]])  # class 0, class 1 (pale)
POINT_COLORS = np.array([[0.23, 0.30, 0.75], [0.71, 0.02, 0.15]])  # class 0, class 1


def step_rule(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """The perceptron: 1 where ``X @ w + b >= 0``, else 0 (what chapter 3's exercise 1 asks for)."""
    return (X @ w + b >= 0).astype(int)


class PerceptronExplorer(WidgetBase):
    """One perceptron on a two-input logic gate: the gate's four points and the line the weights draw."""

    def __init__(self, predict: Callable[[np.ndarray, np.ndarray, float], np.ndarray] | None = None,
                 gate: str = "and", weights: tuple[float, float] = (1.0, 1.0), bias: float = -1.5,
                 grid_size: int = 120,
                 interactive: bool | None = None) -> None:
        if gate not in GATES:
            raise ValueError(f"gate must be one of {', '.join(GATES)}; got {gate!r}")
        self.predict = predict or step_rule
        self.gate_dropdown = w.Dropdown(options=GATES, value=gate, description=_("gate"))
        slider = dict(min=-3.0, max=3.0, step=0.1, continuous_update=True, readout_format=".1f")
        self.w1_slider = w.FloatSlider(value=weights[0], description="w1", **slider)
        self.w2_slider = w.FloatSlider(value=weights[1], description="w2", **slider)
        self.b_slider = w.FloatSlider(value=bias, description="b", **slider)
        self.status = w.HTML()
        self.status.add_class("gb-status")
        axis = np.linspace(*LIMITS, grid_size)
        self._grid = np.column_stack([c.ravel() for c in np.meshgrid(axis, axis)])
        self.view = FigureView((4.2, 4.0), interactive)
        self._build_figure()
        for control in (self.gate_dropdown, self.w1_slider, self.w2_slider, self.b_slider):
            control.observe(lambda _: self._redraw(), names="value")
        self.widget = w.HBox([w.VBox([self.gate_dropdown, self.w1_slider, self.w2_slider, self.b_slider, self.status],
                                     layout=w.Layout(width="330px")), self.view.widget])
        self._redraw()

    # ------------------------------------------------------------------ state

    @property
    def gate(self) -> str:
        return self.gate_dropdown.value

    @property
    def X(self) -> np.ndarray:
        return toy.logic_gate(self.gate)[0]

    @property
    def y(self) -> np.ndarray:
        return toy.logic_gate(self.gate)[1]

    @property
    def w(self) -> np.ndarray:
        return np.array([self.w1_slider.value, self.w2_slider.value])

    @property
    def b(self) -> float:
        return float(self.b_slider.value)

    @property
    def predictions(self) -> np.ndarray:
        return np.asarray(self.predict(self.X, self.w, self.b)).ravel()

    @property
    def correct(self) -> int:
        return int(np.sum(self.predictions == self.y))

    # ------------------------------------------------------------------ view

    def _build_figure(self) -> None:
        self.ax = self.view.fig.subplots()
        self.view.fig.subplots_adjust(left=0.12, right=0.97, bottom=0.11, top=0.9)
        self._regions = self.ax.imshow(np.ones((2, 2, 3)), origin="lower", extent=(*LIMITS, *LIMITS),
                                       interpolation="nearest")
        self._points = self.ax.scatter([], [], s=140, zorder=3)
        self.ax.set_xlim(*LIMITS)
        self.ax.set_ylim(*LIMITS)
        self.ax.set_xlabel(_("input 1"))
        self.ax.set_ylabel(_("input 2"))

    def _redraw(self) -> None:
        X, y, name = self.X, self.y, self.gate.upper()
        self._points.set_offsets(X)
        self._points.set_facecolors(POINT_COLORS[y])
        try:
            regions = np.asarray(self.predict(self._grid, self.w, self.b)).reshape(-1)
            predictions = self.predictions
        except Exception as error:  # the student's perceptron_predict: say what went wrong, keep the points
            self._points.set_edgecolors("k")
            self._points.set_linewidths(0.5)
            self.ax.set_title(_("{gate}: your perceptron_predict failed").format(gate=name), fontsize=10)
            self.view.draw()
            raised = _("perceptron_predict raised {error}").format(
                error=f"{type(error).__name__}: {html.escape(str(error))}")
            self.status.value = f"<span class='gb-error' style='color:#b00'>{raised}</span>"
            return
        size = int(np.sqrt(len(self._grid)))
        self._regions.set_data(REGION_COLORS[np.clip(regions, 0, 1).astype(int)].reshape(size, size, 3))
        wrong = predictions != y
        self._points.set_edgecolors(np.where(wrong[:, None], [[0, 0, 0, 1]], [[1, 1, 1, 1]]))
        self._points.set_linewidths(np.where(wrong, 3.0, 1.0))
        correct = int(np.sum(~wrong))
        if correct == len(y):
            verdict = _("computes {gate}").format(gate=name)
        else:
            verdict = _("{correct} of {count} points right").format(correct=correct, count=len(y))
        self.ax.set_title(f"{name}: w = ({self.w[0]:.1f}, {self.w[1]:.1f}), b = {self.b:.1f}", fontsize=10)
        self.view.draw()
        self.status.value = _("{gate} wants {wanted} for inputs {inputs}; the perceptron says {said}: "
                              "<b>{verdict}</b>").format(
            gate=name, wanted=list(map(int, y)), inputs=", ".join(f"({a:g}, {c:g})" for a, c in X),
            said=list(map(int, predictions)), verdict=verdict)


def perceptron_explorer(predict: Callable[[np.ndarray, np.ndarray, float], np.ndarray] | None = None,
                        gate: str = "and", **options) -> PerceptronExplorer:
    """A `PerceptronExplorer` (see this module's docstring); display it by making it a cell's last line."""
    return PerceptronExplorer(predict, gate, **options)
