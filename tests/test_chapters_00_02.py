"""Chapters 0-2: each solution notebook runs top to bottom in a fresh kernel. Its student version earns
no points: test_student_edition.py runs every chapter as students receive it, untouched, and asserts
that every graded cell fails.

Every chapter's answers are judged in test_check_seeds.py (reference, mistakes) and test_checks.py
(stub); these tests cover the notebooks themselves, every chapter of the registry for their form.
"""

from __future__ import annotations

import pytest
from notebook_helpers import assert_each_exercise_graded_once, execute, graded_cells, load, nbgrader

from gradbook.checks import load_all
from gradbook.checks.registry import chapter, chapters

NOTEBOOKS = [chapter(key).notebook for key in ("ch00", "ch01", "ch02")]


@pytest.mark.parametrize("key", [c.key for c in chapters()])
def test_every_chapter_is_an_nbgrader_source_that_grades_each_exercise_once(key: str) -> None:
    """Every chapter of the registry (test_chapters_03_05/06_08 run the later ones and check what they learn)."""
    load_all()
    name = chapter(key).notebook
    assert_each_exercise_graded_once(key, name)
    nb = load(name)
    solutions = [c for c in nb.cells if nbgrader(c).get("solution")]
    assert solutions, f"{name} has no exercises"
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell.source or cell.cell_type == "markdown", f"{nbgrader(cell)['grade_id']} has no solution region"
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
