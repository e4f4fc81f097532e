"""The generic leads of `gradbook.checks.diagnose`, each on real exercises of at least two
chapters: a wrong answer nobody listed as a `Mistake`, written here the way a student would,
must get the lead that names its error, with the numbers of the failing case (computed here
from the case, not copied from the message).

Also the hint policy: a listed mistake's hint only when that mistake reproduces the answer on
every case, never because it matches the failing case by coincidence.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gradbook.checks import diagnose, load_all, plain
from gradbook.checks.core import collect, compare_values, judge

EXERCISES = load_all()


def lesson(name: str, student, *, hidden: bool = False) -> str:
    """The message of a failing check, after the trip through plain data the grader makes."""
    exercise = EXERCISES[name]
    with np.errstate(all="ignore"):
        observation = collect(exercise, student, seed=1 if hidden else 0, hidden=hidden)
    verdict = judge(exercise, plain.loads(plain.dumps(observation)))
    assert not verdict.passed, f"{name}: a wrong answer passed"
    return verdict.message


def first_case(name: str):
    return EXERCISES[name].make_cases(0, False)[0]


def zeros_like(x) -> np.ndarray:
    return np.zeros((x.shape[0], x.shape[1]))


# --- a constant factor: 1/m, m, 2, 1/2, any k ----------------------------------------------


def test_one_mth_names_the_batch_size() -> None:
    y_pred, _ = first_case("ch00.mse_loss").args
    message = lesson("ch00.mse_loss", lambda y_pred, y: float(np.mean((y_pred - y) ** 2)) / len(y))
    assert f"exactly 1/{len(y_pred)} of the expected, and {len(y_pred)} is the length of `y_pred`" in message
    assert "is the mean taken twice" in message

    def crossentropy_mean_twice(y_true, y_pred, from_logits=False):
        if from_logits:  # right on logits (log-softmax), so the mean taken twice is its only mistake
            shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
            per_sample = -np.sum(y_true * (shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))), axis=-1)
        else:
            per_sample = -np.sum(y_true * np.log(np.clip(y_pred, 1e-7, 1 - 1e-7)), axis=-1)
        return float(np.mean(per_sample) / len(y_true))

    y_true, _ = first_case("ch05.categorical_crossentropy").args
    message = lesson("ch05.categorical_crossentropy", crossentropy_mean_twice)
    m = y_true.shape[0]
    assert f"exactly 1/{m} of the expected, and {m} is the number of rows of `y_true` (the batch size)" in message


def test_m_times_names_the_batch_size() -> None:
    a2, _ = first_case("ch04.bce_loss").args
    message = lesson("ch04.bce_loss", lambda a2, y: float(-np.sum(y * np.log(a2) + (1 - y) * np.log(1 - a2))))
    assert f"exactly {a2.shape[0]} times the expected, and {a2.shape[0]} is the number of rows of `a2` (the batch size)" in message
    assert "a sum taken where the mean belongs" in message

    logits, _ = first_case("ch05.softmax_ce_grad").args

    def grad_without_m(logits, y_true):
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True) - y_true

    m = np.atleast_2d(logits).shape[0]
    assert m > 1
    message = lesson("ch05.softmax_ce_grad", grad_without_m)
    assert f"every value is exactly {m} times the expected, and {m} is the number of rows of `logits`" in message


def test_twice_and_half() -> None:
    def gradients_without_2(w, b, x, y):
        error = w * x + b - y
        return float(np.mean(error * x)), float(np.mean(error))

    assert "`dw`: " in lesson("ch00.gradients", gradients_without_2)
    assert "the result is exactly half the expected: is a factor 2 missing" in lesson("ch00.gradients", gradients_without_2)

    def grad_doubled(logits, y_true):
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return 2 * (e / e.sum(axis=-1, keepdims=True) - y_true) / len(logits)

    assert "every value is exactly twice the expected" in lesson("ch05.softmax_ce_grad", grad_doubled)


def test_any_constant_factor() -> None:
    def matvec_scaled(x, y):
        z = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i] += 0.37 * x[i, j] * y[j]
        return z

    assert "every value is the expected times 0.37" in lesson("ch02.naive_matrix_vector_dot", matvec_scaled)
    reference = EXERCISES["ch07.conv2d_naive"].reference
    scaled = lambda x, W, b, stride=1, pad=0: 0.37 * reference(x, W, b, stride, pad)  # noqa: E731
    assert "every value is the expected times 0.37" in lesson("ch07.conv2d_naive", scaled)


# --- offsets: a constant, an input added twice or left out, one per row ----------------------


def test_constant_offset() -> None:
    message = lesson("ch00.predict", lambda w, b, x: w * x + b + 0.5)
    assert "every value is off by the same amount, +0.5: the formula is right up to a constant" in message

    def relu_plus_one(x):
        z = zeros_like(x)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i, j] = max(x[i, j], 0) + 1
        return z

    assert "every value is off by the same amount, +1:" in lesson("ch02.naive_relu", relu_plus_one)


def test_an_input_added_twice_or_left_out() -> None:
    def add_vector_twice(x, y):
        z = zeros_like(x)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i, j] = x[i, j] + 2 * y[j]
        return z

    assert "the result is the expected plus `y`: `y` is added once too often" in lesson(
        "ch02.naive_add_matrix_and_vector", add_vector_twice)
    assert "the result is the expected plus `b`: `b` is added once too often" in lesson(
        "ch00.predict", lambda w, b, x: w * x + 2 * b)
    reference = EXERCISES["ch07.conv2d_naive"].reference
    no_bias = lambda x, W, b, stride=1, pad=0: reference(x, W, np.zeros_like(b), stride, pad)  # noqa: E731
    assert "the result is the expected minus `b`: `b` is left out" in lesson("ch07.conv2d_naive", no_bias)
    bias_twice = lambda x, W, b, stride=1, pad=0: reference(x, W, 2 * b, stride, pad)  # noqa: E731
    assert "the result is the expected plus `b`" in lesson("ch07.conv2d_forward", bias_twice)


def test_each_row_off_by_its_own_constant() -> None:
    forgot_the_log_sum_exp = lambda z: z - z.max(axis=-1, keepdims=True)  # noqa: E731
    # The first case is one sample, off by one constant; the lead proven on every case is the per-row one.
    message = lesson("ch05.log_softmax", forgot_the_log_sum_exp)
    assert "each row is off by its own constant" in message and "the same amount" not in message
    exercise = EXERCISES["ch05.log_softmax"]
    batch = next(c.args[0] for c in exercise.make_cases(0, False) if np.ndim(c.args[0]) == 2 and len(c.args[0]) > 1)
    lead = diagnose.explain_values(exercise.reference(batch), forgot_the_log_sum_exp(batch), rtol=1e-5, atol=1e-7,
                                   inputs=[("z", batch)])
    assert lead.startswith("each row is off by its own constant")


# --- sign, transposed or permuted axes, reversed order --------------------------------------


def test_sign_flip() -> None:
    assert "the opposite sign" in lesson("ch00.predict", lambda w, b, x: -(w * x + b))

    def matdot_negated(x, y):
        z = np.zeros((x.shape[0], y.shape[1]))
        for i in range(x.shape[0]):
            for j in range(y.shape[1]):
                for k in range(x.shape[1]):
                    z[i, j] -= x[i, k] * y[k, j]
        return z

    assert "the opposite sign" in lesson("ch02.naive_matrix_dot", matdot_negated)


def test_transposed() -> None:
    def matdot_indices_swapped(x, y):  # reads row j of x and column i of y: (x @ y)[j, i]
        z = np.zeros((x.shape[0], y.shape[1]))
        for i in range(x.shape[0]):
            for j in range(y.shape[1]):
                for k in range(x.shape[1]):
                    z[i, j] += x[j, k] * y[k, i]
        return z

    assert "the result is transposed: got[i, j] is expected[j, i]" in lesson("ch02.naive_matrix_dot", matdot_indices_swapped)

    def grad_transposed(logits, y_true):
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return ((e / e.sum(axis=-1, keepdims=True) - y_true) / len(logits)).T

    logits, _ = first_case("ch05.softmax_ce_grad").args
    message = lesson("ch05.softmax_ce_grad", grad_transposed)
    assert f"expected shape {logits.shape}, got {logits.shape[::-1]}: the result is transposed" in message


def test_permuted_axes() -> None:
    conv = EXERCISES["ch07.conv2d_naive"].reference
    channels_last = lambda x, W, b, stride=1, pad=0: np.moveaxis(conv(x, W, b, stride, pad), 1, -1)  # noqa: E731
    message = lesson("ch07.conv2d_naive", channels_last)
    assert "the right values with the axes in the wrong order (your axes are the expected axes (0, 2, 3, 1))" in message
    pool = EXERCISES["ch07.maxpool_forward"].reference
    pool_last = lambda x, size=2, stride=2: np.transpose(pool(x, size, stride), (0, 2, 3, 1))  # noqa: E731
    assert "the right values with the axes in the wrong order (your axes are the expected axes (0, 2, 3, 1))" in lesson(
        "ch07.maxpool_forward", pool_last)


def test_reversed_order() -> None:
    def matvec_backwards(x, y):
        n = x.shape[0]
        z = np.zeros(n)
        for i in range(n):
            for j in range(x.shape[1]):
                z[n - 1 - i] += x[i, j] * y[j]
        return z

    assert "the values are in reverse order" in lesson("ch02.naive_matrix_vector_dot", matvec_backwards)
    assert "the values are in reverse order" in lesson("ch00.predict", lambda w, b, x: (w * x + b)[::-1])


# --- loop bounds: only the first or the last row wrong, or only the first right --------------


def test_only_the_last_row_is_wrong() -> None:
    def add_one_row_short(x, y):
        z = zeros_like(x)
        for i in range(x.shape[0] - 1):
            for j in range(x.shape[1]):
                z[i, j] = x[i, j] + y[i, j]
        return z

    rows = first_case("ch02.naive_add").args[0].shape[0]
    message = lesson("ch02.naive_add", add_one_row_short)
    assert f"only the last row (row {rows - 1}) is wrong, and there the result is 0, as if never written" in message
    assert "range(n - 1)" in message

    reference = EXERCISES["ch07.conv2d_naive"].reference

    def conv_one_row_short(x, W, b, stride=1, pad=0):
        out = reference(x, W, b, stride, pad)
        out[:, :, -1, :] = 0
        return out

    assert "only the last row" in lesson("ch07.conv2d_naive", conv_one_row_short)


def test_only_the_first_column_is_wrong() -> None:
    def add_from_column_1(x, y):
        z = zeros_like(x)
        for i in range(x.shape[0]):
            for j in range(1, x.shape[1]):
                z[i, j] = x[i, j] + y[i, j]
        return z

    message = lesson("ch02.naive_add", add_from_column_1)
    assert "only the first column (column 0) is wrong" in message and "start at 1 instead of 0" in message

    def predict_from_1(w, b, x):
        y = np.zeros(len(x))
        for i in range(1, len(x)):
            y[i] = w * x[i] + b
        return y

    message = lesson("ch00.predict", predict_from_1)  # samples: a fact, no guess about a loop that was not asked for
    assert "only the first sample (sample 0) is wrong, and there the result is 0" in message and "loop" not in message


def test_only_the_first_row_is_right() -> None:
    def add_vector_rows_stop_early(x, y):
        z = zeros_like(x)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i, j] = x[i, j]
            if i == 0:
                for j in range(x.shape[1]):
                    z[i, j] += y[j]
        return z

    # the visible checks' first failing case has two rows: its one wrong row is the last
    message = lesson("ch02.naive_add_matrix_and_vector", add_vector_rows_stop_early)
    assert "and there the result still holds `x`'s values, as if never updated" in message
    assert "only the first row (row 0) is right; from row 1 on every row is wrong" in message


# --- whole numbers, an input returned unchanged, a shift by one step -------------------------


def test_values_cut_to_whole_numbers() -> None:
    def relu_into_int_buffer(x):
        z = np.zeros((x.shape[0], x.shape[1]), dtype=int)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i, j] = max(x[i, j], 0)
        return z

    message = lesson("ch02.naive_relu", relu_into_int_buffer)
    assert "the result is an array of whole numbers (int64)" in message
    message = lesson("ch01.prepare_images", lambda images: (images.reshape(len(images), 784) / 255).astype(np.uint8))
    assert "the result is an array of whole numbers (uint8)" in message


def test_an_input_returned_unchanged() -> None:
    def relu_returns_its_input(x):
        z = x.copy()
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i, j] = max(z[i, j], 0)
        return x

    assert "the result is the input `x`, unchanged: nothing was updated" in lesson("ch02.naive_relu", relu_returns_its_input)
    assert "the result is the input `z`, unchanged" in lesson("ch05.softmax", lambda z: z)


def test_a_sequence_shifted_by_one_step() -> None:
    def train_records_after_update(x, y, lr, steps):
        w = b = 0.0
        losses = []
        for _ in range(steps):
            error = w * x + b - y
            w, b = w - lr * 2 * np.mean(error * x), b - lr * 2 * np.mean(error)
            losses.append(float(np.mean((w * x + b - y) ** 2)))
        return w, b, losses

    message = lesson("ch00.train", train_records_after_update)
    assert "`losses`: the sequence is one step early: your step i is the expected step i + 1" in message

    def path_without_start(grad, w0, lr, steps):
        w = np.array(w0, dtype=float)
        path = []
        for _ in range(steps + 1):
            w = w - lr * grad(w)
            path.append(w.copy())
        return np.array(path)

    assert "the sequence is one step early: your step i is the expected step i + 1" in lesson(
        "ch06.gradient_descent", path_without_start)


# --- nan and inf, attributed to their cause ---------------------------------------------------


def test_overflow() -> None:
    # the visible case whose logits exceed log(float64's max) = 709.78, where np.exp gives inf
    big = [case.args[0] for case in EXERCISES["ch05.softmax"].make_cases(0, False) if np.max(case.args[0]) > 709][0]
    message = lesson("ch05.softmax", lambda z: np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True))
    assert f"overflow. The input goes up to {np.max(big):.4g}, and np.exp({np.max(big):.4g}) is inf" in message

    def crossentropy_from_logits_unshifted(y_true, y_pred, from_logits=False):
        p = np.exp(y_pred) / np.exp(y_pred).sum(axis=-1, keepdims=True) if from_logits else y_pred
        return float(-np.mean(np.sum(y_true * np.log(np.clip(p, 1e-7, 1 - 1e-7)), axis=-1)))

    assert "overflow" in lesson("ch05.categorical_crossentropy", crossentropy_from_logits_unshifted)


def test_underflow() -> None:
    def softmax_shifted_by_the_batch_max(z):  # right for one sample; a whole batch shares one shift
        e = np.exp(z - np.max(z))
        return e / np.sum(e, axis=-1, keepdims=True)

    message = lesson("ch05.softmax", softmax_shifted_by_the_batch_max, hidden=True)
    assert "the result has nan where every expected value is finite: underflow" in message


def test_log_of_zero() -> None:
    def crossentropy_unclipped(y_true, y_pred, from_logits=False):
        p = y_pred
        if from_logits:
            e = np.exp(y_pred - y_pred.max(axis=-1, keepdims=True))
            p = e / e.sum(axis=-1, keepdims=True)
        return float(-np.mean(np.sum(y_true * np.log(p), axis=-1)))

    message = lesson("ch05.categorical_crossentropy", crossentropy_unclipped)
    assert "the result has inf where every expected value is finite: log of 0. `y_pred` has entries that are exactly 0" in message


@pytest.mark.parametrize(
    ("inputs", "got", "cause"),
    [
        ([("x", np.array([[1.0, 2.0], [0.0, 0.0]]))], np.array([[0.5, 1.0], [np.nan, np.nan]]), "0 / 0. row 1 of `x` is all zeros"),
        ([("x", np.array([[1.0, 2.0], [3.0, 3.0]]))], np.array([[-1.0, 1.0], [np.nan, np.nan]]), "0 / 0. row 1 of `x` is all equal"),
        ([("z", np.array([1000.0, 1001.0]))], np.array([np.nan, np.nan]), "overflow"),
        ([("z", np.array([-1000.0, -1001.0]))], np.array([np.nan, np.nan]), "underflow"),
        ([("p", np.array([0.0, 0.5]))], np.array([-np.inf, -0.69]), "log of 0. `p` has entries that are exactly 0"),
        ([("x", np.array([1.0, 2.0]))], np.array([np.inf, 1.0]), "a division by 0 (x / 0 is inf) or an overflow"),
    ],
)
def test_nonfinite_causes_from_the_inputs(inputs, got, cause: str) -> None:
    expected = np.array([[0.5, 1.0], [0.0, 0.0]]) if got.ndim == 2 else np.array([0.3, 0.7])
    assert cause in diagnose.explain_nonfinite(expected, got, inputs)


# --- the hint policy: a listed mistake only when it reproduces EVERY case --------------------


def test_a_mistake_matching_the_failing_case_by_coincidence_gives_no_hint() -> None:
    exercise = EXERCISES["ch00.mse_loss"]
    mae = next(m for m in exercise.mistakes if "mean absolute error" in m.hint)
    square_of_mean = lambda y_pred, y: float(np.mean(y_pred - y) ** 2)  # noqa: E731
    cases = exercise.make_cases(0, False)
    assert square_of_mean(*cases[0].args) == pytest.approx(mae.wrong(*cases[0].args))  # the coincidence
    assert square_of_mean(*cases[1].args) != pytest.approx(mae.wrong(*cases[1].args))
    message = lesson("ch00.mse_loss", square_of_mean)
    # Not the coincidence's hint: the square of the mean is a listed mistake of its own, on every case.
    assert "mean absolute error" not in message and "Hint: this squares the mean error" in message

    exercise = EXERCISES["ch04.relative_error"]
    absolute = next(m for m in exercise.mistakes if "absolute error ||a - b||" in m.hint)

    def guarded(a, b):  # a guard against dividing by 0 that also fires for small gradients
        return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1.0))

    cases = exercise.make_cases(0, False)
    failing = next(c for c in cases if guarded(*c.args) != pytest.approx(exercise.reference(*c.args)))
    assert guarded(*failing.args) == pytest.approx(absolute.wrong(*failing.args))  # the coincidence
    assert any(guarded(*c.args) != pytest.approx(absolute.wrong(*c.args)) for c in cases)
    message = lesson("ch04.relative_error", guarded)
    assert "Hint:" not in message


def test_a_mistake_reproduced_on_every_case_gives_its_hint() -> None:
    abs_relu = EXERCISES["ch02.naive_relu"].mistakes[0]

    def relu_as_abs(x):  # the listed mistake, written differently
        z = zeros_like(x)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i, j] = x[i, j] if x[i, j] > 0 else -x[i, j]
        return z

    assert f"Hint: {abs_relu.hint}" in lesson("ch02.naive_relu", relu_as_abs)
    assert f"Hint: {abs_relu.hint}" in lesson("ch02.naive_relu", relu_as_abs, hidden=True)


# --- the failing case in full, when it is small -----------------------------------------------


def test_a_small_failing_case_is_shown_whole() -> None:
    w, b, x = first_case("ch00.predict").args
    message = lesson("ch00.predict", lambda w, b, x: w * x)
    assert "  w        = 2.0" in message and "  b        = 1.0" in message
    assert f"  x        = {np.array2string(x, separator=', ')}" in message
    assert f"  expected = {np.array2string(w * x + b, separator=', ')}" in message
    assert f"  got      = {np.array2string(w * x, separator=', ')}" in message

    def relu_abs(x):
        z = zeros_like(x)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i, j] = abs(x[i, j])
        return z

    message = lesson("ch02.naive_relu", relu_abs)
    x = first_case("ch02.naive_relu").args[0]
    shown = np.array2string(x, precision=4, suppress_small=True, separator=", ", max_line_width=72).splitlines()
    assert f"  x        = {shown[0]}" in message and shown[1] in message
    assert "For example" not in message  # the whole case is there: no need to point at one value


def test_a_large_failing_case_points_at_one_value() -> None:
    reference = EXERCISES["ch07.conv2d_naive"].reference

    def one_wrong(x, W, b, stride=1, pad=0):  # right on small outputs, one inner value off on larger ones
        out = reference(x, W, b, stride, pad)
        if min(out.shape) >= 2 and min(out.shape[2:]) >= 3:
            out[1, 1, 1, 1] += 1.0
        return out

    message = lesson("ch07.conv2d_naive", one_wrong)
    size = next(reference(*c.args, **c.kwargs).size for c in EXERCISES["ch07.conv2d_naive"].make_cases(0, False)
                if min(reference(*c.args, **c.kwargs).shape[2:]) >= 3)
    assert f"1 of {size} values is wrong." in message
    assert "For example, at sample 1, channel 1, row 1, column 1: expected" in message
    assert "expected =" not in message


def test_the_value_shown_as_an_example_is_a_wrong_one() -> None:
    """A large value off by less than its relative tolerance has the largest difference; the example must be
    the value that is wrong (hand-made: 1000.5 is within 1e-3 of 1000; 0.01 is not within 1e-6 of 0)."""
    message = compare_values(np.array([1000.0, 0.0, 5.0]), np.array([1000.5, 0.01, 5.0]), rtol=1e-3, atol=1e-6, inputs=())
    assert message is not None and "1 of 3 values is wrong." in message
    example = next(line for line in message.splitlines() if line.startswith("For example"))
    assert "0.01" in example and "1000" not in example, message


# --- a tolerance that scales with each array's largest value (float32's rounding in long sums) --------------------


def test_scale_tol_allows_an_error_in_proportion_to_each_arrays_largest_value() -> None:
    """Hand-made: with scale_tol 2e-5 (rtol and atol 0) an array whose largest value is 1e4 may be off by 0.2; the
    same error of 0.1 on an array whose largest value is 1 is wrong, and so is a NaN; each array of a tuple has its
    own scale; the example shown and the count are the values outside 0.2."""
    big = np.array([1e4, -3.0, 0.5, 7.0])
    off = big + np.array([0.1, -0.1, 0.1, 0.0])
    assert compare_values(big, off, rtol=0, atol=0, scale_tol=2e-5, inputs=()) is None
    assert compare_values(big, off, rtol=0, atol=0, inputs=()) is not None  # without the option: wrong
    small = np.array([1.0, -0.5, 0.25])
    assert compare_values(small, small + 0.1, rtol=0, atol=0, scale_tol=2e-5, inputs=()) is not None
    assert compare_values((big, small), (off, small + 0.1), rtol=0, atol=0, scale_tol=2e-5, inputs=()) is not None
    assert compare_values((big, small), (off, small), rtol=0, atol=0, scale_tol=2e-5, inputs=()) is None
    nan = small.copy()
    nan[1] = np.nan
    assert compare_values(small, nan, rtol=0, atol=0, scale_tol=2e-5, inputs=()) is not None
    # 0.3 off at 7 is past 0.2; 0.15 off at 0.5 is within it (though 30 % of that value): one value is wrong
    message = compare_values(big, big + np.array([0.0, 0.0, 0.15, 0.3]), rtol=0, atol=0, scale_tol=2e-5, inputs=())
    assert message is not None and "1 of 4 values is wrong." in message, message
    example = next(line for line in message.splitlines() if line.startswith("For example"))
    assert "7.3" in example and "0.65" not in example, message


# --- what an error shows ----------------------------------------------------------------------------


def test_a_listed_mistake_that_raises_is_named_only_by_the_same_error() -> None:
    """K.T on a 3-D K raises numpy's matmul error: the same slip written otherwise (np.transpose) raises the same error and
    is named; an answer that raises another error where the mistake raises is not (any error used to match any)."""
    exercise = EXERCISES["ch10.attention"]
    keys_T = next(m for m in exercise.mistakes if "K.T reverses" in m.hint)
    reference = exercise.reference

    def transposed(Q, K, V, mask=None):  # noqa: ANN001, ANN202
        scores = Q @ np.transpose(K) / np.sqrt(Q.shape[-1])
        weights = np.exp(np.where(True if mask is None else mask, scores, -np.inf) - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        return weights @ V, weights

    def other_error(Q, K, V, mask=None):  # noqa: ANN001, ANN202
        if Q.ndim > 2:
            raise ValueError("matmul: not the one K.T raises")
        return reference(Q, K, V, mask)

    assert f"Hint: {keys_T.hint}" in lesson("ch10.attention", transposed)
    assert keys_T.hint not in lesson("ch10.attention", other_error)


@pytest.mark.parametrize(("error", "said"), [
    ("ValueError: operands could not be broadcast together with shapes (3,5) (3,) (line 4: `e / s`)", "keepdims=True"),
    ("ValueError: operands could not be broadcast together with shapes (2,3,5) (2,5) ", "axis 1"),
    ("ValueError: The truth value of an array with more than one element is ambiguous. Use a.any() or a.all()",
     "is not None"),
    ("IndexError: boolean index did not match indexed array along axis 1; size of axis is 3 but size of corresponding "
     "boolean axis is 1", "np.where"),
    ("ValueError: output array is read-only", "read-only"),
    ("AxisError: axis 1 is out of bounds for array of dimension 1 (line 2: `x.sum(axis=1)`)", "axis=-1"),
    ("ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
     "(n?,k),(k,m?)->(n?,m?) (size 3 is different from 1)", "transposed (W.T)"),
    ("ValueError: shapes (2,3) and (2,3) not aligned: 3 (dim 1) != 2 (dim 0)", "inner sizes of a matrix product"),
    ("ValueError: cannot reshape array of size 2352 into shape (60000,784)", "must multiply to 2352"),
    ("IndexError: index 2 is out of bounds for axis 1 with size 2 (line 5: `z[i, j] = x[i, j]`)", "axis 1, which has 2"),
    ("UFuncTypeError: Cannot cast ufunc 'subtract' output from dtype('float64') to dtype('int64') with casting rule "
     "'same_kind'", "dtype=float"),
    ("ValueError: could not broadcast input array from shape (2,3,5,5) into shape (3,2,5,5)", ".transpose(...)"),
    ("RecursionError: maximum recursion depth exceeded", "self + other"),
])
def test_an_error_says_what_it_shows(error: str, said: str) -> None:
    assert said in diagnose.explain_error(error)


def test_an_error_that_shows_nothing_gets_no_lead() -> None:
    for error in ("ValueError: operands could not be broadcast together with shapes (3,5) (4,)",  # no axis reduced
                  "ValueError: operands could not be broadcast together with shapes (3,5) (5,3)",
                  "ValueError: operands could not be broadcast together with shapes (3,1) (3,)",  # length 1: broadcast
                  "ValueError: could not broadcast input array from shape (2,3) into shape (2,4)",  # not reordered
                  "KeyError: 'x'", None):
        assert diagnose.explain_error(error) is None, error


def test_a_reshape_where_a_transpose_belongs_is_told() -> None:
    expected = np.arange(40.0).reshape(2, 4, 5)
    time_major = expected.transpose(1, 0, 2).reshape(2, 4, 5)  # np.array of a list of time steps, reshaped
    assert "reshape never moves an axis" in compare_values(expected, time_major)
    assert "memory order of an array of shape (4, 2, 5)" in compare_values(expected, time_major)
    columns = np.arange(12.0).reshape(3, 4)
    assert "reshape never moves an axis" in compare_values(columns, columns.reshape(4, 3).T)
    assert "reshape never moves" not in (compare_values(columns, columns[::-1]) or "")


def test_rows_scaled_each_by_their_own_number_are_told() -> None:
    expected = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    assert "right proportions" in compare_values(expected, expected * [[2.0], [0.5]])
    assert "right proportions" not in compare_values(expected, expected * 2.0)  # one factor: a lead of its own
    assert diagnose.row_factors(expected, expected + 0.1) is None


def test_an_error_lead_reaches_the_student_on_real_exercises() -> None:
    def backward_w2_not_transposed(X, y, params, cache):  # da1 = dZ2 @ W2, (m, 1) @ (h, 1)
        dZ2 = (cache["a2"] - y) / X.shape[0]
        dZ1 = dZ2 @ params["W2"] * cache["a1"] * (1 - cache["a1"])
        return {"dW1": X.T @ dZ1, "db1": dZ1.sum(0), "dW2": cache["a1"].T @ dZ2, "db2": dZ2.sum(0)}

    assert "inner sizes of a matrix product differ" in lesson("ch04.backward", backward_w2_not_transposed)
    message = lesson("ch01.prepare_images", lambda images: images.reshape(60000, 784).astype("float32") / 255)
    assert "must multiply to" in message and "rather than writing numbers in" in message


def test_a_size_written_in_as_a_number_is_told() -> None:
    """A batch size written into the code as 4 (the XOR set's): the answer is m/4 of the expected for every m."""
    def backward_m_is_4(X, y, params, cache):
        a1, a2 = cache["a1"], cache["a2"]
        dZ2 = (a2 - y) / 4
        dZ1 = dZ2 @ params["W2"].T * a1 * (1 - a1)
        return {"dW1": X.T @ dZ1, "db1": dZ1.sum(0), "dW2": a1.T @ dZ2, "db2": dZ2.sum(0)}

    X = first_case("ch04.backward").args[0]
    message = lesson("ch04.backward", backward_m_is_4)
    assert f"exactly {len(X)}/4 of the expected" in message and "the number 4 written into the code" in message

    def grad_m_is_4(logits, y_true):
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True) - y_true) / 4

    failing = next(c for c in EXERCISES["ch05.softmax_ce_grad"].make_cases(0, False) if len(c.args[0]) != 4)
    message = lesson("ch05.softmax_ce_grad", grad_m_is_4)
    assert f"exactly {len(failing.args[0])}/4 of the expected" in message
    # One number is always some fraction of a size: no such lead for one number alone.
    assert "written into the code" not in lesson("ch00.mse_loss", lambda y_pred, y: float(np.sum((y_pred - y) ** 2)) / 4)


