"""`release` validates every graded test cell before students see it, and says which line is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from gradbook_grader.course import Course, GraderError, release
from gradbook_grader.nbcells import grade_id

CH02 = "02-tensor-operations"


def course_with(tmp: Path, edit) -> Course:  # noqa: ANN001
    (tmp / "autograder").mkdir()
    (tmp / "solutions").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
    nb = nbformat.read(ROOT / "solutions" / f"{CH02}.ipynb", as_version=4)
    edit(nb)
    nbformat.write(nb, tmp / "solutions" / f"{CH02}.ipynb")
    return Course(tmp / "autograder", tmp / "solutions", tmp / "notebooks", f"sqlite:///{tmp / 'gradebook.db'}")


def test_a_test_cell_with_a_bare_assert_is_refused_with_its_line(tmp_path: Path) -> None:
    def plain_assert(nb: nbformat.NotebookNode) -> None:
        cell = next(c for c in nb.cells if grade_id(c) == "test-naive-add")
        cell.source = "from gradbook.checks import ch02 as check\nassert naive_add(1, 2) == 3"

    course = course_with(tmp_path, plain_assert)
    with pytest.raises(GraderError) as refused:
        release(course)
    text = str(refused.value)
    assert "test-naive-add" in text and "line 2" in text and "assert naive_add(1, 2) == 3" in text
    assert "docs/authoring.md" in text
    assert not (tmp_path / "notebooks").exists()  # nothing was released


def test_nbgraders_own_error_text_is_shown(tmp_path: Path) -> None:
    def duplicate_ids(nb: nbformat.NotebookNode) -> None:
        cells = [c for c in nb.cells if grade_id(c) == "naive-relu"]
        copy = nbformat.from_dict(dict(cells[0]))
        copy["id"] = "a-second-copy"
        nb.cells.append(copy)  # two cells with one grade_id: nbgrader refuses

    course = course_with(tmp_path, duplicate_ids)
    with pytest.raises(GraderError) as refused:
        release(course)
    assert "ValidationError: Duplicate grade id: naive-relu" in str(refused.value), str(refused.value)
