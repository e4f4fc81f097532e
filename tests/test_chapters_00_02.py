"""Chapters 0-2: each solution notebook runs top to bottom in a fresh kernel, and its
student version (made by nbgrader's own ClearSolutions and ClearHiddenTests, as
`nbgrader generate_assignment` does) earns no points.

The generic tests in test_checks.py cover every exercise's reference, stub and mistakes;
these tests cover the notebooks themselves.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ["00-what-is-deep-learning", "01-tensors", "02-tensor-operations"]


def nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)


def execute(nb: nbformat.NotebookNode, *, allow_errors: bool) -> float:
    """Run the notebook in a fresh python3 kernel (this venv's ipykernel) from solutions/."""
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=allow_errors, resources={"metadata": {"path": str(SOLUTIONS)}}
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What students get: solution regions replaced by the stub, hidden tests removed."""
    resources = {"metadata": {"path": str(SOLUTIONS)}}
    for preprocessor in (ClearSolutions(), ClearHiddenTests()):
        nb, resources = preprocessor.preprocess(nb, resources)
    return nb


def errors(cell: nbformat.NotebookNode) -> list[str]:
    return [f"{out.ename}: {out.evalue}" for out in cell.get("outputs", []) if out.output_type == "error"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_an_nbgrader_source(name: str) -> None:
    nb = load(name)
    solutions = [c for c in nb.cells if nbgrader(c).get("solution")]
    tests = [c for c in nb.cells if nbgrader(c).get("grade")]
    assert solutions and tests, f"{name} has no exercises"
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell.source, f"{nbgrader(cell)['grade_id']} has no solution region"
    for cell in tests:
        meta = nbgrader(cell)
        assert meta["locked"] and meta["points"] > 0, meta
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{meta['grade_id']} has no hidden tests"
        assert "assert " not in cell.source, f"{meta['grade_id']}: test cells call checks only"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs are never stored"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solution_notebook_runs(name: str, record_property) -> None:
    nb = load(name)
    seconds = execute(nb, allow_errors=False)
    record_property("seconds", round(seconds, 2))
    print(f"\n{name}: executed in {seconds:.1f} s")
    for cell in nb.cells:
        if nbgrader(cell).get("grade"):
            text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
            assert "\u2714" in text, f"{nbgrader(cell)['grade_id']} printed no passing check: {text!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stub_notebook_earns_nothing(name: str) -> None:
    nb = student_version(load(name))
    execute(nb, allow_errors=True)
    graded = [c for c in nb.cells if nbgrader(c).get("grade")]
    passing = [nbgrader(c)["grade_id"] for c in graded if not errors(c)]
    assert not passing, f"graded cells that pass without a solution: {passing}"
    for cell in graded:
        # A function's check says "not implemented yet"; a value never assigned is a NameError.
        assert any("not implemented yet" in e or e.startswith("NameError") for e in errors(cell)), errors(cell)
