"""How an exercise's answer is run on one case: the only part of the checks a grading sandbox holds.

A case's inputs are plain data (numbers, strings, arrays, lists, tuples, dicts), so the grader
can send them to the student's process. A driver turns them into the call the exercise asks
for (an activation *name* becomes the activation, a graph given as arrays becomes linked
nodes), calls the student's answer, and returns what it did as plain data.

Nothing here knows an answer: there is no reference implementation, no known mistake and no
case generator of any exercise in this module (the chapter modules ``chNN.py`` hold those,
and they stay outside the sandbox). It imports numpy, the standard library,
`gradbook.checks.plain` and `gradbook.i18n` (its messages are in the student's language) only.
"""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from gradbook.i18n import N_, _

# On the wire (the grader compares it) in English; shown translated (`display.not_implemented`).
NOT_IMPLEMENTED = N_("not implemented yet: replace `raise NotImplementedError()` with your code")


UNFINISHED = "unfinished: "  # on the wire: an answer partly filled in, then what is missing (in the student's language)


class Unfinished(Exception):
    """An answer partly filled in (a value of it still None): said as it is, not as an error the student raised."""


@dataclass(frozen=True)
class Case:
    """One input to the exercise: positional and keyword arguments, and how to describe it."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""  # a message (marked `N_`), translated when shown, filled in with `label_values`
    label_values: dict = field(default_factory=dict)

    def describe(self) -> str:
        if self.label:
            return _(self.label).format(**self.label_values) if self.label_values else _(self.label)
        parts = [_short(a) for a in self.args] + [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, separator=", ").replace("\n", "")
        return _("array of shape {shape}").format(shape=value.shape)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def unpack(result: Any, names: str) -> tuple:
    """The tuple the exercise asks for, or an error that says what shape of answer is expected."""
    count = len(names.split(","))
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = (_("{count} values").format(count=len(result)) if isinstance(result, (tuple, list))
               else _("a {type}").format(type=type(result).__name__))
        raise TypeError(_("return the {count} values ({names}); got {got}").format(count=count, names=names, got=got))
    return tuple(result)


def call(student: Any, case: Case) -> Any:
    """Default way to run an exercise: call the student's function on the case."""
    return student(*case.args, **case.kwargs)


# =========================================================================== chapter 2: loops only

VECTORISED = "vectorised: "  # an answer that used a whole-array operation returns this, then what it used
LOOPS_ONLY = N_(
    "this chapter's rule is loops only: write it with `for` loops over the indices, reading single "
    "entries (x[i, j]), as the hardware does one number at a time. NumPy's whole-array operations "
    "come afterwards, when you time them against your loops."
)


class VectorisedCall(TypeError):
    """A whole-array operation on an input of a loops-only exercise."""


