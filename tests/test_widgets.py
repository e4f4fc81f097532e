"""The widgets, driven headlessly: set controls' values, click buttons, check the data they produce.

The optimiser paths are checked against update rules written out again here (Keras'
formulas), not against the reference classes the widget uses, so a wrong wiring of
a slider to a hyperparameter shows up as a wrong path.
"""

from __future__ import annotations

import html
import importlib.util
import math
import time
import warnings

import numpy as np
import pytest

from conftest import require
from gradbook import surfaces
from gradbook.datasets import mnist
from gradbook.widgets import kernel_explorer, optimizer_race, softmax_temperature, training_loop
from gradbook.widgets.kernels import PRESETS

try:
    from scipy.signal import correlate2d
except ImportError:  # scipy comes with mlxtend, but the check does not depend on it
    correlate2d = None


# ---------------------------------------------------------------- independent optimiser paths

def independent_path(kind: str, grad, start, steps: int, lr: float, beta: float = 0.9, rho: float = 0.9,
                     beta_1: float = 0.9, beta_2: float = 0.999, eps: float = 1e-7) -> np.ndarray:
    """The path of one optimiser, from the formulas (see gradbook.reference.optimizers' docstring)."""
    p = np.array(start, dtype=float)
    m, v = np.zeros(2), np.zeros(2)
    path = [p.copy()]
    for t in range(1, steps + 1):
        g = grad(p)
        if kind == "GD":
            p = p - lr * g
        elif kind == "momentum":
            m = beta * m - lr * g
            p = p + m
        elif kind == "RMSprop":
            v = rho * v + (1 - rho) * g**2
            p = p - lr * g / np.sqrt(v + eps)
        elif kind == "Adam":
            m = beta_1 * m + (1 - beta_1) * g
            v = beta_2 * v + (1 - beta_2) * g**2
            p = p - lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (np.sqrt(v) + eps)
        path.append(p.copy())
    return np.array(path)


@pytest.fixture
def race():
    return optimizer_race("bowl", interactive=False)


