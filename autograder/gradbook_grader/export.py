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
* `canvas`: Canvas's gradebook import, in the columns of Canvas's own gradebook export: Student,
  ID (the gradebook's `lms_user_id`, Canvas's user id), SIS User ID (empty: nbgrader has none),
  SIS Login ID (nbgrader's student id), Section, then one "<name> (<Canvas assignment id>)"
  column per assignment, ids from the course's `GradbookExport.canvas_assignments` (Canvas
  matches the id, so a name that differs cannot create a new assignment), and a "Points
  Possible" second row.
* `moodle`: Moodle's "Import grades from CSV": one identity column (Username, Email address or
  ID number: `match`), then per assignment "<grade item> (Real)" and "<grade item> (Feedback)"
  (missing, late, the penalty), the grade item's name from `GradbookExport.moodle_items`
  (default: the assignment's name). Moodle's import maps such headers itself, identity included.

The course settings are nbgrader_config.py's `c.GradbookExport.*`; docs/lifecycle.md shows them
and a sample of each file. Every text a student controls is escaped for spreadsheets
(`text.csv_cell`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from gradbook_grader.course import Course, GraderError, nbgrader_config
from gradbook_grader.files import write_atomic
from gradbook_grader.grades import Graded, Person, Snapshot, Task, read
from gradbook_grader.late import describe, extension_text
from gradbook_grader.text import csv_cell

NBGRADER = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
            "late_submission_penalty", "score", "max_score"]  # nbgrader's CsvExportPlugin, in its order
LONG = NBGRADER + ["status", "seconds_late", "needs_manual_grade", "flagged", "error", "evidence", "notes"]
CELLS = ["assignment", "student_id", "cell", "kind", "auto_score", "manual_score", "extra_credit", "score",
         "max_score", "needs_manual_grade", "comment", "mistake"]
CANVAS_ID = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]  # Canvas's gradebook export, in its order
# Moodle's "Map from" is preset to the column whose header is the label of a "Map to" option (Moodle's
# grade_import_mapping_form); a grade column "<item> (Real)" and "<item> (Feedback)" are mapped to that item.
MOODLE_MATCH = {"username": "Username", "email": "Email address", "idnumber": "ID number"}
SETTINGS = "GradbookExport"  # nbgrader_config.py's section: c.GradbookExport.canvas_assignments = {...}
MISSING, NOT_STORED = "missing", "not in the gradebook"


@dataclass(frozen=True)
class LmsSettings:
    """What an LMS calls the course's assignments (nbgrader_config.py's `c.GradbookExport`) and, for Moodle,
    which identity column its import matches students on."""

    canvas_assignments: dict[str, int] = field(default_factory=dict)  # assignment -> Canvas assignment id
    moodle_items: dict[str, str] = field(default_factory=dict)  # assignment -> Moodle grade item's name
    match: str = "username"  # Moodle: username | email | idnumber

    @classmethod
    def of(cls, course: Course, match: str = "username") -> "LmsSettings":
        if match not in MOODLE_MATCH:
            raise GraderError(f"unknown Moodle match field {match!r}: one of {', '.join(MOODLE_MATCH)}.")
        section = nbgrader_config(course).get(SETTINGS, {})
        canvas, moodle = dict(section.get("canvas_assignments", {})), dict(section.get("moodle_items", {}))
        bad = [f"{a}: {i!r}" for a, i in canvas.items() if not str(i).strip().isdigit()]
        if bad:
            raise GraderError(f"c.{SETTINGS}.canvas_assignments in {course.root}/nbgrader_config.py must map each "
                              f"assignment to its Canvas assignment id (a number, the last part of the assignment's "
                              f"address in Canvas): {', '.join(bad)}.")
        return cls({a: int(str(i).strip()) for a, i in canvas.items()}, {a: str(n) for a, n in moodle.items()}, match)


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
        rows += [_long_row(task, student, table.get((student, task.name)), people.get(student, Person(student)))
                 for student in ids]
    return LONG, rows