class LoopArray:
    """An input of a loops-only exercise: entries can be read and written one at a time, no more.

    It has ``shape``, ``ndim``, ``dtype``, ``size``, ``len()``, iteration, indexing (a single
    entry is a number; a row or slice is another `LoopArray`), ``item()`` and ``copy()``.
    Anything that works on the whole array at once (an operator, a NumPy function or ufunc,
    ``.T``, ``.sum()``, ``np.array(x)``) raises `VectorisedCall`, naming what was used.
    ``np.zeros_like(x)`` and friends are allowed: they only make a new buffer.
    """

    _ALLOWED = frozenset({"zeros_like", "empty_like", "ones_like", "full_like", "shape", "ndim", "size", "copy"})

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    shape = property(lambda self: self._array.shape)
    ndim = property(lambda self: self._array.ndim)
    dtype = property(lambda self: self._array.dtype)
    size = property(lambda self: self._array.size)

    def copy(self) -> LoopArray:
        return LoopArray(self._array.copy())

    def item(self, *index: int) -> Any:
        return self._array.item(*index)

    def __len__(self) -> int:
        return len(self._array)

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self._array)))

    def __getitem__(self, index: Any) -> Any:
        _no_array_index(index)
        item = self._array[index]
        return LoopArray(item) if isinstance(item, np.ndarray) else item

    def __setitem__(self, index: Any, value: Any) -> None:
        _no_array_index(index)
        one_entry = isinstance(self._array[index], np.generic)
        if not one_entry or isinstance(value, (LoopArray, np.ndarray)) or np.ndim(value) != 0:
            raise VectorisedCall(VECTORISED + _("an assignment to more than one entry at once (x[...] = ...)"))
        self._array[index] = value

    def __repr__(self) -> str:
        return f"LoopArray({self._array!r})"

    def __getattr__(self, name: str) -> Any:
        if name in ("__array_interface__", "__array_struct__"):  # NumPy's other ways in: it falls back to __array__,
            raise AttributeError(name)  # which knows who asks (np.ndenumerate's loop over entries may)
        if name.startswith("__array"):  # NumPy asking how to convert the whole array
            self.__array__()
        if hasattr(np.ndarray, name):
            raise VectorisedCall(f"{VECTORISED}x.{name}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        if sys._getframe(1).f_code is _NDENUMERATE:  # `for index, v in np.ndenumerate(x)`: one entry at a time
            view = self._array.view()
            view.flags.writeable = False
            return view
        raise VectorisedCall(VECTORISED + _("np.array(x) (a conversion of the whole array)"))

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        raise VectorisedCall(f"{VECTORISED}np.{ufunc.__name__}")

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        if func.__name__ not in self._ALLOWED:
            raise VectorisedCall(f"{VECTORISED}np.{func.__name__}")
        result = func(*(a._array if isinstance(a, LoopArray) else a for a in args), **kwargs)
        return LoopArray(result) if func.__name__ == "copy" else result


_NDENUMERATE = np.ndenumerate.__init__.__code__  # the one caller whose conversion is a loop over entries


def _no_array_index(index: Any) -> None:
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(p, (LoopArray, np.ndarray, list)) for p in parts):
        raise VectorisedCall(VECTORISED + _("indexing with an array or a list (fancy indexing)"))


def _refuse(symbol: str) -> Callable[..., Any]:
    def refuse(self: LoopArray, *args: Any) -> Any:
        raise VectorisedCall(VECTORISED + _("the operator {symbol}").format(symbol=symbol))

    return refuse


for _name, _symbol in {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**", "matmul": "@",
}.items():
    for _form in ("__{}__", "__r{}__", "__i{}__"):
        setattr(LoopArray, _form.format(_name), _refuse(_symbol))