def test_race_paths_follow_each_optimisers_update_rule(race) -> None:
    race.step(25)
    for name in ("GD", "momentum", "RMSprop", "Adam"):
        hyper = race.hyperparameters(name)
        expected = independent_path(name, surfaces.bowl.grad, surfaces.bowl.start, 25, **hyper)
        np.testing.assert_allclose(race.paths[name], expected, rtol=1e-9, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(race.losses[name], surfaces.bowl.f(expected.T), rtol=1e-9, atol=1e-12)


def test_race_paths_go_downhill(race) -> None:
    race.step(60)
    for name, losses in race.losses.items():
        assert losses[-1] < 0.05 * losses[0], name
    # Below lr = 2 / 25 (the steep direction's curvature) plain GD never goes uphill on the bowl.
    assert race.lr_sliders["GD"].value < 2 / 25
    assert np.all(np.diff(race.losses["GD"]) <= 0)


def test_adam_first_step_moves_each_coordinate_by_lr() -> None:
    race = optimizer_race("rosenbrock", interactive=False)
    race.lr_sliders["Adam"].value = 0.1
    race.step(1)
    first = race.paths["Adam"][1] - race.paths["Adam"][0]
    # At t = 1 the bias-corrected m / sqrt(v) is sign(g): a step of lr whatever the gradient's size.
    np.testing.assert_allclose(np.abs(first), 0.1, rtol=1e-5)
    g = surfaces.rosenbrock.grad(np.array(surfaces.rosenbrock.start))
    np.testing.assert_array_equal(np.sign(first), -np.sign(g))


def test_lr_and_beta_sliders_replay_the_path_with_the_new_value(race) -> None:
    race.step(30)
    before = race.paths["GD"]
    race.lr_sliders["GD"].value = 0.01
    after = race.paths["GD"]
    assert after.shape == before.shape and not np.allclose(after, before)
    np.testing.assert_allclose(after, independent_path("GD", surfaces.bowl.grad, surfaces.bowl.start, 30, 0.01))

    momentum_before = race.paths["momentum"]
    race.hyper_sliders["momentum"]["beta"].value = 0.5
    assert not np.allclose(race.paths["momentum"], momentum_before)
    np.testing.assert_allclose(race.paths["momentum"], independent_path(
        "momentum", surfaces.bowl.grad, surfaces.bowl.start, 30, race.lr_sliders["momentum"].value, beta=0.5))
    assert race.paths["Adam"].shape == (31, 2)  # the other racers keep their steps


def test_reset_restores_the_start_and_start_sliders_move_it(race) -> None:
    race.step(40)
    race.reset_button.click()
    assert race.steps == 0
    for path in race.paths.values():
        np.testing.assert_array_equal(path, [surfaces.bowl.start])
    race.step(5)
    race.start_x.value = 2.0
    race.start_y.value = -1.0
    for name, path in race.paths.items():
        assert path.shape == (6, 2)
        np.testing.assert_allclose(path[0], (2.0, -1.0), err_msg=name)
    race.set_start(1.0, 1.0)
    np.testing.assert_allclose(race.paths["GD"], independent_path("GD", surfaces.bowl.grad, (1.0, 1.0), 5,
                                                                  race.lr_sliders["GD"].value))


def test_buttons_and_play_ticks_step_and_stop_does_not(race) -> None:
    race.steps_per_click.value = 7
    race.step_button.click()
    assert race.steps == 7 and race.paths["Adam"].shape == (8, 2)
    race.play.value = 1  # what the browser's Play widget sends on each tick
    race.play.value = 2
    assert race.steps == 21
    race.play.value = 0  # its stop button rewinds the counter: no step
    assert race.steps == 21


def test_unchecked_optimiser_leaves_the_race(race) -> None:
    race.enabled["RMSprop"].value = False
    race.step(3)
    assert set(race.paths) == {"GD", "momentum", "Adam"}
    race.enabled["RMSprop"].value = True
    assert race.paths["RMSprop"].shape == (4, 2)  # catches up with the others


def test_surface_dropdown_switches_surface_start_and_learning_rates(race) -> None:
    race.step(10)
    race.surface_dropdown.value = "rosenbrock"
    assert race.surface is surfaces.rosenbrock and race.steps == 0
    np.testing.assert_array_equal(race.paths["GD"], [surfaces.rosenbrock.start])
    assert race.lr_sliders["GD"].value == pytest.approx(1e-3)
    assert race.start_x.min == surfaces.rosenbrock.xlim[0] and race.start_y.max == surfaces.rosenbrock.ylim[1]


def test_a_diverging_optimiser_stops_with_finite_points() -> None:
    race = optimizer_race("rosenbrock", interactive=False)
    race.lr_sliders["GD"].value = 0.5
    race.step(50)
    assert race.diverged["GD"] and not race.diverged["momentum"]
    assert np.all(np.isfinite(race.paths["GD"])) and len(race.paths["GD"]) < 51
    assert "GD: loss" in race.status.value and "(diverged)" in race.status.value


def test_students_own_classes_and_update_functions_race() -> None:
    class Momentum:  # the chapter-6 interface: step(params, grads) updates a list of arrays in place
        def __init__(self, lr=0.01, beta=0.9):
            self.lr, self.beta, self.v = lr, beta, None

        def step(self, params, grads):
            if self.v is None:
                self.v = [np.zeros_like(p) for p in params]
            for p, g, v in zip(params, grads, self.v):
                v *= self.beta
                v -= self.lr * g
                p += v

    def my_gd(w, g, lr):
        return w - lr * g

    race = optimizer_race("saddle", {"mine": (Momentum, 0.02), "gd": my_gd}, interactive=False)
    assert set(race.hyper_sliders["mine"]) == {"lr", "beta"}
    assert race.lr_sliders["gd"].value == pytest.approx(surfaces.saddle.lr)
    race.step(20)
    np.testing.assert_allclose(race.paths["mine"], independent_path(
        "momentum", surfaces.saddle.grad, surfaces.saddle.start, 20, 0.02, beta=0.9))
    np.testing.assert_allclose(race.paths["gd"], independent_path(
        "GD", surfaces.saddle.grad, surfaces.saddle.start, 20, surfaces.saddle.lr))


def test_own_loss_function_gets_a_numerical_gradient() -> None:
    def loss(p):
        return (p[0] - 1) ** 2 + 3 * p[1] ** 2

    race = optimizer_race(loss, {"GD": lambda w, g, lr=0.1: w - lr * g}, start=(-1.5, 1.0), interactive=False)
    race.step(15)
    exact = independent_path("GD", lambda p: np.array([2 * (p[0] - 1), 6 * p[1]]), (-1.5, 1.0), 15, 0.1)
    np.testing.assert_allclose(race.paths["GD"], exact, atol=1e-6)
    assert race.losses["GD"][-1] < 0.01 * race.losses["GD"][0]
    assert race.surface_dropdown.value == "custom"


def test_own_loss_written_for_one_point_at_a_time() -> None:
    def loss(p):  # math.* takes floats only, so the contour grid is evaluated point by point
        return math.cosh(float(p[0])) + float(p[1]) ** 2

    race = optimizer_race(loss, {"GD": lambda w, g, lr=0.2: w - lr * g}, start=(1.0, 1.0), interactive=False)
    race.step(10)
    exact = independent_path("GD", lambda p: np.array([math.sinh(p[0]), 2 * p[1]]), (1.0, 1.0), 10, 0.2)
    np.testing.assert_allclose(race.paths["GD"], exact, atol=1e-6)


# ---------------------------------------------------------------- training loop

def independent_loss(trainer) -> float:
    """Cross-entropy of the trainer's current weights on its data, from the weights alone."""
    W1, b1, W2, b2 = trainer.model.get_weights()
    h = np.tanh(trainer.X.astype(np.float64) @ W1 + b1)
    z = h @ W2 + b2
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(trainer.y)), trainer.y].mean())