def _long_row(task: Task, student: str, entry: Graded | None, person: Person) -> list[str]:
    """One student's row of one assignment (a submission's, or zeros where there is none)."""
    who = [csv_cell(student), csv_cell(person.last_name), csv_cell(person.first_name), csv_cell(person.email)]
    if entry is None:
        return [csv_cell(task.name), _when(task.duedate), _when(None), *who, "0", "0", "0", _n(task.max_score),
                _status(entry), "", csv_cell(""), "", "", "", ""]
    return [
        csv_cell(task.name), _when(task.duedate), _when(entry.timestamp), *who,
        _n(entry.raw_score), _n(entry.penalty), _n(entry.score), _n(entry.max_score),
        _status(entry), _n(entry.seconds_late), csv_cell(" ".join(entry.awaiting)),
        "yes" if entry.flagged else "", csv_cell(entry.error or ""),
        csv_cell("\n".join(entry.evidence)), csv_cell("\n".join(entry.all_notes)),
    ]


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


def _canvas(snapshot: Snapshot, tasks: list[Task], settings: LmsSettings) -> tuple[list[str], list[list[str]]]:
    unknown = [t.name for t in tasks if t.name not in settings.canvas_assignments]
    if unknown:
        raise GraderError(
            f"no Canvas assignment id for {', '.join(unknown)}: Canvas matches a column by the id in its header, and a "
            f"column without one creates a new assignment. Add them to nbgrader_config.py, e.g. "
            f"c.{SETTINGS}.canvas_assignments = {{{unknown[0]!r}: 4521}} (the id is the number at the end of the "
            "assignment's address in Canvas), or export only the mapped ones with --assignment.")
    header = CANVAS_ID + [csv_cell(f"{t.name} ({settings.canvas_assignments[t.name]})") for t in tasks]
    rows = [["Points Possible", "", "", "", "", *[_n(t.max_score) for t in tasks]]]
    for person, entries in _wide(snapshot, tasks):
        name = ", ".join(n for n in (person.last_name, person.first_name) if n) or person.id
        rows.append([csv_cell(name), csv_cell(person.lms_user_id), "", csv_cell(person.id), "",
                     *[_n(e.score) if e else "0" for _, e in entries]])
    return header, rows


def _moodle(snapshot: Snapshot, tasks: list[Task], settings: LmsSettings) -> tuple[list[str], list[list[str]]]:
    identity = {"username": lambda p: p.id, "email": lambda p: p.email, "idnumber": lambda p: p.lms_user_id}[settings.match]
    people = _wide(snapshot, tasks)
    # Moodle stops the whole import at the first row whose user it cannot find: no row without its identity.
    lacking = [p.id for p, _ in people if not identity(p).strip()]
    if lacking:
        source = {"email": "e-mail address", "idnumber": "lms_user_id (written as Moodle's ID number)"}[settings.match]
        raise GraderError(f"{len(lacking)} student(s) of the gradebook have no {source}: {', '.join(lacking[:10])}. Add it "
                          "to the roster (`nbgrader db student import students.csv`) or export with another --match.")
    items = [settings.moodle_items.get(t.name, t.name) for t in tasks]
    header = [MOODLE_MATCH[settings.match]] + [csv_cell(f"{i} ({kind})") for i in items for kind in ("Real", "Feedback")]
    rows = [[csv_cell(identity(person)), *[x for _, e in entries for x in (_n(e.score) if e else "0", csv_cell(_remark(e)))]]
            for person, entries in people]
    return header, rows


Table = tuple[list[str], list[list[str]]]
FORMATS: dict[str, Callable[[Snapshot, list[Task]], Table]] = {"long": _long, "cells": _cells}
LMS: dict[str, Callable[[Snapshot, list[Task], LmsSettings], Table]] = {"canvas": _canvas, "moodle": _moodle}


def export_csv(course: Course, target: Path, fmt: str = "long", assignments: Sequence[str] | None = None,
               match: str = "username") -> int:
    """Write the gradebook as `fmt` (see the module) to `target`; the number of rows below the header.
    `match`: the identity column of a Moodle file (username, email or idnumber)."""
    if fmt not in FORMATS and fmt not in LMS:
        raise GraderError(f"unknown export format {fmt!r}: one of {', '.join([*FORMATS, *LMS])}.")
    settings = LmsSettings.of(course, match) if fmt in LMS else None
    snapshot = read(course)
    tasks = scope(snapshot, assignments)
    header, rows = LMS[fmt](snapshot, tasks, settings) if settings else FORMATS[fmt](snapshot, tasks)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_atomic(target, buffer.getvalue())
    return len(rows)
