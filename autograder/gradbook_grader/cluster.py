"""Grade on a Dask distributed cluster: each submission is one task, sandboxed on the worker that takes it.

    gradbook-grader grade submitted/ --scheduler tcp://HOST:8786    a running cluster (docs/grading-on-a-cluster.md)
    gradbook-grader grade submitted/ --scheduler local:4             four worker processes started here

The batch layer (`batch.grade_assignment`) stays in charge: it finds the submissions, keys them,
skips what the journal has, and its one writer (this process, Dask's client) stores every grade.
`DaskEngine` is an executor (`executors.Executor`) in place of its local process pool:

* What a worker needs travels with the work, never over a shared disk: per assignment one
  `Context` (the instructor's source notebook, the manifest, the limits, the modules to preload),
  computed by a task so the scheduler can compute it again if every copy is lost; per submission
  its bytes and its hidden seed (a number: the course secret it comes from stays with the client,
  `secret`). The source (solutions, hidden tests) stays in the worker's grader
  process: the sandboxed runner gets cells and questions, as on one machine.
* Only plain data comes back: a `Graded` (cells, events, integrity lines, the graded notebook as
  JSON text). The writer checks it as it checks a local worker's grade.
* Nothing lost, nothing twice: a worker that dies mid-task has its tasks run elsewhere by the
  scheduler; each job has one future, so the writer stores each submission once, keyed by the
  student and assignment (a task run twice still gives one result). A submission that kills
  worker after worker (Dask's `allowed-failures`) is recorded as not graded, to retry. When the
  scheduler goes away the batch stops with a `GraderError`; the journal holds what was stored,
  and the same command resumes.
* A worker that cannot grade (no working bubblewrap, or other versions of gradbook than this client)
  is named once and sent nothing: every worker is asked before a batch; one that joins during it
  refuses its first task with `WorkerCannotGrade`, and its tasks go to the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import sys
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from gradbook_grader.course import GraderError
from gradbook_grader.types import CellGrade, Limits, SubmissionGrade

if TYPE_CHECKING:
    from distributed import Client

    from gradbook_grader.jobs import Job, Work

log = logging.getLogger("gradbook_grader")

# How every deployment starts a worker (`dask worker SCHEDULER <WORKER_ARGS>`): one grading thread a
# process (the grader judges in Python; run one process per core with --nworkers), and this module
# preloaded to check the sandbox and warm the grader's caches before the first task.
WORKER_THREADS = 1
WORKER_PRELOAD = ("--preload", "gradbook_grader.cluster")
WORKER_ARGS = ("--nthreads", str(WORKER_THREADS), *WORKER_PRELOAD)
IN_FLIGHT_PER_THREAD = 2  # tasks handed to the cluster per worker thread: enough to keep it busy


class WorkerCannotGrade(Exception):
    """This worker refuses to grade (no sandbox, other code): the client sends its work elsewhere."""

    def __init__(self, worker: str, reason: str) -> None:
        super().__init__(worker, reason)
        self.worker, self.reason = worker, reason

    def __str__(self) -> str:
        return f"worker {self.worker} cannot grade: {self.reason}"


@lru_cache(maxsize=1)
def versions() -> str:
    """What a worker must share with the client to judge alike: Python, numpy, torch, gradbook, the grader.

    Distribution versions, not file digests: a course repository being edited while a batch runs
    must not make every worker refuse. Workers built from the same image as the client agree.
    """
    from importlib.metadata import PackageNotFoundError, version

    found = [f"python {sys.version_info.major}.{sys.version_info.minor}"]
    for name in ("numpy", "torch", "gradbook", "gradbook-grader"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


@dataclass(frozen=True)
class Context:
    """What a worker needs to grade one assignment's submissions; travels once per worker."""

    source_json: str  # the instructor's source notebook (solutions, hidden tests): stays in the grader process
    manifest_json: str
    limits: Limits
    preload: tuple[str, ...]  # module names the warm runners import (warm.preloads)
    versions: str  # the client's versions()
    grade: Callable[..., SubmissionGrade] | None = None  # replaces execute.grade_submission (tests)


