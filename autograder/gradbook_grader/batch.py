"""Grade a whole class: one manifest per assignment, parallel workers, one writer, resumable.

* The manifest (which checks each graded cell of the solution makes) is built once per
  assignment and cached in `manifests/<assignment>.json`, keyed by the source's digest.
* Submissions are graded in spawned worker processes, each importing the grading code
  once (the fixed import costs stay out of the per-submission path).
* Only this (parent) process writes: the graded notebook, the gradebook rows and, last,
  the journal entry `autograded/<student>/<assignment>/gradbook-result.json`, written
  atomically. The entry's key hashes the submission, the source and the manifest, so a
  rerun after a crash skips what is done; `force=True` regrades.
* A submission that cannot be read, or that takes a worker down with it, gets an explicit
  error result (zero points, the reason recorded); every other submission is still graded.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from gradbook_grader.course import Course, GraderError, find_course
from gradbook_grader.types import CellGrade, Limits, Manifest, SubmissionGrade

JOURNAL_NAME = "gradbook-result.json"
JOURNAL_VERSION = 1
# Student ids become directory names: keep them to what is safe on every file system.
STUDENT_ID = re.compile(r"^[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]{0,127}$")


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    path: Path  # the submitted notebook (may be missing or broken: that is graded as an error)
    timestamp: str | None = None  # nbgrader's timestamp.txt, when there is one


@dataclass
class Result:
    """One graded submission, as journalled and reported."""

    student: str
    assignment: str
    key: str  # hash of submission + source + manifest: equal key, same grade
    graded_at: str
    score: float
    max_score: float
    cells: dict[str, CellGrade]
    events: list[str]
    error: str | None
    sandboxed: bool
    submission: str
    timestamp: str | None = None
    notebook: str | None = None  # the graded notebook, relative to the journal's directory
    transient: bool = False  # the grader failed, not the submission: a rerun tries again

    def to_json(self) -> str:
        return json.dumps({"version": JOURNAL_VERSION, **asdict(self)}, indent=1)  # cells stay in notebook order

    @classmethod
    def from_json(cls, text: str) -> "Result":
        data = json.loads(text)
        if data.pop("version", None) != JOURNAL_VERSION:
            raise ValueError("journal entry from another version of the grader")
        data["cells"] = {k: CellGrade(**v) for k, v in data["cells"].items()}
        return cls(**data)


@dataclass
class BatchReport:
    assignment: str
    results: list[Result] = field(default_factory=list)
    graded: int = 0  # graded in this run
    reused: int = 0  # taken from the journal (already graded, unchanged)
    skipped: list[str] = field(default_factory=list)  # submissions that could not even be named
    seconds: float = 0.0

    @property
    def errors(self) -> list[Result]:
        return [r for r in self.results if r.error]


# ---------------------------------------------------------------- finding submissions


def discover(folder: Path, assignment: str | None, known: Sequence[str]) -> tuple[list[Submission], list[str]]:
    """Submissions in `folder`, nbgrader's `<student>/<assignment>/<notebook>.ipynb` or a flat `<student>.ipynb`.

    Returns (submissions, skipped) where skipped says what was left out and why.
    """
    if not folder.is_dir():
        raise GraderError(f"{folder} is not a folder of submissions.")
    skipped: list[str] = []
    flat = sorted(p for p in folder.glob("*.ipynb") if p.is_file() or p.is_symlink())
    if flat:
        if assignment is None:
            raise GraderError(
                f"{folder} holds notebooks directly (<student>.ipynb), so it is one assignment: "
                f"say which with --assignment (one of: {', '.join(known) or 'none released'})."
            )
        found = []
        for path in flat:
            if STUDENT_ID.match(path.stem):
                found.append(Submission(path.stem, assignment, path))
            else:
                skipped.append(f"{path.name}: {path.stem!r} is not a usable student id (letters, digits, _.@+-)")
        return found, skipped
    found = []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not STUDENT_ID.match(student_dir.name):
            skipped.append(f"{student_dir.name}/: not a usable student id (letters, digits, _.@+-)")
            continue
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            name = assignment_dir.name
            if assignment is not None and name != assignment:
                continue
            if name not in known:
                skipped.append(f"{student_dir.name}/{name}/: no assignment {name!r} in solutions/")
                continue
            found.append(Submission(student_dir.name, name, _pick_notebook(assignment_dir, name), _timestamp(assignment_dir)))
    if not found and not skipped:
        raise GraderError(
            f"no submissions in {folder}: expected <student>/<assignment>/<assignment>.ipynb "
            "(nbgrader's submitted/ layout) or <student>.ipynb files."
        )
    return found, skipped


def _pick_notebook(directory: Path, assignment: str) -> Path:
    expected = directory / f"{assignment}.ipynb"
    if expected.exists():
        return expected
    others = sorted(directory.glob("*.ipynb"))
    # A renamed notebook is still the student's work; a missing one is graded as an error.
    return others[0] if len(others) == 1 else expected


def _timestamp(directory: Path) -> str | None:
    try:
        text = (directory / "timestamp.txt").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        datetime.fromisoformat(text.replace(" UTC", "+00:00").replace("Z", "+00:00"))
    except ValueError:
        return None
    return text


# ---------------------------------------------------------------- manifest and keys


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(course: Course, assignment: str, limits: Limits) -> Manifest:
    """The cached manifest if it was built from this very source, else build (runs the solution once)."""
    source_bytes = course.source(assignment).read_bytes()
    digest = _sha256(source_bytes)
    cache = course.manifest_path(assignment)
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("source_sha256") == digest:
            return Manifest.from_json(cached["manifest"])
    except (OSError, ValueError, KeyError):
        pass  # no cache, or a broken one: build it again
    import nbformat

    from gradbook_grader.verdict import build_manifest

    manifest = build_manifest(nbformat.reads(source_bytes.decode("utf-8"), as_version=4), limits)
    if manifest.problems:
        raise GraderError(
            f"the solution of {assignment} does not grade cleanly, fix solutions/{assignment}.ipynb first:\n  "
            + "\n  ".join(manifest.problems)
        )
    _write_atomic(cache, json.dumps({"source_sha256": digest, "manifest": manifest.to_json()}))
    return manifest


def submission_key(submission_bytes: bytes | None, source_digest: str, manifest: Manifest, limits: Limits) -> str:
    h = hashlib.sha256(b"gradbook-grade-v1\0")
    h.update(b"missing" if submission_bytes is None else _sha256(submission_bytes).encode())
    h.update(source_digest.encode())
    h.update(manifest.to_json().encode())
    h.update(json.dumps(asdict(limits), sort_keys=True).encode())
    return h.hexdigest()


def _read_submission(path: Path) -> tuple[bytes | None, str | None]:
    """The submission's bytes, or why it cannot be graded (missing, a link, too large)."""
    from gradbook_grader.restore import MAX_SUBMISSION_BYTES

    try:
        if path.is_symlink():  # could point at any file of the grader's machine
            return None, f"the submitted notebook is a symbolic link, which is not followed: {path}"
        size = path.stat().st_size
        if size > MAX_SUBMISSION_BYTES:
            return None, f"the submitted notebook is {size:,} bytes, over the limit of {MAX_SUBMISSION_BYTES:,}: {path}"
        return path.read_bytes(), None
    except OSError as exc:
        return None, f"the submitted notebook is missing or unreadable ({exc.strerror or exc}): {path}"


