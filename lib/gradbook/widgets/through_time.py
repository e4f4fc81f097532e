"""The gradient through time (chapter 9): how the size of the recurrent weights makes a recurrent
network's gradient vanish or explode with the distance it travels back, and what clipping does.

    view = gradient_through_time()
    view.scale_slider.value = 1.3           # the recurrent weights' scale (their spectral radius)
    view.norms                              # ||dL/dh_t|| for every step t, the loss at the last step
    view.clip_box.value = True              # clip the gradient's global norm at view.max_norm_slider.value

The network: ``h_t = act(x_t @ Wx + h_{t-1} @ Wh)``, ``Wh = scale · Q`` with ``Q`` a random orthogonal
matrix (so every eigenvalue of ``Wh`` has size ``scale``), small random inputs, and a loss that reads the
last state only. Going back one step multiplies the gradient by ``Wh.T`` and by the activation's
derivative, so after ``k`` steps it is about ``scale ** k`` times its size (less where tanh saturates).
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from gradbook.i18n import _
from gradbook.widgets._view import FigureView, WidgetBase

ACTIVATIONS = ("tanh", "linear")
SCALES = np.linspace(0.5, 1.5, 41)  # the right panel's curve


def _network(steps: int, units: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fixed parts of the network: inputs, input weights, an orthogonal matrix, the loss's direction."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(units, units)))
    q *= np.sign(np.diag(r))  # a uniformly random orthogonal matrix
    x = rng.normal(0, 0.1, (steps, units))
    wx = rng.normal(0, 1 / np.sqrt(units), (units, units))
    v = rng.normal(size=units)
    return x, wx, q, v / np.linalg.norm(v)


def norms_through_time(scale: float = 1.0, steps: int = 60, units: int = 32, activation: str = "tanh",
                          seed: int = 0) -> tuple[np.ndarray, float]:
    """``(norms, dwh_norm)``: ``norms[t]`` = ||dL/dh_t|| for the loss ``L = v · h_last``, and ||dL/dWh||."""
    if activation not in ACTIVATIONS:
        raise ValueError(_("activation must be one of {names}, not {given}").format(
            names=", ".join(ACTIVATIONS), given=repr(activation)))
    x, wx, q, v = _network(steps, units, seed)
    wh = scale * q
    states = [np.zeros(units)]
    for t in range(steps):
        a = x[t] @ wx + states[-1] @ wh
        states.append(np.tanh(a) if activation == "tanh" else a)
    norms = np.empty(steps)
    dwh = np.zeros_like(wh)
    dh = v
    for t in reversed(range(steps)):
        norms[t] = np.linalg.norm(dh)
        h = states[t + 1]
        da = dh * (1 - h**2) if activation == "tanh" else dh
        dwh += np.outer(states[t], da)
        dh = da @ wh.T
    return norms, float(np.linalg.norm(dwh))


class GradientThroughTime(WidgetBase):
    """Left: ||dL/dh_t|| against t (log scale). Right: ||dL/dWh|| against the weights' scale, clipped or not."""

    def __init__(self, scale: float = 1.0, steps: int = 60, units: int = 32, activation: str = "tanh",
                 max_norm: float = 1.0, clip: bool = False, interactive: bool | None = None) -> None:
        self.steps, self.units = int(steps), int(units)
        self.scale_slider = w.FloatSlider(value=scale, min=float(SCALES[0]), max=float(SCALES[-1]), step=0.01,
                                          description=_("scale of Wh"), continuous_update=False,
                                          style={"description_width": "initial"})
        self.activation_buttons = w.ToggleButtons(options=ACTIVATIONS, value=activation)
        self.clip_box = w.Checkbox(value=clip, description=_("clip the norm at"), indent=False,
                                   layout=w.Layout(width="auto"))
        self.max_norm_slider = w.FloatLogSlider(value=max_norm, base=10, min=-2, max=2, step=0.1,
                                                continuous_update=False, readout_format=".2g")
        self.message = w.HTML()
        self._curves: dict[str, np.ndarray] = {}  # ||dL/dWh|| over SCALES, per activation: the slow part of a redraw
        self.view = FigureView((9.0, 3.2), interactive)
        self.ax_time, self.ax_scale = self.view.fig.subplots(1, 2)
        self.view.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.86, wspace=0.28)
        for control in (self.scale_slider, self.activation_buttons, self.clip_box, self.max_norm_slider):
            control.observe(lambda change: self._redraw(), names="value")
        self.widget = w.VBox([w.HBox([self.scale_slider, self.activation_buttons]),
                              w.HBox([self.clip_box, self.max_norm_slider]), self.message, self.view.widget])
        self._redraw()

    @property
    def scale(self) -> float:
        return float(self.scale_slider.value)

    @property
    def activation(self) -> str:
        return str(self.activation_buttons.value)

    def clip_factor(self, norm: float) -> float:
        """What clipping multiplies a gradient of this norm by: 1 below the limit, max_norm / norm above it."""
        limit = float(self.max_norm_slider.value)
        return limit / norm if self.clip_box.value and norm > limit else 1.0

    @property
    def norms(self) -> np.ndarray:
        """||dL/dh_t|| at every step t, after clipping when it is on (clipping scales every step alike)."""
        norms, dwh = norms_through_time(self.scale, self.steps, self.units, self.activation)
        return norms * self.clip_factor(dwh)

    def _curve(self) -> np.ndarray:
        if self.activation not in self._curves:
            self._curves[self.activation] = np.array(
                [norms_through_time(s, self.steps, self.units, self.activation)[1] for s in SCALES])
        return self._curves[self.activation]

    def _redraw(self) -> None:
        norms, dwh = norms_through_time(self.scale, self.steps, self.units, self.activation)
        factor = self.clip_factor(dwh)
        ax = self.ax_time
        ax.clear()
        ax.semilogy(np.arange(1, self.steps + 1), norms * factor, color="C0")
        ax.set_xlabel(_("time step t (the loss reads the last one)"))
        ax.set_ylabel("||dL/dh_t||")
        ax.set_title(_("gradient through time, scale {scale}").format(scale=f"{self.scale:.2f}"), fontsize=9)
        curve = self._curve()
        ax = self.ax_scale
        ax.clear()
        ax.semilogy(SCALES, curve, color="C7", label=_("without clipping"))
        if self.clip_box.value:
            ax.semilogy(SCALES, np.minimum(curve, float(self.max_norm_slider.value)), color="C2", label=_("clipped"))
        ax.semilogy([self.scale], [dwh * factor], "o", color="C3")
        ax.set_xlabel(_("scale of Wh"))
        ax.set_ylabel("||dL/dWh||")
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(_("the weights' gradient against the scale"), fontsize=9)
        self.view.draw()
        self.message.value = _("the first step's gradient is <b>{ratio}</b> times the last one's; "
                               "||dL/dWh|| = {norm}{clipped}").format(
            ratio=f"{norms[0] / norms[-1]:.2g}", norm=f"{dwh:.3g}",
            clipped=_(", clipped to {norm}").format(norm=f"{dwh * factor:.3g}") if factor < 1 else "")


def gradient_through_time(scale: float = 1.0, **options) -> GradientThroughTime:
    """A `GradientThroughTime` view; display it by making it a cell's last line."""
    return GradientThroughTime(scale, **options)