@dataclass(frozen=True)
class Graded:
    """A `SubmissionGrade` as plain data: what travels back from a worker."""

    notebook_json: str
    cells: dict[str, CellGrade]
    events: list[str]
    error: str | None
    sandboxed: bool
    score: float
    max_score: float
    integrity: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, grade: SubmissionGrade) -> "Graded":
        return cls(json.dumps(grade.notebook), dict(grade.cells), list(grade.events), grade.error, grade.sandboxed,
                   grade.score, grade.max_score, list(getattr(grade, "integrity", [])))

    def submission_grade(self) -> SubmissionGrade:
        import nbformat

        return SubmissionGrade(nbformat.from_dict(json.loads(self.notebook_json)), self.cells, self.events,
                               self.error, self.sandboxed, self.score, self.max_score, self.integrity)


# ---------------------------------------------------------------- on the worker

_PARSED: dict[str, tuple[Any, Any]] = {}  # digest of a context's source and manifest -> both, parsed


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "this process"


def refusal(context: Context) -> str | None:
    """Why this worker must not grade `context`'s submissions, or None."""
    from gradbook_grader.sandbox import SandboxUnavailable, require_sandbox

    if context.versions != versions():
        return (f"it has {versions()}, the grader {context.versions}: it could judge against other references. "
                "Install the same versions on every worker (the image of docs/grading-on-a-cluster.md)")
    try:
        require_sandbox()
    except SandboxUnavailable as error:
        return str(error)
    return None


def grade_task(context: Context, data: bytes, seed: int) -> Graded:
    """One submission, on a worker: restore, run in the sandbox, ask, judge (`execute.grade_submission`)."""
    import nbformat

    from gradbook_grader.types import Manifest

    why = refusal(context)
    if why is not None:
        raise WorkerCannotGrade(_worker_address(), why)
    digest = hashlib.sha256(f"{context.source_json}\0{context.manifest_json}".encode()).hexdigest()
    if digest not in _PARSED:
        _PARSED.clear()  # one assignment at a time is the common case; parsing again is cheap
        _PARSED[digest] = (nbformat.reads(context.source_json, as_version=4), Manifest.from_json(context.manifest_json))
    source, manifest = _PARSED[digest]
    options: dict[str, Any] = {}
    grade = context.grade
    if grade is None:
        from gradbook_grader.answers import chapters_graded
        from gradbook_grader.execute import grade_submission as grade
        from gradbook_grader.warm import pool_for

        options["runners"] = pool_for(context.limits, context.preload, chapters=chapters_graded(manifest)).take
    return Graded.of(grade(data, source, manifest, limits=context.limits, seed=seed, **options))


def warm_caches() -> None:
    """The grader's once-per-process costs (~2-3 s), paid before the first submission instead of in it."""
    from gradbook.checks import load_all

    from gradbook_grader import answers, integrity

    load_all()
    answers.package_view()
    integrity._library()  # noqa: SLF001 - the library's answer code, as the integrity scan compares it


def dask_setup(worker: Any) -> None:
    """`dask worker --preload gradbook_grader.cluster`: check the sandbox, warm the caches.

    A worker without a sandbox still starts (Dask cannot refuse a preload), says why loudly, and
    refuses every grading task with that reason.
    """
    from gradbook_grader.sandbox import SandboxUnavailable, require_sandbox

    try:
        require_sandbox()
    except SandboxUnavailable as error:
        log.error("gradbook-grader: this worker will refuse to grade: %s", error)
        print(f"gradbook-grader: this worker will refuse to grade: {error}", file=sys.stderr, flush=True)
        return
    warm_caches()


# ---------------------------------------------------------------- on the client


