"""The softmax temperature explorer (chapter 5): bars of softmax(logits / T).

    explorer = softmax_temperature([2.0, 1.0, 0.5, -1.0, 3.0])
    explorer.temperature_slider.value = 5.0      # flatter
    explorer.probabilities                       # the bars' heights, summing to 1

State: ``logits``, ``temperature``, ``probabilities``. Controls: ``temperature_slider``
(log scale, 0.01 to 100) and ``logits_text`` (comma-separated logits, editable).
"""

from __future__ import annotations

import html
from typing import Sequence

import ipywidgets as w
import numpy as np

from gradbook.reference.activations import softmax
from gradbook.i18n import N_, _
from gradbook.widgets._view import FigureView, WidgetBase

DEFAULT_LOGITS = (2.0, 1.0, 0.5, -1.0, 3.0)


MAX_LOGITS = 50  # one bar each: more would not be readable
EXAMPLE = N_("numbers separated by commas, e.g. 2, 1, 0.5")


def as_logits(logits: Sequence[float] | str) -> np.ndarray:
    """The logits as a 1-D float array; a ValueError in plain words (what is wrong, what to type)
    for anything else: text that is not numbers, inf or nan, none at all, or too many."""
    if isinstance(logits, str):
        parts = [p for p in logits.replace(";", ",").replace(" ", ",").split(",") if p]
    else:
        parts = list(np.ravel(np.asarray(logits, dtype=object)))
    if not parts:
        raise ValueError(_("type at least one logit: {example}").format(example=_(EXAMPLE)))
    if len(parts) > MAX_LOGITS:
        raise ValueError(_("{count} logits are too many to draw: type at most {most}").format(
            count=len(parts), most=MAX_LOGITS))
    values = []
    for part in parts:
        try:
            value = float(part)
        except (TypeError, ValueError):
            value = None
        if value is None or not np.isfinite(value):
            raise ValueError(_("{part} is not a finite number: type {example}").format(part=repr(part), example=_(EXAMPLE)))
        values.append(value)
    return np.array(values)


def parse_logits(text: str) -> np.ndarray:
    """``"2, 1, 0.5"`` -> array([2., 1., 0.5]) (commas, semicolons or spaces between them)."""
    return as_logits(text)


class SoftmaxTemperature(WidgetBase):
    """A bar chart of softmax(logits / T) with a temperature slider and editable logits."""

    def __init__(self, logits: Sequence[float] = DEFAULT_LOGITS, temperature: float = 1.0,
                 interactive: bool | None = None) -> None:
        self.logits = as_logits(logits)
        self.temperature = float(temperature)
        self.temperature_slider = w.FloatLogSlider(value=temperature, base=10, min=-2, max=2, step=0.02,
                                                   description="T", readout_format=".3g")
        self.logits_text = w.Text(value=", ".join(f"{v:g}" for v in self.logits), description=_("logits"),
                                  continuous_update=False, layout=w.Layout(width="360px"))
        self.message = w.HTML()
        self.view = FigureView((6.0, 3.0), interactive)
        self.ax = self.view.fig.subplots()
        self.view.fig.subplots_adjust(left=0.12, right=0.97, bottom=0.16, top=0.86)
        self._bars = None
        self._labels: list = []
        self._build_bars()
        self.temperature_slider.observe(self._temperature_changed, names="value")
        self.logits_text.observe(self._logits_changed, names="value")
        self.widget = w.VBox([w.HBox([self.temperature_slider, self.logits_text]), self.message, self.view.widget])
        self._redraw()

    @property
    def probabilities(self) -> np.ndarray:
        return softmax(self.logits / self.temperature)

    def _temperature_changed(self, change: dict) -> None:
        self.temperature = float(change["new"])
        self._redraw()

    def _logits_changed(self, change: dict) -> None:
        try:
            logits = parse_logits(change["new"])
        except ValueError as error:  # the bars keep the last good logits
            self.message.value = f"<span class='gb-error' style='color:#b00'>{html.escape(str(error))}</span>"
            return
        resized = len(logits) != len(self.logits)
        self.logits = logits
        if resized:  # a different number of classes is the one change that needs new bars
            self._build_bars()
        self._redraw()

    def _build_bars(self) -> None:
        ax = self.ax
        ax.clear()
        n = len(self.logits)
        self._bars = ax.bar(range(n), np.zeros(n), color="C0")
        self._labels = [ax.text(i, 0, "", ha="center", va="bottom", fontsize=8) for i in range(n)]
        ax.set_xticks(range(n))
        ax.set_ylim(0, 1.08)
        ax.set_xlabel(_("class"))
        ax.set_ylabel(_("probability"))

    def _redraw(self) -> None:
        p = self.probabilities
        top = int(np.argmax(p))
        for i, (bar, label, value) in enumerate(zip(self._bars, self._labels, p)):
            bar.set_height(value)
            bar.set_color("C3" if i == top else "C0")
            label.set_position((i, value + 0.01))
            label.set_text(f"{value:.2f}")
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = float(-np.sum(np.where(p > 0, p * np.log(p), 0.0)))
        self.ax.set_title(_("softmax(z / T), T = {t}   entropy {entropy} nats (uniform: {uniform})").format(
            t=f"{self.temperature:.3g}", entropy=f"{entropy:.3f}", uniform=f"{np.log(len(p)):.3f}"), fontsize=9)
        self.view.draw()
        self.message.value = _("largest probability <b>{p}</b> (class {top}); logits: {logits}").format(
            p=f"{p[top]:.3f}", top=top, logits=", ".join(f"{v:g}" for v in self.logits))


def softmax_temperature(logits: Sequence[float] = DEFAULT_LOGITS, temperature: float = 1.0,
                        **options) -> SoftmaxTemperature:
    """A `SoftmaxTemperature` explorer; display it by making it a cell's last line."""
    return SoftmaxTemperature(logits, temperature, **options)
