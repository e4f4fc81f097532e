"""Chapter 8, frameworks: a tiny reverse-mode autograd (`Value`) and symbolic differentiation.

A `Value` holds a number (``data``), its gradient (``grad``), the values it was
computed from (``_prev``) and a closure (``_backward``) that adds its share of
the gradient to them. The checks build expressions from a small "program" (a list
of operations on earlier results), so the same expression can be built from the
student's class, from the reference, or from torch tensors (tests/).

Programs: leaves come first; each instruction is ``(op, a, b)`` where ``a``/``b``
are indices of earlier results, or a plain number for the ``...c`` / ``r...`` ops
(``("subc", 3, 2.0)`` is ``v3 - 2.0``, ``("rsub", 2.0, 3)`` is ``2.0 - v3``).

`topological_order` and `backward` get a graph as plain data (`plain_graph`, built here with
the reference), which the grading sandbox links back up with no reference `Value`
(`public.graph_nodes`). "No recursion" is checked by watching the calls
(`public.without_recursion`), whatever the recursion limit is set to.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, Callable, Union

import numpy as np

from gradbook.checks.core import Exercise, Mistake, compare_values
from gradbook.checks.ch08.public import (
    RECURSION_ERROR,
    RECURSIVE,
    REFLECTED,
    WITH_CONSTANT,
    build,
    chain_program,
    evaluate,
    expression,
    random_program,
)
from gradbook.checks.drivers import Case
from gradbook.checks.meaning import Axis, Output
from gradbook.checks.plain import Plain
from gradbook.i18n import N_, _

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


# --------------------------------------------------------------------------- graphs as plain data


def plain_graph(leaves: list[float], program: list[tuple]) -> dict[str, Any]:
    """The expression's graph as plain data (what `public.graph_nodes` links back up).

    Built with the reference `Value`, so it has every node the output depends on, also the
    ones ``a - b`` and ``a / b`` make; numbered in the reference's topological order (the
    output is last). Node k's children are ``prev[offsets[k]:offsets[k+1]]``, in `_prev`'s
    order, and ``local[e]`` is d node / d child, measured with the node's own `_backward`
    (a child listed twice, as in x * x, gets its whole derivative at its first place).
    ``named[i]`` is the number of the program's i-th result (-1: the output does not use it), ``results[i]``
    its name as the student can find it (``v5 (v5 = v4 / x1)``, `node_names`) and ``names[k]`` node k's (a node
    that ``a - b`` or ``a / b`` makes inside a result is named by what it computes and the result it is in).
    """
    nodes = build(Value, leaves, program)
    order = _topological_order(nodes[-1])
    number = {id(node): k for k, node in enumerate(order)}
    results = node_names(leaves, program)
    offsets, prev, local = [0], [], []
    for node in order:
        for child in node._prev:
            child.grad = 0.0
        node.grad = 1.0
        node._backward()
        seen: set[int] = set()
        for child in node._prev:
            prev.append(number[id(child)])
            local.append(0.0 if id(child) in seen else child.grad)
            seen.add(id(child))
        offsets.append(len(prev))
    return {
        "data": np.array([node.data for node in order], dtype=float),
        "offsets": np.array(offsets, dtype=np.int64),
        "prev": np.array(prev, dtype=np.int64),
        "local": np.array(local, dtype=float),
        "named": np.array([number.get(id(node), -1) for node in nodes], dtype=np.int64),
        "operations": len(program),
        "results": results,
        **_hidden_nodes(order, nodes, results),
    }


def _hidden_nodes(order: list, nodes: list, results: list[str]) -> dict[str, Any]:
    """What names the graph's nodes (plain data, in no language: the grader may judge in another): ``formula[k]``
    is what node k computes in the program's names (``x1``, ``(x1 * -1)``, ``x1**-1``, a wrapped constant ``2``),
    ``inside[k]`` the program's result it is, or is made inside (``a - b`` makes ``-b``), -1 for none."""
    result_of = {id(node): i for i, node in enumerate(nodes)}
    short = {id(node): name.split(" ")[0] for node, name in zip(nodes, results)}
    user: dict[int, Any] = {}
    for node in order:
        for child in node._prev:
            user.setdefault(id(child), node)
    for node in order:  # children first: a hidden node's children already have a short name
        if id(node) in short:
            continue
        kids = [short[id(c)] for c in node._prev]
        if not kids:
            short[id(node)] = f"{node.data:g}"
        elif node._op.startswith("**"):
            short[id(node)] = f"{kids[0]}{node._op}"
        else:
            short[id(node)] = f"({f' {node._op} '.join(kids)})"
    inside = []
    for node in order:
        found: Any = node
        while found is not None and id(found) not in result_of:
            found = user.get(id(found))
        inside.append(result_of[id(found)] if found is not None else -1)
    return {"formula": [short[id(node)] for node in order], "inside": np.array(inside, dtype=np.int64)}