def _task_key(job: "Job", attempt: int) -> str:
    who = hashlib.sha256(f"{job.submission.student}\0{job.submission.assignment}\0{job.key}".encode()).hexdigest()
    return f"grade-{who[:24]}-{attempt}"  # the dashboard groups tasks by the prefix, "grade"


class DaskEngine:
    """Runs a batch's jobs on a Dask cluster (see the module); `batch.grade_assignment(engine=...)`."""

    def __init__(self, client: "Client", say: Callable[[str], None] | None = None,
                 closing: Callable[[], None] | None = None) -> None:
        self.client = client
        self.address = str(client.scheduler.address) if client.scheduler else "?"
        self.say = say or (lambda text: print(f"gradbook-grader: {text}", file=sys.stderr, flush=True))
        self.refused: dict[str, str] = {}  # worker address -> why it cannot grade
        self._closing = closing

    @property
    def dashboard(self) -> str:
        link = str(self.client.dashboard_link)
        if importlib.util.find_spec("bokeh") is None:
            link += " (its pages need bokeh installed where the scheduler runs: pip install bokeh)"
        return link

    def close(self) -> None:
        self.client.close()
        if self._closing is not None:
            self._closing()

    def __enter__(self) -> "DaskEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, jobs: list["Job"], work: "Work", on_grade: Callable[["Job", SubmissionGrade], None],
            on_error: Callable[["Job", str], None]) -> None:
        """Grade `jobs` on the cluster; each ends in exactly one `on_grade` or `on_error` call."""
        import nbformat
        from distributed import as_completed

        from gradbook_grader.warm import preloads

        context = Context(work.source_json, work.manifest_json, work.limits,
                          preloads(nbformat.reads(work.source_json, as_version=4)), versions(), work.grade)
        digest = hashlib.sha256(repr(context).encode()).hexdigest()[:24]
        self._probe(context)
        # A task, not scattered data: if every copy is lost with its workers, the scheduler computes it again.
        shared = self.client.submit(lambda c: c, context, key=f"gradbook-context-{digest}", pure=False)
        waiting: deque[tuple["Job", int]] = deque((job, 0) for job in jobs)
        running: dict[Any, tuple["Job", int]] = {}
        done = as_completed()
        try:
            self._loop(waiting, running, done, shared, on_grade, on_error)
        except _gone() as exc:  # a closed client or a broken connection, wherever in the loop it shows
            raise self._lost(exc) from exc
        finally:
            with contextlib.suppress(*_gone()):  # nothing to cancel on a cluster that went away
                for future in running:
                    future.cancel()
                shared.release()

    def _loop(self, waiting: deque, running: dict, done: Any, shared: Any,
              on_grade: Callable[["Job", SubmissionGrade], None], on_error: Callable[["Job", str], None]) -> None:
        from gradbook_grader.files import Refused

        while waiting or running:
            room = IN_FLIGHT_PER_THREAD * max(1, sum(self._ask(self.client.nthreads).values()))
            while waiting and len(running) < room:
                job, attempt = waiting.popleft()
                try:
                    data = job.payload()
                except Refused as refused:
                    on_error(job, f"not graded: {refused}")
                    continue
                where = self._workers()
                if where == []:
                    why = "; ".join(dict.fromkeys(self.refused.values()))
                    on_error(job, f"not graded: every worker of the cluster refused to grade ({why}); fix the "
                                  "workers and run the same command again")
                    continue
                future = self.client.submit(grade_task, shared, data, job.seed, key=_task_key(job, attempt),
                                            workers=where, allow_other_workers=False, pure=False)
                running[future] = (job, attempt)
                done.add(future)
            if not running:
                continue
            future = next(done)
            job, attempt = running.pop(future)
            self._settle(future, job, attempt, waiting, on_grade, on_error)

    def _probe(self, context: Context) -> None:
        """Every worker asked before the batch whether it can grade `context`'s submissions (`refusal`): one that
        cannot is named once and sent nothing. Otherwise the scheduler may send it no task (it places tasks where
        the batch's shared context is held) and it stays unnamed; a worker that joins during the batch still
        refuses its first task (`_settle`)."""
        answers = self._ask(lambda: self.client.run(refusal, context, on_error="return"))
        for worker, why in answers.items():
            if isinstance(why, str) and worker not in self.refused:
                self.refused[worker] = why
                self.say(f"{WorkerCannotGrade(worker, why)}; its submissions go to the other workers")

    def _workers(self) -> list[str] | None:
        """Where a task may run: anywhere (None) until a worker refused; then the others, [] if none."""
        if not self.refused:
            return None
        return [w for w in self._ask(self.client.nthreads) if w not in self.refused]

    def _ask(self, call: Callable[[], Any]) -> Any:
        """A question to the scheduler; no answer means the cluster is gone."""
        try:
            return call()
        except _gone() as exc:
            raise self._lost(exc) from exc

    def _settle(self, future: Any, job: "Job", attempt: int, waiting: deque, on_grade: Callable,
                on_error: Callable) -> None:
        from distributed.scheduler import KilledWorker

        status = future.status
        if status == "finished":
            try:
                graded = future.result().submission_grade()
            except Exception as exc:
                if self.client.status != "running":  # the result could not be fetched: the cluster went away
                    raise self._lost(exc) from exc
                on_error(job, f"internal grader error: the grade could not be read ({type(exc).__name__}: {exc})")
            else:
                on_grade(job, graded)
        elif status == "cancelled":
            raise self._lost(None)
        else:
            exc = future.exception()
            if isinstance(exc, WorkerCannotGrade):
                if exc.worker not in self.refused:
                    self.refused[exc.worker] = exc.reason
                    self.say(f"{exc}; its submissions go to the other workers")
                waiting.appendleft((job, attempt + 1))
            elif isinstance(exc, KilledWorker):
                on_error(job, "the grading worker died every time it graded this submission (Dask retried it on "
                              "other workers); it may exhaust the grader's memory outside the sandbox's limits")
            else:
                on_error(job, f"internal grader error: {type(exc).__name__}: {exc}")
        future.release()

    def _lost(self, exc: BaseException | None) -> GraderError:
        why = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return GraderError(
            f"lost the Dask scheduler at {self.address}{why}: the batch "
            "stopped. What was graded is stored and in the journal; restart the cluster and run the same command "
            "again (finished submissions are not graded twice)."
        )


