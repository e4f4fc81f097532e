"""What report, feedback, export and misconceptions show: nbgrader's gradebook, the one source of truth.

Scores (automatic, a person's, extra credit), comments, flags, timestamps, due dates, late
penalties, the roster (names, e-mail) and which cells await a person all come from the gradebook
that `--db` names, and only its submissions are shown. The grader's journal adds only what
nbgrader has no place for, and only to the grade it belongs to (same timestamp, same automatic
scores): why a submission was not graded, each test cell's verdict and the known mistake it names,
sandbox events, integrity evidence, notes. Submissions that no gradebook can hold (an unusable
folder name, a row the database refused) come from the journal alone, so every submission found
still has its row. The flagged pairs of `gradbook-grader similarity` (stored beside the gradebook)
are added to both students' evidence; they never change a score or nbgrader's flag.

Late penalties are brought up to date with the course's LateSubmissionPlugin before anything is
read (`late`), so a person's score given after grading is penalised like the automatic ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from gradbook_grader.course import Course
from gradbook_grader.journal import Result, journal, read_journal
from gradbook_grader.similarity import evidence as similarity_evidence
from gradbook_grader.submissions import TIMESTAMP_FORMAT, student_id_problem

if TYPE_CHECKING:
    from nbgrader.api import SubmittedAssignment


@dataclass
class CellScore:
    """One graded cell of one submission."""

    grade_id: str
    max_points: float
    auto: float | None = None  # the grader's score; None: a person's to give
    manual: float | None = None  # a person's score (the formgrader's), which wins
    extra_credit: float | None = None
    needs_manual: bool = False  # in the formgrader's "needs manual grade" queue
    written: bool = False  # a written answer, graded by a person
    comment: str = ""  # a person's comment, else nbgrader's automatic one ("No response.")
    verdict: str = ""  # the automatic verdict of a test cell (the journal's)
    passed: bool = False
    exercise: str | None = None  # the check a failing test cell failed
    mistake: int | None = None  # the known mistake its verdict names (index in the exercise's mistakes)
    unfinished: bool = False  # its answer was still the released stub (the journal's `CellGrade.unfinished`)

    @property
    def points(self) -> float:
        """nbgrader's `Grade.score`: the person's score if any, else the automatic one, plus extra credit."""
        base = self.manual if self.manual is not None else self.auto if self.auto is not None else 0.0
        return base + (self.extra_credit or 0.0)


@dataclass
class Graded:
    """One submission, as people are shown it."""

    student: str
    assignment: str
    cells: dict[str, CellScore]
    timestamp: datetime | None = None  # UTC, as nbgrader stores it
    duedate: datetime | None = None  # the student's, extension included
    seconds_late: float = 0.0
    penalty: float = 0.0  # the late-submission penalty
    flagged: bool = False
    stored: bool = True  # False: only the grader's journal has it (nbgrader's gradebook cannot hold it)
    result: Result | None = None  # the journal entry of this very grade, if there is one
    notes: list[str] = field(default_factory=list)  # what the reading itself noticed
    extension: float = 0.0  # seconds of the student's extension (`gradbook-grader extend`), in `duedate`
    similarity: list[str] = field(default_factory=list)  # flagged pairs of `gradbook-grader similarity` (no score)

    @property
    def raw_score(self) -> float:
        return sum(c.points for c in self.cells.values())

    @property
    def score(self) -> float:
        """The score after the late penalty (nbgrader's export: never below 0)."""
        return max(0.0, self.raw_score - self.penalty)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.cells.values())

    @property
    def awaiting(self) -> list[str]:
        """The cells that await a person (the formgrader's queue)."""
        return [c.grade_id for c in self.cells.values() if c.needs_manual]

    @property
    def error(self) -> str | None:
        return self.result.error if self.result else None

    @property
    def evidence(self) -> list[str]:
        return (self.result.evidence if self.result else []) + [f"similarity: {line}" for line in self.similarity]

    @property
    def all_notes(self) -> list[str]:
        return (self.result.shown_notes if self.result else []) + self.notes

    @classmethod
    def from_result(cls, result: Result) -> "Graded":
        """A journalled submission that no gradebook holds, as the journal has it."""
        cells = {c.grade_id: CellScore(c.grade_id, c.max_points, None if c.manual and not c.unanswered
                                       else c.points, written=c.manual, needs_manual=c.manual and not c.unanswered,
                                       verdict=c.message, passed=c.passed, exercise=c.exercise, mistake=c.mistake,
                                       unfinished=c.unfinished)
                 for c in result.cells.values()}
        stamp = datetime.strptime(result.timestamp, TIMESTAMP_FORMAT) if result.timestamp else None
        return cls(result.student, result.assignment, cells, stamp, flagged=bool(result.evidence),
                   stored=result.in_gradebook and not student_id_problem(result.student), result=result)



