"""Grade a whole class: one manifest per assignment, parallel workers, one writer, resumable.

* The manifest (which checks each graded cell of the solution makes) is built once per
  assignment and cached in `manifests/<assignment>.json`, keyed by the source's digest.
* Submissions are found and read here, in the parent (`submissions`: never followed, never
  blocking, size-capped); a worker gets the bytes, never a path, so it grades exactly what was
  hashed and reads nothing on the submission's behalf.
* Submissions are graded in spawned worker processes, each importing the grading code
  once (the fixed import costs stay out of the per-submission path).
* Only this (parent) process writes: the graded notebook (made safe to render, `sanitize`),
  nbgrader's timestamp.txt and submission_secret.txt beside it (for `nbgrader release_feedback`),
  the gradebook rows (flagged where there is integrity evidence, late penalties from the
  course's LateSubmissionPlugin) and, last, the journal entry
  `autograded/<student>/<assignment>/gradbook-result.json`, written atomically. The entry's
  key hashes the submission, the source and the manifest, so a rerun after a crash skips what
  is done; `force=True` regrades. The journal is the batch's resume log: what the grades are,
  report, feedback and export read from nbgrader's gradebook (`grades`).
* Outside the sandbox, a failing test cell's verdict is read for the known mistake it names
  (`misconceptions`), and a written answer left as released is "No response." (nbgrader's rule).
* Every submission found gets a journal entry. One that cannot be read, that takes a worker
  down with it, or whose grade cannot be written or stored gets an explicit reason (zero
  points when it was not graded); every other submission is still graded. Only a gradebook
  that stops working altogether stops the batch (nothing graded is lost; rerun).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Sequence

from gradbook_grader.arrival import ARRIVAL_NOTE
from gradbook_grader.course import Course, GraderError, find_course
from gradbook_grader.files import Refused, write_atomic
from gradbook_grader.journal import JOURNAL_NAME, Result, journal, read_journal, write_journal
from gradbook_grader.nbcells import grade_id, stub_solution
from gradbook_grader.submissions import Loaded, Submission, discover, load, read_notebook
from gradbook_grader.text import printable, scrub
from gradbook_grader.translate import placeholder_variants
from gradbook_grader.types import CellGrade, Limits, Manifest, SubmissionGrade

if TYPE_CHECKING:
    from gradbook_grader.cluster import DaskEngine

__all__ = ["JOURNAL_NAME", "BatchReport", "Result", "Submission", "discover", "grade_assignment", "journal",
           "load_manifest", "read_journal", "save_manifest"]

MAX_LINES = 200  # events, integrity lines kept per submission
MAX_LINE = 2000  # characters per line


@dataclass
class BatchReport:
    assignment: str
    results: list[Result] = field(default_factory=list)
    graded: int = 0  # graded in this run
    reused: int = 0  # taken from the journal (already graded, unchanged)
    skipped: list[str] = field(default_factory=list)  # entries of the folder that are no submission at all
    seconds: float = 0.0

    @property
    def errors(self) -> list[Result]:
        return [r for r in self.results if r.error]


# ---------------------------------------------------------------- manifest and keys


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(course: Course, assignment: str, limits: Limits) -> Manifest:
    """The cached manifest if it was built from this very source, else build (runs the solution once)."""
    source_bytes = course.source(assignment).read_bytes()
    digest = _sha256(source_bytes)
    try:
        cached = json.loads(course.manifest_path(assignment).read_text(encoding="utf-8"))
        if cached.get("source_sha256") == digest:
            return Manifest.from_json(cached["manifest"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache, or a broken one: build it again
    import nbformat

    from gradbook_grader.verdict import build_manifest

    manifest = build_manifest(nbformat.reads(source_bytes.decode("utf-8"), as_version=4), limits)
    if manifest.problems:
        raise GraderError(
            f"the solution of {assignment} does not grade cleanly, fix solutions/{assignment}.ipynb first:\n  "
            + "\n  ".join(manifest.problems)
        )
    save_manifest(course, assignment, manifest)
    return manifest


def save_manifest(course: Course, assignment: str, manifest: Manifest) -> None:
    """Cache `manifest` as the one of the assignment's current source."""
    digest = _sha256(course.source(assignment).read_bytes())
    write_atomic(course.manifest_path(assignment), json.dumps({"source_sha256": digest, "manifest": manifest.to_json()}))


