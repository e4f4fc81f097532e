"""notebooks/ is exactly what `gradbook-grader release` makes from solutions/: current, no solutions, no outputs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from gradbook_grader.course import Course, release

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
NAMES = [p.stem for p in SOLUTIONS]
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh release into a scratch course, from the repository's solutions/."""
    tmp = tmp_path_factory.mktemp("release")
    (tmp / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
    course = Course(tmp / "autograder", ROOT / "solutions", tmp / "notebooks", f"sqlite:///{tmp / 'gradebook.db'}")
    release(course)
    return tmp / "notebooks"


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def test_every_solution_has_a_student_notebook_and_nothing_else() -> None:
    assert NAMES, "no notebooks in solutions/"
    assert sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")) == NAMES, (
        "notebooks/ must hold exactly one generated notebook per solutions/ notebook: run `gradbook-grader release`"
    )


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_is_current(name: str, regenerated: Path) -> None:
    committed, fresh = _read(ROOT / "notebooks" / f"{name}.ipynb"), _read(regenerated / f"{name}.ipynb")
    stale = "notebooks/ is out of date with solutions/: run `gradbook-grader release` and commit notebooks/"
    assert [c.cell_type for c in committed.cells] == [c.cell_type for c in fresh.cells], stale
    for mine, theirs in zip(committed.cells, fresh.cells):
        assert mine.source == theirs.source, stale
        assert mine.metadata == theirs.metadata, stale
    assert committed.metadata == fresh.metadata, stale


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_has_no_solutions_hidden_tests_or_outputs(name: str) -> None:
    student = _read(ROOT / "notebooks" / f"{name}.ipynb")
    text = "\n".join(c.source for c in student.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "student notebooks are stored without outputs"

    source = _read(ROOT / "solutions" / f"{name}.ipynb")
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in student.cells}
    solution_cells = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solution_cells, f"{name} has no solution cells"
    for cell in solution_cells:
        generated = by_id[cell.metadata.nbgrader.grade_id].source
        outside = SOLUTION_REGION.sub("", cell.source).splitlines()
        for region in SOLUTION_REGION.findall(cell.source):
            for line in region.splitlines():
                code = line.strip()
                if code and not code.startswith("#") and line not in outside:
                    assert line not in generated.splitlines(), f"solution code left in {name}: {code!r}"
        if cell.cell_type == "code":
            assert "raise NotImplementedError()" in generated
