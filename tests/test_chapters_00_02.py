"""Chapters 0-2: each solution notebook runs top to bottom in a fresh kernel, and its
student version (made by nbgrader's own ClearSolutions and ClearHiddenTests, as
`nbgrader generate_assignment` does) earns no points.

The generic tests in test_checks.py cover every exercise's reference, stub and mistakes;
these tests cover the notebooks themselves.
"""

from __future__ import annotations

import pytest
from notebook_helpers import errors, execute, graded_cells, load, nbgrader, student_version

NOTEBOOKS = ["00-what-is-deep-learning", "01-tensors", "02-tensor-operations"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_an_nbgrader_source(name: str) -> None:
    nb = load(name)
    solutions = [c for c in nb.cells if nbgrader(c).get("solution")]
    tests = graded_cells(nb)
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
    for cell in graded_cells(nb):
        text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
        assert "\u2714" in text, f"{nbgrader(cell)['grade_id']} printed no passing check: {text!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stub_notebook_earns_nothing(name: str) -> None:
    nb = student_version(load(name))
    execute(nb, allow_errors=False)  # as JupyterLab's Run All: stops at the first cell that replies "error"
    graded = graded_cells(nb)
    passing = [nbgrader(c)["grade_id"] for c in graded if not errors(c)]
    assert not passing, f"graded cells that pass without a solution: {passing}"
    for cell in graded:
        messages = [f"{e.ename}: {e.evalue}" for e in errors(cell)]
        # A function's check says "not implemented yet"; a value never assigned is a NameError.
        assert any("not implemented yet" in m or m.startswith("NameError") for m in messages), messages