def submission_key(submission_bytes: bytes | None, source_digest: str, manifest: Manifest, limits: Limits,
                   refused: str | None = None, timestamp: str | None = None) -> str:
    """Equal keys, equal grades: the submission (or why it was refused), its timestamp, the source, the manifest."""
    h = hashlib.sha256(b"gradbook-grade-v2\0")
    if submission_bytes is None:
        h.update(b"refused\0" + (refused or "missing").encode("utf-8", "replace"))
    else:
        h.update(_sha256(submission_bytes).encode())
    h.update(b"\0" + (timestamp or "").encode())
    h.update(source_digest.encode())
    h.update(manifest.to_json().encode())
    h.update(json.dumps(asdict(limits), sort_keys=True).encode())
    return h.hexdigest()


# ---------------------------------------------------------------- workers

_WORKER: dict[str, Any] = {}


def _init_worker(source_json: str, manifest_json: str, limits: Limits,
                 grade: Callable[..., SubmissionGrade] | None = None) -> None:
    """Runs once per worker: the imports and the parsed source/manifest are reused for every submission.

    `grade` replaces `execute.grade_submission` (a module-level function: it travels by name).
    """
    import nbformat

    source = nbformat.reads(source_json, as_version=4)
    manifest = Manifest.from_json(manifest_json)
    if grade is None:
        from gradbook_grader.answers import chapters_graded
        from gradbook_grader.execute import grade_submission as grade
        from gradbook_grader.warm import ForkPool, preloads

        # One sandbox per worker starts and imports what the notebook imports; each submission's runner is forked from it.
        _WORKER["runners"] = ForkPool(limits, preloads(source), chapters=chapters_graded(manifest)).take
    _WORKER.update(
        grade=grade,
        source=source,
        manifest=manifest,
        limits=limits,
    )


def _grade_in_worker(data: bytes, seed: int) -> SubmissionGrade:
    warm = {"runners": _WORKER["runners"]} if "runners" in _WORKER else {}
    return _WORKER["grade"](data, _WORKER["source"], _WORKER["manifest"], limits=_WORKER["limits"], seed=seed, **warm)


@dataclass
class _Job:
    submission: Submission
    key: str
    loaded: Loaded = field(default_factory=lambda: Loaded(None))  # its timestamp, secret and notes; `data` is not kept
    digest: str = ""  # sha256 of the bytes that were keyed
    changed: bool = True  # not the submission the journal last stored (a person's scores need a look again)
    # The hidden checks' seed, HMAC(course secret, key) (`secret.hidden_seed`): computed here, where the
    # secret is; workers get only this number. None: grade_submission draws one at random.
    seed: int | None = None

    def payload(self) -> bytes:
        """The submission's bytes, read again now (no batch holds every notebook in memory), as keyed."""
        data = read_notebook(self.submission)
        if _sha256(data) != self.digest:
            raise Refused("the submission changed while the batch was running; grade again")
        return data


def _path(job: _Job) -> tuple[str, int | None]:
    return str(job.submission.path), job.seed


def _grading(job: _Job) -> tuple[bytes, int | None]:
    """What a grading worker gets: the submission's bytes, as keyed, and its hidden seed."""
    return job.payload(), job.seed


