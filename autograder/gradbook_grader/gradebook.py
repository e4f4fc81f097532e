"""nbgrader's gradebook (SQLite or PostgreSQL) as the batch layer uses it; only the parent process writes.

Grades are stored the way nbgrader's own autograder stores them (students, submissions with
their timestamps, one `Grade.auto_score` per graded cell), so nbgrader's formgrader and
`nbgrader export` see them too. A written answer (a graded Markdown solution cell) gets no
automatic score and needs a person, as in nbgrader: it enters the formgrader's "needs manual
grade" queue, unless the student left it as released ("No response.", 0 points). A person's
scores and comments are never overwritten; after a changed submission is graded, a cell a
person scored needs their look again (nbgrader's rule). A submission with integrity evidence
(`Result.evidence`) gets nbgrader's "flagged" set for the instructor; the grader never clears
a flag (a person may have set it) and never changes a score because of one.
"""

from __future__ import annotations

import time
import warnings
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator

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
    """Make sure the assignment, its notebook and its graded/solution cells exist (as `release` would:
    a written answer is both, so it has a grade and a comment).

    Grading must work on a fresh database too (e.g. a new PostgreSQL one), without a release first.
    """
    gb.update_or_create_assignment(assignment)
    gb.update_or_create_notebook(assignment, assignment)
    for grade_id, points, cell_type in graded_cells(source):
        gb.update_or_create_grade_cell(grade_id, assignment, assignment, max_score=points, cell_type=cell_type)
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            gb.update_or_create_solution_cell(str(meta["grade_id"]), assignment, assignment)


NO_RESPONSE = "No response."  # nbgrader's automatic comment on an answer left as released


def store(gb: "Gradebook", result: "Result", *, changed: bool = True) -> None:
    """Write one submission's grades; re-storing the same result is harmless (idempotent).

    `changed`: the submission is not the one this result was stored from before (a new or a
    resubmitted notebook), so what a person scored needs their look again.
    """
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        # nbgrader's add_submission builds rows the way SQLAlchemy 2 warns about; harmless, not ours.
        warnings.simplefilter("ignore", SAWarning)
        _store(gb, result, changed)


def _store(gb: "Gradebook", result: "Result", changed: bool) -> None:
    from nbgrader.api import MissingEntry

    gb.update_or_create_student(result.student)
    # A datetime (UTC), already checked: nbgrader's own parser overflows on odd strings.
    kwargs: dict[str, Any] = {"timestamp": datetime.strptime(result.timestamp, TIMESTAMP_FORMAT)} if result.timestamp else {}
    submission = gb.update_or_create_submission(result.assignment, result.student, **kwargs)
    notebook = result.assignment  # one notebook per assignment, named like it
    try:
        stored = gb.find_submission_notebook(notebook, result.assignment, result.student)
    except MissingEntry:
        stored = None
    if stored is None or _cells_changed(stored, submission.assignment.notebooks):
        # The assignment gained graded or answer cells since this submission was first stored: rebuild it.
        gb.remove_submission(result.assignment, result.student)
        gb.update_or_create_submission(result.assignment, result.student, **kwargs)
        stored = gb.find_submission_notebook(notebook, result.assignment, result.student)
    for grade in stored.grades:
        _score(grade, result.cells.get(grade.name), changed)
    for comment in stored.comments:
        cell = result.cells.get(comment.name)
        comment.auto_comment = NO_RESPONSE if cell is not None and cell.unanswered else None
    if result.evidence:
        stored.flagged = True
    gb.db.commit()


def _cells_changed(stored: Any, master: Any) -> bool:
    """Has the assignment gained or lost graded or answer cells since this submission was stored?"""
    return ({g.name for g in stored.grades}, {c.name for c in stored.comments}) != (
        {c.name for nb in master for c in nb.grade_cells}, {c.name for nb in master for c in nb.solution_cells})


def _score(grade: Any, cell: Any, changed: bool) -> None:
    """One of nbgrader's Grade rows from the cell's grade: its points, or a person's to give ("No response.": 0)."""
    written = cell is not None and cell.manual
    auto = (0.0 if cell.unanswered else None) if written else (cell.points if cell is not None else 0.0)
    fresh = grade.auto_score is None and grade.manual_score is None  # never stored, or a person's to score
    grade.auto_score = auto
    if changed or fresh:
        # nbgrader's rule: no automatic score, or a person's score of an older submission, needs a person.
        grade.needs_manual_grade = grade.manual_score is not None or auto is None


