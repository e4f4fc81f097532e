"""Mutation testing of the checks: do an exercise's cases tell its reference from a plausible slip?

For every exercise, the reference's source is parsed with `ast` and changed in one place at a time
(a mutant): an operator swapped (+ -, * /, ** *, < <=, ...), a number constant +1, -1 or x2, a reduction
or function swapped (max for mean or min, sum for mean, exp for log), what a log is taken of clipped to
[0.01, 0.99], a minus sign dropped, an ``axis=`` changed, a slice bound moved by one, a term of a sum
dropped, an in-place update turned into a copy (``p -= g`` into ``p = p - g``) or dropped, ``.copy()``
dropped, a dtype narrowed to float32/int,
the first two arguments of a call swapped, a ``range`` bound moved by one. A mutant is equivalent (and
dropped) only when its outputs equal the reference's on the hidden cases of several seeds AND on an
independent battery (tools/battery.py: inputs drawn afresh in the shapes and dtypes of the exercise's arguments,
over wider ranges and at edge values, owing nothing to the values its cases chose), so a class of inputs
no case covers shows as a survivor rather than as "equivalent". The others must be killed (judged wrong)
by the visible cases (seed 0, hidden=False), and every one the visible cases kill must be killed by the
hidden ones too.

Cases are judged cheapest first: a mutant the quick cases already kill is never run on an exercise's
expensive ones (chapter 8's 10,000-operation chain), which it would fail on as well; and each mutant
has a time limit (`SECONDS`; past it, it counts as killed: a check that never ends is not passed).

    python tools/mutants.py                 # every exercise: a table, and the chapters' totals
    python tools/mutants.py ch05.softmax -v # one exercise, and the survivors' source lines
    python tools/mutants.py --sample 8      # a deterministic sample of 8 mutants per exercise (quick)

`score` is what tests/test_mutants.py calls.
"""

from __future__ import annotations

import argparse
import ast
import copy
import inspect
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from gradbook.checks import REGISTRY, load_all  # noqa: E402
from gradbook.checks.core import PREVIEW_SEED, VISIBLE_SEED, Exercise, collect, judge  # noqa: E402
from battery import Battery, TooLong, battery, differs, limit  # noqa: E402,F401 - tools/battery.py

BATTERY_SEEDS = (11, 12, 13, 14)  # hidden cases of these seeds decide that a mutant is equivalent
SECONDS = 20  # a mutant that runs longer than this on one check (a loop that never ends) counts as killed


@dataclass
class Mutant:
    where: str  # "line 3: +  ->  -": what was changed, for a person
    answer: Any  # the mutated function or class


@dataclass
class Score:
    exercise: str
    mutants: int = 0  # made and compiled
    equivalent: int = 0
    visible: int = 0  # non-equivalent mutants the visible cases kill
    hidden: int = 0  # non-equivalent mutants the hidden cases kill
    survivors: list[str] = field(default_factory=list)  # non-equivalent, not killed by the visible cases
    hidden_misses: list[str] = field(default_factory=list)  # killed by the visible cases, not by the hidden ones
    battery_only: list[str] = field(default_factory=list)  # told apart by the independent battery alone

    @property
    def live(self) -> int:
        return self.mutants - self.equivalent

    def fraction(self, killed: int) -> float:
        return killed / self.live if self.live else 1.0


# --------------------------------------------------------------------------- making mutants


_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div, ast.Add), ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div,), ast.Pow: (ast.Mult,), ast.MatMult: (ast.Mult,),
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt,), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt,),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
}
_CALLS = {"max": ("mean", "min"), "min": ("max",), "sum": ("mean",), "mean": ("sum",), "maximum": ("minimum",),
          "minimum": ("maximum",), "exp": ("log",), "log": ("exp",), "argmax": ("argmin",), "argmin": ("argmax",)}
_NARROW = {"float": "np.float32", "float64": "np.float32", "np.float64": "np.float32", "int": "np.int8", "np.int64": "np.int8"}


