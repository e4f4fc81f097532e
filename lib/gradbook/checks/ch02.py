"""Chapter 2, tensor operations: element-wise ops, broadcasting and dot products with loops.

The student writes each operation with explicit Python loops, the way the hardware
would do it, then sees how much faster NumPy's vectorised version is. The checks
compare with NumPy on fixed small inputs (square first, then wide, then tall, so a
loop over the wrong axis shows up as wrong values before it shows up as an
IndexError), then on random ones; hidden cases add 1x1, negative-only and larger
non-square inputs.
"""

from __future__ import annotations

import numpy as np

from gradbook.checks.core import Case, Exercise, Mistake

Array = np.ndarray


# --- reference answers (loops, as the student writes them; the exercises below take the public names) ----------------------------


def _naive_relu(x: Array) -> Array:
    assert x.ndim == 2
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = max(x[i, j], 0)
    return x


def _naive_add(x: Array, y: Array) -> Array:
    assert x.ndim == 2 and x.shape == y.shape
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[i, j]
    return x


def _naive_add_matrix_and_vector(x: Array, y: Array) -> Array:
    assert x.ndim == 2 and y.ndim == 1 and x.shape[1] == y.shape[0]
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[j]
    return x


def _naive_vector_dot(x: Array, y: Array) -> float:
    assert x.ndim == 1 and x.shape == y.shape
    z = 0.0
    for i in range(x.shape[0]):
        z += x[i] * y[i]
    return z


def _naive_matrix_vector_dot(x: Array, y: Array) -> Array:
    assert x.ndim == 2 and y.ndim == 1 and x.shape[1] == y.shape[0]
    z = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i] += x[i, j] * y[j]
    return z


def _naive_matrix_dot(x: Array, y: Array) -> Array:
    assert x.ndim == 2 and y.ndim == 2 and x.shape[1] == y.shape[0]
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            for k in range(x.shape[1]):
                z[i, j] += x[i, k] * y[k, j]
    return z


def _naive_transpose(x: Array) -> Array:
    assert x.ndim == 2
    z = np.zeros((x.shape[1], x.shape[0]), dtype=x.dtype)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[j, i] = x[i, j]
    return z


# --- cases ----------------------------------------------------------------------------

SQUARE = np.array([[1.0, -2.0], [-3.0, 4.0]])
WIDE = np.array([[0.5, -1.0, 2.0], [-0.25, 3.0, -4.0]])
TALL = WIDE.T.copy()


def _shapes(rng: np.random.Generator, hidden: bool) -> list[tuple[int, int]]:
    """Random matrix shapes: square, wide and tall; hidden adds 1x1, single row/column, larger."""
    shapes = [(3, 3), (2, 5), (4, 3)]
    if hidden:
        shapes += [(1, 1), (1, 6), (7, 1), tuple(int(n) for n in rng.integers(5, 12, size=2)), (9, 4)]
    return shapes


def _one_matrix_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((SQUARE,)), Case((WIDE,)), Case((TALL,))]
    cases += [Case((rng.normal(size=s),)) for s in _shapes(rng, hidden)]
    if hidden:
        cases.append(Case((-rng.uniform(0.1, 2.0, size=(3, 4)),), label="a 3x4 matrix of negative numbers"))
    return cases


def _two_matrix_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((SQUARE, np.array([[10.0, 20.0], [30.0, 40.0]]))), Case((WIDE, 2 * WIDE + 1)), Case((TALL, TALL - 1))]
    return cases + [Case((rng.normal(size=s), rng.normal(size=s))) for s in _shapes(rng, hidden)]


def _matrix_vector_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((SQUARE, np.array([10.0, 100.0]))), Case((WIDE, np.array([1.0, 10.0, 100.0]))), Case((TALL, np.array([1.0, -1.0])))]
    return cases + [Case((rng.normal(size=s), rng.normal(size=s[1]))) for s in _shapes(rng, hidden)]


def _vector_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((np.array([1.0, 2.0, 3.0]), np.array([4.0, -5.0, 6.0]))), Case((np.array([-2.0, 0.5]), np.array([3.0, 8.0])))]
    sizes = [4, 10] + ([1, 25, int(rng.integers(30, 60))] if hidden else [])
    return cases + [Case((rng.normal(size=n), rng.normal(size=n))) for n in sizes]


def _matrix_dot_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((SQUARE, np.array([[1.0, 2.0], [3.0, 5.0]]))),
        Case((WIDE, TALL)),  # (2, 3) . (3, 2) -> (2, 2)
        Case((TALL, np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 1.0]]))),  # (3, 2) . (2, 3) -> (3, 3)
    ]
    shapes = [(2, 3, 4), (3, 3, 3)] + ([(1, 1, 1), (1, 4, 1), (5, 1, 3), (6, 4, 7)] if hidden else [])
    return cases + [Case((rng.normal(size=(n, k)), rng.normal(size=(k, m)))) for n, k, m in shapes]


# --- plausible mistakes ---------------------------------------------------------------


def _relu_abs(x: Array) -> Array:
    return np.abs(x)


def _relu_mask(x: Array) -> Array:
    return (x > 0).astype(x.dtype)


def _relu_rows_twice(x: Array) -> Array:
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            z[i, j] = max(z[i, j], 0)
    return z


def _add_rows_twice(x: Array, y: Array) -> Array:
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            z[i, j] += y[i, j]
    return z


def _add_y_transposed(x: Array, y: Array) -> Array:
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] += y[j, i]
    return z


