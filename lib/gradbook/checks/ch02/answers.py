"""Chapter 2, tensor operations: element-wise ops, broadcasting and dot products with loops.

The student writes each operation with explicit Python loops, the way the hardware
would do it, then sees how much faster NumPy's vectorised version is. The checks
compare with NumPy on fixed small inputs (square first, then wide, then tall, so a
loop over the wrong axis shows up as wrong values before it shows up as an
IndexError), then on random ones, single rows and columns and a negative-only matrix;
hidden cases add 1x1 and larger inputs.

The chapter's rule, loops over the indices reading single entries, is checked: the
inputs arrive as `public.LoopArray`s, which refuse whole-array operations
(``np.where``, ``np.dot``, ``x @ y``, ``x.T``...), and the message cites the rule.
"""

from __future__ import annotations

import numpy as np

from gradbook.checks.core import Exercise, Mistake
from gradbook.checks.ch02.public import LOOPS_ONLY
from gradbook.checks.drivers import Case
from gradbook.checks.meaning import Axis, Output
from gradbook.i18n import N_

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

# Cases take copies (`SQUARE.copy()`), so an answer that writes into its input changes nothing later.
SQUARE = np.array([[1.0, -2.0], [-3.0, 4.0]])
WIDE = np.array([[0.5, -1.0, 2.0], [-0.25, 3.0, -4.0]])
TALL = WIDE.T.copy()


def _shapes(rng: np.random.Generator, hidden: bool) -> list[tuple[int, int]]:
    """Random matrix shapes: square, wide, tall, a single row and a single column; hidden adds more."""
    shapes = [(3, 3), (2, 5), (4, 3), (1, 6), (7, 1)]
    if hidden:
        shapes += [(1, 1), tuple(int(n) for n in rng.integers(5, 12, size=2)), (9, 4)]
    return shapes


def _one_matrix_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((SQUARE.copy(),)), Case((WIDE.copy(),)), Case((TALL.copy(),))]
    cases += [Case((rng.normal(size=s),)) for s in _shapes(rng, hidden)]
    cases.append(Case((-rng.uniform(0.1, 2.0, size=(3, 4)),), label=N_("a 3x4 matrix of negative numbers")))
    return cases


def _two_matrix_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((SQUARE.copy(), np.array([[10.0, 20.0], [30.0, 40.0]]))),
        Case((WIDE.copy(), 2 * WIDE + 1)),
        Case((TALL.copy(), TALL - 1)),
    ]
    return cases + [Case((rng.normal(size=s), rng.normal(size=s))) for s in _shapes(rng, hidden)]


def _matrix_vector_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((SQUARE.copy(), np.array([10.0, 100.0]))),
        Case((WIDE.copy(), np.array([1.0, 10.0, 100.0]))),
        Case((TALL.copy(), np.array([1.0, -1.0]))),
    ]
    return cases + [Case((rng.normal(size=s), rng.normal(size=s[1]))) for s in _shapes(rng, hidden)]


def _vector_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((np.array([1.0, 2.0, 3.0]), np.array([4.0, -5.0, 6.0]))), Case((np.array([-2.0, 0.5]), np.array([3.0, 8.0])))]
    sizes = [4, 10, 1] + ([25, int(rng.integers(30, 60))] if hidden else [])
    return cases + [Case((rng.normal(size=n), rng.normal(size=n))) for n in sizes]


def _matrix_dot_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case((SQUARE.copy(), np.array([[1.0, 2.0], [3.0, 5.0]]))),
        Case((WIDE.copy(), TALL.copy())),  # (2, 3) . (3, 2) -> (2, 2)
        Case((TALL.copy(), np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 1.0]]))),  # (3, 2) . (2, 3) -> (3, 3)
    ]
    shapes = [(2, 3, 4), (3, 3, 3), (1, 4, 1), (5, 1, 3)] + ([(1, 1, 1), (6, 4, 7)] if hidden else [])
    return cases + [Case((rng.normal(size=(n, k)), rng.normal(size=(k, m)))) for n, k, m in shapes]