def _gone() -> tuple[type[BaseException], ...]:
    """What distributed raises when the scheduler is gone: a broken connection (its CommClosedError is an
    OSError), no answer in time, or a client that closed itself after losing the scheduler."""
    from distributed.client import ClosedClientError

    return (OSError, TimeoutError, ClosedClientError)


def connect(scheduler: str, timeout: float = 30) -> DaskEngine:
    """`tcp://HOST:PORT` (any Dask address) connects to a running cluster; `local:N` starts N workers here."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise GraderError(f"--scheduler needs Dask distributed ({error}): pip install 'distributed>=2024.8'") from None
    if scheduler.startswith("local:"):
        count = scheduler.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise GraderError(f"--scheduler {scheduler}: say how many local workers, e.g. local:4")
        cluster = LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", preload=["gradbook_grader.cluster"])
        return DaskEngine(Client(cluster), closing=cluster.close)
    if "://" not in scheduler and ":" not in scheduler:
        raise GraderError(f"--scheduler {scheduler}: give the scheduler's address (tcp://HOST:8786) or local:N")
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise GraderError(
            f"cannot reach the Dask scheduler at {scheduler} ({error}). Start one (`dask scheduler`, "
            "docs/grading-on-a-cluster.md) or grade here with --scheduler local:N."
        ) from None
    return DaskEngine(client)
