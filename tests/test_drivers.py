"""The drivers: the part of the checks a grading sandbox holds. Every case's inputs are plain
data the grader can send; `drivers.py` imports no answer; every exercise names a driver; a
driver run on inputs that went through plain data answers as it does on the originals; and
the drivers that rebuild something from plain data (a surface's gradient, a graph, a test
function) rebuild the original, checked against the sources they replace."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from gradbook import surfaces
from gradbook.checks import drivers, load_all, plain
from gradbook.checks import registry
from gradbook.checks.ch02 import public as ch02_public
from gradbook.checks.ch04 import public as ch04_public
from gradbook.checks.ch06 import public as ch06_public
from gradbook.checks.ch08 import public as ch08_public
from gradbook.checks.drivers import Case

EXERCISES = load_all()
NAMES = sorted(EXERCISES)
DRIVERS_PY = Path(drivers.__file__)
DRIVERS = registry.all_drivers()
PLAIN_SCALARS = (bool, int, float, str, type(None))


def plain_problem(value, where: str = "") -> str | None:
    """Why `value` is not plain data (what the grader can send), or None."""
    if type(value) in PLAIN_SCALARS:
        return None
    if type(value) is np.ndarray:
        return None if value.dtype.kind in "biufSU" else f"{where}: an array of dtype {value.dtype}"
    if type(value) in (list, tuple):
        return next((p for i, v in enumerate(value) if (p := plain_problem(v, f"{where}[{i}]"))), None)
    if type(value) is dict:
        if not all(type(k) is str for k in value):
            return f"{where}: a dict with keys that are not strings"
        return next((p for k, v in value.items() if (p := plain_problem(v, f"{where}[{k!r}]"))), None)
    return f"{where}: {type(value).__name__} {value!r:.60}"


def same(a, b) -> bool:
    """Exact equality of plain data, types and dtypes included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@pytest.mark.parametrize("name", NAMES)
def test_every_case_is_plain_data(name: str) -> None:
    exercise = EXERCISES[name]
    for seed in range(21):
        for hidden in (False, True):
            for case in exercise.make_cases(seed, hidden):
                sent = (case.args, case.kwargs)
                problem = plain_problem(sent)
                assert problem is None, f"{name}, seed {seed}, hidden={hidden}, {case.describe()}: {problem}"
                assert same(plain.loads(plain.dumps(sent)), sent), f"{name}: {case.describe()} changed in plain data"


@pytest.mark.parametrize("name", NAMES)
def test_the_exercise_names_a_driver_and_the_driver_needs_only_plain_inputs(name: str) -> None:
    """What the sandbox computes from inputs that crossed the wire is what it computes from the originals."""
    exercise = EXERCISES[name]
    assert exercise.run in DRIVERS
    reference = exercise.reference
    if exercise.value:
        answer = exercise.answer(reference, exercise.make_cases(0, False)[0])
        reference = lambda *a, **k: answer  # noqa: E731 - a value exercise's answer is a constant
    for hidden in (False, True):
        for case in exercise.make_cases(0, hidden):
            args, kwargs = plain.loads(plain.dumps((case.args, case.kwargs)))
            received = Case(tuple(args), kwargs, case.label)
            here = plain.to_plain(exercise.answer(reference, case))
            there = plain.to_plain(exercise.answer(reference, received))
            assert same(here, there), f"{name}: {case.describe()}"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


PUBLIC_HALVES = [Path(module.__file__) for c in registry.chapters() if (module := registry.public(c)) is not None]