def run_pool(
    jobs: Iterable[Any],
    init_args: tuple,
    workers: int,
    task: Callable[..., Any],
    initializer: Callable[..., None] | None,
    on_grade: Callable[[Any, Any], None],
    on_error: Callable[[Any, str], None],
    pool: ProcessPoolExecutor | None = None,
    payload: Callable[[Any], tuple] = _path,
    doing: str = "grading this submission",
) -> None:
    """Run `jobs` on `workers` processes; at most `workers` in flight, so a crash has few suspects.

    The batch grades on it, and `feedback` renders its pages on it. A job is handed over as
    `task(*payload(job))` (a submission's payload carries its hidden seed); a payload that raises `Refused` is that job's error. `pool`, if given,
    is used first (see `_start_pool`). When a worker dies, the pool is gone and every job in
    flight with it fails. Those jobs are retried one at a time in a fresh pool: the one that kills
    a worker alone gets an error result (saying it died while `doing` it), the others their outcome.
    """
    queue = deque(jobs)
    suspects: deque = deque()

    def hand_over(pool: ProcessPoolExecutor, waiting: deque, alone: bool) -> None:
        job = waiting[0]
        try:
            data = payload(job)
        except Refused as refused:
            waiting.popleft()
            on_error(job, f"not graded: {refused}")
            return
        future = pool.submit(task, *data)  # BrokenProcessPool: the job stays queued
        in_flight[future] = (waiting.popleft(), alone)

    while queue or suspects:
        in_flight: dict[Future, tuple[Any, bool]] = {}
        broken = False
        with pool or _start_pool(workers, initializer, init_args) as pool:
            while not broken and (queue or suspects or in_flight):
                try:
                    if suspects and not in_flight:
                        hand_over(pool, suspects, True)
                    while not suspects and queue and len(in_flight) < workers:
                        hand_over(pool, queue, False)
                except BrokenProcessPool:  # it broke before this job was handed over: the job stays queued
                    broken = True
                    break
                if not in_flight:
                    continue
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    job, alone = in_flight.pop(future)
                    broken |= not _settle(future, job, alone, suspects, on_grade, on_error, initializer, init_args,
                                          doing)
            # After a crash the rest of the flight fails too (or finished just before it).
            for future, (job, alone) in in_flight.items():
                _settle(future, job, alone, suspects, on_grade, on_error, initializer, init_args, doing)
        pool = None


def _settle(
    future: Future, job: Any, alone: bool, suspects: deque, on_grade: Callable, on_error: Callable,
    initializer: Callable[..., None] | None, init_args: tuple, doing: str,
) -> bool:
    """Hand a finished job's outcome on; False if the pool broke under it."""
    try:
        grade = future.result()
    except BrokenProcessPool:
        if alone:
            if not _workers_start(initializer, init_args):
                raise GraderError(
                    "the grading worker processes die even without a submission: this is the grader's set-up, "
                    "not the students' work (see the error above). Nothing graded so far is lost; fix it and rerun."
                )
            on_error(job, f"the worker process died while {doing} (it was retried alone); "
                          "it may exhaust memory or crash the interpreter outside the sandbox's limits")
        else:
            suspects.append(job)
        return False
    except Exception as exc:  # the grader's own bug: recorded for this submission, the batch goes on
        on_error(job, f"internal grader error: {type(exc).__name__}: {exc}")
        return True
    on_grade(job, grade)
    return True


def _ping() -> bool:
    return True


def _start_pool(workers: int, initializer: Callable[..., None] | None, init_args: tuple) -> ProcessPoolExecutor:
    """A pool whose workers start now (spawned: no fork of a process holding DB connections).

    Each worker's start-up (interpreter, imports) then overlaps whatever the parent does next.
    """
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=init_args)
    for _ in range(workers):
        pool.submit(_ping)
    return pool


def _workers_start(initializer: Callable[..., None] | None, init_args: tuple) -> bool:
    """Can a fresh worker start and run a trivial task? (Tells a bad submission from a broken set-up.)"""
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=context, initializer=initializer, initargs=init_args) as pool:
            return bool(pool.submit(_ping).result(timeout=300))
    except Exception:
        return False