def test_an_argument_left_at_its_default_is_told() -> None:
    from gradbook.checks.ch06.answers import SGD
    from gradbook.checks.ch04.answers import _reference_train

    class SGDWithItsDefault(SGD):
        def step(self, params, grads):
            for p, g in zip(params, grads):
                p -= 0.01 * g  # the default, written in where self.lr belongs

    assert "for `lr` = 0.01, its default" in lesson("ch06.sgd", SGDWithItsDefault)

    def train_100_epochs(X, y, params, epochs=100, lr=0.5):
        return _reference_train(X, y, params, 100, lr)  # epochs ignored

    assert "for `epochs` = 100, its default" in lesson("ch04.train", train_100_epochs)


def test_a_list_kept_between_calls_is_told() -> None:
    from gradbook.checks.ch03.answers import _perceptron_train
    from gradbook.checks.ch04.answers import _reference_train

    def perceptron_train(X, y, epochs=10, lr=1.0, errors=[]):  # noqa: B006 - the mistake
        w, b, this_call = _perceptron_train(X, y, epochs, lr)
        errors.extend(this_call)
        return w, b, errors

    assert "left from earlier calls" in lesson("ch03.perceptron_train", perceptron_train)
    kept: list[float] = []

    def train(X, y, params, epochs=100, lr=0.5):
        params, losses = _reference_train(X, y, params, epochs, lr)
        kept.extend(losses)
        return params, kept

    message = lesson("ch04.train", train)
    assert "left from earlier calls" in message and "went up" not in message


