"""CSV export: one row per submission found, the points of every graded cell, errors and flags."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from gradbook_grader.course import Course
from gradbook_grader.files import write_atomic
from gradbook_grader.gradebook import graded_cells, open_gradebook, rows
from gradbook_grader.journal import Result, journal
from gradbook_grader.text import csv_cell

FIXED = ["student", "assignment", "score", "max_score", "error", "flagged", "evidence", "notes"]


def export_csv(course: Course, target: Path) -> int:
    """Write the CSV (columns: FIXED, then one per graded cell). Returns the number of rows.

    The grades come from nbgrader's gradebook, the source of truth (a grader's manual score
    and a person's flag included); error, evidence and notes from the grader's journal. A
    submission the gradebook cannot hold (e.g. its folder name is no usable student id) has its
    row from the journal, so every submission found appears. Text a student controls is
    escaped (no control characters, never a formula).
    """
    import nbformat

    results = {(r.student, r.assignment): r for r in journal(course)}
    with open_gradebook(course) as gb:
        data = list(rows(gb))
    stored = {(r["student"], r["assignment"]) for r in data}
    # The journal is the course's, the gradebook may be another (--db): only rows no gradebook holds.
    data += [_row(r) for key, r in results.items() if key not in stored and not r.in_gradebook]
    data.sort(key=lambda r: (r["assignment"], r["student"]))
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
    writer = csv.DictWriter(buffer, fieldnames=FIXED + [csv_cell(c) for c in columns], lineterminator="\n")
    writer.writeheader()
    for r in data:
        result = results.get((r["student"], r["assignment"]))
        writer.writerow(
            {
                "student": csv_cell(r["student"]),
                "assignment": csv_cell(r["assignment"]),
                "score": f"{r['score']:g}",
                "max_score": f"{r['max_score']:g}",
                "error": csv_cell(result.error or "") if result else "",
                "flagged": "yes" if r["flagged"] else "",
                "evidence": csv_cell("\n".join(result.evidence)) if result else "",
                "notes": csv_cell("\n".join(result.notes)) if result else "",
                **{csv_cell(cell): f"{points:g}" for cell, points in r["cells"].items()},
            }
        )
    write_atomic(target, buffer.getvalue())
    return len(data)


def _row(result: Result) -> dict[str, Any]:
    """A journalled submission that is not in the gradebook, as `gradebook.rows` gives the others."""
    return {
        "student": result.student,
        "assignment": result.assignment,
        "score": result.score,
        "max_score": result.max_score,
        "flagged": bool(result.evidence),
        "cells": {c.grade_id: c.points for c in result.cells.values()},
    }