def graph_node(graph: dict[str, Any], k: int) -> str:
    """Node k of a plain graph as the student can find it: ``v5 (v5 = v4 / x1)``; ``-x1 (inside v3 (v3 = x0 - x1))``."""
    inside = int(graph["inside"][k])
    if inside < 0:
        return str(graph["formula"][k])
    result = str(graph["results"][inside])
    if int(graph["named"][inside]) == k:
        return result
    return _("{node} (inside {result})").format(node=graph["formula"][k], result=result)


def graph_case(leaves: list[float], program: list[tuple], label: str = "", label_values: dict | None = None) -> Case:
    return Case((plain_graph(leaves, program),), label=label, label_values=dict(label_values or {}))


def _operations(case: Case) -> int:
    first = case.args[0]
    if isinstance(first, dict):
        return int(first["operations"]) if "operations" in first else 3 * int(first["chain"])
    return len(case.args[1])


def _recursion_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    if isinstance(got, str) and got in (RECURSIVE, RECURSION_ERROR) and not (isinstance(expected, str) and expected == got):
        if got == RECURSIVE:
            return _("the exercise says no recursion, and your code calls a function from inside itself. A recursive "
                     "graph walk needs one Python frame per level of the graph, and Python stops at about 1,000; the "
                     "graphs of real networks (a recurrent network unrolled over a long sequence) are far deeper. "
                     "Use a loop and a list as your own stack.")
        return _("it hit Python's recursion limit on an expression {n} operations deep. "
                 "A recursive graph walk needs one Python frame per level; use a loop and your own stack.").format(
                     n=f"{_operations(case):,}")
    if isinstance(got, str) and got == expected:
        return None
    return compare_values(expected, got, rtol=1e-6, atol=1e-9)


def _topo_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    """Any topological order is right: each node once, after every node it was computed from."""
    if isinstance(got, str) or isinstance(expected, str):
        return _recursion_compare(expected, got, case)
    if not isinstance(got, list):
        return _("topological_order should return a list of the nodes.")
    graph = case.args[0]
    nodes = range(len(graph["offsets"]) - 1)  # the driver's numbers; -1 is an object that is no node
    if not all(type(k) is int and k in nodes for k in got):
        return _("the list contains objects that are not nodes of the graph.")
    if got == expected:  # lists of node numbers: plain equality is exact and fast
        return None
    membership = _topo_membership(graph, got, expected)
    if membership:
        return membership
    children = _children(case)
    position = {k: p for p, k in enumerate(got)}
    for k in got:
        for c in children[k]:
            if position[c] > position[k]:
                return _("{node} comes before {child}, which it is computed from (your list has it at position {at}, "
                         "its input at {later}): a node must come after all its inputs (append it after visiting "
                         "them).").format(node=graph_node(graph, k), child=graph_node(graph, c),
                                          at=position[k], later=position[c])
    if got[-1] != expected[-1]:
        return _("the output node itself should be the last in the list.")
    return None


