"""Shared by the course-lifecycle tests: written answers, due dates and late-penalty configuration of a
scratch course, and nbgrader's own tools run as an instructor or a student would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nbformat

from gradbook_grader.course import Course
from gradbook_grader.gradebook import graded_cells, open_gradebook

BIN = Path(sys.executable).parent
WRITTEN = "why-broadcasting"  # the written answer added to a chapter that has none
MODEL = "Broadcasting repeats the smaller array along the missing axes without copying it."


def written_answer(grade_id: str, points: float, model: str) -> nbformat.NotebookNode:
    """An nbgrader "manually graded answer" cell, its model answer between the solution markers."""
    cell = nbformat.v4.new_markdown_cell(f"### BEGIN SOLUTION\n{model}\n### END SOLUTION")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": False, "points": points,
                                 "schema_version": 3, "solution": True}
    return cell


def add_written_answer(course: Course, assignment: str, points: float = 2.0) -> str:
    """Give the course's copy of `assignment` a written-answer question (at the end); its grade_id.

    A fake-graded course's cached manifest (points only) is refreshed to the new cells."""
    from gradbook_grader.manifests import save_manifest
    from gradbook_grader.types import Manifest

    path = course.source(assignment)
    if path.is_symlink():  # a course linked to the repository's solutions/: edit a copy
        nb = nbformat.read(path, as_version=4)
        path.unlink()
    else:
        nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("**Explain in words** (2 points): what does broadcasting do?"))
    nb.cells.append(written_answer(WRITTEN, points, MODEL))
    nbformat.write(nb, path)
    if course.manifest_path(assignment).exists():
        save_manifest(course, assignment, Manifest(points={g: p for g, p, _ in graded_cells(nb)}))
    return WRITTEN


def configure(course: Course, *lines: str) -> None:
    """Append configuration lines to the course's nbgrader_config.py."""
    with open(course.root / "nbgrader_config.py", "a", encoding="utf-8") as f:
        f.write("\n" + "\n".join(lines) + "\n")


def set_due(course: Course, assignment: str, when: datetime) -> None:
    """The assignment's due date (naive UTC), in the gradebook, as the formgrader sets it."""
    with open_gradebook(course) as gb:
        gb.update_or_create_assignment(assignment, duedate=when)


def received(course: Course, folder: Path, student: str, assignment: str, when: datetime) -> None:
    """The receipt the course's collect (`collect.ObservedCollect`) writes for `folder`, as if it had
    observed the submission reach the exchange at `when`."""
    from gradbook_grader.arrival import Receipt, observe, write_receipt

    digests = observe(folder, digests=True).digests
    write_receipt(course.root, Receipt(student, assignment, when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"),
                                       when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), f"{student}+{assignment}+x", digests))


def stamp(when: datetime) -> bytes:
    """A timestamp.txt as nbgrader's submit writes it."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC").encode()


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """A command of this venv (nbgrader, gradbook-grader), its output captured."""
    command = [str(BIN / args[0]), *args[1:]]
    return subprocess.run(command, cwd=cwd, env=env or dict(os.environ), capture_output=True, text=True, timeout=timeout)


def nbgrader_app(name: str, *argv: str) -> int:
    """An nbgrader app (`nbgrader.apps.<name>`) run in this process, as `nbgrader ...` runs it without the seconds
    a new one takes to start, in the current directory (the course); its exit status."""
    import nbgrader.apps

    app = getattr(nbgrader.apps, name)()
    app.initialize(list(argv))
    try:
        app.start()
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0
