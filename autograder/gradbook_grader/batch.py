"""Grade a whole class: one manifest per assignment, an executor's workers, one writer, resumable.

The orchestration only; each stage is another module's:

* the manifest (which checks each graded cell of the solution makes) is built once per assignment
  and cached by the source's digest (`manifests`);
* submissions are found and read here, in the parent (`submissions`: never followed, never
  blocking, size-capped), and each becomes a `jobs.Job`, keyed by the submission, the source and
  the manifest (`jobs.submission_key`), so a rerun after a crash skips what the journal has;
  `force=True` regrades. A worker gets the bytes, never a path, so it grades exactly what was hashed;
* an executor grades the jobs (`executors.Executor`): spawned worker processes here
  (`executors.LocalPool`), each importing the grading code once, or a Dask cluster (`cluster.DaskEngine`);
* only this process writes (`writer.Writer`): graded notebooks, nbgrader's gradebook, the journal.

Every submission found gets a journal entry. One that cannot be read, that takes a worker
down with it, or whose grade cannot be written or stored gets an explicit reason (zero
points when it was not graded); every other submission is still graded. Only a gradebook
that stops working altogether stops the batch (nothing graded is lost; rerun).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Sequence

from gradbook_grader import arrival
from gradbook_grader.course import Course, GraderError, find_course
from gradbook_grader.executors import Executor, LocalPool
from gradbook_grader.jobs import BatchReport, Job, Work, sha256, submission_key
from gradbook_grader.journal import JOURNAL_NAME, Result, journal, read_journal
from gradbook_grader.manifests import load_manifest, save_manifest
from gradbook_grader.submissions import Loaded, Submission, discover, load
from gradbook_grader.types import Limits, Manifest, SubmissionGrade
from gradbook_grader.writer import Writer, unanswered_texts

__all__ = ["JOURNAL_NAME", "BatchReport", "Result", "Submission", "discover", "grade_assignment", "journal",
           "load_manifest", "read_journal", "save_manifest"]


def grade_assignment(
    course_root: Path | Course | None,
    assignment: str,
    submissions: Path | Sequence[Submission],
    *,
    workers: int = 2,
    db_url: str | None = None,
    limits: Limits | None = None,
    force: bool = False,
    progress: bool = True,
    grade: Callable[..., SubmissionGrade] | None = None,
    students: Collection[str] | None = None,
    engine: Executor | None = None,
) -> BatchReport:
    """Grade every submission of one assignment (only `students`' if given); store grades, graded
    notebooks and the journal.

    `grade` replaces `execute.grade_submission` in the workers (a module-level function, for tests).
    `engine` grades the submissions elsewhere (`cluster.DaskEngine`: a Dask cluster) instead of in
    `workers` local processes; everything else (journal, writer, gradebook) stays here.
    """
    started = time.perf_counter()
    course = _course(course_root, db_url)
    if workers < 1:
        raise GraderError(f"workers must be at least 1 (got {workers}).")
    limits = limits or Limits()
    report = BatchReport(assignment)
    found = _found(course, assignment, submissions, students, report)
    batch = _Batch.prepare(course, assignment, limits, grade)
    pool = LocalPool(min(workers, len(found))) if engine is None else None
    if pool is not None and found:
        pool.start(batch.work)  # its workers start while this process opens the gradebook and reads the journal
    try:
        batch.grade(found, engine or pool, report, force, progress)
    finally:
        if pool is not None:
            pool.close()
    report.results.sort(key=lambda r: r.student)
    report.seconds = time.perf_counter() - started
    return report


def _course(course_root: Path | Course | None, db_url: str | None) -> Course:
    course = course_root if isinstance(course_root, Course) else find_course(course_root, db_url or "")
    return Course(course.root, course.solutions, course.notebooks, db_url) if db_url else course


def _found(course: Course, assignment: str, submissions: Path | Sequence[Submission],
           students: Collection[str] | None, report: BatchReport) -> list[Submission]:
    """The submissions of `assignment` (of `students`, if given); a folder's entries that are none go to the report."""
    if isinstance(submissions, Path):
        found, report.skipped = discover(submissions, assignment, course.assignments, students)
        return found
    return [s for s in submissions if s.assignment == assignment and (students is None or s.student in students)]


@dataclass
class _Batch:
    """One assignment's batch: its source, manifest, keys and rules; each submission a job, reused or graded."""

    course: Course
    assignment: str
    limits: Limits
    source: Any  # the instructor's source notebook
    source_digest: str
    manifest: Manifest
    work: Work  # what every worker gets
    late_plugin: Any  # the course's LateSubmissionPlugin
    lateness: Any  # arrival.Lateness: how arrival is dated
    secret: bytes  # the course secret: read here only, the workers get each submission's seed
    unanswered: dict[str, set[str]]  # a written answer still as released is none

    @classmethod
    def prepare(cls, course: Course, assignment: str, limits: Limits,
                grade: Callable[..., SubmissionGrade] | None) -> "_Batch":
        import nbformat

        from gradbook_grader import late
        from gradbook_grader.secret import course_secret

        source_bytes = course.source(assignment).read_bytes()
        source = nbformat.reads(source_bytes.decode("utf-8"), as_version=4)
        manifest = load_manifest(course, assignment, limits)
        work = Work(nbformat.writes(source), manifest.to_json(), limits, grade)
        late_plugin = late.plugin(course)  # a broken plugin is said before anything is graded
        return cls(course, assignment, limits, source, sha256(source_bytes), manifest, work, late_plugin,
                   arrival.rules(course), course_secret(course), unanswered_texts(course, source))

    def grade(self, found: list[Submission], executor: Executor, report: BatchReport, force: bool,
              progress: bool) -> None:
        from tqdm import tqdm

        from gradbook_grader.gradebook import open_gradebook, register_assignment

        gb = open_gradebook(self.course)
        try:
            register_assignment(gb, self.assignment, self.source)
            bar = tqdm(total=len(found), desc=f"grading {self.assignment}", unit="submission", disable=not progress)
            writer = Writer(self.course, gb, self.source, self.manifest, report, bar.update, self.late_plugin,
                            self.unanswered)
            jobs = [job for s in found if (job := self.job(s, writer, force)) is not None]
            if jobs:
                executor.run(jobs, self.work, writer.on_grade, writer.on_error)
            writer.transaction.close()  # the last rows committed and journalled
            bar.close()
        finally:
            gb.close()

    def job(self, submission: Submission, writer: Writer, force: bool) -> Job | None:
        """The job that grades `submission`, or None when its grade is settled without one (the journal's
        result, unchanged; a submission that could not be read)."""
        from gradbook_grader.secret import hidden_seed

        loaded = load(submission)
        arrival.date(self.course, submission, loaded, self.lateness)  # observed arrival, not the student's timestamp.txt
        # Keyed by what was submitted (timestamp.txt included); its date is refreshed on reuse, never regraded for.
        key = submission_key(loaded.data, self.source_digest, self.manifest, self.limits, loaded.problem,
                             loaded.claimed)
        kept = Loaded(None, loaded.problem, loaded.timestamp, loaded.notes, secret=loaded.secret,
                      claimed=loaded.claimed, lateness=loaded.lateness, dating=loaded.dating)
        job = Job(submission, key, kept, sha256(loaded.data) if loaded.data is not None else "",
                  seed=hidden_seed(self.secret, key))
        previous = read_journal(self.course, submission.student, self.assignment)
        job.changed = previous is None or (previous.digest, previous.claimed) != (job.digest, loaded.claimed)
        writer.side_files(job)
        if not force and previous is not None and previous.key == job.key and not previous.transient:
            writer.reuse(previous, job.loaded)
        elif loaded.data is None:
            writer.finish(job, None, loaded.problem or "not graded", loaded.transient)
        else:
            return job
        return None