# ---------------------------------------------------------------- the batch


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
    engine: "DaskEngine | None" = None,
) -> BatchReport:
    """Grade every submission of one assignment (only `students`' if given); store grades, graded
    notebooks and the journal.

    `grade` replaces `execute.grade_submission` in the workers (a module-level function, for tests).
    `engine` grades the submissions elsewhere (`cluster.DaskEngine`: a Dask cluster) instead of in
    `workers` local processes; everything else (journal, writer, gradebook) stays here.
    """
    import nbformat
    from tqdm import tqdm

    from gradbook_grader import arrival, late
    from gradbook_grader.course import released_answers
    from gradbook_grader.gradebook import open_gradebook, register_assignment
    from gradbook_grader.secret import course_secret, hidden_seed

    started = time.perf_counter()
    course = course_root if isinstance(course_root, Course) else find_course(course_root, db_url or "")
    if db_url:
        course = Course(course.root, course.solutions, course.notebooks, db_url)
    if workers < 1:
        raise GraderError(f"workers must be at least 1 (got {workers}).")
    limits = limits or Limits()
    source_path = course.source(assignment)
    report = BatchReport(assignment)
    if isinstance(submissions, Path):
        found, report.skipped = discover(submissions, assignment, course.assignments, students)
    else:
        found = [s for s in submissions if s.assignment == assignment and (students is None or s.student in students)]
    source_bytes = source_path.read_bytes()
    source = nbformat.reads(source_bytes.decode("utf-8"), as_version=4)
    manifest = load_manifest(course, assignment, limits)
    source_digest = _sha256(source_bytes)
    late_plugin = late.plugin(course)  # a broken plugin is said before anything is graded
    lateness = arrival.rules(course)
    secret = course_secret(course)  # read here only: the workers get each submission's seed
    # A written answer that still reads as released (or as the stub of a lost cell) is no answer.
    unanswered = {gid: {*map(_norm, placeholder_variants(text)), _norm(stub_solution(_source_text(source, gid))), ""}
                  for gid, text in released_answers(course, source).items()}  # as released, in any language

    init_args = (nbformat.writes(source), manifest.to_json(), limits, grade)
    # Workers start while this process opens the gradebook and reads the journal.
    pool = _start_pool(min(workers, len(found)), _init_worker, init_args) if found and engine is None else None
    gb = open_gradebook(course)
    try:
        register_assignment(gb, assignment, source)
        bar = tqdm(total=len(found), desc=f"grading {assignment}", unit="submission", disable=not progress)
        writer = _Writer(course, gb, source, manifest, report, bar.update, late_plugin, unanswered)
        jobs = []
        for submission in found:
            loaded = load(submission)
            arrival.date(course, submission, loaded, lateness)  # observed arrival, not the student's timestamp.txt
            # Keyed by what was submitted (timestamp.txt included); its date is refreshed on reuse, never regraded for.
            key = submission_key(loaded.data, source_digest, manifest, limits, loaded.problem, loaded.claimed)
            job = _Job(submission, key, Loaded(None, loaded.problem, loaded.timestamp, loaded.notes, secret=loaded.secret,
                                               claimed=loaded.claimed, lateness=loaded.lateness),
                       _sha256(loaded.data) if loaded.data is not None else "", seed=hidden_seed(secret, key))
            previous = read_journal(course, submission.student, assignment)
            job.changed = previous is None or (previous.digest, previous.claimed) != (job.digest, loaded.claimed)
            writer.side_files(job)
            if not force and previous is not None and previous.key == job.key and not previous.transient:
                writer.reuse(previous, job.loaded)
            elif loaded.data is None:
                writer.finish(job, None, loaded.problem or "not graded", loaded.transient)
            else:
                jobs.append(job)
        if jobs and engine is not None:
            engine.run(jobs, init_args, writer.on_grade, writer.on_error)
        elif jobs:
            run_pool(jobs, init_args, min(workers, len(jobs)), _grade_in_worker, _init_worker, writer.on_grade,
                     writer.on_error, pool, payload=_grading)
            pool = None  # run_pool shut it down
        writer.transaction.close()  # the last rows committed and journalled
        bar.close()
    finally:
        gb.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    report.results.sort(key=lambda r: r.student)
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Writer:
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

        self.transaction = Transaction(self.gb)

    def on_grade(self, job: _Job, graded: SubmissionGrade) -> None:
        self.finish(job, graded, "", False)

    def on_error(self, job: _Job, message: str) -> None:
        self.finish(job, None, message, True)

    def finish(self, job: _Job, graded: SubmissionGrade | None, message: str, transient: bool) -> None:
        import nbformat

        from gradbook_grader.gradebook import graded_cells
        from gradbook_grader.sanitize import safe_notebook
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
                write_atomic(target, nbformat.writes(safe_notebook(graded.notebook, self.source)))
                result.notebook = name
            else:  # no graded notebook of an older run may stand beside this result
                target.unlink(missing_ok=True)
        except Exception as exc:
            result.notes.append(f"the graded notebook could not be written ({_why(exc)})")
        self.store(result, job.changed, lambda: self.journal(result))
        self.report.graded += 1

    def side_files(self, job: _Job) -> None:
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
        dated = (loaded.timestamp, loaded.claimed, loaded.lateness)
        redated = dated != (previous.timestamp, previous.claimed, previous.lateness)
        if redated:
            previous.timestamp, previous.claimed, previous.lateness = loaded.timestamp, loaded.claimed, list(loaded.lateness)
            previous.notes = [n for n in previous.notes if not n.startswith(ARRIVAL_NOTE)] + [
                n for n in loaded.notes if n.startswith(ARRIVAL_NOTE)]
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
        from gradbook_grader.gradebook import store, usable
        from gradbook_grader.late import apply

        if not result.in_gradebook:
            then()
            return

        def write() -> None:
            store(self.gb, result, changed=changed)
            apply(self.late, self.gb.find_submission(result.assignment, result.student))

        def stored(error: Exception | None) -> None:
            if isinstance(error, GraderError):  # the course's late-submission plugin: every row would fail alike
                raise error
            if error is not None:
                if not usable(self.gb):  # the database, not the submission: stop, nothing is lost
                    raise GraderError(
                        f"could not store the grades of {printable(result.student)} in the gradebook: {_why(error)}. "
                        "What was graded before is in the journal; fix the database and run the same command again "
                        "(finished submissions are not graded twice)."
                    ) from error
                result.in_gradebook, result.transient = False, True
                result.notes.append(f"not stored in nbgrader's gradebook ({_why(error)}); the next run tries again")
            then()

        self.transaction.add(write, stored)

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
    """A cell's grade as the execution side gave it, checked: the points are the manifest's, or none.

    A failing test cell is read (outside the sandbox) for the check it failed and the known mistake
    its verdict names."""
    from gradbook_grader.misconceptions import diagnose

    if not isinstance(cell, CellGrade):
        raise TypeError(f"the grade of {grade_id} is a {type(cell).__name__}")
    points = float(cell.points)
    if not 0.0 <= points <= max_points:  # NaN included
        raise ValueError(f"{grade_id} scored {points!r} of {max_points:g}")
    message = scrub(cell.message if isinstance(cell.message, str) else repr(cell.message))
    exercise, mistake = (None, None) if cell.passed else diagnose(message, [q.exercise for q in manifest.expected.get(grade_id, [])])
    return CellGrade(grade_id, points, max_points, bool(cell.passed), message, exercise=exercise, mistake=mistake)


