"""What every widget shares: a figure shown as a widget, and the step / play / reset controls.

The widgets keep their state (paths, losses, predictions) in plain attributes and
only *show* it through a `FigureView`, so tests drive them headlessly and the
same code runs under the inline backend and under ipympl's ``%matplotlib widget``.
"""

from __future__ import annotations

import io
import time
from typing import Callable

import ipywidgets as w
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gradbook.i18n import _, pgettext, plot_font

PNG_DPI = 80  # small PNGs: a redraw is one Agg render plus a few tens of kB over the comm


def ipympl_active() -> bool:
    """True after ``%matplotlib widget`` (or ``ipympl``): the figure can then be an interactive canvas."""
    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or backend == "widget"


class FigureView:
    """A matplotlib figure as an ipywidget.

    Under ipympl the figure *is* a widget (its canvas), which also reports mouse
    clicks; otherwise the figure is rendered with Agg into an `ipywidgets.Image`.
    Either way the owner changes artists' data and calls `draw()`; the figure
    itself is built once.
    """

    def __init__(self, figsize: tuple[float, float], interactive: bool | None = None) -> None:
        self.interactive = ipympl_active() if interactive is None else interactive
        plot_font()  # before any text is made: a Chinese label needs the CJK font
        # Not pyplot's figure: never shown on its own, never left open. The same dpi in both modes,
        # so a canvas is as wide as the PNG (and fits a notebook's output area).
        self.fig = Figure(figsize=figsize, dpi=PNG_DPI)
        if self.interactive:
            from ipympl.backend_nbagg import Canvas, FigureManager

            canvas = Canvas(self.fig)
            FigureManager(canvas, 0)  # gives the canvas its toolbar
            canvas.header_visible = False
            canvas.toolbar_position = "bottom"
            self.widget: w.DOMWidget = canvas
        else:
            FigureCanvasAgg(self.fig)
            self.widget = w.Image(format="png")
        self.widget.add_class("gb-figure")
        self.draw_seconds = 0.0  # the last redraw's duration, for the curious (and the tests' report)

    def draw(self) -> None:
        start = time.perf_counter()
        if self.interactive:
            self.fig.canvas.draw_idle()
        else:
            buffer = io.BytesIO()
            self.fig.savefig(buffer, format="png", dpi=PNG_DPI)
            self.widget.value = buffer.getvalue()
        self.draw_seconds = time.perf_counter() - start

    def on_click(self, callback: Callable[[float, float, object], None]) -> None:
        """Call ``callback(x, y, axes)`` for a click inside an axes (ipympl only: an image cannot be clicked)."""
        if not self.interactive:
            return

        def handle(event) -> None:
            if event.inaxes is not None and event.xdata is not None:
                callback(float(event.xdata), float(event.ydata), event.inaxes)

        self.fig.canvas.mpl_connect("button_press_event", handle)


# The kernel runs one thing at a time: a click while it is busy (Run All still training a later
# cell, say) waits in its queue. The page, not the kernel, knows that: JupyterLab's notebook
# toolbar marks its execution indicator data-status="busy", and this CSS shows the notice while
# the widget's own notebook says so for more than half a second (a click's own redraw is quicker).
# Elsewhere (classic Notebook, VS Code) the rule matches nothing and the notice stays hidden.
BUSY_CLASS = "gb-busy"
BUSY_STYLE = f"""<style>
.{BUSY_CLASS} {{ visibility: hidden; color: #8a5a00; font-size: 90%; padding-left: 6px; }}
.jp-NotebookPanel:has(.jp-Notebook-ExecutionIndicator[data-status="busy"]) .{BUSY_CLASS} {{
  animation: gb-busy-appear 0s linear 0.5s forwards; }}
@keyframes gb-busy-appear {{ to {{ visibility: visible; }} }}
</style>"""


def busy_html() -> str:
    """The notice, in the student's language (see BUSY_STYLE)."""
    notice = _("the kernel is busy running cells: your clicks wait until it is free")
    return f'{BUSY_STYLE}<span class="{BUSY_CLASS}">&#x23F3; {notice}</span>'


class Stepper:
    """Step / play / reset buttons for a model with ``step(n)`` and ``reset()``.

    Play is an `ipywidgets.Play`: the browser ticks its value and every tick runs
    ``step(steps_per_tick)`` in the kernel, so pause and stop always work and the
    kernel is never stuck in a Python loop. ``busy`` shows a notice while the kernel is
    busy with other cells (see BUSY_STYLE), when clicks wait.
    """

    def __init__(self, step: Callable[[int], None], reset: Callable[[], None], steps_per_click: int = 10,
                 interval_ms: int = 150) -> None:
        self._step, self._reset = step, reset
        self.step_button = w.Button(description=pgettext("button", "step"), icon="step-forward", layout=w.Layout(width="90px"))
        self.steps_per_click = w.BoundedIntText(value=steps_per_click, min=1, max=1000, description=pgettext("steps per click", "steps"),
                                                layout=w.Layout(width="140px"),
                                                style={"description_width": "40px"})
        self.play = w.Play(value=0, min=0, max=100_000, step=1, interval=interval_ms, repeat=False,
                           description=_("play"))
        self.reset_button = w.Button(description=_("reset"), icon="undo", layout=w.Layout(width="90px"))
        self.step_button.on_click(lambda _: self._step(self.steps_per_click.value))
        self.reset_button.on_click(lambda _: self.reset())
        self.play.observe(self._tick, names="value")
        self.busy = w.HTML(busy_html())
        self.widget = w.HBox([self.step_button, self.steps_per_click, self.play, self.reset_button, self.busy])

    def _tick(self, change: dict) -> None:
        # The Play's stop button rewinds its value to 0: that pauses, it does not step backwards.
        if change["new"] > change["old"]:
            self._step(self.steps_per_click.value)

    def reset(self) -> None:
        self.play.playing = False
        self._reset()


class WidgetBase:
    """Shows ``self.widget`` when the object is the last expression of a cell."""

    widget: w.Widget
    view: FigureView

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    @property
    def draw_seconds(self) -> float:
        return self.view.draw_seconds