def _topo_membership(graph: dict[str, Any], got: list[int], expected: list[int]) -> str | None:
    """A topological order lists every node the output depends on, each once: what is listed twice or left out."""
    if len(set(got)) != len(got):
        repeated = next(k for k in got if got.count(k) > 1)
        return _("{node} is listed {count} times: a node reached along two paths "
                 "(a diamond) must be listed once; remember which nodes you have visited.").format(
                     node=graph_node(graph, repeated), count=got.count(repeated))
    if len(got) != len(expected):
        listed = set(got)
        missing = [k for k in expected if k not in listed]
        said = _("expected all {count} nodes the output depends on, got {got}.").format(count=len(expected), got=len(got))
        return said if not missing else said + " " + _("Missing, for example: {node}.").format(node=graph_node(graph, missing[0]))
    return None


def _children(case: Case) -> list[list[int]]:
    """For every node, in the graph's numbering, the numbers of its children."""
    graph = case.args[0]
    offsets, prev = graph["offsets"].tolist(), graph["prev"].tolist()
    return [prev[offsets[k] : offsets[k + 1]] for k in range(len(offsets) - 1)]


def _first_wrong_back(names: list[str], users: list[set[int]], expected: np.ndarray, got: np.ndarray,
                      rules: bool) -> str:
    """Where gradients first go wrong, counting back from the output (``expected``/``got``: one gradient per result
    of the program, `names` and `users` theirs, in the program's order, which is a topological one): the wrong
    result nearest the output, and the results computed from it, whose gradients are all right (they come later).
    So what sends a gradient from those to it is wrong: one of their rules (`rules`), or the order and number of
    times the rules ran (backward's traversal)."""
    n = len(names)  # one comparison for the whole graph: a deep one has thousands of results
    wrong = np.flatnonzero(~np.isclose(np.asarray(got[:n], dtype=float), np.asarray(expected[:n], dtype=float),
                                       rtol=1e-6, atol=1e-9, equal_nan=True)).tolist()
    if not wrong:
        return ""
    first = max(wrong)
    node = names[first]
    if not users[first]:
        return _("The output's own gradient is wrong ({node}): expected {expected}, got {got}; backward starts "
                 "from d out / d out = 1.").format(node=node, expected=_number(expected[first]), got=_number(got[first]))
    used_by = _(", ").join(names[u] for u in sorted(users[first]))
    short = node.split(" ")[0]
    if rules:
        return _("Counting back from the output, the first wrong gradient is at {node}; every result computed from "
                 "{short} ({users}) has the right gradient, so the backward rule of one of those operations sends "
                 "{short} the wrong share (or uses a wrong value, if `Value (forward)` fails too).").format(
                     node=node, short=short, users=used_by)
    return _("Counting back from the output, the first wrong gradient is at {node}, although every result computed "
             "from {short} ({users}) has the right gradient: {short}'s gradient is what each of them sends, added "
             "once each, after each of them has its own gradient complete.").format(node=node, short=short, users=used_by)


def _number(value: float) -> str:
    return f"{float(value):.6g}"


def _program_users(leaves: list[float], program: list[tuple]) -> list[set[int]]:
    """For every result of a program (its leaves first), the results computed directly from it."""
    users: list[set[int]] = [set() for _ in range(len(leaves) + len(program))]
    for i, (op, *args) in enumerate(program):
        operands = args[1:] if op in REFLECTED else args[:1] if op in WITH_CONSTANT else args
        for a in operands:
            users[int(a)].add(len(leaves) + i)
    return users


def _graph_users(graph: dict[str, Any]) -> list[set[int]]:
    """For every result of the program a plain graph was built from, the results computed from it (through the
    nodes ``a - b`` or ``a / b`` make inside a result, too)."""
    named, inside = graph["named"].tolist(), graph["inside"].tolist()
    offsets, prev = graph["offsets"].tolist(), graph["prev"].tolist()
    result_of = {k: i for i, k in enumerate(named) if k >= 0}
    users: list[set[int]] = [set() for _ in named]
    for k in range(len(offsets) - 1):
        for c in prev[offsets[k]:offsets[k + 1]]:
            if c in result_of and inside[k] >= 0 and inside[k] != result_of[c]:
                users[result_of[c]].add(inside[k])
    return users