def _written(grade_id: str, max_points: float, notebook: Any, unanswered: set[str]) -> CellGrade:
    """A written answer: a person scores it, unless it is still as released (nbgrader: "No response.", 0)."""
    from gradbook_grader.gradebook import NO_RESPONSE

    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    texts = [c.get("source") for c in cells or [] if isinstance(c, dict) and grade_id == _grade_id(c)]
    text = "".join(texts[0]) if texts and isinstance(texts[0], list) else texts[0] if texts else ""
    answered = isinstance(text, str) and _norm(text) not in unanswered
    return CellGrade(grade_id, 0.0, max_points, False, "to be graded by hand" if answered else NO_RESPONSE, manual=True)


def _grade_id(cell: dict) -> str | None:
    try:
        return grade_id(cell)
    except Exception:  # an untrusted notebook's odd metadata
        return None


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in str(text).strip().splitlines())


def _source_text(source: Any, gid: str) -> str:
    return next((c.source for c in source.cells if grade_id(c) == gid), "")


def _result(job: _Job, graded: SubmissionGrade, manifest: Manifest, unanswered: dict[str, set[str]]) -> Result:
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
        integrity=_lines(getattr(graded, "integrity", [])),
        notes=list(job.loaded.notes),
        digest=job.digest,
    )


def _error_result(job: _Job, message: str, manifest: Manifest, transient: bool) -> Result:
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
        transient=transient,
        notes=list(job.loaded.notes),
        digest=job.digest,
    )
