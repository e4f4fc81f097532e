"""Grading on a real Dask cluster: a `dask scheduler` and `dask worker` processes on 127.0.0.1.

The workers are started the way docs/grading-on-a-cluster.md starts them (`cluster.WORKER_ARGS`),
grade in the bubblewrap sandbox, and the one writer (this process) stores into PostgreSQL. The
grades are checked against what the submissions deserve (the model answer scores every point, an
untouched notebook none, one wrong function loses exactly its cell's points) and against the
gradebook's own rows: one submission, one grade per graded cell, for every student.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import nbformat
import psutil
import pytest

from conftest import require
from gradbook_grader.batch import grade_assignment, journal
from gradbook_grader.cluster import WORKER_ARGS, connect
from gradbook_grader.course import Course, GraderError, release
from gradbook_grader.gradebook import open_gradebook
from gradbook_grader.sandbox import bwrap_problem

from grader_helpers import CH02, ROOT, answered, student_notebook
from run_helpers import mistakes_proved_once
from test_grader_postgres import postgres_url  # noqa: F401 - the throwaway PostgreSQL server fixture

pytestmark = [pytest.mark.slow, pytest.mark.sandbox, pytest.mark.postgres]

DASK = Path(sys.executable).parent / "dask"
READY = 120.0  # seconds a Dask process may take to come up on a busy machine before the test gives up
RELU_ABS = "def naive_relu(x):\n    return abs(x)\n"  # the absolute value, not relu: test-naive-relu (1 point) fails


class DaskProcess:
    """A `dask` command in its own session; its output is read as it comes, to await a line."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen([str(DASK), *args], cwd=cwd, env={**os.environ, **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def await_line(self, pattern: str) -> re.Match:
        """The first output line matching `pattern`, once it is printed."""
        regex = re.compile(pattern)
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((m for m in map(regex.search, self.lines) if m), None) or self.proc.poll() is not None,
                timeout=READY)
        match = next((m for m in map(regex.search, self.lines) if m), None)
        assert match, f"`dask {self.proc.args[1]}` never printed {pattern!r} ({found=}):\n{''.join(self.lines)[-3000:]}"
        return match

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=60)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., DaskProcess]]:
    """Start `dask scheduler` or `dask worker` processes for one test; all are killed after it."""
    started: list[DaskProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> DaskProcess:
        process = DaskProcess(list(args), tmp_path, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def start_scheduler(start: Callable[..., DaskProcess]) -> tuple[DaskProcess, str]:
    scheduler = start("scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0")
    return scheduler, scheduler.await_line(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)")[1]


def start_worker(start: Callable[..., DaskProcess], address: str, tmp_path: Path, **env: str) -> DaskProcess:
    """A worker exactly as the deployment recipes start one, without a nanny (killing it kills it)."""
    return start("worker", address, *WORKER_ARGS, "--no-nanny", "--host", "127.0.0.1",
                 "--local-directory", str(tmp_path / "dask-worker"), env=env)


def started_grading(worker: DaskProcess) -> bool:
    """The worker has begun a submission: a sandbox of its own is running."""
    try:
        children = psutil.Process(worker.proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for child in children:
        try:
            if child.name() == "bwrap":
                return True
        except psutil.NoSuchProcess:
            continue
    return False


def await_condition(condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Course:  # noqa: F811
    """Chapter 2 released into a scratch course whose gradebook is the PostgreSQL server."""
    tmp = tmp_path_factory.mktemp("cluster-course")
    (tmp / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
    (tmp / "solutions").mkdir()
    shutil.copy(ROOT / "solutions" / f"{CH02}.ipynb", tmp / "solutions")
    course = Course(tmp / "autograder", tmp / "solutions", tmp / "notebooks", postgres_url)
    with mistakes_proved_once():  # proved once a run (run_helpers)
        release(course, [CH02])
    return course


def class_of(course: Course, folder: Path, names: dict[str, str]) -> dict[str, float]:
    """Flat submissions for `names` (student -> full | empty | relu), and the score each deserves."""
    deserved = {"full": 10.0, "empty": 0.0, "relu": 9.0}  # ch02: 10 points, test-naive-relu is worth 1
    folder.mkdir(parents=True, exist_ok=True)
    notebooks = {"full": answered(course, CH02), "empty": student_notebook(course, CH02),
                 "relu": answered(course, CH02, {"naive-relu": RELU_ABS})}
    for student, kind in names.items():
        nbformat.write(notebooks[kind], folder / f"{student}.ipynb")
    return {student: deserved[kind] for student, kind in names.items()}


def assert_stored_once(course: Course, expected: dict[str, float]) -> None:
    """`expected`'s students have the deserved score in the journal; and the gradebook (which the module's
    tests share) holds exactly one submission of every journalled student, one grade per graded cell,
    with the journal's score."""
    journalled = {r.student: r.score for r in journal(course, CH02)}
    assert {s: journalled.get(s) for s in expected} == expected
    with open_gradebook(course) as gb:
        submissions = gb.find_assignment(CH02).submissions
        assert Counter(s.student_id for s in submissions) == Counter(journalled.keys())
        for submission in submissions:
            (notebook,) = submission.notebooks
            names = Counter(grade.name for grade in notebook.grades)
            assert set(names.values()) == {1} and len(names) == 7, names
            assert submission.score == journalled[submission.student_id], submission.student_id


def test_a_killed_worker_loses_nothing_and_grades_nothing_twice(
    cluster: Callable[..., DaskProcess], course: Course, tmp_path: Path
) -> None:
    require(bwrap_problem() is None, f"the sandbox is needed: {bwrap_problem()}")
    _, address = start_scheduler(cluster)
    workers = [start_worker(cluster, address, tmp_path / f"w{n}") for n in range(2)]
    expected = class_of(course, tmp_path / "flat", {"ann": "full", "bob": "relu", "cy": "empty", "dee": "full",
                                                    "eve": "relu", "fay": "full"})
    with connect(address) as engine:
        engine.client.wait_for_workers(2, timeout=READY)
        outcome: dict[str, object] = {}

        def grade() -> None:
            try:
                outcome["report"] = grade_assignment(course, CH02, tmp_path / "flat", engine=engine, progress=False)
            except BaseException as error:  # noqa: BLE001 - re-raised below, in the test's thread
                outcome["error"] = error

        batch = threading.Thread(target=grade)
        batch.start()
        await_condition(lambda: any(map(started_grading, workers)) or not batch.is_alive(), "a worker to start grading")
        assert batch.is_alive(), "the batch ended before a worker could be killed"
        victim = next(w for w in workers if started_grading(w))
        victim.kill()
        batch.join()
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert {r.student: (r.score, r.error) for r in report.results} == {s: (v, None) for s, v in expected.items()}
    assert report.graded == len(expected) and all(r.sandboxed for r in report.results)
    assert_stored_once(course, expected)


def test_a_worker_without_a_sandbox_refuses_and_the_others_grade(
    cluster: Callable[..., DaskProcess], course: Course, tmp_path: Path
) -> None:
    require(bwrap_problem() is None, f"the sandbox is needed: {bwrap_problem()}")
    _, address = start_scheduler(cluster)
    # No bwrap on its PATH: this worker cannot start a sandbox, and must not grade unsandboxed.
    broken = start_worker(cluster, address, tmp_path / "broken", PATH="/nonexistent")
    broken.await_line(r"this worker will refuse to grade: cannot grade: no sandbox")
    start_worker(cluster, address, tmp_path / "good")
    expected = class_of(course, tmp_path / "flat2", {"gil": "full", "hal": "relu", "ida": "empty"})
    said: list[str] = []
    with connect(address) as engine:
        engine.client.wait_for_workers(2, timeout=READY)
        engine.say = said.append
        # Every worker is asked before the batch whether it can grade. (Before, the broken one was named only when
        # the scheduler sent it a task, which it may not: it places the tasks where the batch's context is held.)
        for _ in range(2):  # named once, in the first batch, and sent nothing in either
            report = grade_assignment(course, CH02, tmp_path / "flat2", engine=engine, progress=False, force=True)
            assert {r.student: (r.score, r.error) for r in report.results} == {s: (v, None) for s, v in expected.items()}
            assert all(r.sandboxed for r in report.results)
            assert len(said) == 1 and "cannot grade" in said[0]
        refused = dict(engine.refused)
    assert len(refused) == 1 and "bwrap (bubblewrap) is not installed" in next(iter(refused.values()))


def test_a_task_a_worker_refuses_goes_back_to_the_queue_and_the_worker_is_named_once() -> None:
    """A worker that joins during a batch is not asked before it (`DaskEngine._probe`): it refuses its first task,
    which goes back to the front of the queue for the others, and is named once however many it refuses."""
    from collections import deque
    from types import SimpleNamespace

    from gradbook_grader.cluster import DaskEngine, WorkerCannotGrade

    class Refused:  # a finished Dask future whose task raised WorkerCannotGrade
        status = "error"

        def exception(self) -> WorkerCannotGrade:
            return WorkerCannotGrade("tcp://late:1", "cannot grade: no sandbox")

        def release(self) -> None:
            pass

    said: list[str] = []
    engine = DaskEngine(SimpleNamespace(scheduler=None), say=said.append)  # type: ignore[arg-type]
    waiting: deque = deque([("other", 0)])
    outcomes: list[object] = []
    for job in ("ann", "bob"):
        engine._settle(Refused(), job, 0, waiting, outcomes.append, outcomes.append)  # noqa: SLF001
    assert list(waiting) == [("bob", 1), ("ann", 1), ("other", 0)] and outcomes == []
    assert engine.refused == {"tcp://late:1": "cannot grade: no sandbox"}
    assert said == ["worker tcp://late:1 cannot grade: cannot grade: no sandbox; its submissions go to the other workers"]


def test_the_scheduler_dying_stops_the_batch_and_the_same_command_resumes_it(
    cluster: Callable[..., DaskProcess], course: Course, tmp_path: Path
) -> None:
    require(bwrap_problem() is None, f"the sandbox is needed: {bwrap_problem()}")
    expected = class_of(course, tmp_path / "flat3", {"jo": "full", "kim": "empty", "lu": "relu", "mo": "full"})
    scheduler, address = start_scheduler(cluster)
    start_worker(cluster, address, tmp_path / "w")
    outcome: dict[str, object] = {}
    with connect(address) as engine:
        engine.client.wait_for_workers(1, timeout=READY)

        def grade() -> None:
            try:
                outcome["report"] = grade_assignment(course, CH02, tmp_path / "flat3", engine=engine, progress=False)
            except BaseException as error:  # noqa: BLE001 - checked below
                outcome["error"] = error

        batch = threading.Thread(target=grade)
        batch.start()
        await_condition(lambda: any(r.student in expected for r in journal(course, CH02)) or not batch.is_alive(),
                        "a first grade of this batch in the journal")
        scheduler.kill()
        batch.join()
    assert isinstance(outcome.get("error"), GraderError), outcome
    assert "lost the Dask scheduler" in str(outcome["error"]) and "run the same command again" in str(outcome["error"])
    done = {r.student for r in journal(course, CH02) if r.student in expected}
    assert done and done != set(expected)

    _, address = start_scheduler(cluster)
    start_worker(cluster, address, tmp_path / "w2")
    with connect(address) as engine:
        engine.client.wait_for_workers(1, timeout=READY)
        report = grade_assignment(course, CH02, tmp_path / "flat3", engine=engine, progress=False)
    assert report.reused == len(done) and report.graded == len(expected) - len(done)
    assert {r.student: r.score for r in report.results} == expected
    assert_stored_once(course, expected)


def test_the_command_line_starts_a_local_cluster_and_prints_its_dashboard(course: Course, tmp_path: Path) -> None:
    require(bwrap_problem() is None, f"the sandbox is needed: {bwrap_problem()}")
    expected = class_of(course, tmp_path / "flat4", {"nia": "full", "oz": "relu"})
    cli = str(Path(sys.executable).parent / "gradbook-grader")
    run = subprocess.run([cli, "grade", str(tmp_path / "flat4"), "--assignment", CH02, "--scheduler", "local:2",
                          "--no-progress", "--course", str(course.root), "--db", course.db_url],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/status", run.stderr), run.stderr[-3000:]
    assert "2 submissions (2 graded" in run.stdout
    assert_stored_once(course, expected)


def test_an_unknown_scheduler_says_how_to_start_one() -> None:
    with pytest.raises(GraderError, match="cannot reach the Dask scheduler.*local:N"):
        connect("tcp://127.0.0.1:1", timeout=2)
    with pytest.raises(GraderError, match="local:4"):
        connect("local:zero")
