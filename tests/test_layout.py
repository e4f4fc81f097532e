"""The code's shape (docs/architecture.md): two distributions, modules by concern, no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGES = {"gradbook": ROOT / "lib" / "gradbook", "gradbook_grader": ROOT / "autograder" / "gradbook_grader"}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def top_level_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that `name` imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue  # annotations only
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(sub, ast.Import):
                found.update(a.name for a in sub.names)
            elif isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1] + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{a.name}" for a in sub.names)
    return {m for m in found if m in known and m != name}


def test_no_import_cycles() -> None:
    graph = {}
    mods = modules()
    for name, path in mods.items():
        graph[name] = top_level_imports(name, path, set(mods))
        parent = name.rsplit(".", 1)[0]
        graph[name].discard(parent)  # a module's package __init__ runs first by Python's rules, not by choice
    cycles = []
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
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


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