def _edits(node: ast.AST) -> Iterator[tuple[str, Callable[[ast.AST], None]]]:
    """Every change of this one node, as (description, change applied to the node's copy in a copied tree)."""
    if True:
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _SWAPS:
            for new in _SWAPS[type(node.op)]:
                yield f"line {line}: {type(node.op).__name__} -> {new.__name__}", _set(node, "op", new())
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            yield f"line {line}: drop the right term of {ast.unparse(node)[:40]}", _replace_with(node, "left")
            if isinstance(node.op, ast.Add):
                yield f"line {line}: drop the left term of {ast.unparse(node)[:40]}", _replace_with(node, "right")
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _SWAPS:
            for new in _SWAPS[type(node.ops[0])]:
                yield f"line {line}: {type(node.ops[0]).__name__} -> {new.__name__}", _set(node, "ops", [new()])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and not isinstance(node.operand, ast.Constant):
            yield f"line {line}: minus sign dropped", _replace_with(node, "operand")
        if isinstance(node, ast.Constant) and type(node.value) in (int, float) and not isinstance(node.value, bool):
            for label, value in (("+1", node.value + 1), ("-1", node.value - 1), ("x2", node.value * 2)):
                if value != node.value:
                    yield f"line {line}: constant {node.value!r} {label}", _set(node, "value", value)
        if isinstance(node, ast.keyword) and node.arg == "axis" and isinstance(node.value, (ast.Constant, ast.UnaryOp)):
            for axis in (0, 1, -1, None):
                if ast.unparse(node.value) != repr(axis):
                    yield f"line {line}: axis={ast.unparse(node.value)} -> {axis}", _set(node, "value", ast.Constant(axis))
        if isinstance(node, ast.keyword) and node.arg == "keepdims":
            yield f"line {line}: keepdims dropped", _set(node, "value", ast.Constant(False))
        if isinstance(node, ast.Slice):
            for bound in ("lower", "upper"):
                if getattr(node, bound) is not None:
                    for delta in (1, -1):
                        yield (f"line {line}: slice {bound} {delta:+d}",
                               _set(node, bound, _plus(getattr(node, bound), delta)))
        if isinstance(node, ast.AugAssign):
            yield f"line {line}: update dropped ({ast.unparse(node)[:40]})", _drop(node)
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            yield f"line {line}: in place -> copy ({ast.unparse(node)[:40]})", _copy_update(node)
        if isinstance(node, ast.Call):
            yield from _call_edits(node, line)


def _call_edits(node: ast.Call, line: int) -> Iterator[tuple[str, Callable[[ast.AST], None]]]:
    func = ast.unparse(node.func)
    if isinstance(node.func, ast.Attribute) and node.func.attr == "log" and len(node.args) == 1:  # a student's clip
        yield f"line {line}: {func}'s argument clipped to [0.01, 0.99]", _clip_argument()
    if isinstance(node.func, ast.Attribute) and node.func.attr in _CALLS:
        for other in _CALLS[node.func.attr]:
            yield f"line {line}: {func} -> {other}", _rename(other)
    if isinstance(node.func, ast.Attribute) and node.func.attr == "copy" and not node.args:
        yield f"line {line}: .copy() dropped", _replace_with(node, "func.value")
    if func == "range" and node.args:
        for delta in (1, -1):
            yield f"line {line}: range's end {delta:+d}", _set_arg(node, len(node.args) - 1 if len(node.args) < 3 else 1, delta)
        if len(node.args) >= 2:
            yield f"line {line}: range's start +1", _set_arg(node, 0, 1)
    if len(node.args) >= 2 and not isinstance(node.args[0], ast.Starred) and not isinstance(node.args[1], ast.Starred):
        yield f"line {line}: arguments of {func[:30]} swapped", _swap_args(node)
    for k, keyword in enumerate(node.keywords):
        if keyword.arg == "dtype" and ast.unparse(keyword.value) in _NARROW:
            narrow = _NARROW[ast.unparse(keyword.value)]
            yield f"line {line}: dtype {ast.unparse(keyword.value)} -> {narrow}", _set_keyword(node, k, narrow)
    if isinstance(node.func, ast.Attribute) and node.func.attr == "astype" and node.args:
        if ast.unparse(node.args[0]) in _NARROW:
            narrow = _NARROW[ast.unparse(node.args[0])]
            yield f"line {line}: astype({ast.unparse(node.args[0])}) -> {narrow}", _set_arg_expr(node, 0, narrow)


def _clip_argument() -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        target.args[0] = ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "clip", ast.Load()),
                                  [target.args[0], ast.Constant(0.01), ast.Constant(0.99)], [])

    return change


def _rename(attr: str) -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        target.func.attr = attr

    return change


def _set(node: ast.AST, attr: str, value: Any) -> Callable[[ast.AST], None]:
    return lambda target: setattr(target, attr, value)