@pytest.fixture
def xor_trainer():
    return training_loop("xor", interactive=False)


def test_trainer_loss_decreases_and_the_boundary_separates_xor(xor_trainer) -> None:
    t = xor_trainer
    first = independent_loss(t)
    t.step(300)
    assert len(t.losses) == t.steps == 300
    assert t.losses[0] == pytest.approx(first, rel=1e-4)  # each entry is the loss before that step
    assert t.losses[-1] < 0.1 * t.losses[0]
    assert t.accuracy() >= 0.97
    grid = t.boundary()
    assert grid.shape == (t.grid_size, t.grid_size)

    def predicted(x: float, y: float) -> int:
        return int(grid[np.abs(t.grid_y - y).argmin(), np.abs(t.grid_x - x).argmin()])

    assert [predicted(*corner) for corner in [(0, 0), (0, 1), (1, 0), (1, 1)]] == [0, 1, 1, 0]


def test_play_ticks_and_step_button_train(xor_trainer) -> None:
    xor_trainer.steps_per_click.value = 5
    xor_trainer.step_button.click()
    xor_trainer.play.value = 1
    assert xor_trainer.steps == 10
    assert "step 10" in xor_trainer.status.value


def test_hidden_units_and_activation_rebuild_the_model(xor_trainer) -> None:
    t = xor_trainer
    t.step(20)
    t.hidden_slider.value = 8
    assert t.steps == 0 and t.losses == []
    assert t.model.layers[0].params["W"].shape == (2, 8)
    assert t.model.layers[1].params["W"].shape == (8, 2)
    t.activation_dropdown.value = "relu"
    assert t.model.layers[0].activation.name == "relu"