_UNARY_AND_COMPARISONS = {"neg": "-", "pos": "+", "abs": "abs()", "invert": "~", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
for _name, _symbol in _UNARY_AND_COMPARISONS.items():
    setattr(LoopArray, f"__{_name}__", _refuse(_symbol))


def run_loops(student: Any, case: Case) -> Any:
    """Chapter 2's rule, "loops over the indices, read single entries": array inputs arrive as
    `LoopArray`s. A whole-array operation returns ``"vectorised: <what was used>"``."""
    args = tuple(LoopArray(a) if isinstance(a, np.ndarray) else a for a in case.args)
    try:
        result = student(*args, **case.kwargs)
    except VectorisedCall as refused:
        return str(refused)
    return result._array if isinstance(result, LoopArray) else result


# =========================================================================== chapters' rules


@dataclass(frozen=True)
class Rule:
    """A rule every exercise of a chapter obeys, owned by the chapter: an exercise named ``chNN.*`` is run
    through `driver` (`core.Exercise` sets it), which returns `marker` + what was used when an answer breaks
    the rule; `used` (with ``{what}``) and `lesson` (the rule, shown as a hint) say so. Messages are `N_`."""

    driver: str
    marker: str
    used: str
    lesson: str


RULES: dict[str, Rule] = {
    "ch02": Rule("ch02.loops", VECTORISED, N_("you used {what}, which works on whole arrays at once."), LOOPS_ONLY),
}


def chapter_rule(exercise_name: str) -> Rule | None:
    """The rule of the chapter an exercise (``"chNN.what"``) belongs to, if it has one."""
    return RULES.get(exercise_name.split(".")[0])


# =========================================================================== chapter 3


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function (no overflow warning for large negative z)."""
    return np.exp(-np.logaddexp(0.0, -z))


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def linear(z: np.ndarray) -> np.ndarray:
    return z


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"sigmoid": sigmoid, "relu": relu, "linear": linear}


def run_dense(student: Any, case: Case) -> Any:
    """``dense(a_in, W, b, g)``: the case names the activation; the answer gets the function."""
    a_in, W, b, g = case.args
    return student(a_in, W, b, ACTIVATIONS[g])


def run_perceptron_train(student: Any, case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w, b, errors = unpack(student(*case.args, **case.kwargs), "w, b, errors")
    return (
        np.asarray(w, dtype=float).ravel(),
        np.asarray(b, dtype=float).reshape(-1),
        np.asarray(errors).ravel(),
    )


def run_xor_weights(student: Any, case: Case) -> Any:
    """The notebook starts with every weight set to None: that is "not implemented yet"; some still None
    is an answer not finished, and the error says which."""
    weights = student()
    if weights is None or (isinstance(weights, (tuple, list)) and all(w is None for w in weights)):
        raise NotImplementedError()
    if isinstance(weights, (tuple, list)) and any(w is None for w in weights):
        missing = [str(i + 1) for i, w in enumerate(weights) if w is None]
        raise Unfinished(_("some of the {count} weights are still None (number {missing}): give each one a value")
                         .format(count=len(weights), missing=", ".join(missing)))
    return weights


# =========================================================================== chapter 4


def run_two_layer_forward(student: Any, case: Case) -> dict[str, Any]:
    a2, cache = unpack(student(*case.args), "a2, cache")
    if not isinstance(cache, dict) or not all(k in cache for k in ("Z1", "a1", "Z2")):
        raise KeyError(_("forward must return (a2, cache) with cache a dict holding 'Z1', 'a1', 'Z2' and 'a2'"))
    return {"a2": a2, "Z1": cache["Z1"], "a1": cache["a1"], "Z2": cache["Z2"]}


GRADIENT_NAMES = ("dW1", "db1", "dW2", "db2")


def run_gradients(student: Any, case: Case) -> Any:
    """Keep the four gradients; extra entries (dZ1, da1, ...) are the student's business."""
    grads = student(*case.args)
    if not isinstance(grads, dict):
        return grads
    return {k: grads[k] for k in GRADIENT_NAMES if k in grads}


def run_two_layer_train(student: Any, case: Case) -> dict[str, Any]:
    params, losses = unpack(student(*case.args, **case.kwargs), "params, losses")
    out: dict[str, Any] = {"losses": np.asarray(losses, dtype=float).ravel()}
    if isinstance(params, dict):
        out.update({k: params[k] for k in ("W1", "b1", "W2", "b2") if k in params})
    return out


class TestFunction:
    """A function of one array to differentiate numerically, built from a plain description.

    ``{"f": "cubic"}``: ``sum(x**3 - 2x)``; ``{"f": "wavy"}``: ``sum(sin(3x) x**2)``;
    ``{"f": "tanh_layer", "X": X, "c": c}``: ``sum(tanh(X @ W) * c)`` as a function of ``W``.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        if spec.get("f") not in ("cubic", "wavy", "tanh_layer"):
            raise ValueError(f"unknown test function {spec.get('f')!r}")
        self.spec = spec

    def __call__(self, x: np.ndarray) -> float:
        kind = self.spec["f"]
        if kind == "cubic":
            return float(np.sum(x**3 - 2 * x))
        if kind == "wavy":
            return float(np.sum(np.sin(3 * x) * x**2))
        return float(np.sum(np.tanh(self.spec["X"] @ x) * self.spec["c"]))

    def __repr__(self) -> str:
        return {"cubic": "f(x) = sum(x**3 - 2x)", "wavy": "f(x) = sum(sin(3x) x**2)"}.get(
            self.spec["f"], "f(W) = sum(tanh(X @ W) * c)")


def run_numerical_gradient(student: Any, case: Case) -> Any:
    """``numerical_gradient(f, x, eps)``: the case describes f; the answer gets the function."""
    spec, x = case.args
    return student(TestFunction(spec), x, **case.kwargs)


# =========================================================================== chapter 5


def run_activation_answers(student: Any, case: Case) -> Any:
    answer = student()
    if isinstance(answer, dict) and answer and all(v is None for v in answer.values()):
        raise NotImplementedError()  # the notebook starts with every answer set to None
    if isinstance(answer, dict) and any(v is None for v in answer.values()):
        missing = ", ".join(repr(str(k)) for k, v in answer.items() if v is None)
        raise Unfinished(_("no answer yet for {missing}: replace its None with the activation's name").format(missing=missing))
    if isinstance(answer, dict):
        return {str(k): str(v).strip().lower() for k, v in answer.items()}
    return answer


def run_loss_and_grads(student: Any, case: Case) -> Any:
    loss, grads = unpack(student(*case.args), "loss, grads")
    if not isinstance(grads, dict):
        return {"loss": loss, "grads": grads}
    return {"loss": loss} | {k: grads[k] for k in GRADIENT_NAMES if k in grads}


# =========================================================================== chapter 6


class PolynomialGradient:
    """The gradient of a 2-D surface given as polynomial terms, one table per component.

    Each row of a table is ``(coefficient, power of x, power of y)``; component k of the
    gradient at ``(x, y)`` is the sum of its table's ``c * x**px * y**py``.
    """

    def __init__(self, name: str, terms: tuple[np.ndarray, ...]) -> None:
        self.name, self.terms = name, terms

    def __call__(self, w: np.ndarray) -> np.ndarray:
        x, y = float(w[0]), float(w[1])
        return np.array([sum(c * x**px * y**py for c, px, py in table.tolist()) for table in self.terms])

    def __repr__(self) -> str:
        return f"the gradient of the {self.name} surface"


def run_gradient_descent(student: Any, case: Case) -> Any:
    """``gradient_descent(grad, w0, lr, steps)``: the case gives the gradient as polynomial terms."""
    surface, w0, lr, steps = case.args
    return student(PolynomialGradient(surface["name"], tuple(surface["terms"])), w0, lr, steps)


def run_minibatches(student: Any, case: Case) -> list[Any]:
    """Two epochs from one generator, the same again from a fresh generator with the same seed,
    and two epochs from another seed: the given generator, and only it, must decide the order."""
    n, batch_size, seed = case.args

    def two_epochs(s: int) -> list[Any]:
        rng = np.random.default_rng(s)
        return [student(n, batch_size, rng) for _ in range(2)]

    return [two_epochs(seed), two_epochs(seed), two_epochs(seed + 1)]


def run_optimizer(optimizer_class: Any, case: Case) -> np.ndarray:
    """Build the optimiser with the case's settings and take steps on a quadratic loss.

    The loss is ``sum(c * (p - target)**2) / 2`` for each parameter, so its gradient,
    ``c * (p - target)``, depends on where the previous steps went. The model holds its
    arrays: what is read after every step (and what the next gradient is computed at) are
    those arrays, never what the optimiser may have put in the list it was given. Returns the
    model's parameters (flattened, concatenated) after every step: shape ``(steps, size)``.
    """
    starts, curvatures, targets, steps = case.args
    optimizer = optimizer_class(**case.kwargs)
    model = [np.array(p, dtype=float) for p in starts]
    path = []
    for _ in range(steps):
        grads = [c * (p - t) for p, c, t in zip(model, curvatures, targets)]
        optimizer.step(list(model), grads)
        path.append(np.concatenate([p.ravel() for p in model]))
    return np.array(path)


# =========================================================================== chapter 7 (given helpers)


def out_size(size: int, k: int, stride: int = 1, pad: int = 0) -> int:
    return (size + 2 * pad - k) // stride + 1


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The adjoint of im2col: add every column back to where its patch came from."""
    N, C, H, Wd = x_shape
    Ho, Wo = out_size(H, kh, stride, pad), out_size(Wd, kw, stride, pad)
    xp = np.zeros((N, C, H + 2 * pad, Wd + 2 * pad), dtype=cols.dtype)
    patches = cols.reshape(C, kh, kw, N, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i : i + stride * Ho : stride, j : j + stride * Wo : stride] += patches[:, i, j].transpose(1, 0, 2, 3)
    return xp[:, :, pad : pad + H, pad : pad + Wd]


# =========================================================================== chapter 8: expressions
#
# Programs: leaves come first; each instruction is ``(op, a, b)`` where ``a``/``b`` are indices
# of earlier results, or a plain number for the ``...c`` / ``r...`` ops (``("subc", 3, 2.0)``
# is ``v3 - 2.0``, ``("rsub", 2.0, 3)`` is ``2.0 - v3``).

BINARY = {"add", "mul", "sub", "div"}
WITH_CONSTANT = {"addc", "mulc", "subc", "divc", "pow"}
REFLECTED = {"radd", "rmul", "rsub", "rdiv"}
UNARY = {"relu", "tanh", "exp", "neg"}


def apply(op: str, a: Any, b: Any = None) -> Any:
    """One instruction on values that support Python's operators (Value, float, torch tensor)."""
    if op in ("add", "addc", "radd"):
        return a + b
    if op in ("mul", "mulc", "rmul"):
        return a * b
    if op in ("sub", "subc", "rsub"):
        return a - b
    if op in ("div", "divc", "rdiv"):
        return a / b
    if op == "pow":
        return a**b
    if op == "neg":
        return -a
    if op in ("relu", "tanh", "exp"):
        return getattr(a, op)()
    raise ValueError(f"unknown op {op!r}")


def build(make: Callable[[float], Any], leaves: list[float], program: list[tuple]) -> list:
    """Every intermediate result of the program, leaves first, built with `make` for leaves."""
    nodes = [make(v) for v in leaves]
    for op, *args in program:
        if op in BINARY:
            nodes.append(apply(op, nodes[args[0]], nodes[args[1]]))
        elif op in WITH_CONSTANT:
            nodes.append(apply(op, nodes[args[0]], args[1]))
        elif op in REFLECTED:
            nodes.append(apply(op, args[0], nodes[args[1]]))
        else:
            nodes.append(apply(op, nodes[args[0]]))
    return nodes


class _Float(float):
    """A float with the unary methods, to compute a program's values on plain numbers
    (arithmetic on it gives a `_Float` again)."""

    def relu(self) -> float:
        return _Float(max(self, 0.0))

    def tanh(self) -> float:
        return _Float(math.tanh(self))

    def exp(self) -> float:
        return _Float(math.exp(self))


def _float_op(name: str) -> Callable[..., Any]:
    method = getattr(float, name)
    return lambda self, *other: _Float(method(self, *other))


for _name in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "pow", "rpow", "neg"):
    setattr(_Float, f"__{_name}__", _float_op(f"__{_name}__"))


