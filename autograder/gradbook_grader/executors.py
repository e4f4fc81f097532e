"""Where a batch's submissions are graded: the `Executor` protocol, and the local process pool.

An executor takes the jobs (`jobs.Job`) and what every worker needs (`jobs.Work`), grades each job
somewhere, and ends each in exactly one `on_grade(job, grade)` or `on_error(job, message)` call, in
this process: what happens after a grade (the writer, the journal, the gradebook) is never an
executor's. Two executors: `LocalPool` (spawned worker processes here) and `cluster.DaskEngine`
(a Dask cluster). `run_pool` is the local pool itself; feedback renders its pages on it too.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from gradbook_grader.course import GraderError
from gradbook_grader.files import Refused
from gradbook_grader.jobs import Job, Work
from gradbook_grader.types import Manifest, SubmissionGrade

OnGrade = Callable[[Job, SubmissionGrade], None]
OnError = Callable[[Job, str], None]


class Executor(Protocol):
    def run(self, jobs: list[Job], work: Work, on_grade: OnGrade, on_error: OnError) -> None:
        """Grade `jobs`; each ends in exactly one `on_grade` or `on_error` call, made in this process."""


# ---------------------------------------------------------------- in each local worker process

_WORKER: dict[str, Any] = {}


def _init_worker(work: Work) -> None:
    """Runs once per worker: the imports and the parsed source/manifest are reused for every submission.

    `work.grade` replaces `execute.grade_submission` (a module-level function: it travels by name).
    """
    import nbformat

    source = nbformat.reads(work.source_json, as_version=4)
    manifest = Manifest.from_json(work.manifest_json)
    grade = work.grade
    if grade is None:
        from gradbook_grader.answers import chapters_graded
        from gradbook_grader.execute import grade_submission as grade
        from gradbook_grader.warm import ForkPool, preloads

        # One sandbox per worker starts and imports what the notebook imports; each submission's runner is forked from it.
        _WORKER["runners"] = ForkPool(work.limits, preloads(source), chapters=chapters_graded(manifest)).take
    _WORKER.update(grade=grade, source=source, manifest=manifest, limits=work.limits)


def _grade_in_worker(data: bytes, seed: int) -> SubmissionGrade:
    warm = {"runners": _WORKER["runners"]} if "runners" in _WORKER else {}
    return _WORKER["grade"](data, _WORKER["source"], _WORKER["manifest"], limits=_WORKER["limits"], seed=seed, **warm)


@dataclass
class LocalPool:
    """`workers` spawned processes here. `start` starts them early (while the batch reads its journal)."""

    workers: int
    _pool: ProcessPoolExecutor | None = field(default=None, repr=False)

    def start(self, work: Work) -> None:
        self._pool = start_pool(self.workers, _init_worker, (work,))

    def run(self, jobs: list[Job], work: Work, on_grade: OnGrade, on_error: OnError) -> None:
        pool, self._pool = self._pool, None
        run_pool(jobs, (work,), min(self.workers, len(jobs)), _grade_in_worker, _init_worker, on_grade, on_error,
                 pool, payload=Job.grading)

    def close(self) -> None:
        """Stop workers started for jobs that never came (`run` shuts down its own)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


# ---------------------------------------------------------------- the pool


def _path(job: Any) -> tuple[str, int | None]:
    return str(job.submission.path), job.seed


@dataclass
class _Flight:
    """One pool's jobs in flight, and what to do with each outcome."""

    pool: ProcessPoolExecutor
    task: Callable[..., Any]
    payload: Callable[[Any], tuple]
    on_grade: Callable[[Any, Any], None]
    on_error: Callable[[Any, str], None]
    restart: tuple[Callable[..., None] | None, tuple]  # (initializer, init_args), to tell a broken set-up
    doing: str
    suspects: deque
    in_flight: dict[Future, tuple[Any, bool]] = field(default_factory=dict)

    def hand_over(self, waiting: deque, alone: bool) -> None:
        job = waiting[0]
        try:
            data = self.payload(job)
        except Refused as refused:
            waiting.popleft()
            self.on_error(job, f"not graded: {refused}")
            return
        future = self.pool.submit(self.task, *data)  # BrokenProcessPool: the job stays queued
        self.in_flight[future] = (waiting.popleft(), alone)

    def fill(self, queue: deque, workers: int) -> bool:
        """Hand over what may run now (a suspect alone); False if the pool broke before a job was handed over."""
        try:
            if self.suspects and not self.in_flight:
                self.hand_over(self.suspects, True)
            while not self.suspects and queue and len(self.in_flight) < workers:
                self.hand_over(queue, False)
        except BrokenProcessPool:  # the job stays queued
            return False
        return True

    def settle_some(self) -> bool:
        """Wait for at least one job; False if the pool broke under one."""
        done, _ = wait(self.in_flight, return_when=FIRST_COMPLETED)
        return all([self.settle(future, *self.in_flight.pop(future)) for future in done])

    def settle_rest(self) -> None:
        """After a crash the rest of the flight fails too (or finished just before it)."""
        for future, (job, alone) in self.in_flight.items():
            self.settle(future, job, alone)
        self.in_flight.clear()

    def settle(self, future: Future, job: Any, alone: bool) -> bool:
        """Hand a finished job's outcome on; False if the pool broke under it."""
        try:
            grade = future.result()
        except BrokenProcessPool:
            if alone:
                self.died_alone(job)
            else:
                self.suspects.append(job)
            return False
        except Exception as exc:  # the grader's own bug: recorded for this submission, the batch goes on
            self.on_error(job, f"internal grader error: {type(exc).__name__}: {exc}")
            return True
        self.on_grade(job, grade)
        return True

    def died_alone(self, job: Any) -> None:
        if not _workers_start(*self.restart):
            raise GraderError(
                "the grading worker processes die even without a submission: this is the grader's set-up, "
                "not the students' work (see the error above). Nothing graded so far is lost; fix it and rerun."
            )
        self.on_error(job, f"the worker process died while {self.doing} (it was retried alone); "
                           "it may exhaust memory or crash the interpreter outside the sandbox's limits")


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
    `task(*payload(job))` (a submission's payload carries its hidden seed); a payload that raises `Refused` is
    that job's error. `pool`, if given, is used first (see `start_pool`). When a worker dies, the pool is gone
    and every job in flight with it fails. Those jobs are retried one at a time in a fresh pool: the one that
    kills a worker alone gets an error result (saying it died while `doing` it), the others their outcome.
    """
    queue = deque(jobs)
    suspects: deque = deque()
    while queue or suspects:
        with pool or start_pool(workers, initializer, init_args) as pool:
            flight = _Flight(pool, task, payload, on_grade, on_error, (initializer, init_args), doing, suspects)
            broken = False
            while not broken and (queue or suspects or flight.in_flight):
                broken = not flight.fill(queue, workers)
                if flight.in_flight and not broken:
                    broken = not flight.settle_some()
            flight.settle_rest()
        pool = None


def _ping() -> bool:
    return True


def start_pool(workers: int, initializer: Callable[..., None] | None, init_args: tuple) -> ProcessPoolExecutor:
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