def test_learning_rate_carries_on_from_the_current_weights(xor_trainer) -> None:
    t = xor_trainer
    t.step(10)
    weights = t.model.get_weights()
    t.lr_slider.value = 0.2
    assert t.model.optimizer.learning_rate == pytest.approx(0.2)
    for before, after in zip(weights, t.model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert t.steps == 10


def test_reset_gives_the_same_training_run_again(xor_trainer) -> None:
    xor_trainer.step(15)
    first = list(xor_trainer.losses)
    xor_trainer.reset_button.click()
    assert xor_trainer.losses == []
    xor_trainer.step(15)
    assert xor_trainer.losses == first


def assert_lines_inside_their_axes(ax) -> None:
    """Every visible line's points lie within the axes' current limits (nothing is cut off)."""
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    for line in ax.get_lines():
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        if line.get_visible() and len(x):
            assert x0 <= x.min() and x.max() <= x1, f"{line.get_label()}: x {x.min()}..{x.max()} outside {x0}..{x1}"
            assert y0 <= y.min() and y.max() <= y1, f"{line.get_label()}: y {y.min()}..{y.max()} outside {y0}..{y1}"


def test_trainer_loss_axis_follows_the_steps(xor_trainer) -> None:
    for _ in range(18):  # 360 steps, 20 a click, as a student would
        xor_trainer.step_button.click()
        assert_lines_inside_their_axes(xor_trainer.ax_loss)
    assert xor_trainer.steps == 360
    assert xor_trainer.ax_loss.get_xlim()[1] == pytest.approx(359)  # the last step is the right edge
    xor_trainer.reset_button.click()
    assert xor_trainer.ax_loss.get_xlim()[1] < 359  # and shrinks back after a reset
    xor_trainer.step(5)
    assert_lines_inside_their_axes(xor_trainer.ax_loss)


def test_race_loss_axis_follows_the_steps(race) -> None:
    for _ in range(30):
        race.step_button.click()
        assert_lines_inside_their_axes(race.ax_loss)
    race.enabled["GD"].value = False
    assert_lines_inside_their_axes(race.ax_loss)


def test_trainer_title_and_status_give_the_same_accuracy() -> None:
    import re

    t = training_loop("moons", interactive=False)
    for _ in range(10):
        t.step(7)
        expected = np.mean(t.predict(t.X).argmax(axis=1) == t.y)  # recomputed from the predictions
        title = re.search(r"accuracy ([0-9.]+)%", t.ax_boundary.get_title()).group(1)
        status = re.search(r"accuracy ([0-9.]+)%", t.status.value).group(1)
        assert title == status, (t.ax_boundary.get_title(), t.status.value)
        assert float(status) == pytest.approx(100 * expected, abs=0.05)


@pytest.mark.parametrize("make", [lambda: training_loop("xor", interactive=False),
                                  lambda: optimizer_race("bowl", interactive=False)], ids=["trainer", "race"])
def test_steppers_carry_a_kernel_busy_notice_next_to_their_buttons(make) -> None:
    from gradbook.widgets._view import BUSY_CLASS

    widget = make()
    row = widget.stepper.widget.children
    assert widget.step_button in row and widget.stepper.busy in row
    html = widget.stepper.busy.value
    # Hidden unless the page marks this notebook's kernel busy (what test_browser.py checks in Chromium).
    assert f'class="{BUSY_CLASS}"' in html and "visibility: hidden" in html
    assert 'data-status="busy"' in html and "busy" in html.split("</style>")[1]


def test_spirals_have_three_classes_and_learn() -> None:
    t = training_loop("spirals", hidden=32, lr=0.03, interactive=False)
    assert t.classes == 3 and t.model.layers[-1].params["W"].shape == (32, 3)
    t.step(300)
    assert t.accuracy() > 0.9
    assert set(np.unique(t.boundary())) == {0, 1, 2}
    t.dataset_dropdown.value = "moons"
    assert t.classes == 2 and t.steps == 0 and len(t.X) == 200


# ---------------------------------------------------------------- softmax temperature

def test_softmax_bars_sum_to_one_and_match_the_formula() -> None:
    s = softmax_temperature([2.0, 1.0, 0.5, -1.0, 3.0], interactive=False)
    for T in (0.01, 0.3, 1.0, 7.0, 100.0):
        s.temperature_slider.value = T
        p = s.probabilities
        e = np.exp((s.logits - s.logits.max()) / T)
        np.testing.assert_allclose(p, e / e.sum(), rtol=1e-12)
        assert p.sum() == pytest.approx(1.0)
        np.testing.assert_allclose([bar.get_height() for bar in s._bars], p)


def test_temperature_flattens_and_sharpens() -> None:
    s = softmax_temperature([2.0, 1.0, 0.5, -1.0, 3.0], interactive=False)
    s.temperature_slider.value = 100.0
    np.testing.assert_allclose(s.probabilities, 0.2, atol=0.01)
    s.temperature_slider.value = 0.01
    assert s.probabilities[4] > 0.9999 and s.probabilities.argmax() == 4
    peaks = []
    for T in (0.1, 0.5, 1.0, 2.0, 10.0):
        s.temperature_slider.value = T
        peaks.append(s.probabilities.max())
    assert all(a > b for a, b in zip(peaks, peaks[1:]))


def test_editing_logits() -> None:
    s = softmax_temperature(interactive=False)
    s.logits_text.value = "0, 0, 1"
    np.testing.assert_array_equal(s.logits, [0, 0, 1])
    assert len(s._bars) == 3 and s.probabilities.argmax() == 2
    s.logits_text.value = "1, two"
    np.testing.assert_array_equal(s.logits, [0, 0, 1])  # unchanged, and the message says why
    assert "gb-error" in s.message.value


@pytest.mark.parametrize("text, says, what_to_type", [
    ("1, two", "'two' is not a finite number", "e.g. 2, 1, 0.5"),
    ("2, inf", "'inf' is not a finite number", "e.g. 2, 1, 0.5"),
    ("nan", "'nan' is not a finite number", "e.g. 2, 1, 0.5"),
    ("  ,, ", "type at least one logit", "e.g. 2, 1, 0.5"),
    (", ".join(["1"] * 60), "60 logits are too many", "type at most 50"),
])
def test_bad_logits_get_a_plain_message_and_keep_the_bars(text: str, says: str, what_to_type: str) -> None:
    s = softmax_temperature([1.0, 2.0], interactive=False)
    s.logits_text.value = text
    message = s.message.value.replace("&#x27;", "'")
    assert says in message and what_to_type in message, message
    assert "could not convert" not in message and "Traceback" not in message  # no raw Python text
    np.testing.assert_array_equal(s.logits, [1.0, 2.0])
    assert len(s._bars) == 2
    s.logits_text.value = "3, 1, 1"  # a good value clears it
    assert "gb-error" not in s.message.value and len(s._bars) == 3


def test_softmax_widget_rejects_bad_logits_from_code_with_the_same_message() -> None:
    with pytest.raises(ValueError, match="'x' is not a finite number: type numbers separated by commas"):
        softmax_temperature([1.0, "x"], interactive=False)
    with pytest.raises(ValueError, match="type at least one logit"):
        softmax_temperature([], interactive=False)


# ---------------------------------------------------------------- perceptron explorer

# The truth tables, written out here (inputs in binary counting order: 00, 01, 10, 11).
TRUTH = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "nand": [1, 1, 1, 0], "nor": [1, 0, 0, 0]}
HAND_WEIGHTS = {"and": (1, 1, -1.5), "or": (1, 1, -0.5), "nand": (-1, -1, 1.5), "nor": (-1, -1, 0.5)}