def test_outputs_swapped_are_told_where_a_chapter_compares_the_parts_itself() -> None:
    from gradbook.checks.ch00.answers import _train
    from gradbook.checks.ch03.answers import _perceptron_train

    def train(x, y, lr, steps):
        w, b, losses = _train(x, y, lr, steps)
        return b, w, losses

    def perceptron_train(X, y, epochs=10, lr=1.0):
        w, b, errors = _perceptron_train(X, y, epochs, lr)
        return b, w, errors

    assert EXERCISES["ch00.train"].compare is not None and EXERCISES["ch03.perceptron_train"].compare is not None
    for name, student in (("ch00.train", train), ("ch03.perceptron_train", perceptron_train)):
        assert "`w` and `b` are swapped" in lesson(name, student), name


def test_every_value_the_total_of_the_expected_ones_is_told() -> None:
    def all_entries_at_once(f, x, eps=1e-5):  # the directional derivative along (1, ..., 1): the gradient's sum
        return np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps))

    x = first_case("ch04.numerical_gradient").args[1]
    message = lesson("ch04.numerical_gradient", all_entries_at_once)
    assert "the sum of all the expected values" in message and "(`x + eps`)" in message and x.size > 1
    expected = np.array([0.5, 0.25, -1.0])
    assert "the sum of all the expected values" in compare_values(expected, np.full(3, -0.25))
    assert "the sum of all" not in (compare_values(expected, np.full(3, 0.25)) or "")