def _output(leaves: list[float], program: list[tuple]) -> float:
    return float(build(_Float, leaves, program)[-1])


def random_program(rng: np.random.Generator, n_leaves: int, n_ops: int) -> tuple[list[float], list[tuple]]:
    """A random expression that reuses results (diamonds) and stays where every op is smooth.

    Expressions whose output does not depend on every input (a relu of a negative number at
    the end, say) teach nothing about gradients and are drawn again; the dependence is
    measured with central differences on plain floats.
    """
    while True:
        leaves, program = _random_program(rng, n_leaves, n_ops)
        if all(abs(_slope(leaves, program, k)) > 1e-6 for k in range(n_leaves)):
            return leaves, program


def _slope(leaves: list[float], program: list[tuple], k: int, h: float = 1e-5) -> float:
    up, down = list(leaves), list(leaves)
    up[k] += h
    down[k] -= h
    try:
        return (_output(up, program) - _output(down, program)) / (2 * h)
    except (OverflowError, ZeroDivisionError, ValueError):
        return 0.0


def _random_program(rng: np.random.Generator, n_leaves: int, n_ops: int) -> tuple[list[float], list[tuple]]:
    leaves = [float(v) for v in np.round(rng.uniform(-2, 2, size=n_leaves), 3)]
    values = list(leaves)
    program: list[tuple] = []
    for k in range(1, n_leaves):  # start by combining the inputs, so the output depends on all of them
        program.append(("mul" if k % 2 else "add", 0 if k == 1 else len(values) - 1, k))
        values.append(build(_Float, values, [program[-1]])[-1])
    ops = sorted(BINARY | WITH_CONSTANT | REFLECTED | UNARY)
    while len(program) < n_ops:
        op = str(rng.choice(ops))
        i = int(rng.integers(len(values)))
        # Favour recent results, so the expression is deep, not a pile of leaves.
        i = max(i, len(values) - 1 - int(rng.integers(3)))
        j = int(rng.integers(n_leaves)) if rng.random() < 0.5 else int(rng.integers(len(values)))
        c = float(np.round(rng.uniform(0.5, 2.0) * rng.choice([-1, 1]), 2))
        a = values[i]
        if abs(a) > 20:
            op = "tanh"
        if op in BINARY:
            instr: tuple = (op, i, j)
            if op == "div" and abs(values[j]) < 0.5:
                continue
        elif op == "pow":
            n = [2, 3, -1, 0.5][int(rng.integers(4))]
            if (n == -1 and abs(a) < 0.5) or (n == 0.5 and a < 0.1):
                continue
            instr = ("pow", i, n)
        elif op in WITH_CONSTANT:
            instr = (op, i, c)
        elif op in REFLECTED:
            if op == "rdiv" and abs(a) < 0.5:
                continue
            instr = (op, c, i)
        else:
            if (op == "exp" and a > 3) or (op == "relu" and abs(a) < 1e-3):
                continue
            instr = (op, i)
        values.append(build(_Float, values, [instr])[-1])
        program.append(instr)
    return leaves, program


