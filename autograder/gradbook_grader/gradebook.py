"""nbgrader's gradebook (SQLite or PostgreSQL) as the batch layer uses it; only the parent process writes.

Grades are stored the way nbgrader's own autograder stores them (students, submissions,
one `Grade.auto_score` per graded cell), so nbgrader's formgrader and `nbgrader export`
see them too. A submission with integrity evidence (`Result.evidence`) gets nbgrader's
"flagged" set for the instructor; the grader never clears a flag (a person may have set it)
and never changes a score because of one.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

from gradbook_grader.course import COURSE_ID, Course, GraderError, ensure_tools_on_path
from gradbook_grader.submissions import TIMESTAMP_FORMAT

if TYPE_CHECKING:
    import nbformat
    from nbgrader.api import Gradebook

    from gradbook_grader.journal import Result


def open_gradebook(course: Course) -> "Gradebook":
    ensure_tools_on_path()  # a new gradebook runs `alembic` in a subprocess
    from nbgrader.api import Gradebook

    try:
        return Gradebook(course.gradebook_url, course_id=COURSE_ID)
    except Exception as exc:  # sqlalchemy's errors name the driver, not the fix
        raise GraderError(
            f"cannot open the gradebook {_redact(course.gradebook_url)}: {exc}. "
            "Check the --db URL (e.g. postgresql://user@host:5432/dbname) and that the server is running."
        ) from exc


def _redact(url: str) -> str:
    """A database URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return url


def graded_cells(source: "nbformat.NotebookNode") -> Iterator[tuple[str, float, str]]:
    """(grade_id, points, cell type) of every graded cell of an nbgrader source notebook."""
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            yield str(meta["grade_id"]), float(meta.get("points", 0)), str(cell.cell_type)


def register_assignment(gb: "Gradebook", assignment: str, source: "nbformat.NotebookNode") -> None:
    """Make sure the assignment, its notebook and its graded/solution cells exist (as `release` would).

    Grading must work on a fresh database too (e.g. a new PostgreSQL one), without a release first.
    """
    gb.update_or_create_assignment(assignment)
    gb.update_or_create_notebook(assignment, assignment)
    for grade_id, points, cell_type in graded_cells(source):
        gb.update_or_create_grade_cell(grade_id, assignment, assignment, max_score=points, cell_type=cell_type)
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            gb.update_or_create_solution_cell(str(meta["grade_id"]), assignment, assignment)


def store(gb: "Gradebook", result: "Result") -> None:
    """Write one submission's grades; re-storing the same result is harmless (idempotent)."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        # nbgrader's add_submission builds rows the way SQLAlchemy 2 warns about; harmless, not ours.
        warnings.simplefilter("ignore", SAWarning)
        _store(gb, result)


def _store(gb: "Gradebook", result: "Result") -> None:
    from nbgrader.api import MissingEntry

    gb.update_or_create_student(result.student)
    # A datetime (UTC), already checked: nbgrader's own parser overflows on odd strings.
    kwargs: dict[str, Any] = {"timestamp": datetime.strptime(result.timestamp, TIMESTAMP_FORMAT)} if result.timestamp else {}
    submission = gb.update_or_create_submission(result.assignment, result.student, **kwargs)
    notebook = result.assignment  # one notebook per assignment, named like it
    try:
        grades = {g.name: g for g in gb.find_submission_notebook(notebook, result.assignment, result.student).grades}
    except MissingEntry:
        grades = {}
    expected = {cell.name for nb in submission.assignment.notebooks for cell in nb.grade_cells}
    if set(grades) != expected:
        # The assignment gained graded cells since this submission was first stored: rebuild it.
        gb.remove_submission(result.assignment, result.student)
        gb.update_or_create_submission(result.assignment, result.student, **kwargs)
        grades = {g.name: g for g in gb.find_submission_notebook(notebook, result.assignment, result.student).grades}
    for name, grade in grades.items():
        cell = result.cells.get(name)
        grade.auto_score = cell.points if cell is not None else 0.0
        # nbgrader's rule: a grader's manual score wins and needs a look again.
        grade.needs_manual_grade = grade.manual_score is not None
    if result.evidence:
        gb.find_submission_notebook(notebook, result.assignment, result.student).flagged = True
    gb.db.commit()


def usable(gb: "Gradebook") -> bool:
    """After a failed store: is the database itself still there (then the failure was that row's)?"""
    from sqlalchemy import text

    try:
        gb.db.rollback()
        gb.db.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def rows(gb: "Gradebook") -> Iterator[dict[str, Any]]:
    """Every stored submission: student, assignment, score, max_score, flagged and points per graded cell."""
    for assignment in gb.assignments:
        for submission in assignment.submissions:
            row: dict[str, Any] = {
                "student": submission.student_id,
                "assignment": assignment.name,
                "score": submission.score,
                "max_score": submission.max_score,
                "flagged": any(notebook.flagged for notebook in submission.notebooks),
                "cells": {},
            }
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    row["cells"][grade.name] = grade.score
            yield row