def _gradients_compare(expected: Plain, got: Plain, case: Case, rules: bool) -> str | None:
    problem = compare_values(expected, got) if rules else _recursion_compare(expected, got, case)
    if not problem or not isinstance(got, np.ndarray) or not isinstance(expected, np.ndarray) or got.shape != expected.shape:
        return problem
    if rules:  # the answer's own class on a program
        leaves, program = expression(case)
        names, users = node_names(leaves, program), _program_users(leaves, program)
    else:  # the student's backward on a graph given as data
        names, users = list(case.args[0]["results"]), _graph_users(case.args[0])
    lead = _first_wrong_back(names, users, expected, got, rules)
    return f"{problem}\n{lead}" if lead else problem


def _local_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    return _gradients_compare(expected, got, case, rules=True)


def _backward_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    return _gradients_compare(expected, got, case, rules=False)


def _results(case: Case) -> Output:
    """The output of `backward`: the gradient of each result of the program the graph was built from."""
    return Output(axes=(Axis("nodes", names=list(case.args[0]["results"])),))


# --------------------------------------------------------------------------- cases

SMALL_PROGRAMS: list[tuple[str, list[float], list[tuple]]] = [
    (N_("x * x (x used twice)"), [1.5], [("mul", 0, 0)]),
    (N_("x + x (x used twice)"), [-0.7], [("add", 0, 0)]),
    # relu's edges: an input between 0 and 1 (a threshold at 1 shows), one between -1 and 0 whose relu, 0, is
    # multiplied (a wrong value for negatives shows in the gradients too)
    (N_("x * relu(x) + y * relu(y), x between 0 and 1, y between -1 and 0"), [0.4, -0.5],
     [("relu", 0), ("mul", 0, 2), ("relu", 1), ("mul", 1, 4), ("add", 3, 5)]),
    (N_("a diamond: y = x * 2; z = (y + 1) * (y * y)"), [0.8],
     [("mulc", 0, 2.0), ("addc", 1, 1.0), ("mul", 1, 1), ("mul", 2, 3)]),
    (N_("every op once"), [0.6, -1.2],
     [("add", 0, 1), ("mul", 2, 0), ("sub", 3, 1), ("div", 4, 1), ("pow", 5, 2), ("tanh", 6), ("exp", 7),
      ("relu", 8), ("neg", 9), ("radd", 1.5, 10), ("rmul", -2.0, 11), ("rsub", 0.5, 12), ("rdiv", 3.0, 13),
      ("subc", 14, 0.25), ("divc", 15, 2.0), ("relu", 3), ("add", 16, 17)]),
]


_SYMBOLS = {"add": "+", "mul": "*", "sub": "-", "div": "/", "addc": "+", "mulc": "*", "subc": "-", "divc": "/",
            "pow": "**", "radd": "+", "rmul": "*", "rsub": "-", "rdiv": "/"}


def node_names(leaves: list[float], program: list[tuple]) -> list[str]:
    """Each node of an expression as the student can find it: ``x1`` for an input, ``v5 (v5 = v3 * v4)``."""
    names = [f"x{k}" for k in range(len(leaves))]
    short = list(names)
    for op, *args in program:
        v = f"v{len(short)}"
        if op in ("relu", "tanh", "exp"):
            formula = f"{short[args[0]]}.{op}()"
        elif op == "neg":
            formula = f"-{short[args[0]]}"
        elif op in ("radd", "rmul", "rsub", "rdiv"):
            formula = f"{args[0]:g} {_SYMBOLS[op]} {short[args[1]]}"
        elif op in ("addc", "mulc", "subc", "divc", "pow"):
            formula = f"{short[args[0]]} {_SYMBOLS[op]} {args[1]:g}"
        else:
            formula = f"{short[args[0]]} {_SYMBOLS[op]} {short[args[1]]}"
        names.append(f"{v} ({v} = {formula})")
        short.append(v)
    return names