def _add_vector_wrong_axis(x: Array, y: Array) -> Array:
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] += y[i]
    return z


def _add_vector_first_row_only(x: Array, y: Array) -> Array:
    z = x.copy()
    for j in range(x.shape[1]):
        z[0, j] += y[j]
    return z


def _dot_no_sum(x: Array, y: Array) -> Array:
    return x * y


def _dot_overwrites(x: Array, y: Array) -> float:
    z = 0.0
    for i in range(x.shape[0]):
        z = x[i] * y[i]
    return z


def _matvec_no_reset(x: Array, y: Array) -> Array:
    z = np.zeros(x.shape[0])
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            total += x[i, j] * y[j]
        z[i] = total
    return z


def _matvec_columns(x: Array, y: Array) -> Array:
    z = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i] += x[j, i] * y[j]
    return z


def _matdot_transposed(x: Array, y: Array) -> Array:
    z = np.zeros((y.shape[1], x.shape[0]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            for k in range(x.shape[1]):
                z[j, i] += x[i, k] * y[k, j]
    return z


def _matdot_no_reset(x: Array, y: Array) -> Array:
    z = np.zeros((x.shape[0], y.shape[1]))
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            for k in range(x.shape[1]):
                total += x[i, k] * y[k, j]
            z[i, j] = total
    return z


def _matdot_elementwise(x: Array, y: Array) -> Array:
    return x * y


def _transpose_by_reshape(x: Array) -> Array:
    return x.reshape(x.shape[1], x.shape[0])


# --- exercises ------------------------------------------------------------------------

SAME_AXIS_TWICE = (
    "both loops run over x.shape[0] (the rows), so on a matrix with more columns than rows "
    "some columns are never visited. The inner loop must use x.shape[1]."
)

naive_relu = Exercise(
    "ch02.naive_relu",
    reference=_naive_relu,
    cases=_one_matrix_cases,
    title="naive_relu",
    mistakes=[
        Mistake(_relu_abs, "this is the absolute value |x|: relu keeps positive entries and sets negative ones to 0, it does not flip their sign."),
        Mistake(_relu_mask, "this returns 1 where x > 0 (a mask, the derivative of relu) instead of the value x itself."),
        Mistake(_relu_rows_twice, SAME_AXIS_TWICE),
    ],
)

naive_add = Exercise(
    "ch02.naive_add",
    reference=_naive_add,
    cases=_two_matrix_cases,
    title="naive_add",
    mistakes=[
        Mistake(_add_rows_twice, SAME_AXIS_TWICE),
        Mistake(_add_y_transposed, "the indices of y are swapped (y[j, i]): element-wise means x[i, j] + y[i, j], same position in both."),
    ],
)

naive_add_matrix_and_vector = Exercise(
    "ch02.naive_add_matrix_and_vector",
    reference=_naive_add_matrix_and_vector,
    cases=_matrix_vector_cases,
    title="naive_add_matrix_and_vector",
    mistakes=[
        Mistake(
            _add_vector_wrong_axis,
            "y is broadcast along the wrong axis: you added y[i] (indexed by the row). y has one entry per "
            "column, so x[i, j] gets y[j]: the vector is repeated for every row.",
        ),
        Mistake(_add_vector_first_row_only, "only the first row got y: broadcasting repeats y for every row of x."),
    ],
)

naive_vector_dot = Exercise(
    "ch02.naive_vector_dot",
    reference=_naive_vector_dot,
    cases=_vector_cases,
    title="naive_vector_dot",
    mistakes=[
        Mistake(_dot_no_sum, "this is the element-wise product x * y; the dot product also adds those products up into one number."),
        Mistake(_dot_overwrites, "each step overwrites z (`z = ...`) so only the last product is left; accumulate with `z += ...`."),
    ],
)

naive_matrix_vector_dot = Exercise(
    "ch02.naive_matrix_vector_dot",
    reference=_naive_matrix_vector_dot,
    cases=_matrix_vector_cases,
    title="naive_matrix_vector_dot",
    mistakes=[
        Mistake(
            _matvec_no_reset,
            "the accumulator is never reset: each z[i] also contains the sums of the rows before it. "
            "Start every row's sum at 0 (or accumulate straight into z[i]).",
        ),
        Mistake(_matvec_columns, "this walks down the columns (x[j, i]), which computes x.T . y; z[i] is row i of x dotted with y."),
    ],
)

naive_matrix_dot = Exercise(
    "ch02.naive_matrix_dot",
    reference=_naive_matrix_dot,
    cases=_matrix_dot_cases,
    title="naive_matrix_dot",
    mistakes=[
        Mistake(_matdot_transposed, "the indices of z are swapped (z[j, i]), which gives the transposed result; z[i, j] is row i of x dotted with column j of y."),
        Mistake(
            _matdot_no_reset,
            "the accumulator is never reset: each z[i, j] also contains all the sums computed before it. "
            "Start every sum at 0 (or accumulate straight into z[i, j]).",
        ),
        Mistake(_matdot_elementwise, "this is the element-wise product x * y, not the dot product: z[i, j] = sum over k of x[i, k] * y[k, j]."),
    ],
)

naive_transpose = Exercise(
    "ch02.naive_transpose",
    reference=_naive_transpose,
    cases=_one_matrix_cases,
    title="naive_transpose",
    mistakes=[
        Mistake(
            _transpose_by_reshape,
            "reshape is not transpose: reshape keeps the entries in reading order and only changes the shape; "
            "transposing moves x[i, j] to z[j, i].",
        ),
    ],
)