@dataclass
class Person:
    """A student of the gradebook's roster."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""


@dataclass
class Task:
    """An assignment of the gradebook."""

    name: str
    duedate: datetime | None
    max_score: float
    submissions: int  # how many the gradebook holds


@dataclass
class Snapshot:
    """The gradebook as report, feedback and export read it."""

    assignments: list[Task]
    students: list[Person]
    graded: list[Graded]


def read(course: Course, assignment: str | None = None, student: str | None = None) -> Snapshot:
    """The gradebook's submissions (of one assignment, of one student), penalties brought up to date,
    with their journal details; then the journal's submissions no gradebook holds."""
    from gradbook_grader import late
    from gradbook_grader.gradebook import open_gradebook

    plugin = late.plugin(course)
    with open_gradebook(course) as gb:
        graded = _stored(course, gb, plugin, assignment, student)
        tasks = [Task(a.name, a.duedate, float(a.max_score or 0), len(a.submissions)) for a in gb.assignments]
        people = [Person(s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "")
                  for s in gb.students]
    # What no gradebook holds: a row the database refused, a name no gradebook can hold.
    graded += [Graded.from_result(r) for r in journal(course, assignment)
               if (not r.in_gradebook or student_id_problem(r.student)) and student in (None, r.student)]
    _attach_similarity(course, graded)
    graded.sort(key=lambda g: (g.assignment, g.student))
    return Snapshot(sorted(tasks, key=lambda t: t.name), sorted(people, key=lambda p: p.id), graded)


def _attach_similarity(course: Course, graded: list[Graded]) -> None:
    """Each submission's flagged pairs from the stored similarity reports; a report of an earlier
    submission than the one graded says so."""
    pairs = similarity_evidence(course, {g.assignment for g in graded})
    for g in graded:
        for line, digest in pairs.get((g.student, g.assignment), []):
            stale = g.result is not None and g.result.digest and digest and g.result.digest != digest
            g.similarity.append(line + ("  (of an earlier submission: run `gradbook-grader similarity` again)"
                                        if stale else ""))


def _stored(course: Course, gb: Any, plugin: Any, assignment: str | None, student: str | None) -> list[Graded]:
    """The gradebook's submissions (of one assignment, of one student), their late penalties brought up to date."""
    from gradbook_grader import late

    wanted = [a for a in gb.assignments if assignment in (None, a.name)]
    submissions = [s for a in wanted for s in a.submissions if student in (None, s.student_id)]
    for submission in submissions:
        late.apply(plugin, submission)
    gb.db.commit()
    orders = {a.name: _cell_order(course, a.name) for a in wanted}  # each source read once, not per submission
    return [_graded(course, submission, orders[submission.assignment.name]) for submission in submissions]


def _graded(course: Course, submission: "SubmittedAssignment", order: dict[str, int]) -> Graded:
    """One stored submission; its journal entry attached if it is of this very grade."""
    cells: dict[str, CellScore] = {}
    flagged = False
    penalty = 0.0
    for notebook in submission.notebooks:
        written = {c.name for c in notebook.notebook.solution_cells}
        comments = {c.name: c.manual_comment or c.auto_comment or "" for c in notebook.comments}
        for grade in notebook.grades:
            cells[grade.name] = CellScore(
                grade.name, float(grade.max_score or 0), grade.auto_score, grade.manual_score, grade.extra_credit,
                bool(grade.needs_manual_grade), grade.name in written, comments.get(grade.name, ""))
        flagged |= bool(notebook.flagged)
        penalty += float(notebook.late_submission_penalty or 0.0)
    entry = Graded(submission.student_id, submission.assignment.name, cells, submission.timestamp,
                   submission.duedate, float(submission.total_seconds_late), penalty, flagged,
                   extension=submission.extension.total_seconds() if submission.extension else 0.0)
    result = read_journal(course, entry.student, entry.assignment)
    if result is not None and _same_grade(entry, result):
        entry.result = result
        for cell in result.cells.values():
            if cell.grade_id in cells:
                score = cells[cell.grade_id]
                score.verdict, score.passed, score.exercise, score.mistake, score.unfinished = (
                    cell.message, cell.passed, cell.exercise, cell.mistake, cell.unfinished)
    elif result is not None:
        entry.notes.append("the grader's journal holds another grading of this submission (another gradebook, or "
                           "an older run): its reasons are not shown; `gradbook-grader grade --force` grades it again")
    entry.cells = dict(sorted(cells.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))
    return entry


def _same_grade(entry: Graded, result: Result) -> bool:
    """Is the journal entry the grading this gradebook row holds? (Same timestamp, same automatic scores.)"""
    stamp = entry.timestamp.strftime(TIMESTAMP_FORMAT) if entry.timestamp else None
    if not result.in_gradebook or result.timestamp != stamp or set(result.cells) != set(entry.cells):
        return False
    return all(entry.cells[g].auto == c.points for g, c in result.cells.items() if not c.manual)


def _cell_order(course: Course, assignment: str) -> dict[str, int]:
    """Each graded cell's position in the assignment's source (empty if the source is gone: the
    gradebook's order then)."""
    import nbformat

    from gradbook_grader.gradebook import graded_cells

    try:
        order = [gid for gid, _, _ in graded_cells(nbformat.read(course.source(assignment), as_version=4))]
    except Exception:  # an assignment whose source is gone
        order = []
    return {gid: n for n, gid in enumerate(order)}


def as_graded(entries: Sequence[Graded | Result]) -> list[Graded]:
    """Journal results (as the batch reports them) and gradebook entries alike, as `Graded`."""
    return [e if isinstance(e, Graded) else Graded.from_result(e) for e in entries]