def _every_node(case: Case) -> Output:
    """The output of `value_ops` and `local_gradients`: one value per node of the expression."""
    return Output(axes=(Axis("nodes", names=node_names(*expression(case))),))


def _output_and_inputs(case: Case) -> tuple[Output, Output]:
    """The output of `autograd`: the expression's value, and the gradient of each input."""
    leaves, _program = expression(case)
    return Output("output.data"), Output("x.grad", (Axis("nodes", names=[f"x{k}" for k in range(len(leaves))]),))


def _expression_cases(rng: np.random.Generator, hidden: bool, deep: int = 0) -> list[Case]:
    cases = [Case((leaves, program), label=label) for label, leaves, program in SMALL_PROGRAMS]
    for _ in range(6 if hidden else 3):
        leaves, program = random_program(rng, n_leaves=3, n_ops=int(rng.integers(8, 25)))
        cases.append(Case((leaves, program), label=N_("a random expression of {n} operations on 3 inputs"),
                          label_values={"n": len(program)}))
    if deep:  # the driver makes the chain (`public.expression`)
        cases.append(Case(({"chain": deep},), label=N_("a chain {n} operations deep"), label_values={"n": f"{3 * deep:,}"}))
    return cases


def _forward_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return _expression_cases(rng, hidden)


def _deep_depth(hidden: bool) -> int:
    """Steps of the deep chain (3 operations each; nothing random in it, so its graph is built once).

    Visibly more than 10,000 operations, as the notebook says: the student sees that the answer
    scales. Recursion is caught by watching the calls, at any depth, so the hidden chain only
    needs to be deeper than Python's default recursion limit (1,200 operations); running it
    costs a ninth of the visible one, and graders run it for every submission.
    """
    return 400 if hidden else 3_400


def _deep_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return _expression_cases(rng, hidden, deep=_deep_depth(hidden))


def _graph_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [graph_case(*case.args, label=case.label, label_values=case.label_values) for case in _expression_cases(rng, hidden)]
    depth = _deep_depth(hidden)
    cases.append(Case((_chain_graph(depth),), label=N_("a chain {n} operations deep"), label_values={"n": f"{3 * depth:,}"}))
    return cases


@functools.lru_cache(maxsize=2)
def _chain_graph_once(depth: int) -> dict[str, Any]:
    return plain_graph(*chain_program(depth))


def _chain_graph(depth: int) -> dict[str, Any]:
    """The deep chain's graph (the same for every seed: built once, copied for each case list)."""
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in _chain_graph_once(depth).items()}


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