def _seed(key: str) -> int:
    """The hidden checks' seed: fixed per submission (a regrade agrees), unknowable without the source."""
    return int(key[:8], 16) % (2**31 - 1)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_journal(course: Course, student: str, assignment: str) -> Result | None:
    try:
        return Result.from_json((course.autograded(student, assignment) / JOURNAL_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def journal(course: Course, assignment: str | None = None) -> list[Result]:
    """Every journalled result in the course (optionally of one assignment), by student."""
    results = []
    for path in sorted((course.root / "autograded").glob(f"*/{assignment or '*'}/{JOURNAL_NAME}")):
        result = read_journal(course, path.parent.parent.name, path.parent.name)
        if result is not None:
            results.append(result)
    return results


# ---------------------------------------------------------------- workers

_WORKER: dict[str, Any] = {}


def _init_worker(source_json: str, manifest_json: str, limits: Limits) -> None:
    """Runs once per worker: the imports and the parsed source/manifest are reused for every submission."""
    import nbformat

    from gradbook_grader import execute

    _WORKER.update(
        grade=execute.grade_submission,
        source=nbformat.reads(source_json, as_version=4),
        manifest=Manifest.from_json(manifest_json),
        limits=limits,
    )


def _grade_in_worker(path: str, seed: int) -> SubmissionGrade:
    return _WORKER["grade"](
        Path(path), _WORKER["source"], _WORKER["manifest"], limits=_WORKER["limits"], seed=seed
    )


@dataclass
class _Job:
    submission: Submission
    key: str


def _run_pool(
    jobs: Iterable[_Job],
    init_args: tuple,
    workers: int,
    task: Callable[[str, int], Any],
    initializer: Callable[..., None] | None,
    on_grade: Callable[[_Job, SubmissionGrade], None],
    on_error: Callable[[_Job, str], None],
    pool: ProcessPoolExecutor | None = None,
) -> None:
    """Grade `jobs` on `workers` processes; at most `workers` in flight, so a crash has few suspects.

    `pool`, if given, is used first (see `_start_pool`). When a worker dies, the pool is
    gone and every job in flight with it fails. Those jobs are retried one at a time in a
    fresh pool: the one that kills a worker alone gets an error result, the others their grade.
    """
    queue = deque(jobs)
    suspects: deque[_Job] = deque()
    while queue or suspects:
        in_flight: dict[Future, tuple[_Job, bool]] = {}
        broken = False
        with pool or _start_pool(workers, initializer, init_args) as pool:
            while not broken and (queue or suspects or in_flight):
                try:
                    if suspects and not in_flight:
                        future = pool.submit(task, str(suspects[0].submission.path), _seed(suspects[0].key))
                        in_flight[future] = (suspects.popleft(), True)
                    while not suspects and queue and len(in_flight) < workers:
                        future = pool.submit(task, str(queue[0].submission.path), _seed(queue[0].key))
                        in_flight[future] = (queue.popleft(), False)
                except BrokenProcessPool:  # it broke before this job was handed over: the job stays queued
                    broken = True
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    job, alone = in_flight.pop(future)
                    broken |= not _settle(future, job, alone, suspects, on_grade, on_error, initializer, init_args)
            # After a crash the rest of the flight fails too (or finished just before it).
            for future, (job, alone) in in_flight.items():
                _settle(future, job, alone, suspects, on_grade, on_error, initializer, init_args)
        pool = None


def _settle(
    future: Future, job: _Job, alone: bool, suspects: deque[_Job], on_grade: Callable, on_error: Callable,
    initializer: Callable[..., None] | None, init_args: tuple,
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
            on_error(job, "the grading worker process died while grading this submission (it was retried alone); "
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
) -> BatchReport:
    """Grade every submission of one assignment; store grades, graded notebooks and the journal."""
    import nbformat
    from tqdm import tqdm

    from gradbook_grader.gradebook import graded_cells, open_gradebook, register_assignment, store

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
        found, report.skipped = discover(submissions, assignment, course.assignments)
    else:
        found = [s for s in submissions if s.assignment == assignment]
    source_bytes = source_path.read_bytes()
    source = nbformat.reads(source_bytes.decode("utf-8"), as_version=4)
    manifest = load_manifest(course, assignment, limits)
    source_digest = _sha256(source_bytes)

    init_args = (nbformat.writes(source), manifest.to_json(), limits)
    # Workers start while this process opens the gradebook and reads the journal.
    pool = _start_pool(min(workers, len(found)), _init_worker, init_args) if found else None
    gb = open_gradebook(course)
    try:
        register_assignment(gb, assignment, source)
        bar = tqdm(total=len(found), desc=f"grading {assignment}", unit="submission", disable=not progress)

        def store_or_explain(result: Result) -> None:
            try:
                store(gb, result)
            except Exception as exc:  # the database, not the submission: stop, nothing is lost
                raise GraderError(
                    f"could not store the grades of {result.student} in the gradebook: {type(exc).__name__}: {exc}. "
                    "What was graded before is in the journal; fix the database and run the same command "
                    "again (finished submissions are not graded twice)."
                ) from exc

        rank = {grade_id: n for n, (grade_id, _, _) in enumerate(graded_cells(source))}

        def finish(result: Result, graded: SubmissionGrade | None) -> None:
            result.cells = dict(sorted(result.cells.items(), key=lambda item: rank.get(item[0], len(rank))))
            directory = course.autograded(result.student, result.assignment)
            if graded is not None and graded.notebook is not None:
                result.notebook = f"{assignment}.ipynb"
                _write_atomic(directory / result.notebook, nbformat.writes(graded.notebook))
            store_or_explain(result)
            _write_atomic(directory / JOURNAL_NAME, result.to_json())  # last: the entry means "done"
            report.results.append(result)
            report.graded += 1
            bar.update()

        def on_grade(job: _Job, graded: SubmissionGrade) -> None:
            finish(_result(job, graded, manifest), graded)

        def on_error(job: _Job, message: str, transient: bool = True) -> None:
            finish(_error_result(job, message, manifest, transient), None)

        jobs = []
        for submission in found:
            data, problem = _read_submission(submission.path)
            job = _Job(submission, submission_key(data, source_digest, manifest, limits))
            previous = None if force else read_journal(course, submission.student, assignment)
            if previous is not None and previous.key == job.key and not previous.transient:
                store_or_explain(previous)  # cheap, and puts it in a new --db too
                report.results.append(previous)
                report.reused += 1
                bar.update()
            elif problem is not None:
                on_error(job, problem, False)
            else:
                jobs.append(job)
        if jobs:
            _run_pool(jobs, init_args, min(workers, len(jobs)), _grade_in_worker, _init_worker, on_grade, on_error, pool)
            pool = None  # _run_pool shut it down
        bar.close()
    finally:
        gb.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    report.results.sort(key=lambda r: r.student)
    report.seconds = time.perf_counter() - started
    return report


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _result(job: _Job, graded: SubmissionGrade, manifest: Manifest) -> Result:
    cells = dict(graded.cells)
    for grade_id, points in manifest.points.items():  # every graded cell has a row, even after a crash
        cells.setdefault(grade_id, CellGrade(grade_id, 0.0, points, False, graded.error or "not graded"))
    return Result(
        student=job.submission.student,
        assignment=job.submission.assignment,
        key=job.key,
        graded_at=_now(),
        score=sum(c.points for c in cells.values()),
        max_score=sum(c.max_points for c in cells.values()),
        cells=cells,
        events=list(graded.events),
        error=graded.error,
        sandboxed=graded.sandboxed,
        submission=str(job.submission.path),
        timestamp=job.submission.timestamp,
    )


def _error_result(job: _Job, message: str, manifest: Manifest, transient: bool) -> Result:
    cells = {g: CellGrade(g, 0.0, p, False, message) for g, p in manifest.points.items()}
    return Result(
        student=job.submission.student,
        assignment=job.submission.assignment,
        key=job.key,
        graded_at=_now(),
        score=0.0,
        max_score=sum(manifest.points.values()),
        cells=cells,
        events=[],
        error=message,
        sandboxed=False,
        submission=str(job.submission.path),
        timestamp=job.submission.timestamp,
        transient=transient,
    )