# --- the comparisons the leads make, fast: the same verdicts as numpy's ----------------------

SPECIAL = [0.0, -0.0, 1.0, -1.0, 1e-9, 1e300, -1e300, np.inf, -np.inf, np.nan, 5e-324, 3.4e38]


def _arrays(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Values near each other and far apart, with infinities, NaN, huge and subnormal numbers among them."""
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 8)
    x.flat[rng.random(x.size) < 0.2] = rng.choice(SPECIAL)
    return x.astype(dtype)


@pytest.mark.parametrize("seed", range(40))
def test_allclose_gives_numpys_verdict_on_every_kind_of_value(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        with np.errstate(all="ignore"):  # the casts overflow on purpose
            got, want, rtol, atol = _pair(rng)
            expected = bool(np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True))
        assert diagnose.allclose(got, want, rtol, atol) == expected, (got, want, rtol, atol)


def _pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float, float]:
    """An expected array, a value to compare with it (of another dtype, nudged, or of a shape numpy broadcasts)
    and tolerances."""
    shape = tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(0, 3)))
    want = _arrays(rng, shape, rng.choice([np.float64, np.float32, np.float16]))
    if rng.random() < 0.2:
        got = want.astype(rng.choice([np.float64, np.float32, np.int64, np.uint8, np.complex128]))
    else:
        nudge = rng.choice([0.0, 1e-9, 1e-6, 1e-5, 1e-3, 1.0]) * rng.standard_normal(shape)
        got = (want + nudge).astype(rng.choice([np.float64, np.float32]))
    if rng.random() < 0.1:
        got = got.reshape(-1)[:1]  # another shape, (1,): numpy broadcasts it
    rtol, atol = float(rng.choice([0.0, 1e-9, 1e-5, 1e-2])), float(rng.choice([0.0, 1e-12, 1e-8, 1e-3]))
    return got, want, rtol, atol


@pytest.mark.parametrize("shape", [(2, 3), (3, 2, 4), (2, 3, 4, 5)])
def test_the_reshape_lead_finds_every_regrouping_within_the_tolerance_and_no_other(shape: tuple[int, ...]) -> None:
    """`_reshaped` first asks whether the values could be the expected ones in another order (a quick test on the
    sorted values); that never hides a regrouping near enough to be one, and a near miss is still no regrouping."""
    rng = np.random.default_rng(len(shape))
    near = diagnose._Near(1e-5, 1e-8)
    for order in itertools.permutations(range(len(shape))):
        for before in (False, True):
            e = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4)
            wrong = diagnose.regrouped(e, order, before)
            if np.allclose(wrong, e):
                continue  # a regrouping that changes nothing: not this lead's
            within = wrong * (1 + 0.9e-5 * rng.uniform(-1, 1, shape))  # every value just within its tolerance
            assert near(within, wrong) and diagnose._reshaped(e, within, near) is not None, (order, before)
            outside = wrong.copy()
            outside.flat[0] += 10 * (1e-8 + 1e-5 * abs(outside.flat[0])) + 1e-3
            assert diagnose._reshaped(e, outside, near) is None, (order, before)