@pytest.mark.parametrize("gate", sorted(TRUTH))
def test_perceptron_explorer_shows_the_chosen_gates_points(gate: str) -> None:
    from gradbook.widgets import perceptron_explorer
    from gradbook.widgets.perceptron import POINT_COLORS

    e = perceptron_explorer(gate="and", interactive=False)
    e.gate_dropdown.value = gate
    np.testing.assert_array_equal(e.X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(e.y, TRUTH[gate])
    np.testing.assert_array_equal(e._points.get_offsets(), e.X)  # the points drawn are this gate's
    np.testing.assert_allclose(e._points.get_facecolors()[:, :3], POINT_COLORS[TRUTH[gate]])
    assert gate.upper() in e.ax.get_title() and f"{gate.upper()} wants {TRUTH[gate]}" in e.status.value
    e.w1_slider.value, e.w2_slider.value, e.b_slider.value = HAND_WEIGHTS[gate]
    assert e.correct == 4 and f"computes {gate.upper()}" in e.status.value


def test_perceptron_explorer_uses_the_students_predict_and_survives_its_errors() -> None:
    from gradbook.widgets import perceptron_explorer

    calls = []

    def predict(X, w, b):
        calls.append((X.shape, tuple(w), b))
        return (X @ w + b >= 0).astype(int)

    e = perceptron_explorer(predict, gate="or", interactive=False)
    assert calls and e.correct == 2  # AND's weights on OR's points: (0,1) and (1,0) are wrong
    e.b_slider.value = -0.5
    assert calls[-1][1:] == ((1.0, 1.0), -0.5) and e.correct == 4

    def broken(X, w, b):
        raise ValueError("shapes (4,2) and (3,) not aligned")

    e = perceptron_explorer(broken, interactive=False)
    assert "gb-error" in e.status.value and "ValueError: shapes (4,2)" in e.status.value
    with pytest.raises(ValueError, match="gate must be one of and, or, nand, nor"):
        perceptron_explorer(gate="xor", interactive=False)


# ---------------------------------------------------------------- kernel explorer

def correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'valid' cross-correlation: scipy when present, else a loop."""
    if correlate2d is not None:
        return correlate2d(image, kernel, mode="valid")
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


@pytest.fixture(scope="module")
def digits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mnist.MNISTFallbackWarning)  # the training images are not in CI
        _, (x_test, y_test) = mnist.load_data(verbose=False)
    return x_test, y_test


@pytest.fixture
def explorer(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mnist.MNISTFallbackWarning)
        return kernel_explorer(interactive=False)


def test_each_preset_feature_map_is_the_cross_correlation(explorer, digits) -> None:
    image = digits[0][0] / 255
    np.testing.assert_array_equal(explorer.image, image)
    for name, kernel in PRESETS.items():
        explorer.preset_dropdown.value = name
        np.testing.assert_array_equal(explorer.kernel, kernel)
        assert [box.value for box in explorer.kernel_inputs] == list(kernel.ravel())
        fmap = explorer.feature_map
        assert fmap.shape == (26, 26)
        np.testing.assert_allclose(fmap, correlate(image, kernel), atol=1e-12, err_msg=name)
    explorer.preset_dropdown.value = "identity"
    np.testing.assert_allclose(explorer.feature_map, image[1:-1, 1:-1])


def test_editing_a_weight_makes_a_custom_kernel(explorer, digits) -> None:
    explorer.preset_dropdown.value = "sobel x"
    explorer.kernel_inputs[4].value = 3.0  # the centre
    assert explorer.preset_dropdown.value == "custom"
    expected_kernel = PRESETS["sobel x"].copy()
    expected_kernel[1, 1] = 3.0
    np.testing.assert_allclose(explorer.feature_map, correlate(digits[0][0] / 255, expected_kernel), atol=1e-12)
    explorer.kernel_inputs[4].value = 0.0
    assert explorer.preset_dropdown.value == "sobel x"  # back to a preset, named again


def test_digit_index_picks_the_mnist_digit(explorer, digits) -> None:
    explorer.preset_dropdown.value = "edge"
    explorer.index_slider.value = 7
    np.testing.assert_array_equal(explorer.image, digits[0][7] / 255)
    np.testing.assert_allclose(explorer.feature_map, correlate(digits[0][7] / 255, PRESETS["edge"]), atol=1e-12)
    assert f"label {digits[1][7]}" in explorer.ax_image.get_title()


def test_kernel_explorer_on_an_image_of_ones_own() -> None:
    image = np.arange(36, dtype=float).reshape(6, 6)
    k = kernel_explorer(image, kernel="blur", interactive=False)
    assert k.index_slider.disabled
    np.testing.assert_allclose(k.feature_map, correlate(image, PRESETS["blur"]))
    stack = np.stack([image, image.T]).astype(np.uint8)
    k = kernel_explorer(stack, labels=np.array([4, 2]), index=1, kernel="identity", interactive=False)
    np.testing.assert_array_equal(k.image, image.T / 255)  # uint8 images are scaled like MNIST
    assert "label 2" in k.ax_image.get_title()
    with pytest.raises(ValueError, match="3x3"):
        kernel_explorer(image, kernel=np.ones((2, 2)), interactive=False)


# ---------------------------------------------------------------- responsiveness (printed, never asserted)

def test_report_interaction_times(digits, capsys) -> None:
    def timed(action) -> float:
        start = time.perf_counter()
        action()
        return time.perf_counter() - start

    race = optimizer_race("rosenbrock", interactive=False)
    race.step(200)
    trainer = training_loop("xor", interactive=False)
    trainer.step(50)
    soft = softmax_temperature(interactive=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mnist.MNISTFallbackWarning)
        kern = kernel_explorer(interactive=False)
    times = {
        "race: lr slider (4 paths x 200 steps replayed + redraw)":
            timed(lambda: setattr(race.lr_sliders["Adam"], "value", 0.05)),
        "race: step button (10 steps + redraw)": timed(race.step_button.click),
        "trainer: step button (20 steps + redraw)": timed(trainer.step_button.click),
        "trainer: hidden units (rebuild + redraw)": timed(lambda: setattr(trainer.hidden_slider, "value", 8)),
        "softmax: temperature slider": timed(lambda: setattr(soft.temperature_slider, "value", 3.0)),
        "kernel: preset": timed(lambda: setattr(kern.preset_dropdown, "value", "sharpen")),
        "kernel: digit index": timed(lambda: setattr(kern.index_slider, "value", 5)),
    }
    with capsys.disabled():
        print("\ninteraction times (model update + PNG redraw, this machine):")
        for what, seconds in times.items():
            print(f"  {what:<58} {seconds * 1000:7.1f} ms")
    assert race.steps == 210 and trainer.steps == 0  # the actions really ran


@pytest.mark.filterwarnings("ignore:Passing unrecognized arguments:DeprecationWarning")  # ipympl's Toolbar
def test_ipympl_canvas_click_sets_the_start() -> None:
    require(importlib.util.find_spec("ipympl") is not None, "ipympl is not installed (pip install gradbook[lab])")
    from matplotlib.backend_bases import MouseEvent

    race = optimizer_race("saddle", interactive=True)  # what %matplotlib widget gives
    assert type(race.view.widget).__name__ == "Canvas"
    race.step(5)
    race.view.fig.canvas.draw()  # lay the axes out, so data -> pixel transforms are final
    x, y = race.ax_surface.transData.transform((0.5, -0.8))
    MouseEvent("button_press_event", race.view.fig.canvas, x, y, button=1)._process()
    for path in race.paths.values():
        assert path.shape == (6, 2)
        np.testing.assert_allclose(path[0], (0.5, -0.8), atol=1e-9)
    assert race.start_x.value == pytest.approx(0.5) and race.start_y.value == pytest.approx(-0.8)


# ---------------------------------------------------------------- the gradient through time (chapter 9)

def _torch_norms_through_time(scale: float, steps: int, units: int, activation: str) -> tuple[np.ndarray, float]:
    """||dL/dh_t|| and ||dL/dWh|| by torch autograd, for the widget's network (`through_time._network`)."""
    import torch

    from gradbook.widgets.through_time import _network

    x, wx, q, v = (torch.tensor(a) for a in _network(steps, units, 0))
    wh = (scale * q).requires_grad_(True)
    h, states = torch.zeros(units, dtype=torch.float64), []
    for t in range(steps):
        a = x[t] @ wx + h @ wh
        h = torch.tanh(a) if activation == "tanh" else a
        h.retain_grad()
        states.append(h)
    (states[-1] @ v).backward()
    return np.array([s.grad.norm().item() for s in states]), wh.grad.norm().item()


@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_gradient_through_time_is_torch_autograd_of_the_same_network(activation: str) -> None:
    from gradbook.widgets.through_time import norms_through_time

    for scale in (0.7, 1.0, 1.3):
        norms, dwh = norms_through_time(scale, 30, 8, activation)
        torch_norms, torch_dwh = _torch_norms_through_time(scale, 30, 8, activation)
        np.testing.assert_allclose(norms, torch_norms, rtol=1e-9)
        assert dwh == pytest.approx(torch_dwh, rel=1e-9)


def test_gradient_through_time_vanishes_explodes_and_clips() -> None:
    from gradbook.widgets import gradient_through_time

    view = gradient_through_time(0.7, interactive=False)
    assert view.norms[0] < 1e-6 * view.norms[-1]  # 60 steps at 0.7: the far past gets nothing
    view.activation_buttons.value = "linear"
    view.scale_slider.value = 1.3
    assert view.norms[0] > 1e6 * view.norms[-1]  # ... and at 1.3 it explodes
    unclipped = view.norms
    view.max_norm_slider.value = 1.0
    view.clip_box.value = True
    clipped = view.norms
    np.testing.assert_allclose(clipped / unclipped, clipped[0] / unclipped[0])  # every step scaled alike ...
    assert clipped[0] < unclipped[0] and "clipped to" in view.message.value  # ... down to the limit
    with pytest.raises(ValueError, match="activation must be one of"):
        from gradbook.widgets.through_time import norms_through_time

        norms_through_time(1.0, activation="relu")


# --- chapter 10: the attention explorer ----------------------------------------------------------------

def _attention_model(device: str | None):
    from gradbook import layers, models

    model = models.Sequential([layers.TokenAndPositionEmbedding(6, 8, 8), layers.TransformerBlock(2, 4, 16),
                               layers.Dense(6, activation="softmax")], seed=0, device=device)
    model.build((8,))
    return model


def _weights_by_hand(model, ids: list[int]) -> np.ndarray:
    """The block's attention weights recomputed from the model's weights with the textbook formulas."""
    embed, block = model.layers[0].params, model.layers[1].params
    p = {k: np.asarray(model.engine.to_numpy(v), dtype=float) for k, v in {**embed, **block}.items()}
    x = p["token_embeddings"][ids] + p["position_embeddings"][:len(ids)]
    h = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * p["ln1_gamma"] + p["ln1_beta"]
    q = (h @ p["attention_Wq"] + p["attention_bq"]).reshape(len(ids), 2, 4).transpose(1, 0, 2)
    k = (h @ p["attention_Wk"] + p["attention_bk"]).reshape(len(ids), 2, 4).transpose(1, 0, 2)
    scores = np.where(np.tril(np.ones((len(ids), len(ids)), bool)), q @ k.transpose(0, 2, 1) / 2.0, -np.inf)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("device", [None, "cpu"])
def test_attention_explorer_shows_the_models_own_causal_weights(device: str | None) -> None:
    from gradbook.widgets import attention_explorer

    model = _attention_model(device)
    explorer = attention_explorer(model, "abcde ", "abc a")
    np.testing.assert_allclose(explorer.weights, _weights_by_hand(model, [0, 1, 2, 5, 0]), rtol=1e-4, atol=1e-6)
    explorer.text_box.value = "ed cba"  # a new sentence, of another length
    np.testing.assert_allclose(explorer.weights, _weights_by_hand(model, [4, 3, 5, 2, 1, 0]), rtol=1e-4, atol=1e-6)
    explorer.head_dropdown.value = 1
    shown = explorer.ax.images[-1].get_array()
    np.testing.assert_allclose(shown, explorer.weights[1])
    assert [t.get_text() for t in explorer.ax.get_xticklabels()] == ["e", "d", "␣", "c", "b", "a"]


@pytest.mark.parametrize("text, says", [("abz", "never saw 'z'"), ("a" * 9, "at most 8 characters"),
                                        ("", "at least one character")])
def test_attention_explorer_refuses_what_the_model_cannot_read_and_keeps_its_map(text: str, says: str) -> None:
    from gradbook.widgets import attention_explorer

    explorer = attention_explorer(_attention_model(None), "abcde ", "abc")
    before = explorer.weights.copy()
    explorer.text_box.value = text
    assert says in html.unescape(explorer.message.value) and explorer.text == "abc"
    np.testing.assert_array_equal(explorer.weights, before)
    with pytest.raises(ValueError, match="TokenAndPositionEmbedding"):
        attention_explorer(models_without_attention(), "abc")


def models_without_attention():  # a model with no transformer block
    from gradbook import layers, models

    return models.Sequential([layers.Embedding(3, 2), layers.LSTM(2, return_sequences=True)], seed=0)
