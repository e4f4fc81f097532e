"""The code's shape (docs/architecture.md): two distributions, modules by concern, no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGES = {"gradbook": ROOT / "lib" / "gradbook", "gradbook_grader": ROOT / "autograder" / "gradbook_grader",
            "tools": ROOT / "tools"}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """The project's modules that `name` imports anywhere (top level, in functions, under `if TYPE_CHECKING:`,
    in try/except), each with the line of its first import: `from pkg import module` names the module,
    relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for target in targets:
            # `import a.b.c` imports a.b.c; the innermost project module it names is the edge
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.setdefault(target, node.lineno)
    return found


def import_graph() -> tuple[dict[str, dict[str, int]], dict[str, Path]]:
    mods = modules()
    graph = {}
    for name, path in mods.items():
        graph[name] = imports(name, path, set(mods))
        for parent in [name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)]:
            graph[name].pop(parent, None)  # a module's packages run first by Python's rules, not by choice
    return graph, mods


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (a path that comes back) per back edge of a depth-first search; none iff the graph is acyclic."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_the_import_graph_sees_every_import(tmp_path: Path) -> None:
    """The reader against hand-made modules: every form of import anywhere in a module is an edge."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import X\n"
        "def f():\n    from . import c\n    try:\n        import pkg.d.e as e\n    except ImportError:\n        pass\n"
        "    from .f import g\n")
    (tmp_path / "pkg" / "d").mkdir()
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.d.e", "pkg.f"}
    found = imports("pkg.a", tmp_path / "pkg" / "a.py", known)
    assert set(found) == {"pkg", "pkg.b", "pkg.c", "pkg.d.e", "pkg.f"}
    assert find_cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b": 1}, "b": {}, "c": {"a": 1, "b": 1}}) == []


def test_no_import_cycles() -> None:
    graph, mods = import_graph()
    cycles = find_cycles(graph)
    said = ["  " + " -> ".join(f"{m} ({mods[m].relative_to(ROOT)}:{graph[m][n]})" for m, n in zip(c, c[1:])) + f" -> {c[-1]}"
            for c in cycles]
    assert not cycles, "import cycles (module (where it imports the next)):\n" + "\n".join(said)


def test_only_nbcells_knows_nbgraders_delimiters() -> None:
    for path in PACKAGES["gradbook_grader"].glob("*.py"):
        if path.name == "nbcells.py":
            continue
        text = path.read_text(encoding="utf-8")
        for marker in ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION"):
            assert marker not in text, f"{path.name} spells {marker!r}: ask gradbook_grader.nbcells"


def test_no_stale_references() -> None:
    for path in [*PACKAGES["gradbook"].rglob("*.py"), *PACKAGES["gradbook_grader"].rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "DESIGN.md" not in text, f"{path} cites DESIGN.md, which this repository does not have"
        assert "gradbook.grader" not in text, f"{path} names the grader's old place"


def _lazy_names(path: Path) -> set[str]:
    """What a module says it has without defining it: `__all__`, and the string tables its `__getattr__` reads."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    getattr_uses = {n.id for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "__getattr__"
                    for n in ast.walk(f) if isinstance(n, ast.Name)}
    names: set[str] = set()
    for node in tree.body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        targets = {t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
        if targets & ({"__all__"} | getattr_uses) and isinstance(node.value, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            keys = node.value.keys if isinstance(node.value, ast.Dict) else node.value.elts
            names |= {k.value for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return names


def test_every_name_a_module_offers_resolves() -> None:
    """Each name in a module's `__all__` or lazy table (`__getattr__`'s) is there when asked for: a stale entry
    (a module moved away) is an AttributeError or ImportError only for whoever asks, so ask for each."""
    import importlib

    stale = []
    for name, path in sorted(modules().items()):
        if not name.startswith(("gradbook.", "gradbook_grader.")) and name not in PACKAGES:
            continue
        offered = _lazy_names(path)
        if not offered:
            continue
        module = importlib.import_module(name)
        for attr in sorted(offered):
            try:
                getattr(module, attr)
            except (AttributeError, ImportError) as error:
                stale.append(f"{path.relative_to(ROOT)}: {attr!r} ({type(error).__name__}: {error})")
    assert not stale, "names offered that resolve to nothing:\n  " + "\n  ".join(stale)


def _complexity_tool():
    """tools/complexity.py, imported as the scripts in tools/ are (tests/test_i18n.py)."""
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    import complexity

    return complexity


def test_the_complexity_count_is_radons() -> None:
    """The tool's count against hand-counted functions (radon's rules, with `with` counted)."""
    tool = _complexity_tool()
    code = """
def flat(x):
    return x

def branchy(xs, y):
    if y and xs or not xs:          # if +1, two boolean operators +2
        return [x for x in xs if x]  # comprehension +1, its if +1
    elif y:                          # +1
        pass
    for x in xs:                     # +1
        while x:                     # +1
            x -= 1
        else:                        # a loop's else +1
            pass
    try:
        assert y, "y"                # +1
    except ValueError:               # +1
        pass
    with open(y) as f:               # +1
        pass
    return y if y else None          # +1

def outer(x):
    def inner(y):                    # a function of its own
        return 1 if y else 2
    return inner
"""
    found = {f.name: f.complexity for f in tool.functions_of(ast.parse(code), "p", "m.py")}
    assert found == {"flat": 1, "branchy": 14, "outer": 1, "outer.<locals>.inner": 2}


def test_no_grader_function_is_too_complex() -> None:
    tool = _complexity_tool()
    _, functions = tool.measure()
    over = [f"{f.module}:{f.line} {f.name} ({f.complexity})" for f in tool.over_limit(functions)]
    assert not over, f"functions of the grader above complexity {tool.LIMIT}: split them into stages\n  " + "\n  ".join(over)


def test_the_architecture_docs_show_the_current_report() -> None:
    tool = _complexity_tool()
    text = tool.DOC.read_text(encoding="utf-8")
    assert tool.regenerate(text, tool.report()) == text, "docs/architecture.md's complexity report is stale: " \
        "run python tools/complexity.py --write"


def _wheel(project: Path, out: Path) -> zipfile.ZipFile:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(project)], check=True, capture_output=True)
    return zipfile.ZipFile(next(out.glob("*.whl")))


@pytest.mark.slow
def test_a_students_install_has_no_grader_and_the_grader_has_it(tmp_path: Path) -> None:
    library = _wheel(ROOT, tmp_path / "lib")
    names = library.namelist()
    assert any(n.startswith("gradbook/checks/") for n in names)
    assert not any("gradbook_grader" in n or n.startswith("gradbook/grader/") for n in names), names
    entry = next((n for n in names if n.endswith("entry_points.txt")), None)
    assert entry is None or "gradbook-grader" not in library.read(entry).decode()
    grader = _wheel(ROOT / "autograder", tmp_path / "grader")
    names = grader.namelist()
    assert "gradbook_grader/runner.py" in names and "gradbook_grader/execute.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gradbook-grader = gradbook_grader.cli:main" in grader.read(entry).decode()