def chain_program(length: int) -> tuple[list[float], list[tuple]]:
    """A chain ``length`` operations deep: v = tanh(v * 0.9 + x) over and over (x used at every step)."""
    program: list[tuple] = []
    for k in range(length):
        prev = 0 if k == 0 else len(program)  # index of the previous result (leaf 0 first)
        program.append(("mulc", prev, 0.9))
        program.append(("add", len(program), 0))
        program.append(("tanh", len(program)))
    return [0.3], program


# =========================================================================== chapter 8: drivers

RECURSION_ERROR = "RecursionError"  # the answer hit Python's recursion limit
RECURSIVE = "recursive"  # the answer called a function of its own from inside itself


@contextmanager
def _creation_order(value_class: type) -> Iterator[list]:
    """Record every instance of `value_class` (and of its bases) in the order it was made.

    Nodes are made after the nodes they are computed from, so the reverse of this order is a
    valid order for the backward pass, also for the nodes that ``a - b`` or ``a / b`` make
    inside the student's class (``-b``, ``b ** -1``, wrapped constants).
    """
    made: list = []
    patched = []
    for klass in value_class.__mro__[:-1] if isinstance(value_class, type) else ():  # not object
        original = klass.__dict__.get("__init__")
        if original is None:
            continue

        def init(self: Any, *args: Any, _original_init: Any = original, **kwargs: Any) -> None:
            _original_init(self, *args, **kwargs)
            made.append(self)

        patched.append((klass, original))
        type.__setattr__(klass, "__init__", init)
    try:
        yield made
    finally:
        for klass, original in patched:
            type.__setattr__(klass, "__init__", original)