def _plus(expr: ast.expr, delta: int) -> ast.expr:
    return ast.BinOp(copy.deepcopy(expr), ast.Add() if delta > 0 else ast.Sub(), ast.Constant(abs(delta)))


def _replace_with(node: ast.AST, part: str) -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        value = target
        for attr in part.split("."):
            value = getattr(value, attr)
        target.__class__ = value.__class__
        target.__dict__.update(copy.deepcopy(value).__dict__)

    return change


def _drop(node: ast.stmt) -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        target.__class__ = ast.Pass
        target.__dict__.clear()
        target.__dict__.update(ast.Pass().__dict__)

    return change


def _copy_update(node: ast.AugAssign) -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        assign = ast.Assign(targets=[copy.deepcopy(target.target)],
                            value=ast.BinOp(ast.Name(target.target.id, ast.Load()), target.op, target.value))
        target.__class__ = ast.Assign
        target.__dict__.clear()
        target.__dict__.update(assign.__dict__)

    return change


def _set_arg(node: ast.Call, index: int, delta: int) -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        target.args[index] = _plus(target.args[index], delta)

    return change


def _set_arg_expr(node: ast.Call, index: int, source: str) -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        target.args[index] = ast.parse(source, mode="eval").body

    return change


def _set_keyword(node: ast.Call, index: int, source: str) -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        target.keywords[index].value = ast.parse(source, mode="eval").body

    return change


def _swap_args(node: ast.Call) -> Callable[[ast.AST], None]:
    def change(target: ast.AST) -> None:
        target.args[0], target.args[1] = target.args[1], target.args[0]

    return change


def mutants(reference: Any) -> list[Mutant]:
    """Every compilable single-place mutant of the reference's source and of the functions and classes of its
    own module that it calls (two levels down: ``_reference_backward`` only calls ``_backward``), each run as
    the reference (the reference's source re-made over the mutated helper)."""
    made = []
    chain = [reference] + _helpers(reference)
    for target in chain:
        made += _mutants_of(target, reference, chain)
    return made


def _helpers(reference: Any, depth: int = 2) -> list[Any]:
    """The functions and classes of the reference's module that its source calls by name."""
    module = sys.modules[reference.__module__]
    found: list[Any] = []
    frontier = [reference]
    for _level in range(depth):
        called = []
        for obj in frontier:
            try:
                tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
            except (TypeError, OSError, SyntaxError):
                continue
            for node in ast.walk(tree):
                value = module.__dict__.get(node.id) if isinstance(node, ast.Name) else None
                if (inspect.isfunction(value) or inspect.isclass(value)) and getattr(value, "__module__", "") == \
                        module.__name__ and value is not reference and value not in found and value not in called:
                    called.append(value)
        found += called
        frontier = called
    return found


def _mutants_of(target: Any, reference: Any, chain: list[Any]) -> list[Mutant]:
    try:
        source = textwrap.dedent(inspect.getsource(target))
        others = [compile(textwrap.dedent(inspect.getsource(obj)), "<reference>", "exec") for obj in chain if obj is not target]
    except (TypeError, OSError):
        return []
    tree = ast.parse(source)
    tree.body[0].decorator_list = []  # a dataclass decorator would run again: keep the class plain
    namespace = _namespace(reference)
    made = []
    for position, node in enumerate(ast.walk(tree)):
        for where, change in _edits(node):
            mutated = copy.deepcopy(tree)
            try:
                change(list(ast.walk(mutated))[position])
                ast.fix_missing_locations(mutated)
                code = compile(mutated, f"<mutant of {target.__qualname__}: {where}>", "exec")
                scope = dict(namespace)
                exec(code, scope)  # noqa: S102 - the reference's own source, changed in one place
                for other in others:  # the reference and its other helpers again, calling the mutated one
                    exec(other, scope)  # noqa: S102
            except Exception:  # noqa: BLE001 - an edit that does not make valid Python
                continue
            label = where if target is reference else f"{target.__name__}, {where}"
            made.append(Mutant(label, scope[reference.__name__]))
    return made


def _namespace(reference: Any) -> dict[str, Any]:
    module = sys.modules[reference.__module__]
    return dict(module.__dict__)


# --------------------------------------------------------------------------- judging them


def killed(exercise: Exercise, answer: Any, seed: int, hidden: bool) -> bool:
    """Is `answer` judged wrong by the exercise's cases of this seed? (The quick cases first, then all of them.)"""
    try:
        with limit(SECONDS), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            quick = _quick(exercise, seed, hidden)
            if quick is not None and not judge(quick, collect(quick, answer, seed, hidden), "en").passed:
                return True  # a subset of the cases fails: so do all of them
            return not judge(exercise, collect(exercise, answer, seed, hidden), "en").passed
    except TooLong:
        return True
    except Exception:  # noqa: BLE001 - the judge itself failed on a strange output: the mutant is told apart
        return True