def _topo_recursive_raised_limit(root: Any) -> list:
    """The recursive search with the recursion limit raised so the deep chain fits."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 100_000))
    try:
        return _topo_recursive(root)
    finally:
        sys.setrecursionlimit(limit)


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

RECURSIVE_SEARCH = N_(
    "a recursive search needs one Python frame per level of the graph and stops at Python's recursion limit "
    "(about 1,000 calls) on a deep one; raising the limit only moves the crash (or crashes Python itself). "
    "Keep the path in a list (a stack) and loop; see the hint in the notebook."
)

# The forward pass's own mistakes: `autograd` (whose output holds the forward value) names them too.
FORWARD_MISTAKES = (
    Mistake(_RsubReversed, N_("2.0 - v calls v.__rsub__(2.0), which must compute other - self (2.0 - v), "
            "not self - other.")),
    Mistake(_RdivReversed, N_("2.0 / v calls v.__rtruediv__(2.0), which must compute other / self (2.0 / v), "
            "not self / other.")),
)

value_ops = Exercise(
    "ch08.value_ops",
    title="Value (forward)",
    outputs=_every_node,
    reference=Value,
    run="ch08.value_forward",
    cases=_forward_cases,
    mistakes=[
        *FORWARD_MISTAKES,
    ],
)

local_gradients = Exercise(
    "ch08.local_gradients",
    title="Value (local gradients)",
    outputs=_every_node,
    reference=Value,
    run="ch08.local_gradients",
    compare=_local_compare,
    cases=_forward_cases,
    mistakes=[
        Mistake(_AssignsGrad, N_("a value used twice (x * x, x + x) must collect BOTH contributions: accumulate with "
                "self.grad += ..., never self.grad = ...")),
        Mistake(_MulOwnData, N_("in out = a * b, d(out)/da is b: a.grad += b.data * out.grad (you used a's own data).")),
        Mistake(_TanhNoSquare, N_("the derivative of tanh(x) is 1 - tanh(x)**2: you forgot the square.")),
        Mistake(_PowNoFactor, N_("the derivative of x**n is n * x**(n - 1): you forgot the factor n.")),
    ],
)

topological_order = Exercise(
    "ch08.topological_order",
    title="topological_order",
    reference=_topological_order,
    run="ch08.topological_order",
    compare=_topo_compare,
    cases=_graph_cases,
    mistakes=[
        Mistake(_topo_recursive, RECURSIVE_SEARCH),
        Mistake(_topo_recursive_raised_limit, RECURSIVE_SEARCH),
        Mistake(_topo_no_visited, N_("without a set of visited nodes, a node reached along two paths (a diamond) is "
                "listed twice, and its gradient rule would run twice.")),
        Mistake(_topo_preorder, N_("a node is listed before the nodes it was computed from: add a node to the order "
                "only after all its children are in it (post-order).")),
    ],
)

backward = Exercise(
    "ch08.backward",
    title="backward",
    reference=Value.backward,
    run="ch08.backward",
    compare=_backward_compare,
    outputs=_results,
    cases=_graph_cases,
    mistakes=[
        Mistake(_backward_no_topo, N_("a node's rule ran before all the nodes made from it had added their gradient "
                "(a diamond shows it). Call the rules in reverse topological order: output first, leaves last.")),
        Mistake(_backward_every_path, N_("a shared node's rule ran once per path to it, so its gradient was passed on "
                "several times. Visit each node once, in reverse topological order.")),
        Mistake(_backward_no_seed, N_("every gradient is zero: start with self.grad = 1.0 (d out / d out = 1).")),
        Mistake(_backward_recursive_topo, N_("your topological order is recursive, so a deep expression hits Python's "
                "recursion limit; make topological_order iterative.")),
    ],
)

autograd = Exercise(
    "ch08.autograd",
    title="Value (autograd)",
    outputs=_output_and_inputs,
    reference=Value,
    run="ch08.autograd",
    compare=_recursion_compare,
    cases=_deep_cases,
    mistakes=[
        Mistake(_AssignsGrad, N_("a value used twice (x * x, x + x) must collect BOTH contributions: accumulate with "
                "self.grad += ..., never self.grad = ...")),
        Mistake(_NoTopoValue, N_("gradients are wrong where a value feeds two others (a diamond): backward must call "
                "the rules once each, in reverse topological order.")),
        Mistake(_RecursiveValue, N_("backward hit Python's recursion limit on a deep expression: find the "
                "topological order with a loop and a stack.")),
        *FORWARD_MISTAKES,
    ],
)

# --------------------------------------------------------------------------- symbolic differentiation

Expr = Union[Number, str, tuple]


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


def _derivative_no_chain(expr: Expr, var: str, ops: tuple[str, ...] = ("exp", "log", "**")) -> Expr:
    """The chain rule left out of the rules of `ops` (of all three, or of one: a student may forget it in one rule)."""
    if isinstance(expr, tuple) and expr[0] in ops:
        op, a, *rest = expr
        if op == "exp":
            return expr
        if op == "log":
            return ("/", 1, a)
        return ("*", rest[0], ("**", a, rest[0] - 1))
    return _recurse(lambda e, v: _derivative_no_chain(e, v, ops), expr, var)


def _derivative_no_chain_in_exp(expr: Expr, var: str) -> Expr:
    return _derivative_no_chain(expr, var, ("exp",))


def _derivative_no_chain_in_log(expr: Expr, var: str) -> Expr:
    return _derivative_no_chain(expr, var, ("log",))


def _derivative_no_chain_in_power(expr: Expr, var: str) -> Expr:
    return _derivative_no_chain(expr, var, ("**",))


def _derivative_quotient_sign(expr: Expr, var: str) -> Expr:
    if isinstance(expr, tuple) and expr[0] == "/":
        _, a, b = expr
        da, db = _derivative_quotient_sign(a, var), _derivative_quotient_sign(b, var)
        return ("/", ("-", ("*", a, db), ("*", da, b)), ("**", b, 2))
    return _recurse(_derivative_quotient_sign, expr, var)


def _derivative_of_number_one(expr: Expr, var: str) -> Expr:
    return 1 if isinstance(expr, (int, float)) else _recurse(_derivative_of_number_one, expr, var)


def _derivative_of_any_name_one(expr: Expr, var: str) -> Expr:
    return 1 if isinstance(expr, str) else _recurse(_derivative_of_any_name_one, expr, var)


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
    (("*", "x", ("exp", ("*", "y", "x"))), "x"),  # a product whose right factor is itself an expression of x
]

HIDDEN_EXPRESSIONS: list[tuple[Expr, str]] = [
    (("*", ("exp", "x"), ("log", "y")), "y"),
    (("/", ("exp", ("*", "x", "y")), ("+", ("*", "x", "x"), 1)), "x"),
    (("**", ("/", "x", "y"), 2), "y"),
    (("*", ("*", "x", "y"), ("-", "x", "y")), "x"),
]


def _derivative_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for expr, var in EXPRESSIONS + (HIDDEN_EXPRESSIONS if hidden else []):
        points = [{"x": float(x), "y": float(y)} for x, y in np.round(rng.uniform(0.5, 1.5, size=(4, 2)), 3)]
        cases.append(Case((expr, var), {"points": points}, label=N_("d/d{var} of {expr} at 4 points"),
                          label_values={"var": var, "expr": repr(expr)}))
    return cases


NO_CHAIN = N_("the chain rule is missing: exp(u)' = exp(u) * u', log(u)' = u' / u, (u ** n)' = n * u ** (n - 1) * u' "
              "(multiply by the inner derivative u').")

derivative = Exercise(
    "ch08.derivative",
    title="derivative",
    reference=_derivative,
    run="ch08.derivative",
    cases=_derivative_cases,
    rtol=1e-9,
    atol=1e-12,
    mistakes=[
        Mistake(_derivative_product_of_derivatives, N_("the derivative of a product is not the product of the "
                "derivatives: (a * b)' = a' * b + a * b' (the product rule).")),
        Mistake(_derivative_no_chain, NO_CHAIN),
        Mistake(_derivative_of_number_one, N_("the derivative of a number (a constant) is 0, not 1: it does not change "
                                              "when var does.")),
        Mistake(_derivative_of_any_name_one, N_("every variable's derivative is 1 here, but only var's is: the "
                                                "derivative of another variable is 0 (d/dx of y is 0, d/dx of x is 1).")),
        Mistake(_derivative_quotient_sign, N_("the quotient rule has its sign flipped: (a / b)' = (a' * b - a * b') / b**2.")),
        Mistake(_derivative_no_chain_in_exp, NO_CHAIN),
        Mistake(_derivative_no_chain_in_log, NO_CHAIN),
        Mistake(_derivative_no_chain_in_power, NO_CHAIN),
    ],
)