@pytest.mark.parametrize("path", [DRIVERS_PY, *PUBLIC_HALVES], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_drivers_import_no_answers(path: Path) -> None:
    """The shared drivers and every chapter's public half (what a grading sandbox holds of the checks)."""
    imported = _imports(path)
    public = {f"{c.module}.public" for c in registry.chapters()}
    allowed = {"numpy", "gradbook.checks.plain", "gradbook.i18n", "gradbook.checks.drivers"} | public
    for module in imported:
        top = module.split(".")[0]
        assert module in allowed or (top in sys.stdlib_module_names and top != "gradbook"), module
    assert not any(m.endswith(".answers") or m.startswith(("gradbook.reference", "gradbook.checks.core")) for m in imported)


def test_core_reads_drivers_through_the_registry_which_imports_no_chapter() -> None:
    core = ast.parse(DRIVERS_PY.with_name("core.py").read_text())
    imported = {f"{n.module}.{a.name}" for n in ast.walk(core) if isinstance(n, ast.ImportFrom) for a in n.names}
    imported |= {a.name for n in ast.walk(core) if isinstance(n, ast.Import) for a in n.names}
    assert {"gradbook.checks.registry", "gradbook.checks.drivers.Case"} <= imported
    assert not {m for m in _imports(DRIVERS_PY.with_name("registry.py")) if m.startswith("gradbook.checks.c")}


def test_the_sandbox_view_imports_without_chapters_or_the_reference_engine() -> None:
    """core and drivers load when no chapter module and no reference engine can be imported."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith(('gradbook.checks.ch', 'gradbook.reference', 'torch')):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from gradbook.checks import core, drivers\n"
        "print(sorted(m for m in sys.modules if m.startswith('gradbook')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "gradbook.checks.ch" not in result.stdout and "gradbook.reference" not in result.stdout


def test_every_driver_is_used() -> None:
    used = {exercise.run for exercise in EXERCISES.values()}
    assert set(DRIVERS) == used, set(DRIVERS) ^ used


def test_helpers_that_notebooks_import_are_the_public_halfs() -> None:
    from gradbook.checks import chapter_module

    given = 0
    for chapter in registry.chapters():
        public = registry.public(chapter)
        for helper in registry.helpers(chapter):
            assert getattr(chapter_module(chapter), helper) is getattr(public, helper), helper
            given += 1
    assert given >= 3  # col2im, build, random_program


# --- what the drivers rebuild from plain data is the original ---------------------------------


@pytest.mark.parametrize("name", sorted(surfaces.SURFACES))
def test_polynomial_gradient_is_the_surfaces_gradient(name: str) -> None:
    from gradbook.checks import ch06

    surface = surfaces.SURFACES[name]
    grad = ch06_public.PolynomialGradient(name, ch06.GRADIENT_TERMS[name])
    for point in np.random.default_rng(0).uniform(-2, 2, size=(20, 2)):
        np.testing.assert_allclose(grad(point), surface.grad(point), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_a_graph_from_plain_data_backpropagates_like_the_reference_value(seed: int) -> None:
    from gradbook.checks import ch08

    rng = np.random.default_rng(seed)
    leaves, program = ch08.random_program(rng, n_leaves=3, n_ops=int(rng.integers(8, 30)))
    built = ch08.build(ch08.Value, leaves, program)
    built[-1].backward()
    graph = plain.loads(plain.dumps(ch08.plain_graph(leaves, program)))
    nodes = ch08_public.graph_nodes(graph, type("Node", (ch08_public.GraphNode,), {"backward": ch08.Value.backward}))
    nodes[-1].backward()
    got = [nodes[k].grad if k >= 0 else 0.0 for k in graph["named"]]
    np.testing.assert_allclose(got, [node.grad for node in built], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal([nodes[k].data for k in graph["named"] if k >= 0],
                                  [node.data for node, k in zip(built, graph["named"]) if k >= 0])


def test_random_program_needs_no_autograd_and_depends_on_every_input() -> None:
    from gradbook.checks import ch08

    for seed in range(10):
        leaves, program = ch08_public.random_program(np.random.default_rng(seed), 3, 15)
        nodes = ch08.build(ch08.Value, leaves, program)
        nodes[-1].backward()
        assert all(abs(node.grad) > 1e-7 for node in nodes[:3])


def test_test_functions_are_the_formulas_they_name() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3))
    X, c = rng.normal(size=(4, 2)), rng.normal(size=(4, 3))
    assert ch04_public.TestFunction({"f": "cubic"})(x) == pytest.approx(np.sum(x**3) - 2 * np.sum(x))
    assert ch04_public.TestFunction({"f": "wavy"})(x) == pytest.approx(sum(math.sin(3 * v) * v * v for v in x.ravel()))
    expected = sum(math.tanh(sum(X[i, k] * x[k, j] for k in range(2))) * c[i, j] for i in range(4) for j in range(3))
    assert ch04_public.TestFunction({"f": "tanh_layer", "X": X, "c": c})(x) == pytest.approx(expected)
    with pytest.raises(ValueError, match="unknown test function"):
        ch04_public.TestFunction({"f": "softmax"})


# --- the rules the drivers enforce ------------------------------------------------------------


def _recursive_sum(n: int) -> int:
    return 0 if n == 0 else n + _recursive_sum(n - 1)


def _ping(n: int) -> int:
    return 0 if n == 0 else _pong(n - 1)


def _pong(n: int) -> int:
    return _ping(n)


def test_recursion_is_seen_whatever_the_recursion_limit() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        assert ch08_public.without_recursion(_recursive_sum, 20_000) == ch08_public.RECURSIVE
        assert ch08_public.without_recursion(_ping, 50) == ch08_public.RECURSIVE  # mutual recursion too
    finally:
        sys.setrecursionlimit(limit)

    def swallows(n: int) -> str:
        try:
            return str(_recursive_sum(n))
        except Exception:  # a student's catch-all cannot hide it
            return "caught"

    assert ch08_public.without_recursion(swallows, 5) == ch08_public.RECURSIVE
    assert ch08_public.without_recursion(lambda n: sum(abs(i) for i in range(n)), 10) == 45


def test_recursion_check_restores_the_previous_tracer() -> None:
    before = sys.gettrace()
    ch08_public.without_recursion(_recursive_sum, 3)
    assert sys.gettrace() is before


@pytest.mark.parametrize(
    ("answer", "what"),
    [
        (lambda x: np.maximum(x, 0), "np.maximum"),
        (lambda x: np.where(x > 0, x, 0), "operator >"),
        (lambda x: np.einsum("ij->ji", x), "np.einsum"),
        (lambda x: x.T, "x.T"),
        (lambda x: x.sum(), "x.sum"),
        (lambda x: np.array(x), "np.array(x)"),
        (lambda x: x * 2, "operator *"),
        (lambda x: x[np.array([0, 1])], "fancy indexing"),
    ],
)
def test_loop_arrays_refuse_whole_array_operations(answer, what: str) -> None:
    out = ch02_public.run_loops(answer, Case((np.array([[1.0, -2.0], [3.0, -4.0]]),)))
    assert isinstance(out, str) and out.startswith(ch02_public.VECTORISED) and what in out, out


def test_loop_arrays_allow_loops_over_single_entries() -> None:
    def relu(x):
        z = np.zeros_like(x)
        for i, row in enumerate(x):
            for j in range(x.shape[1]):
                z[i, j] = max(row[j], 0)
        return z

    def copy_then_write(x):
        x = x.copy()
        for i in range(len(x)):
            for j in range(x.shape[1]):
                x[i, j] = max(x[i, j], 0)
        return x

    x = np.array([[1.0, -2.0], [3.0, -4.0]])
    for answer in (relu, copy_then_write):
        np.testing.assert_array_equal(ch02_public.run_loops(answer, Case((x,))), np.maximum(x, 0))
    np.testing.assert_array_equal(x, [[1.0, -2.0], [3.0, -4.0]])


def test_a_quiet_mistake_keeps_its_name_and_overflows_silently() -> None:
    """The release names a mistake by its function's name; `quiet` only silences numpy's warnings."""
    def softmax_without_its_shift(z: np.ndarray) -> np.ndarray:
        return np.exp(z) / np.exp(z).sum()

    wrapped = drivers.quiet(softmax_without_its_shift)
    assert wrapped.__name__ == "softmax_without_its_shift"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(wrapped(np.array([1000.0, 0.0]))).any()