# A case is left to the second pass when the reference answers it far slower than the exercise's typical case (a
# ratio to the median, measured in the same run, so the split is the same on an idle or a loaded machine) and not
# in mere microseconds (a first call's warm-up is slow by a ratio too).
_SLOWER_THAN_MEDIAN = 100
_EXPENSIVE_FLOOR_SECONDS = 0.01
_costs: dict[tuple[str, int, bool], list[float]] = {}


def _quick(exercise: Exercise, seed: int, hidden: bool) -> Exercise | None:
    """The exercise with only its quick cases (by the reference's time on each, against its median case), or None
    when every case is quick."""
    key = (exercise.name, seed, hidden)
    if key not in _costs:
        costs = []
        for case in exercise.make_cases(seed, hidden):
            start = time.perf_counter()
            try:
                exercise.answer(exercise.reference, copy.deepcopy(case))
            except Exception:  # noqa: BLE001 - the judge reports it; here it only costs nothing
                pass
            costs.append(time.perf_counter() - start)
        _costs[key] = costs
    costs = _costs[key]
    limit = max(_EXPENSIVE_FLOOR_SECONDS, _SLOWER_THAN_MEDIAN * float(np.median(costs))) if costs else 0.0
    keep = [i for i, cost in enumerate(costs) if cost <= limit]
    if len(keep) == len(_costs[key]) or not keep:
        return None
    quick = copy.copy(exercise)  # not a new Exercise: that would register itself in the exercise's place
    every = exercise.cases
    quick.cases = lambda rng, hidden_: [c for i, c in enumerate(every(rng, hidden_)) if i in keep]
    return quick


def score(exercise: Exercise, sample: int | None = None) -> Score:
    result = Score(exercise.name)
    made = mutants(exercise.reference) if not exercise.value else []
    if sample is not None and len(made) > sample:
        picked = np.random.default_rng(0).choice(len(made), size=sample, replace=False)
        made = [made[i] for i in sorted(picked)]
    inputs = None
    for mutant in made:
        result.mutants += 1
        visible = killed(exercise, mutant.answer, VISIBLE_SEED, False)
        hidden = killed(exercise, mutant.answer, PREVIEW_SEED, True)
        if not visible and not hidden and not any(killed(exercise, mutant.answer, s, True) for s in BATTERY_SEEDS):
            inputs = battery(exercise) if inputs is None else inputs
            if not differs(exercise, mutant.answer, inputs):
                result.equivalent += 1
                continue
            result.battery_only.append(mutant.where)
        result.visible += visible
        result.hidden += hidden
        if not visible:
            result.survivors.append(mutant.where)
        elif not hidden:
            result.hidden_misses.append(mutant.where)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exercises", nargs="*", help="names (chNN.what) or chapters (chNN); default: all")
    parser.add_argument("--sample", type=int, help="at most this many mutants per exercise (a deterministic sample)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the survivors")
    args = parser.parse_args(argv)
    load_all()
    names = [n for n in sorted(REGISTRY) if not args.exercises or any(n == a or n.startswith(a + ".") for a in args.exercises)]
    print(f"{'exercise':34} {'mutants':>7} {'equiv':>5} {'visible':>8} {'hidden':>8}")
    chapters: dict[str, list[Score]] = {}
    for name in names:
        s = score(REGISTRY[name], args.sample)
        chapters.setdefault(name.split(".")[0], []).append(s)
        print(f"{name:34} {s.mutants:7d} {s.equivalent:5d} {s.fraction(s.visible):8.0%} {s.fraction(s.hidden):8.0%}",
              flush=True)
        if args.verbose:
            for where in s.survivors:
                print(f"    survives: {where}")
            for where in s.hidden_misses:
                print(f"    visible kills, hidden does not: {where}")
            for where in s.battery_only:
                print(f"    not equivalent (told apart by the independent battery only): {where}")
    print()
    for chapter, scores in chapters.items():
        live = sum(s.live for s in scores)
        print(f"{chapter}: {sum(s.visible for s in scores)}/{live} visible, {sum(s.hidden for s in scores)}/{live} hidden")
    return 0


if __name__ == "__main__":
    sys.exit(main())