def expression(case: Case) -> tuple[list[float], list[tuple]]:
    """A case's expression, ``(leaves, program)``; ``({"chain": depth},)`` is `chain_program`'s
    deep chain (its 12,000 instructions are quicker to make here than to send)."""
    if isinstance(case.args[0], dict):
        return chain_program(int(case.args[0]["chain"]))
    leaves, program = case.args
    return leaves, program


def run_value_forward(value_class: Any, case: Case) -> np.ndarray:
    """Build the expression with the student's class; return the data of every node."""
    leaves, program = expression(case)
    return np.array([node.data for node in build(value_class, leaves, program)], dtype=float)


def run_local_gradients(value_class: Any, case: Case) -> np.ndarray:
    """Build with the student's class, then call every node's `_backward`, newest node first."""
    leaves, program = expression(case)
    with _creation_order(value_class) as made:
        nodes = build(value_class, leaves, program)
    unique = list({id(node): node for node in made}.values())  # a subclass's __init__ may call its base's
    nodes[-1].grad = 1.0
    for node in reversed(unique):
        node._backward()
    return np.array([node.grad for node in nodes], dtype=float)


class GraphNode:
    """A node of a computation graph given as plain data (see `graph_nodes`).

    It has what the student's graph code may use: ``data``, ``grad``, ``_prev`` and a
    ``_backward()`` that sends ``local derivative * grad`` to each node in ``_prev``.
    """

    def __init__(self, data: float, prev: tuple = (), local: list[float] | None = None) -> None:
        self.data = data
        self.grad = 0.0
        self._prev = prev
        self._local = local or []

    def _backward(self) -> None:
        for child, derivative in zip(self._prev, self._local):
            child.grad += derivative * self.grad

    def __repr__(self) -> str:
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"


