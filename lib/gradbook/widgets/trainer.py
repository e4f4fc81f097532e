"""The training loop, watched (chapters 0 and 3): a small MLP's decision boundary as it learns.

    trainer = training_loop("xor")               # or "moons", "spirals"
    trainer.step(200)                            # 200 full-batch steps of the five-step loop
    trainer.losses                               # one loss per step
    trainer.boundary()                           # the predicted class on a grid over the data

The model is the reference engine's ``Sequential([Dense(hidden, activation),
Dense(classes, "softmax")])`` with sparse categorical cross-entropy, trained on the
whole dataset each step. State: ``X``, ``y``, ``model``, ``losses``, ``steps``,
``grid_x``/``grid_y``. Controls: ``dataset_dropdown``, ``lr_slider``, ``hidden_slider``,
``activation_dropdown``, ``optimizer_dropdown``, ``step_button``, ``play``, ``reset_button``.
A new architecture or dataset starts again from fresh weights; a new learning rate
or optimiser carries on from the current weights.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from gradbook.datasets import toy
from gradbook.reference import Dense, Sequential
from gradbook.reference.optimizers import SGD, Adam, Optimizer
from gradbook.i18n import N_, _
from gradbook.widgets._view import FigureView, Stepper, WidgetBase

DATASETS = {
    "xor": lambda seed: toy.xor(n=200, noise=0.15, seed=seed),
    "moons": lambda seed: toy.moons(n=200, noise=0.15, seed=seed),
    "spirals": lambda seed: toy.spirals(n=300, classes=3, noise=0.15, seed=seed),
}
OPTIMIZERS = {
    N_("gradient descent"): lambda lr: SGD(lr),
    N_("momentum"): lambda lr: SGD(lr, momentum=0.9),
    N_("adam"): lambda lr: Adam(lr),
}
ACTIVATIONS = ("tanh", "relu", "sigmoid")
# Pale colours for the regions, strong ones for the points, one per class.
REGION_COLORS = np.array([[0.80, 0.88, 0.97], [0.97, 0.82, 0.80], [0.84, 0.94, 0.82]])
POINT_COLORS = np.array([[0.12, 0.40, 0.75], [0.80, 0.16, 0.14], [0.18, 0.60, 0.20]])
LOSS_AXIS_MIN_STEPS = 20  # the loss plot's x-axis spans at least this many steps, then follows them


class TrainingLoop(WidgetBase):
    """Train a small MLP on a 2-D dataset step by step and watch its decision boundary move."""

    def __init__(self, dataset: str = "xor", hidden: int = 4, activation: str = "tanh", lr: float = 0.05,
                 optimizer: str = "adam", seed: int = 0, grid_size: int = 80, steps_per_click: int = 20,
                 interactive: bool | None = None) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {dataset!r}")
        self.seed, self.grid_size = seed, grid_size
        self.dataset_dropdown = w.Dropdown(options=list(DATASETS), value=dataset, description=_("data"))
        self.hidden_slider = w.IntSlider(value=hidden, min=1, max=64, description=_("hidden units"),
                                         continuous_update=False, style={"description_width": "90px"})
        self.activation_dropdown = w.Dropdown(options=ACTIVATIONS, value=activation, description=_("activation"))
        self.optimizer_dropdown = w.Dropdown(options=[(_(name), name) for name in OPTIMIZERS], value=optimizer,
                                             description=_("optimiser"))
        self.lr_slider = w.FloatLogSlider(value=lr, base=10, min=-3, max=0.5, step=0.05, description="lr",
                                          readout_format=".3g", continuous_update=False)
        self.stepper = Stepper(self.step, self.reset, steps_per_click)
        self.step_button, self.play, self.reset_button = (self.stepper.step_button, self.stepper.play,
                                                          self.stepper.reset_button)
        self.steps_per_click = self.stepper.steps_per_click
        self.status = w.HTML()
        self.status.add_class("gb-status")
        self.view = FigureView((9.0, 3.8), interactive)
        self._build_figure()
        self._load_data()
        self.reset()
        self.dataset_dropdown.observe(self._dataset_changed, names="value")
        self.hidden_slider.observe(lambda _: self.reset(), names="value")
        self.activation_dropdown.observe(lambda _: self.reset(), names="value")
        self.optimizer_dropdown.observe(self._optimizer_changed, names="value")
        self.lr_slider.observe(self._lr_changed, names="value")
        self.widget = w.VBox([
            w.HBox([self.dataset_dropdown, self.activation_dropdown, self.optimizer_dropdown]),
            w.HBox([self.hidden_slider, self.lr_slider]),
            self.stepper.widget, self.status, self.view.widget,
        ])

    # ------------------------------------------------------------------ state

    @property
    def classes(self) -> int:
        return int(self.y.max()) + 1

    def predict(self, points: np.ndarray) -> np.ndarray:
        """Class probabilities, (n, classes), for points (n, 2)."""
        return self.model.predict(np.asarray(points, dtype=np.float32), batch_size=len(points))

    def probabilities(self) -> np.ndarray:
        """Class probabilities on the grid, (grid_size, grid_size, classes); rows follow ``grid_y``."""
        gx, gy = np.meshgrid(self.grid_x, self.grid_y)
        return self.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(*gx.shape, -1)

    def boundary(self) -> np.ndarray:
        """The predicted class at every grid point, (grid_size, grid_size); rows follow ``grid_y``."""
        return self.probabilities().argmax(axis=-1)

    def accuracy(self) -> float:
        return float(np.mean(self.predict(self.X).argmax(axis=1) == self.y))

    def step(self, n: int = 1) -> None:
        """``n`` full-batch steps: predict, loss, gradients, update (the loss is the one before each update)."""
        for _ in range(int(n)):
            self.losses.append(float(self.model.train_on_batch(self.X, self.y)))
        self._redraw()

    def reset(self) -> None:
        """Fresh weights (the same seed, so the same start) for the current data and architecture."""
        self.model = Sequential([Dense(self.hidden_slider.value, activation=self.activation_dropdown.value,
                                       input_shape=(2,)),
                                 Dense(self.classes, activation="softmax")], seed=self.seed)
        self.model.compile(optimizer=self._new_optimizer(), loss="sparse_categorical_crossentropy")
        self.losses: list[float] = []
        self._redraw()

    @property
    def steps(self) -> int:
        return len(self.losses)

    # ------------------------------------------------------------------ controls

    def _new_optimizer(self) -> Optimizer:
        return OPTIMIZERS[self.optimizer_dropdown.value](self.lr_slider.value)

    def _lr_changed(self, change: dict) -> None:
        self.model.optimizer.learning_rate = float(change["new"])  # read afresh at every step

    def _optimizer_changed(self, _: dict) -> None:
        self.model.optimizer = self._new_optimizer()

    def _load_data(self) -> None:
        self.X, self.y = DATASETS[self.dataset_dropdown.value](self.seed)
        lo, hi = self.X.min(axis=0) - 0.5, self.X.max(axis=0) + 0.5
        self.grid_x = np.linspace(lo[0], hi[0], self.grid_size)
        self.grid_y = np.linspace(lo[1], hi[1], self.grid_size)
        self._regions.set_extent((lo[0], hi[0], lo[1], hi[1]))
        self._points.set_offsets(self.X)
        self._points.set_facecolors(POINT_COLORS[self.y])
        self.ax_boundary.set_xlim(lo[0], hi[0])
        self.ax_boundary.set_ylim(lo[1], hi[1])

    def _dataset_changed(self, _: dict) -> None:
        self._load_data()
        self.reset()

    # ------------------------------------------------------------------ view

    def _build_figure(self) -> None:
        fig = self.view.fig
        self.ax_boundary, self.ax_loss = fig.subplots(1, 2)
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.13, top=0.9, wspace=0.25)
        self._regions = self.ax_boundary.imshow(np.ones((2, 2, 3)), origin="lower", aspect="auto",
                                                interpolation="bilinear")
        self._points = self.ax_boundary.scatter([], [], s=14, edgecolors="k", linewidths=0.4)
        (self._loss_line,) = self.ax_loss.plot([], [], color="C0")
        self.ax_loss.set_xlabel(_("step"))
        self.ax_loss.set_ylabel(_("cross-entropy loss"))
        self.ax_loss.set_yscale("log")
        self.ax_loss.grid(alpha=0.3)

    def _redraw(self) -> None:
        probs = self.probabilities()
        # Each pixel mixes the class colours by the predicted probabilities: unsure regions look washed out.
        self._regions.set_data(np.clip(probs @ REGION_COLORS[: probs.shape[-1]], 0, 1))
        accuracy = f"{self.accuracy():.1%}"  # one rounding for the title and the status line
        self.ax_boundary.set_title(_("{data}: step {steps}, accuracy {accuracy}").format(
            data=self.dataset_dropdown.value, steps=self.steps, accuracy=accuracy), fontsize=10)
        self._loss_line.set_data(np.arange(len(self.losses)), self.losses)
        # The x-axis is set every time, never autoscaled: one set_xlim turns autoscaling off for good.
        self.ax_loss.set_xlim(0, max(LOSS_AXIS_MIN_STEPS, len(self.losses) - 1))
        if self.losses:
            self.ax_loss.relim()
            self.ax_loss.autoscale_view(scalex=False)
        self.view.draw()
        last = f"{self.losses[-1]:.4f}" if self.losses else "–"
        self.status.value = _("<b>step {steps}</b> · loss {loss} · accuracy {accuracy} · {count} parameters").format(
            steps=self.steps, loss=f"<span class='gb-loss'>{last}</span>", accuracy=accuracy,
            count=self.model.count_params())


def training_loop(dataset: str = "xor", **options) -> TrainingLoop:
    """A `TrainingLoop` (see this module's docstring); display it by making it a cell's last line."""
    return TrainingLoop(dataset, **options)
