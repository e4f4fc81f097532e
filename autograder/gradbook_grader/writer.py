"""The one writer of a batch (the process that submitted it): every stage of a submission after its grade.

Only this process writes: the graded notebook (made safe to render, `sanitize`), nbgrader's
timestamp.txt and submission_secret.txt beside it (for `nbgrader release_feedback`), the gradebook
rows (flagged where there is integrity evidence, late penalties from the course's
LateSubmissionPlugin) and, last, the journal entry `autograded/<student>/<assignment>/gradbook-result.json`,
written atomically (the entry means "done"). A grade from any executor is checked here as untrusted
data: the points are the manifest's, or none; a written answer left as released is "No response."
(nbgrader's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from gradbook_grader.course import Course, GraderError, released_answers
from gradbook_grader.files import write_atomic
from gradbook_grader.jobs import BatchReport, Job
from gradbook_grader.journal import Result, write_journal
from gradbook_grader.nbcells import grade_id, stub_solution
from gradbook_grader.submissions import Loaded
from gradbook_grader.text import printable, scrub
from gradbook_grader.translate import placeholder_variants
from gradbook_grader.types import CellGrade, Manifest, SubmissionGrade

MAX_LINES = 200  # events, integrity lines kept per submission
MAX_LINE = 2000  # characters per line


# Rows per gradebook commit (gradebook.Transaction; 1: every row alone). Batching stores more submissions a
# minute on PostgreSQL (one disk sync per commit). A batch's rows wait in memory and are written and committed
# together when it is due, so no transaction stays open while graders work (tests/test_writer.py: forced
# boundaries, refused rows, a crash mid-batch, another writer during a waiting batch).
ROWS_PER_COMMIT = 50


@dataclass
class Writer:
    """The one writer (this process): every stage of a submission after its grade, each guarded.

    What fails for one submission (its grade does not hold together, its graded notebook or
    its journal entry cannot be written, the gradebook refuses its row) becomes that
    submission's error or note; only a gradebook that stops working stops the batch.
    """

    course: Course
    gb: Any  # nbgrader's Gradebook
    source: Any  # the source notebook
    manifest: Manifest
    report: BatchReport
    progress: Callable[[], Any]
    late: Any  # the course's late-submission plugin (nbgrader's BasePlugin)
    unanswered: dict[str, set[str]]  # written answer's grade_id -> the texts that mean "no answer"
    transaction: Any = None  # gradebook.Transaction: rows committed together, journalled once committed

    def __post_init__(self) -> None:
        from gradbook_grader.gradebook import Transaction

        self.transaction = Transaction(self.gb, size=ROWS_PER_COMMIT)

    def on_grade(self, job: Job, graded: SubmissionGrade) -> None:
        self.finish(job, graded, "", False)

    def on_error(self, job: Job, message: str) -> None:
        self.finish(job, None, message, True)

    def finish(self, job: Job, graded: SubmissionGrade | None, message: str, transient: bool) -> None:
        from gradbook_grader.gradebook import graded_cells
        from gradbook_grader.sanitize import safe_json
        from gradbook_grader.submissions import student_id_problem

        result = None
        if graded is not None:
            try:
                result = _result(job, graded, self.manifest, self.unanswered)
            except Exception as exc:  # the execution side's answer does not hold together
                graded, transient = None, True
                message = f"internal grader error: the grade could not be read ({type(exc).__name__}: {exc})"
        result = result or _error_result(job, message, self.manifest, transient)
        result.in_gradebook = student_id_problem(result.student) is None
        rank = {grade_id: n for n, (grade_id, _, _) in enumerate(graded_cells(self.source))}
        result.cells = dict(sorted(result.cells.items(), key=lambda item: rank.get(item[0], len(rank))))
        name = f"{result.assignment}.ipynb"
        target = self.course.autograded(result.student, result.assignment) / name
        try:
            if graded is not None:
                write_atomic(target, safe_json(graded.notebook, self.source))
                result.notebook = name
            else:  # no graded notebook of an older run may stand beside this result
                target.unlink(missing_ok=True)
        except Exception as exc:
            result.notes.append(f"the graded notebook could not be written ({_why(exc)})")
        self.store(result, job.changed, lambda: self.journal(result))
        self.report.graded += 1

    def side_files(self, job: Job) -> None:
        """nbgrader's timestamp.txt and submission_secret.txt beside the graded notebook, as its autograde
        copies them: `nbgrader release_feedback` needs them to name the feedback the student fetches."""
        folder = self.course.autograded(job.submission.student, job.submission.assignment)
        try:
            for name, text in (("timestamp.txt", job.loaded.timestamp), ("submission_secret.txt", job.loaded.secret)):
                if text is not None:
                    write_atomic(folder / name, text)
                else:
                    (folder / name).unlink(missing_ok=True)
        except Exception as exc:
            job.loaded.notes.append(f"nbgrader's timestamp.txt and submission_secret.txt could not be written "
                                    f"beside the graded notebook ({_why(exc)}): feedback cannot be released")

    def reuse(self, previous: Result, loaded: Loaded) -> None:
        """An unchanged submission's journalled result: stored again (cheap, and fills a new --db too), dated
        as it is now (a collect receipt since, a new copy in submitted/: `arrival`)."""
        dated = (loaded.timestamp, loaded.claimed, loaded.lateness, loaded.dating)
        redated = dated != (previous.timestamp, previous.claimed, previous.lateness, previous.dating)
        if redated:
            previous.timestamp, previous.claimed = loaded.timestamp, loaded.claimed
            previous.lateness, previous.dating = list(loaded.lateness), list(loaded.dating)
        def stored() -> None:
            if previous.transient or redated:  # the store failed this time (the next run retries), or a new date
                self.journal(previous)
            else:
                self.report.results.append(previous)
                self.progress()

        self.store(previous, False, stored)
        self.report.reused += 1

    def store(self, result: Result, changed: bool, then: Callable[[], None]) -> None:
        """Store the row and its late penalty in the open transaction; `then` once it is committed (the journal
        entry: "done"). A failure of this row alone is noted on it, a database gone stops the batch."""
        from gradbook_grader.gradebook import store
        from gradbook_grader.late import apply

        if not result.in_gradebook:
            then()
            return

        def write() -> None:
            store(self.gb, result, changed=changed)
            apply(self.late, self.gb.find_submission(result.assignment, result.student))

        def stored(error: Exception | None) -> None:
            if error is not None:
                self.refused(result, error)
            then()

        self.transaction.add(write, stored)

    def refused(self, result: Result, error: Exception) -> None:
        """The gradebook refused this row: noted on it (the next run tries again), unless every row would fail
        alike (the course's late-submission plugin, a database gone): then the batch stops, nothing lost."""
        from gradbook_grader.gradebook import usable

        if isinstance(error, GraderError):
            raise error
        if not usable(self.gb):
            raise GraderError(
                f"could not store the grades of {printable(result.student)} in the gradebook: {_why(error)}. "
                "What was graded before is in the journal; fix the database and run the same command again "
                "(finished submissions are not graded twice)."
            ) from error
        result.in_gradebook, result.transient = False, True
        result.notes.append(f"not stored in nbgrader's gradebook ({_why(error)}); the next run tries again")

    def journal(self, result: Result) -> None:
        try:
            write_journal(self.course, result)  # last: the entry means "done"
        except Exception as exc:
            result.notes.append(f"the journal entry could not be written ({_why(exc)}); the next run grades this again")
        self.report.results.append(result)
        self.progress()


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {printable(str(exc))[:300]}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _lines(values: Any) -> list[str]:
    """Untrusted text lines (events, evidence) as a bounded list of scrubbed strings."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"expected a list of lines, got {type(values).__name__}")
    lines = [scrub(v if isinstance(v, str) else repr(v))[:MAX_LINE] for v in values[:MAX_LINES]]
    return lines + ([f"... and {len(values) - MAX_LINES} more"] if len(values) > MAX_LINES else [])


def _cell(grade_id: str, max_points: float, cell: Any, manifest: Manifest) -> CellGrade:
    """A cell's grade as the execution side gave it, checked: the points are the manifest's, or none; the
    check a failing cell failed and the known mistake its verdict named, as the judge found them (typed,
    never read back from the message), if they are the cell's."""
    if not isinstance(cell, CellGrade):
        raise TypeError(f"the grade of {grade_id} is a {type(cell).__name__}")
    points = float(cell.points)
    if not 0.0 <= points <= max_points:  # NaN included
        raise ValueError(f"{grade_id} scored {points!r} of {max_points:g}")
    message = scrub(cell.message if isinstance(cell.message, str) else repr(cell.message))
    asked = {q.exercise for q in manifest.expected.get(grade_id, [])}
    exercise = cell.exercise if not cell.passed and cell.exercise in asked else None
    mistake = cell.mistake if exercise is not None and type(cell.mistake) is int and cell.mistake >= 0 else None
    unfinished = exercise is not None and cell.unfinished is True
    return CellGrade(grade_id, points, max_points, bool(cell.passed), message, exercise=exercise, mistake=mistake,
                     unfinished=unfinished)


def _written(grade_id: str, max_points: float, notebook: Any, unanswered: set[str]) -> CellGrade:
    """A written answer: a person scores it, unless it is still as released (nbgrader: "No response.", 0)."""
    from gradbook_grader.gradebook import NO_RESPONSE

    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    texts = [c.get("source") for c in cells or [] if isinstance(c, dict) and grade_id == _grade_id(c)]
    text = "".join(texts[0]) if texts and isinstance(texts[0], list) else texts[0] if texts else ""
    answered = isinstance(text, str) and _norm(text) not in unanswered
    return CellGrade(grade_id, 0.0, max_points, False, "to be graded by hand" if answered else NO_RESPONSE, manual=True,
                     unanswered=not answered)


def _grade_id(cell: dict) -> str | None:
    try:
        return grade_id(cell)
    except Exception:  # an untrusted notebook's odd metadata
        return None


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in str(text).strip().splitlines())