def rollback(gb: "Gradebook") -> None:
    """Roll back the open transaction and forget every object the session holds.

    SQLAlchemy's rollback expunges only the objects it still tracks as new in that transaction; one that was
    flushed, dropped and loaded again inside it (nbgrader's add_student, then its add_submission's
    find_student) stays in the identity map, expired, with no row behind it, for as long as a reference
    cycle keeps it alive: when the garbage collector runs decides whether the next row meets it
    (ObjectDeletedError). An empty session meets nothing: every row after a rollback is built from what the
    database holds."""
    try:
        gb.db.rollback()
    finally:
        gb.db.expunge_all()


def usable(gb: "Gradebook") -> bool:
    """After a failed store: is the database itself still there (then the failure was that row's)?"""
    from sqlalchemy import text

    try:
        rollback(gb)
        gb.db.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


class Transaction:
    """Rows written to nbgrader's gradebook and committed together: one transaction per `size` rows, or
    at the first row after `seconds` (and at `commit`), so the one writer keeps up with many workers.

    nbgrader's Gradebook commits after every row it touches: four to six transactions per submission,
    each a disk sync (~100 submissions a minute on PostgreSQL, issue 30). A row waits here, in memory, until
    its batch is due; then the batch's rows are written one after another, each flushed whole before the next
    (so a database's refusal is the row's own), and committed at once. No database transaction is open while
    the writer waits for graders: the rows of a batch never hold SQLite's write lock, or PostgreSQL's row
    locks, while a submission is being graded, so another writer of the same gradebook (a formgrader, an
    `extend`) is never locked out by an open batch, and nothing written sits uncommitted across an exit.
    `then(error)` runs once a row is committed (None) or has failed (the error): the journal entry that says
    "done" is written there, so a crash before a commit loses no row a journal entry acknowledged, and the
    rows it did lose are graded again by the next run. When a row fails, the transaction is rolled back, the
    session emptied (`rollback`) and the rows before it are written again, one commit each.
    """

    def __init__(self, gb: "Gradebook", size: int = 50, seconds: float = 0.5) -> None:
        self.gb, self.size, self.seconds = gb, size, seconds
        self._commit = gb.db.commit
        self._pending: list[tuple[Callable[[], None], Callable[[Exception | None], None]]] = []
        self._opened = 0.0
        gb.db.commit = gb.db.flush  # nbgrader's own commits inside a row

    def add(self, write: Callable[[], None], then: Callable[[Exception | None], None]) -> None:
        """Queue one row (`write` must be repeatable: a replay writes it again); `then` once it is committed."""
        if not self._pending:
            self._opened = time.monotonic()
        self._pending.append((write, then))
        if len(self._pending) >= self.size or time.monotonic() - self._opened >= self.seconds:
            self.commit()

    def commit(self) -> None:
        """Write the queued rows and commit them together; a row that fails costs that row alone."""
        pending, self._pending = self._pending, []
        written: list[tuple[Callable[[], None], Callable[[Exception | None], None]]] = []
        for write, then in pending:
            try:
                write()
                # The row's last changes (nbgrader does not flush `late.apply`'s) go to the database now: a
                # refusal is this row's, never the next row's, which would be left out of the gradebook for it.
                self.gb.db.flush()
            except Exception as error:  # noqa: BLE001 - that row's failure; the rows before it are written again
                self._rollback_and_replay(written)
                written = []
                then(error)
                continue
            written.append((write, then))
        if not written:
            return
        try:
            self._commit()
        except Exception:  # noqa: BLE001 - find the row that fails: each alone
            self._rollback_and_replay(written)
            return
        for _, then in written:
            then(None)

    def _rollback_and_replay(self, written: list[tuple[Callable[[], None], Callable[[Exception | None], None]]]) -> None:
        try:
            rollback(self.gb)
        except Exception:  # noqa: BLE001 - the database is gone: each row's replay says so to its `then`
            pass
        for write, then in written:
            try:
                write()
                self._commit()
            except Exception as error:  # noqa: BLE001
                rollback(self.gb)
                then(error)
            else:
                then(None)

    def close(self) -> None:
        """Commit what is pending and give nbgrader its own commits back."""
        try:
            self.commit()
        finally:
            del self.gb.db.commit
