"""Grades out of nbgrader's gradebook, for people and for learning-management systems (CSV).

Every format reads the gradebook through `grades` (a person's scores, late penalties and the
roster included) and covers the assignments asked for, by default every assignment that has a
submission or whose due date has passed (a course released at once must not send zeros for
chapters not yet set).

* `long`: nbgrader's own `nbgrader export` table, column for column (one row per student and
  assignment; a missing submission is 0), then the grader's columns: status
  (submitted/missing/not in the gradebook), lateness, the cells awaiting a person, flags,
  errors, integrity evidence, notes. A submission no gradebook can hold has its row too.
* `cells`: one row per student, assignment and graded cell (the cells of different chapters
  never share a column).
* `canvas`: Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then
  one column per assignment, a "Points Possible" second row, and a Notes column saying which
  submissions are missing or late and their penalties.
* `moodle`: Moodle's CSV grade import: a user-identifier column (Username, and Email address),
  one column per assignment and a "<assignment> feedback" column beside each (missing, late,
  the penalty), to be mapped to the grade item and its feedback when importing.

docs/lifecycle.md says how each LMS matches the columns. Every text a student controls is
escaped for spreadsheets (`text.csv_cell`).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from gradbook_grader.course import Course, GraderError
from gradbook_grader.files import write_atomic
from gradbook_grader.grades import Graded, Person, Snapshot, Task, read
from gradbook_grader.late import describe, extension_text
from gradbook_grader.text import csv_cell

NBGRADER = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
            "late_submission_penalty", "score", "max_score"]  # nbgrader's CsvExportPlugin, in its order
LONG = NBGRADER + ["status", "seconds_late", "needs_manual_grade", "flagged", "error", "evidence", "notes"]
CELLS = ["assignment", "student_id", "cell", "kind", "auto_score", "manual_score", "extra_credit", "score",
         "max_score", "needs_manual_grade", "comment", "mistake"]
CANVAS_ID = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MISSING, NOT_STORED = "missing", "not in the gradebook"


def _n(value: float) -> str:
    return f"{value:g}"


def _when(value: datetime | None) -> str:
    return "" if value is None else str(value)  # as nbgrader's export writes it


def _status(entry: Graded | None) -> str:
    return MISSING if entry is None else "submitted" if entry.stored else NOT_STORED


def scope(snapshot: Snapshot, assignments: Sequence[str] | None) -> list[Task]:
    """The assignments to export: those asked for, else those with a submission or a due date past."""
    known = {t.name: t for t in snapshot.assignments}
    for entry in snapshot.graded:  # an assignment only the journal has (its rows could not be stored)
        known.setdefault(entry.assignment, Task(entry.assignment, None, entry.max_score, 0))
    if assignments:
        unknown = sorted(set(assignments) - set(known))
        if unknown:
            raise GraderError(f"no assignment {', '.join(unknown)} in the gradebook (it has: {', '.join(known) or 'none'}).")
        return [known[a] for a in sorted(set(assignments))]
    now = datetime.now(timezone.utc).replace(tzinfo=None)  # nbgrader's due dates are naive UTC
    graded = {e.assignment for e in snapshot.graded}
    return [t for t in known.values() if t.name in graded or (t.duedate is not None and t.duedate < now)]


def _table(snapshot: Snapshot, tasks: list[Task]) -> dict[tuple[str, str], Graded]:
    return {(e.student, e.assignment): e for e in snapshot.graded if e.assignment in {t.name for t in tasks}}


def _long(snapshot: Snapshot, tasks: list[Task]) -> tuple[list[str], list[list[str]]]:
    table = _table(snapshot, tasks)
    people = {p.id: p for p in snapshot.students}
    rows = []
    for task in sorted(tasks, key=lambda t: t.name):
        ids = sorted(set(people) | {s for s, a in table if a == task.name})
        for student in ids:
            entry = table.get((student, task.name))
            person = people.get(student, Person(student))
            score = [_n(entry.raw_score), _n(entry.penalty), _n(entry.score), _n(entry.max_score)] if entry else \
                ["0", "0", "0", _n(task.max_score)]
            rows.append([
                csv_cell(task.name), _when(task.duedate),
                _when(entry.timestamp if entry else None), csv_cell(student), csv_cell(person.last_name),
                csv_cell(person.first_name), csv_cell(person.email), *score,
                _status(entry), _n(entry.seconds_late) if entry else "", csv_cell(" ".join(entry.awaiting) if entry else ""),
                "yes" if entry and entry.flagged else "", csv_cell(entry.error or "") if entry else "",
                csv_cell("\n".join(entry.evidence)) if entry else "", csv_cell("\n".join(entry.all_notes)) if entry else "",
            ])
    return LONG, rows


def _cells(snapshot: Snapshot, tasks: list[Task]) -> tuple[list[str], list[list[str]]]:
    from gradbook.checks import load_all

    registry = load_all()
    rows = []
    for (student, assignment), entry in sorted(_table(snapshot, tasks).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        for c in entry.cells.values():
            exercise = registry.get(c.exercise or "")
            hint = exercise.mistakes[c.mistake].hint if exercise and c.mistake is not None else ""
            rows.append([csv_cell(assignment), csv_cell(student), csv_cell(c.grade_id), "written" if c.written else "test",
                         "" if c.auto is None else _n(c.auto), "" if c.manual is None else _n(c.manual),
                         "" if c.extra_credit is None else _n(c.extra_credit), _n(c.points), _n(c.max_points),
                         "yes" if c.needs_manual else "", csv_cell(c.comment), csv_cell(hint)])
    return CELLS, rows


def _remark(entry: Graded | None) -> str:
    """What a student and an LMS should know of a score beyond its number (missing, late and the penalty)."""
    if entry is None:
        return "missing: 0"
    extended = extension_text(entry.extension, entry.duedate)
    if entry.seconds_late <= 0:
        return extended
    return ", ".join(x for x in (describe(entry.seconds_late), f"penalty {entry.penalty:g}" if entry.penalty else "",
                                 extended) if x)


def _wide(snapshot: Snapshot, tasks: list[Task]) -> list[tuple[Person, list[tuple[Task, Graded | None]]]]:
    """One row per student of the roster (stored submissions only: an LMS matches people), one entry per task."""
    table = _table(snapshot, tasks)
    return [(p, [(t, table.get((p.id, t.name))) for t in tasks]) for p in snapshot.students]


def _canvas(snapshot: Snapshot, tasks: list[Task]) -> tuple[list[str], list[list[str]]]:
    header = CANVAS_ID + [csv_cell(t.name) for t in tasks] + ["Notes"]
    rows = [["Points Possible", "", "", "", "", *[_n(t.max_score) for t in tasks], ""]]
    for person, entries in _wide(snapshot, tasks):
        name = ", ".join(n for n in (person.last_name, person.first_name) if n) or person.id
        notes = "; ".join(f"{t.name}: {_remark(e)}" for t, e in entries if _remark(e))
        rows.append([csv_cell(name), "", csv_cell(person.lms_user_id), csv_cell(person.id), "",
                     *[_n(e.score) if e else "0" for _, e in entries], csv_cell(notes)])
    return header, rows


def _moodle(snapshot: Snapshot, tasks: list[Task]) -> tuple[list[str], list[list[str]]]:
    header = ["Username", "Email address"] + [csv_cell(c) for t in tasks for c in (t.name, f"{t.name} feedback")]
    rows = []
    for person, entries in _wide(snapshot, tasks):
        rows.append([csv_cell(person.id), csv_cell(person.email),
                     *[x for _, e in entries for x in (_n(e.score) if e else "0", csv_cell(_remark(e)))]])
    return header, rows


FORMATS: dict[str, Callable[[Snapshot, list[Task]], tuple[list[str], list[list[str]]]]] = {
    "long": _long, "cells": _cells, "canvas": _canvas, "moodle": _moodle}


def export_csv(course: Course, target: Path, fmt: str = "long", assignments: Sequence[str] | None = None) -> int:
    """Write the gradebook as `fmt` (see the module) to `target`; the number of rows below the header."""
    if fmt not in FORMATS:
        raise GraderError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}.")
    snapshot = read(course)
    header, rows = FORMATS[fmt](snapshot, scope(snapshot, assignments))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_atomic(target, buffer.getvalue())
    return len(rows)