# --- plausible mistakes ---------------------------------------------------------------


def _relu_abs(x: Array) -> Array:
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = abs(x[i, j])
    return z


def _relu_mask(x: Array) -> Array:
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = 1.0 if x[i, j] > 0 else 0.0
    return z


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
    z = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        z[i] = x[i] * y[i]
    return z


def _dot_overwrites(x: Array, y: Array) -> float:
    z = 0.0
    for i in range(x.shape[0]):
        z = x[i] * y[i]
    return z


def _dot_from(x: Array, y: Array, start: int, first: float) -> float:
    """The loop's sum started at `first`, its range at `start`: a first term left out or counted twice."""
    z = first
    for i in range(start, x.shape[0]):
        z += x[i] * y[i]
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


def _matdot_inner_bound(x: Array, y: Array) -> Array:
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            for k in range(y.shape[1]):  # the columns of y, not the shared inner size
                z[i, j] += x[i, k] * y[k, j]
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
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            z[i, j] = x[i, j] * y[i, j]
    return z


def _transpose_by_reshape(x: Array) -> Array:
    """The entries in reading order, poured into the transposed shape (what reshape does)."""
    n, m = x.shape
    z = np.zeros((m, n), dtype=x.dtype)
    for k in range(n * m):
        z[k // n, k % n] = x[k // m, k % m]
    return z


# Whole-array NumPy: right numbers, but not what the chapter asks for.
def _relu_np_maximum(x: Array) -> Array:
    return np.maximum(x, 0)


def _relu_np_where(x: Array) -> Array:
    return np.where(x > 0, x, 0.0)


def _add_operator(x: Array, y: Array) -> Array:
    return x + y


def _dot_np_dot(x: Array, y: Array) -> Array:
    return np.dot(x, y)


def _matvec_operator(x: Array, y: Array) -> Array:
    return x @ y


def _matdot_einsum(x: Array, y: Array) -> Array:
    return np.einsum("ik,kj->ij", x, y)


def _transpose_attribute(x: Array) -> Array:
    return x.T.copy()


def _exercise(name: str, reference: object, cases: object, mistakes: list[Mistake],
              library_answers: tuple[str, ...] = ()) -> Exercise:
    """A chapter 2 exercise. The chapter's rule (`public.RULE`: arrays arrive as `public.LoopArray`s, which
    refuse whole-array operations) comes with the name, as for any ``ch02.*`` exercise."""
    return Exercise(f"ch02.{name}", reference=reference, cases=cases, title=name, mistakes=mistakes,
                    library_answers=library_answers, outputs=LOOPED)


LOOPED = Output(axes=(Axis("rows", loop=True), Axis("columns", loop=True)))  # the answer's loops run along both


# --- exercises ------------------------------------------------------------------------

SAME_AXIS_TWICE = N_(
    "both loops run over x.shape[0] (the rows), so on a matrix with more columns than rows "
    "some columns are never visited. The inner loop must use x.shape[1]."
)

naive_relu = _exercise(
    "naive_relu",
    _naive_relu,
    _one_matrix_cases,
    [
        Mistake(_relu_abs, N_("this is the absolute value |x|: relu keeps positive entries and sets negative ones to 0, it does not flip their sign.")),
        Mistake(_relu_mask, N_("this returns 1 where x > 0 (a mask, the derivative of relu) instead of the value x itself.")),
        Mistake(_relu_rows_twice, SAME_AXIS_TWICE),
        Mistake(_relu_np_maximum, LOOPS_ONLY),
        Mistake(_relu_np_where, LOOPS_ONLY),
    ],
    ("gradbook.reference.activations.relu", "gradbook.torch_path.activations.relu"),
)

naive_add = _exercise(
    "naive_add",
    _naive_add,
    _two_matrix_cases,
    [
        Mistake(_add_rows_twice, SAME_AXIS_TWICE),
        Mistake(_add_y_transposed, N_("the indices of y are swapped (y[j, i]): element-wise means x[i, j] + y[i, j], same position in both.")),
        Mistake(_add_operator, LOOPS_ONLY),
    ],
)

naive_add_matrix_and_vector = _exercise(
    "naive_add_matrix_and_vector",
    _naive_add_matrix_and_vector,
    _matrix_vector_cases,
    [
        Mistake(
            _add_vector_wrong_axis,
            N_("y is broadcast along the wrong axis: you added y[i] (indexed by the row). y has one entry per "
            "column, so x[i, j] gets y[j]: the vector is repeated for every row."),
        ),
        Mistake(_add_vector_first_row_only, N_("only the first row got y: broadcasting repeats y for every row of x.")),
        Mistake(_add_operator, LOOPS_ONLY),
    ],
)

naive_vector_dot = _exercise(
    "naive_vector_dot",
    _naive_vector_dot,
    _vector_cases,
    [
        Mistake(_dot_no_sum, N_("this is the element-wise product x * y; the dot product also adds those products up into one number.")),
        Mistake(_dot_overwrites, N_("each step overwrites z (`z = ...`) so only the last product is left; accumulate with `z += ...`.")),
        Mistake(lambda x, y: _dot_from(x, y, 1, 0.0), N_("the loop starts at 1, so x[0] * y[0] is left out: range(n) "
                                                        "starts at 0, the first index.")),
        Mistake(lambda x, y: _dot_from(x, y, 0, float(x[0] * y[0])), N_("x[0] * y[0] is counted twice: the sum starts "
                                                                     "at it and the loop adds it again. Start at 0.")),
        Mistake(_dot_np_dot, LOOPS_ONLY),
    ],
)

naive_matrix_vector_dot = _exercise(
    "naive_matrix_vector_dot",
    _naive_matrix_vector_dot,
    _matrix_vector_cases,
    [
        Mistake(
            _matvec_no_reset,
            N_("the accumulator is never reset: each z[i] also contains the sums of the rows before it. "
            "Start every row's sum at 0 (or accumulate straight into z[i])."),
        ),
        Mistake(_matvec_columns, N_("this walks down the columns (x[j, i]), which computes x.T . y; z[i] is row i of x dotted with y.")),
        Mistake(_matvec_operator, LOOPS_ONLY),
    ],
)

naive_matrix_dot = _exercise(
    "naive_matrix_dot",
    _naive_matrix_dot,
    _matrix_dot_cases,
    [
        Mistake(_matdot_transposed, N_("the indices of z are swapped (z[j, i]), which gives the transposed result; z[i, j] is row i of x dotted with column j of y.")),
        Mistake(
            _matdot_no_reset,
            N_("the accumulator is never reset: each z[i, j] also contains all the sums computed before it. "
            "Start every sum at 0 (or accumulate straight into z[i, j])."),
        ),
        Mistake(_matdot_elementwise, N_("this is the element-wise product x * y, not the dot product: z[i, j] = sum over k of x[i, k] * y[k, j].")),
        Mistake(_matdot_inner_bound, N_("the sum over k runs over y.shape[1] (the columns of the result); it runs "
                                        "over the inner size the two share, x.shape[1] (= y.shape[0]).")),
        Mistake(_matdot_einsum, LOOPS_ONLY),
    ],
)

naive_transpose = _exercise(
    "naive_transpose",
    _naive_transpose,
    _one_matrix_cases,
    [
        Mistake(
            _transpose_by_reshape,
            N_("reshape is not transpose: reshape keeps the entries in reading order and only changes the shape; "
            "transposing moves x[i, j] to z[j, i]."),
        ),
        Mistake(_transpose_attribute, LOOPS_ONLY),
    ],
)