def unanswered_texts(course: Course, source: Any) -> dict[str, set[str]]:
    """Per written answer, the texts that mean "no answer": as released (in any language), the stub of a lost
    cell, nothing."""
    def source_text(gid: str) -> str:
        return next((c.source for c in source.cells if grade_id(c) == gid), "")

    return {gid: {*map(_norm, placeholder_variants(text)), _norm(stub_solution(source_text(gid))), ""}
            for gid, text in released_answers(course, source).items()}


def _result(job: Job, graded: SubmissionGrade, manifest: Manifest, unanswered: dict[str, set[str]]) -> Result:
    error = graded.error if graded.error is None else scrub(str(graded.error))
    cells = {}
    for grade_id, max_points in manifest.points.items():  # every graded cell has a row, even after a crash
        cell = graded.cells.get(grade_id) if isinstance(graded.cells, dict) else None
        if grade_id in unanswered:
            cells[grade_id] = _written(grade_id, float(max_points), graded.notebook if error is None else {},
                                       unanswered[grade_id])
            continue
        cells[grade_id] = (CellGrade(grade_id, 0.0, float(max_points), False, error or "not graded") if cell is None
                           else _cell(grade_id, float(max_points), cell, manifest))
    return Result(
        student=job.submission.student,
        assignment=job.submission.assignment,
        key=job.key,
        graded_at=_now(),
        score=sum(c.points for c in cells.values()),
        max_score=sum(c.max_points for c in cells.values()),
        cells=cells,
        events=_lines(graded.events),
        error=error,
        sandboxed=bool(graded.sandboxed),
        submission=str(job.submission.path),
        timestamp=job.loaded.timestamp,
        claimed=job.loaded.claimed,
        lateness=list(job.loaded.lateness),
        dating=list(job.loaded.dating),
        integrity=_lines(getattr(graded, "integrity", [])),
        notes=list(job.loaded.notes),
        digest=job.digest,
    )


def _error_result(job: Job, message: str, manifest: Manifest, transient: bool) -> Result:
    message = scrub(message)
    cells = {g: CellGrade(g, 0.0, float(p), False, message) for g, p in manifest.points.items()}
    return Result(
        student=job.submission.student,
        assignment=job.submission.assignment,
        key=job.key,
        graded_at=_now(),
        score=0.0,
        max_score=sum(c.max_points for c in cells.values()),
        cells=cells,
        events=[],
        error=message,
        sandboxed=False,
        submission=str(job.submission.path),
        timestamp=job.loaded.timestamp,
        claimed=job.loaded.claimed,
        lateness=list(job.loaded.lateness),
        dating=list(job.loaded.dating),
        transient=transient,
        notes=list(job.loaded.notes),
        digest=job.digest,
    )
