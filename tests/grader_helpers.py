"""Shared by the grader tests: a scratch course released from the repository's solutions/, and submissions."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Sequence

import nbformat

from gradbook_grader.course import Course, release
from run_helpers import mistakes_proved_once

ROOT = Path(__file__).resolve().parents[1]
CH02 = "02-tensor-operations"
_SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


def scratch_course(tmp: Path, db_url: str | None = None, assignments: Sequence[str] | None = (CH02,)) -> Course:
    """A course in `tmp` (its own gradebook, journal and notebooks) over the repository's solutions/, with
    `assignments` released (None: every chapter): the chapters its tests grade. Chapter 2 unless told: a full release
    generates every chapter (a minute or more on a busy machine) for notebooks a test of one chapter never reads."""
    (tmp / "autograder").mkdir(parents=True)
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
    (tmp / "solutions").symlink_to(ROOT / "solutions")  # the layout `--course tmp/autograder` expects
    course = Course(tmp / "autograder", tmp / "solutions", tmp / "notebooks", db_url or f"sqlite:///{tmp / 'gradebook.db'}")
    with mistakes_proved_once():  # the repository's checks: their mistakes proved once a run (run_helpers)
        release(course, None if assignments is None else list(assignments))
    return course


def student_notebook(course: Course, assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(course.notebooks / f"{assignment}.ipynb", as_version=4)


def answered(course: Course, assignment: str, answers: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The student notebook with every solution cell answered as the solution does (markers removed),
    except those in `answers` (grade_id -> the student's cell source)."""
    solution = nbformat.read(course.source(assignment), as_version=4)
    model = {c.metadata.nbgrader.grade_id: c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = student_notebook(course, assignment)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = (answers or {}).get(grade_id, _SOLUTION.sub("", model[grade_id]))
    return nb


def submit(folder: Path, student: str, assignment: str, content: nbformat.NotebookNode | bytes | str) -> Path:
    """Lay a submission out as nbgrader's submitted/<student>/<assignment>/<assignment>.ipynb."""
    path = folder / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        nbformat.write(content, path)
    return path


def crashing_task(path: str, seed: int) -> str:
    """A stand-in for grading, run in the batch's worker processes: a path containing
    "crash" takes the whole worker process down, as an interpreter crash would."""
    import os

    if "crash" in path:
        os._exit(70)
    if "bug" in path:
        raise RuntimeError("grader bug")
    return f"graded {Path(path).name}"
