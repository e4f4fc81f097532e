"""Chapter 8's public half: expressions as programs (`build`, `random_program`, given to students), graphs as plain data, and the drivers.

What the grading sandbox and the student edition hold of this chapter (`gradbook.checks.ch08.answers` holds its answers).
No answer is computed here: a driver builds the call the exercise asks for, calls the answer and reads
its result back (`gradbook.checks.drivers`)."""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from gradbook.checks.drivers import Case

HELPERS = ("build", "random_program")  # what the chapter gives students: the notebook imports them from `gradbook.checks.ch08`


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


# the drivers of this chapter's exercises, by the name an `Exercise` gives as `run=`
DRIVERS: dict[str, Callable[[Any, Case], Any]] = {
    "ch08.value_forward": run_value_forward,
    "ch08.local_gradients": run_local_gradients,
    "ch08.topological_order": run_topological_order,
    "ch08.backward": run_backward,
    "ch08.autograd": run_autograd,
    "ch08.derivative": run_derivative,
}
