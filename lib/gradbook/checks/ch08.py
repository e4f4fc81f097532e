"""Chapter 8, frameworks: a tiny reverse-mode autograd (`Value`) and symbolic differentiation.

A `Value` holds a number (``data``), its gradient (``grad``), the values it was
computed from (``_prev``) and a closure (``_backward``) that adds its share of
the gradient to them. The checks build expressions from a small "program" (a list
of operations on earlier results), so the same expression can be built from the
student's class, from the reference, or from torch tensors (tests/).

Programs: leaves come first; each instruction is ``(op, a, b)`` where ``a``/``b``
are indices of earlier results, or a plain number for the ``...c`` / ``r...`` ops
(``("subc", 3, 2.0)`` is ``v3 - 2.0``, ``("rsub", 2.0, 3)`` is ``2.0 - v3``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Union

import numpy as np

from gradbook.checks.core import Case, Exercise, Mistake, compare_values
from gradbook.checks.plain import Plain

Number = Union[int, float]

# --------------------------------------------------------------------------- reference autograd


class Value:
    """A scalar that remembers how it was computed, so it can send gradients back."""

    def __init__(self, data: Number, _children: tuple = (), _op: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = tuple(_children)
        self._op = _op

    def __repr__(self) -> str:
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

    def __add__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, n: Number) -> Value:
        out = type(self)(self.data**n, (self,), f"**{n}")

        def _backward() -> None:
            self.grad += n * self.data ** (n - 1) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = type(self)(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = type(self)(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        out = type(self)(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Any) -> Value:
        return self + (-other)

    def __truediv__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else type(self)(other)
        return self * other**-1

    def __radd__(self, other: Any) -> Value:
        return self + other

    def __rmul__(self, other: Any) -> Value:
        return self * other

    def __rsub__(self, other: Any) -> Value:
        return (-self) + other

    def __rtruediv__(self, other: Any) -> Value:
        return type(self)(other) / self

    def backward(self) -> None:
        topo = _topological_order(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


def _topological_order(root: Any) -> list:
    """Every node `root` depends on, each once, children before the nodes made from them.

    Iterative depth-first search with an explicit stack, so a graph 100,000 nodes deep
    is as easy as a small one (a recursive search stops at Python's recursion limit).
    """
    order: list = []
    visited: set[int] = {id(root)}
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, i = stack.pop()
        if i < len(node._prev):
            stack.append((node, i + 1))
            child = node._prev[i]
            if id(child) not in visited:
                visited.add(id(child))
                stack.append((child, 0))
        else:
            order.append(node)  # after all its children
    return order


# --------------------------------------------------------------------------- building expressions

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


def random_program(rng: np.random.Generator, n_leaves: int, n_ops: int) -> tuple[list[float], list[tuple]]:
    """A random expression that reuses results (diamonds) and stays where every op is smooth.

    Expressions whose output does not depend on the inputs (a relu of a negative number at
    the end, say) teach nothing about gradients and are drawn again.
    """
    while True:
        leaves, program = _random_program(rng, n_leaves, n_ops)
        nodes = build(Value, leaves, program)
        nodes[-1].backward()
        if all(abs(node.grad) > 1e-6 for node in nodes[:n_leaves]):
            return leaves, program


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


class _Float(float):
    """A float with the unary methods, to compute a program's values while generating it."""

    def relu(self) -> float:
        return _Float(max(self, 0.0))

    def tanh(self) -> float:
        return _Float(math.tanh(self))

    def exp(self) -> float:
        return _Float(math.exp(self))


def chain_program(length: int) -> tuple[list[float], list[tuple]]:
    """A chain ``length`` operations deep: v = tanh(v * 0.9 + x) over and over (x used at every step)."""
    program: list[tuple] = []
    for k in range(length):
        prev = 0 if k == 0 else len(program)  # index of the previous result (leaf 0 first)
        program.append(("mulc", prev, 0.9))
        program.append(("add", len(program), 0))
        program.append(("tanh", len(program)))
    return [0.3], program


# --------------------------------------------------------------------------- drivers


def _output_index(leaves: list, program: list) -> int:
    return len(leaves) + len(program) - 1


def run_forward(value_class: Any, case: Case) -> np.ndarray:
    """Build the expression with the student's class; return the data of every node."""
    leaves, program = case.args
    return np.array([node.data for node in build(value_class, leaves, program)], dtype=float)


def run_local_gradients(value_class: Any, case: Case) -> np.ndarray:
    """Build with the student's class, then call each `_backward` in an order computed here."""
    leaves, program = case.args
    nodes = build(value_class, leaves, program)
    out = nodes[-1]
    out.grad = 1.0
    for node in reversed(_topological_order(out)):
        node._backward()
    return np.array([node.grad for node in nodes], dtype=float)


RECURSION_ERROR = "RecursionError"


def _graph(case: Case) -> list:
    leaves, program = case.args
    return build(Value, leaves, program)


def run_topological_order(student: Any, case: Case) -> Any:
    """Call the student's function on a graph built from the reference `Value`; return node numbers.

    Every node the output depends on (constants wrapped in a `Value` too) is numbered by its
    place in the reference's order, so the reference returns 0, 1, 2, ... and -1 marks an
    object that is not a node of the graph.
    """
    root = _graph(case)[-1]
    number = {id(node): k for k, node in enumerate(_topological_order(root))}
    try:
        order = student(root)
    except RecursionError:
        return RECURSION_ERROR
    return [number.get(id(node), -1) for node in order]


def run_backward(student_backward: Any, case: Case) -> Any:
    """Attach the student's `backward` to the reference `Value`; return every node's gradient."""
    leaves, program = case.args
    value_class = type("Value", (Value,), {"backward": student_backward})
    nodes = build(value_class, leaves, program)
    try:
        nodes[-1].backward()
    except RecursionError:
        return RECURSION_ERROR
    return np.array([node.grad for node in nodes], dtype=float)


def run_autograd(value_class: Any, case: Case) -> Any:
    """The student's whole class: the output's value and the gradient of every leaf."""
    leaves, program = case.args
    nodes = build(value_class, leaves, program)
    try:
        nodes[-1].backward()
    except RecursionError:
        return RECURSION_ERROR
    return nodes[-1].data, np.array([node.grad for node in nodes[: len(leaves)]], dtype=float)


def _recursion_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    if isinstance(got, str) and got == RECURSION_ERROR and not (isinstance(expected, str) and expected == RECURSION_ERROR):
        return (f"it hit Python's recursion limit on an expression {len(case.args[1])} operations deep. "
                "A recursive graph walk needs one Python frame per level; use a loop and your own stack.")
    if isinstance(got, str) and got == expected:
        return None
    return compare_values(expected, got, rtol=1e-6, atol=1e-9)


def _topo_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    """Any topological order is right: each node once, after every node it was computed from."""
    if isinstance(got, str) or isinstance(expected, str):
        return _recursion_compare(expected, got, case)
    if got == expected:  # lists of node numbers: plain equality is exact and fast
        return None
    if not isinstance(got, list):
        return "topological_order should return a list of the nodes."
    if -1 in got:
        return "the list contains objects that are not nodes of the graph."
    if len(set(got)) != len(got):
        repeated = next(k for k in got if got.count(k) > 1)
        return (f"node {repeated} appears {got.count(repeated)} times: a node reached along two paths "
                "(a diamond) must be listed once; remember which nodes you have visited.")
    if len(got) != len(expected):
        return f"expected all {len(expected)} nodes the output depends on, got {len(got)}."
    children = _children(case)
    position = {k: p for p, k in enumerate(got)}
    for k in got:
        for c in children[k]:
            if position[c] > position[k]:
                return (f"node {k} comes before node {c}, which it was computed from: a node must come "
                        "after all its children (append it after visiting them).")
    if got[-1] != expected[-1]:
        return "the output node itself should be the last in the list."
    return None


def _children(case: Case) -> list[list[int]]:
    """For every node, in the numbering of `run_topological_order`, the numbers of its children."""
    order = _topological_order(_graph(case)[-1])
    number = {id(node): k for k, node in enumerate(order)}
    return [[number[id(child)] for child in node._prev] for node in order]


# --------------------------------------------------------------------------- cases

SMALL_PROGRAMS: list[tuple[str, list[float], list[tuple]]] = [
    ("x * x (x used twice)", [1.5], [("mul", 0, 0)]),
    ("x + x (x used twice)", [-0.7], [("add", 0, 0)]),
    ("a diamond: y = x * 2; z = (y + 1) * (y * y)", [0.8],
     [("mulc", 0, 2.0), ("addc", 1, 1.0), ("mul", 1, 1), ("mul", 2, 3)]),
    ("every op once", [0.6, -1.2],
     [("add", 0, 1), ("mul", 2, 0), ("sub", 3, 1), ("div", 4, 1), ("pow", 5, 2), ("tanh", 6), ("exp", 7),
      ("relu", 8), ("neg", 9), ("radd", 1.5, 10), ("rmul", -2.0, 11), ("rsub", 0.5, 12), ("rdiv", 3.0, 13),
      ("subc", 14, 0.25), ("divc", 15, 2.0), ("relu", 3), ("add", 16, 17)]),
]


def _expression_cases(rng: np.random.Generator, hidden: bool, deep: int = 0) -> list[Case]:
    cases = [Case((leaves, program), label=label) for label, leaves, program in SMALL_PROGRAMS]
    for _ in range(6 if hidden else 3):
        leaves, program = random_program(rng, n_leaves=3, n_ops=int(rng.integers(8, 25)))
        cases.append(Case((leaves, program), label=f"a random expression of {len(program)} operations on 3 inputs"))
    if deep:
        leaves, program = chain_program(deep)
        cases.append(Case((leaves, program), label=f"a chain {len(program):,} operations deep"))
    return cases


def _forward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return _expression_cases(rng, hidden)


def _deep_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return _expression_cases(rng, hidden, deep=4_000 if hidden else 3_400)


# --------------------------------------------------------------------------- plausible mistakes


class _RsubReversed(Value):
    def __rsub__(self, other: Any) -> Value:
        return self - other


class _RdivReversed(Value):
    def __rtruediv__(self, other: Any) -> Value:
        return self / other


class _MulOwnData(Value):
    def __mul__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = _MulOwnData(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += self.data * out.grad
            other.grad += other.data * out.grad

        out._backward = _backward
        return out


class _TanhNoSquare(Value):
    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = _TanhNoSquare(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1 - t) * out.grad

        out._backward = _backward
        return out


class _PowNoFactor(Value):
    def __pow__(self, n: Number) -> Value:
        out = _PowNoFactor(self.data**n, (self,), f"**{n}")

        def _backward() -> None:
            self.grad += self.data ** (n - 1) * out.grad

        out._backward = _backward
        return out


class _AssignsGrad(Value):
    """Every rule writes ``=`` instead of ``+=``: a value used twice keeps only one share."""

    def __add__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else _AssignsGrad(other)
        out = _AssignsGrad(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad = out.grad
            other.grad = out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else _AssignsGrad(other)
        out = _AssignsGrad(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad

        out._backward = _backward
        return out


def _topo_recursive(root: Any) -> list:
    order: list = []
    visited: set[int] = set()

    def visit(node: Any) -> None:
        if id(node) not in visited:
            visited.add(id(node))
            for child in node._prev:
                visit(child)
            order.append(node)

    visit(root)
    return order


def _topo_preorder(root: Any) -> list:
    order: list = []
    visited: set[int] = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        for child in node._prev:
            if id(child) not in visited:
                visited.add(id(child))
                stack.append(child)
    return order  # the mistake: parents before children


def _topo_no_visited(root: Any) -> list:
    order: list = []
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, i = stack.pop()
        if i < len(node._prev):
            stack.append((node, i + 1))
            stack.append((node._prev[i], 0))
        else:
            order.append(node)
    return order


def _backward_no_topo(self: Any) -> None:
    """Walk from the output and call each node's rule as soon as it is reached (breadth first)."""
    self.grad = 1.0
    queue, seen = [self], {id(self)}
    while queue:
        node = queue.pop(0)
        node._backward()
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                queue.append(child)


def _backward_every_path(self: Any) -> None:
    """Depth first with no memory of visited nodes: a shared node's rule runs once per path."""
    self.grad = 1.0
    stack = [self]
    while stack:
        node = stack.pop()
        node._backward()
        stack.extend(node._prev)


def _backward_no_seed(self: Any) -> None:
    for node in reversed(_topological_order(self)):
        node._backward()


def _backward_recursive_topo(self: Any) -> None:
    topo = _topo_recursive(self)
    self.grad = 1.0
    for node in reversed(topo):
        node._backward()


class _NoTopoValue(Value):
    backward = _backward_every_path


class _RecursiveValue(Value):
    backward = _backward_recursive_topo


# --------------------------------------------------------------------------- exercises

value_ops = Exercise(
    "ch08.value_ops",
    title="Value (forward)",
    reference=Value,
    run=run_forward,
    cases=_forward_cases,
    mistakes=[
        Mistake(_RsubReversed, "2.0 - v calls v.__rsub__(2.0), which must compute other - self (2.0 - v), "
                "not self - other."),
        Mistake(_RdivReversed, "2.0 / v calls v.__rtruediv__(2.0), which must compute other / self (2.0 / v), "
                "not self / other."),
    ],
)

local_gradients = Exercise(
    "ch08.local_gradients",
    title="Value (local gradients)",
    reference=Value,
    run=run_local_gradients,
    cases=_forward_cases,
    mistakes=[
        Mistake(_AssignsGrad, "a value used twice (x * x, x + x) must collect BOTH contributions: accumulate with "
                "self.grad += ..., never self.grad = ..."),
        Mistake(_MulOwnData, "in out = a * b, d(out)/da is b: a.grad += b.data * out.grad (you used a's own data)."),
        Mistake(_TanhNoSquare, "the derivative of tanh(x) is 1 - tanh(x)**2: you forgot the square."),
        Mistake(_PowNoFactor, "the derivative of x**n is n * x**(n - 1): you forgot the factor n."),
    ],
)

topological_order = Exercise(
    "ch08.topological_order",
    title="topological_order",
    reference=_topological_order,
    run=run_topological_order,
    compare=_topo_compare,
    cases=_deep_cases,
    mistakes=[
        Mistake(_topo_recursive, "a recursive search stops at Python's recursion limit (about 1,000 calls) on a "
                "deep graph. Keep the path in a list (a stack) and loop; see the hint in the notebook."),
        Mistake(_topo_no_visited, "without a set of visited nodes, a node reached along two paths (a diamond) is "
                "listed twice, and its gradient rule would run twice."),
        Mistake(_topo_preorder, "a node is listed before the nodes it was computed from: add a node to the order "
                "only after all its children are in it (post-order)."),
    ],
)

backward = Exercise(
    "ch08.backward",
    title="backward",
    reference=Value.backward,
    run=run_backward,
    compare=_recursion_compare,
    cases=_deep_cases,
    mistakes=[
        Mistake(_backward_no_topo, "a node's rule ran before all the nodes made from it had added their gradient "
                "(a diamond shows it). Call the rules in reverse topological order: output first, leaves last."),
        Mistake(_backward_every_path, "a shared node's rule ran once per path to it, so its gradient was passed on "
                "several times. Visit each node once, in reverse topological order."),
        Mistake(_backward_no_seed, "every gradient is zero: start with self.grad = 1.0 (d out / d out = 1)."),
        Mistake(_backward_recursive_topo, "your topological order is recursive, so a deep expression hits Python's "
                "recursion limit; make topological_order iterative."),
    ],
)

autograd = Exercise(
    "ch08.autograd",
    title="Value (autograd)",
    reference=Value,
    run=run_autograd,
    compare=_recursion_compare,
    cases=_deep_cases,
    mistakes=[
        Mistake(_AssignsGrad, "a value used twice (x * x, x + x) must collect BOTH contributions: accumulate with "
                "self.grad += ..., never self.grad = ..."),
        Mistake(_NoTopoValue, "gradients are wrong where a value feeds two others (a diamond): backward must call "
                "the rules once each, in reverse topological order."),
        Mistake(_RecursiveValue, "backward hit Python's recursion limit on a deep expression: find the "
                "topological order with a loop and a stack."),
    ],
)

# --------------------------------------------------------------------------- symbolic differentiation

Expr = Union[Number, str, tuple]


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


def _derivative(expr: Expr, var: str) -> Expr:
    """d expr / d var, as a new tree (not simplified)."""
    if isinstance(expr, (int, float)):
        return 0
    if isinstance(expr, str):
        return 1 if expr == var else 0
    op, *args = expr
    a = args[0]
    da = _derivative(a, var)
    if op in ("+", "-"):
        return (op, da, _derivative(args[1], var))
    if op == "*":
        b = args[1]
        return ("+", ("*", da, b), ("*", a, _derivative(b, var)))
    if op == "/":
        b = args[1]
        return ("/", ("-", ("*", da, b), ("*", a, _derivative(b, var))), ("**", b, 2))
    if op == "**":
        n = args[1]
        return ("*", ("*", n, ("**", a, n - 1)), da)
    if op == "exp":
        return ("*", expr, da)
    if op == "log":
        return ("/", da, a)
    raise ValueError(f"unknown operation {op!r}")


def _derivative_product_of_derivatives(expr: Expr, var: str) -> Expr:
    if isinstance(expr, tuple) and expr[0] == "*":
        return ("*", _derivative_product_of_derivatives(expr[1], var), _derivative_product_of_derivatives(expr[2], var))
    return _recurse(_derivative_product_of_derivatives, expr, var)


def _derivative_no_chain(expr: Expr, var: str) -> Expr:
    if isinstance(expr, tuple) and expr[0] in ("exp", "log", "**"):
        op, a, *rest = expr
        if op == "exp":
            return expr
        if op == "log":
            return ("/", 1, a)
        return ("*", rest[0], ("**", a, rest[0] - 1))
    return _recurse(_derivative_no_chain, expr, var)


def _derivative_quotient_sign(expr: Expr, var: str) -> Expr:
    if isinstance(expr, tuple) and expr[0] == "/":
        _, a, b = expr
        da, db = _derivative_quotient_sign(a, var), _derivative_quotient_sign(b, var)
        return ("/", ("-", ("*", a, db), ("*", da, b)), ("**", b, 2))
    return _recurse(_derivative_quotient_sign, expr, var)


def _recurse(rule: Callable[[Expr, str], Expr], expr: Expr, var: str) -> Expr:
    """The right rule at this node, with `rule` (a wrong one) used for the operands."""
    if not isinstance(expr, tuple):
        return _derivative(expr, var)
    op, *args = expr
    a = args[0]
    da = rule(a, var)
    if op in ("+", "-"):
        return (op, da, rule(args[1], var))
    if op == "*":
        return ("+", ("*", da, args[1]), ("*", a, rule(args[1], var)))
    if op == "/":
        b = args[1]
        return ("/", ("-", ("*", da, b), ("*", a, rule(b, var))), ("**", b, 2))
    if op == "**":
        return ("*", ("*", args[1], ("**", a, args[1] - 1)), da)
    if op == "exp":
        return ("*", expr, da)
    return ("/", da, a)


EXPRESSIONS: list[tuple[Expr, str]] = [
    (("*", "x", "x"), "x"),
    (("+", ("*", 3, "x"), ("*", "x", "y")), "y"),
    (("exp", ("*", 2, "x")), "x"),
    (("/", "x", ("+", "y", 1)), "y"),
    (("**", ("+", ("*", "x", "y"), 1), 3), "x"),
    (("log", ("+", ("*", "x", "x"), "y")), "x"),
    (("-", ("exp", ("*", "x", "y")), ("/", 1, "x")), "x"),
]

HIDDEN_EXPRESSIONS: list[tuple[Expr, str]] = [
    (("*", ("exp", "x"), ("log", "y")), "y"),
    (("/", ("exp", ("*", "x", "y")), ("+", ("*", "x", "x"), 1)), "x"),
    (("**", ("/", "x", "y"), 2), "y"),
    (("*", ("*", "x", "y"), ("-", "x", "y")), "x"),
]


def run_derivative(student: Any, case: Case) -> np.ndarray:
    """Differentiate with the student's function, then evaluate the result at several points."""
    expr, var = case.args
    d = student(expr, var)
    return np.array([evaluate(d, env) for env in case.kwargs["points"]])


def _derivative_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for expr, var in EXPRESSIONS + (HIDDEN_EXPRESSIONS if hidden else []):
        points = [{"x": float(x), "y": float(y)} for x, y in np.round(rng.uniform(0.5, 1.5, size=(4, 2)), 3)]
        cases.append(Case((expr, var), {"points": points}, label=f"d/d{var} of {expr!r} at 4 points"))
    return cases


derivative = Exercise(
    "ch08.derivative",
    title="derivative",
    reference=_derivative,
    run=run_derivative,
    cases=_derivative_cases,
    rtol=1e-9,
    atol=1e-12,
    mistakes=[
        Mistake(_derivative_product_of_derivatives, "the derivative of a product is not the product of the "
                "derivatives: (a * b)' = a' * b + a * b' (the product rule)."),
        Mistake(_derivative_no_chain, "the chain rule is missing: exp(u)' = exp(u) * u', log(u)' = u' / u, "
                "(u ** n)' = n * u ** (n - 1) * u' (multiply by the inner derivative u')."),
        Mistake(_derivative_quotient_sign, "the quotient rule has its sign flipped: (a / b)' = (a' * b - a * b') / b**2."),
    ],
)
