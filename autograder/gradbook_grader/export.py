"""CSV export of the gradebook: one row per submission, the points of every graded cell."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from gradbook_grader.batch import _write_atomic, journal
from gradbook_grader.course import Course
from gradbook_grader.gradebook import graded_cells, open_gradebook, rows

FIXED = ["student", "assignment", "score", "max_score", "error"]


def export_csv(course: Course, target: Path) -> int:
    """Write the CSV (columns: student, assignment, score, max_score, error, then one per graded cell).

    The grades come from nbgrader's gradebook, the source of truth (a grader's manual
    score included); `error` from the grader's journal. Returns the number of rows.
    """
    import nbformat

    errors = {(r.student, r.assignment): r.error or "" for r in journal(course)}
    with open_gradebook(course) as gb:
        data = sorted(rows(gb), key=lambda r: (r["assignment"], r["student"]))
    # Cell columns in notebook order, assignment by assignment.
    columns: list[str] = []
    for assignment in sorted({r["assignment"] for r in data}):
        try:
            order = [g for g, _, _ in graded_cells(nbformat.read(course.source(assignment), as_version=4))]
        except Exception:
            order = []
        seen = {c for r in data if r["assignment"] == assignment for c in r["cells"]}
        for cell in order + sorted(seen - set(order)):
            if cell in seen and cell not in columns:
                columns.append(cell)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIXED + columns, lineterminator="\n")
    writer.writeheader()
    for r in data:
        writer.writerow(
            {
                "student": r["student"],
                "assignment": r["assignment"],
                "score": f"{r['score']:g}",
                "max_score": f"{r['max_score']:g}",
                "error": errors.get((r["student"], r["assignment"]), ""),
                **{cell: f"{points:g}" for cell, points in r["cells"].items()},
            }
        )
    _write_atomic(target, buffer.getvalue())
    return len(data)