def graph_nodes(graph: dict[str, Any], node_class: type = GraphNode) -> list:
    """Linked nodes from a graph given as arrays, numbered as in the graph; the output is last.

    ``data[k]`` is node k's value; its ``_prev`` are the nodes ``prev[offsets[k]:offsets[k+1]]``
    and ``local[e]`` is d node / d ``prev[e]`` (computed outside, where the graph was built).
    Children are numbered before the nodes made from them, so one pass links everything.
    """
    offsets, prev, local = graph["offsets"].tolist(), graph["prev"].tolist(), graph["local"].tolist()
    nodes: list = []
    for k, value in enumerate(graph["data"].tolist()):
        lo, hi = offsets[k], offsets[k + 1]
        nodes.append(node_class(value, tuple([nodes[c] for c in prev[lo:hi]]), local[lo:hi]))
    return nodes


class _Recursed(BaseException):
    """Raised into the student's code at its first recursive call (BaseException: not caught
    by a student's ``except Exception``)."""


_LIBRARY_DIRS = tuple(os.path.dirname(m.__file__ or "") + os.sep for m in (np, os))


def without_recursion(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or `RECURSIVE` if any function (outside NumPy and the standard library)
    is called while a call of itself is still running; `RECURSION_ERROR` at the recursion limit.

    This sees recursion itself, whatever the recursion limit is set to.
    """
    here = sys._getframe()

    def tracer(frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and not code.co_filename.startswith(_LIBRARY_DIRS):
            caller = frame.f_back
            while caller is not None and caller is not here:
                if caller.f_code is code:
                    raise _Recursed(code.co_name)
                caller = caller.f_back
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return fn(*args)
    except _Recursed:
        return RECURSIVE
    except RecursionError:
        return RECURSION_ERROR
    finally:
        sys.settrace(previous)


def run_topological_order(student: Any, case: Case) -> Any:
    """Call the student's function on the graph's output node; return the node numbers it listed
    (-1 for an object that is not a node of the graph)."""
    (graph,) = case.args
    nodes = graph_nodes(graph)
    number = {id(node): k for k, node in enumerate(nodes)}
    order = without_recursion(student, nodes[-1])
    if isinstance(order, str) and order in (RECURSIVE, RECURSION_ERROR):
        return order
    return [number.get(id(node), -1) for node in order]


def run_backward(student_backward: Any, case: Case) -> Any:
    """The student's `backward` as the method of the graph's nodes; the gradient of every named node."""
    (graph,) = case.args
    node_class = type("Value", (GraphNode,), {"backward": student_backward})
    nodes = graph_nodes(graph, node_class)
    done = without_recursion(nodes[-1].backward)
    if isinstance(done, str) and done in (RECURSIVE, RECURSION_ERROR):
        return done
    return np.array([nodes[k].grad if k >= 0 else 0.0 for k in graph["named"].tolist()], dtype=float)


def run_autograd(value_class: Any, case: Case) -> Any:
    """The student's whole class: the output's value and the gradient of every leaf."""
    leaves, program = expression(case)
    nodes = build(value_class, leaves, program)
    done = without_recursion(nodes[-1].backward)
    if isinstance(done, str) and done in (RECURSIVE, RECURSION_ERROR):
        return done
    return nodes[-1].data, np.array([node.grad for node in nodes[: len(leaves)]], dtype=float)


Expr = Any  # a number, a variable name, or (op, *operands)


def evaluate(expr: Expr, env: dict[str, float]) -> float:
    """The value of an expression tree: numbers, variable names, and (op, *operands) tuples."""
    if isinstance(expr, (int, float)):
        return float(expr)
    if isinstance(expr, str):
        return env[expr]
    op, *args = expr
    v = [evaluate(a, env) for a in args]
    if op == "+":
        return v[0] + v[1]
    if op == "-":
        return v[0] - v[1]
    if op == "*":
        return v[0] * v[1]
    if op == "/":
        return v[0] / v[1]
    if op == "**":
        return v[0] ** v[1]
    if op == "exp":
        return math.exp(v[0])
    if op == "log":
        return math.log(v[0])
    raise ValueError(f"unknown operation {op!r} in {expr!r}")


def run_derivative(student: Any, case: Case) -> np.ndarray:
    """Differentiate with the student's function, then evaluate the result at several points."""
    expr, var = case.args
    d = student(expr, var)
    return np.array([evaluate(d, env) for env in case.kwargs["points"]])


# =========================================================================== the registry

DRIVERS: dict[str, Callable[[Any, Case], Any]] = {
    "call": call,
    "ch02.loops": run_loops,
    "ch03.dense": run_dense,
    "ch03.perceptron_train": run_perceptron_train,
    "ch03.xor_weights": run_xor_weights,
    "ch04.forward": run_two_layer_forward,
    "ch04.gradients": run_gradients,
    "ch04.numerical_gradient": run_numerical_gradient,
    "ch04.train": run_two_layer_train,
    "ch05.output_activations": run_activation_answers,
    "ch05.loss_and_grads": run_loss_and_grads,
    "ch06.gradient_descent": run_gradient_descent,
    "ch06.minibatches": run_minibatches,
    "ch06.optimizer": run_optimizer,
    "ch08.value_forward": run_value_forward,
    "ch08.local_gradients": run_local_gradients,
    "ch08.topological_order": run_topological_order,
    "ch08.backward": run_backward,
    "ch08.autograd": run_autograd,
    "ch08.derivative": run_derivative,
}
