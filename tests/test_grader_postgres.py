"""The gradebook on a real PostgreSQL server: two workers, one writer, every grade stored."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import nbformat
import pytest

from conftest import require
from gradbook_grader.batch import grade_assignment
from gradbook_grader.course import Course
from gradbook_grader.gradebook import open_gradebook

from grader_helpers import CH02, answered, scratch_course, student_notebook
from postgres_helpers import postgres_problem, postgres_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    require(postgres_problem() is None, str(postgres_problem()))
    with postgres_server() as url:
        yield url


def test_two_workers_store_every_grade_in_postgres(postgres_url: str, tmp_path: Path) -> None:
    course = scratch_course(tmp_path / "course", db_url=postgres_url)
    folder = tmp_path / "flat"
    folder.mkdir()
    expected = {}
    for n in range(3):
        nbformat.write(answered(course, CH02), folder / f"full{n}.ipynb")
        expected[f"full{n}"] = 10.0
    nbformat.write(student_notebook(course, CH02), folder / "empty.ipynb")
    expected["empty"] = 0.0

    report = grade_assignment(course, CH02, folder, workers=2, progress=False)
    assert {r.student: r.score for r in report.results} == expected

    with open_gradebook(course) as gb:
        assert course.gradebook_url.startswith("postgresql")
        stored = {s.student_id: s.score for s in gb.find_assignment(CH02).submissions}
        assert stored == expected
        assert gb.find_submission(CH02, "full0").notebooks[0].max_score == 10

    # A second course object over the same database (e.g. another instructor's machine) sees them too.
    again = grade_assignment(Course(course.root, course.solutions, course.notebooks, postgres_url), CH02, folder,
                             workers=2, progress=False)
    assert again.reused == 4 and again.graded == 0
