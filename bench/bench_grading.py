#!/usr/bin/env python3
"""What grading a class costs, side by side in one run: per chapter, plain execution against grading;
submissions per minute and core-seconds per submission with 1 and 2 local workers (with and without the
fork server, idle and beside busy processes) and with 2 Dask workers; the one writer's rate on SQLite and
PostgreSQL; and the wall time of a class of 2,000 students x 9 chapters projected on N workers.

    .venv/bin/python bench/bench_grading.py               every chapter (about 20 minutes on 2 cores)
    .venv/bin/python bench/bench_grading.py --quick       chapter 2 only, two copies, 10 to the writer (a few minutes)

Per chapter, one honest submission (the student notebook answered with the solution):

* plain, nbclient: `jupyter nbconvert --execute` would cost this (a fresh kernel runs every cell);
* plain, python:   a fresh interpreter runs every cell with IPython, no kernel, no sandbox;
* graded, cold:    `execute.grade_submission`, its sandbox started for it;
* graded, warm:    the same with a warm runner (`warm.WarmRunner`: started and loaded ahead), the
                   grade timed alone (in a batch the next runner warms up meanwhile);
* graded, forked:  the same with a runner forked from the chapter's fork server (`forkserver`, what the
                   batch's workers use), the grade timed alone (the server started before).

Both plain runs and every sandbox use one BLAS thread (the grader's `Limits.threads`), so the
arithmetic is the same everywhere. Throughput runs `batch.grade_assignment` on copies of the
submissions (the writer, the journal and the gradebook included). Manifests are built at release,
before anything is timed. Figures are printed, never asserted: machines differ.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import nbformat

from gradbook.checks import registry

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from bench_grader import honest_submission  # noqa: E402

from gradbook_grader.warm import FORK_SERVER_ENV  # noqa: E402

ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}
CLASS, CHAPTERS = 2_000, len(registry.CHAPTERS)
PROJECTED_WORKERS = (1, 2, 16, 64, 256)
PROJECTED_CORES = 32  # the class-scale set-up: 32 one-core workers
GRADE_CPU: dict[str, list[float]] = {}  # per mode, the CPU seconds of each timed grade (with a cpuacct group)
CHAPTER_GRADE_CPU: dict[str, list[float]] = {}  # per chapter, the CPU seconds of each forked grade


def plain_nbclient(path: Path) -> float:
    """A fresh kernel executes every cell (what nbconvert --execute and nbgrader's autograde do)."""
    from nbclient import NotebookClient

    started = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - started


def plain_python(path: Path, out: Path) -> float:
    """A fresh interpreter executes every cell with IPython: no kernel, no sandbox, no grading."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gradbook_grader.runner", str(path), str(out)], check=True,
                   cwd=path.parent, capture_output=True)
    return time.perf_counter() - started


def graded(data: bytes, source: nbformat.NotebookNode, manifest, mode: str, server=None,  # noqa: ANN001
           chapter: str = "") -> float:
    from gradbook_grader.answers import chapters_graded
    from gradbook_grader.execute import grade_submission
    from gradbook_grader.forkserver import ForkedRunner
    from gradbook_grader.running import default_data_dir
    from gradbook_grader.types import Limits
    from gradbook_grader.verdict import manual_cell
    from gradbook_grader.warm import WarmRunner, preloads

    options = {}
    if mode == "warm":  # a runner started and loaded while the previous submission was graded; no next one competes
        runner = WarmRunner(Limits(), preloads(source), lambda: None, data_dir=default_data_dir(),
                            chapters=chapters_graded(manifest))
        options["runners"] = runner.claim
    elif mode == "forked":  # forked from the chapter's fork server (started once, before anything is timed)
        options["runners"] = lambda deadline: ForkedRunner(server, deadline)
    started, cpu = time.perf_counter(), cpu_now()[0]
    grade = grade_submission(data, source, manifest, seed=1, **options)
    seconds = time.perf_counter() - started
    GRADE_CPU.setdefault(mode, []).append(cpu_now()[0] - cpu)  # the grade's own CPU (grader and sandbox)
    if mode == "forked":
        CHAPTER_GRADE_CPU.setdefault(chapter, []).append(GRADE_CPU[mode][-1])
    written = {c.metadata["nbgrader"]["grade_id"] for c in source.cells if manual_cell(c)}  # they wait for a person
    automatic = sum(cell.max_points for gid, cell in grade.cells.items() if gid not in written)
    if grade.error or grade.score != automatic:
        print(f"  warning: the honest submission scored {grade.score}/{automatic} automatic points ({grade.error})",
              file=sys.stderr)
    return seconds


def per_chapter(course, assignments: list[str], tmp: Path, repeats: int) -> dict[str, dict[str, float]]:  # noqa: ANN001
    from gradbook_grader.answers import chapters_graded
    from gradbook_grader.manifests import load_manifest
    from gradbook_grader.cluster import warm_caches
    from gradbook_grader.running import default_data_dir
    from gradbook_grader.forkserver import ForkServer
    from gradbook_grader.types import Limits
    from gradbook_grader.warm import preloads

    warm_caches()  # a worker pays these once, not per submission
    print(f"\nper chapter, one honest submission, seconds, the median of {repeats} run(s), interleaved "
          "(ratio = graded forked / plain; forked: the runner forked from the chapter's fork server)")
    print(f"{'chapter':32s} {'nbclient':>9s} {'python':>8s} {'cold':>8s} {'warm':>8s} {'forked':>8s}"
          f"   {'forked/nbclient':>15s} {'forked/python':>13s}")
    rows = {}
    for assignment in assignments:
        nb = honest_submission(course, assignment)
        path = tmp / "plain" / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        source = nbformat.read(course.source(assignment), as_version=4)
        manifest = load_manifest(course, assignment, Limits())
        data = nbformat.writes(nb).encode()
        server = ForkServer(Limits(), preloads(source), data_dir=default_data_dir(), chapters=chapters_graded(manifest))
        assert server.problem is None, server.problem
        runs = {"nbclient": lambda: plain_nbclient(path),
                "python": lambda: plain_python(path, tmp / "plain-out" / assignment),
                "cold": lambda: graded(data, source, manifest, "cold"),
                "warm": lambda: graded(data, source, manifest, "warm"),
                "forked": lambda: graded(data, source, manifest, "forked", server, assignment)}
        # Interleaved, so a burst of load elsewhere on the machine touches every figure alike.
        times = {name: [] for name in runs}
        try:
            for _ in range(repeats):
                for name, run in runs.items():
                    times[name].append(run())
        finally:
            server.close()
        row = {name: statistics.median(seconds) for name, seconds in times.items()}
        rows[assignment] = row
        print(f"{assignment:32s} {row['nbclient']:9.1f} {row['python']:8.1f} {row['cold']:8.1f} {row['warm']:8.1f} "
              f"{row['forked']:8.1f}   {row['forked'] / row['nbclient']:14.2f}x {row['forked'] / row['python']:12.2f}x",
              flush=True)
    return rows


def throughput(course, assignments: list[str], copies: int, tmp: Path, load: int) -> tuple[dict, dict]:  # noqa: ANN001
    from gradbook_grader.batch import grade_assignment
    from gradbook_grader.cluster import connect

    folders = {}
    for assignment in assignments:
        folders[assignment] = tmp / "submitted" / assignment
        folders[assignment].mkdir(parents=True)
        nb = honest_submission(course, assignment)
        for n in range(copies):
            nbformat.write(nb, folders[assignment] / f"student{n:03d}.ipynb")
    count = copies * len(assignments)
    print(f"\nthroughput: {count} submissions ({copies} x {len(assignments)} chapter(s)), graded into the gradebook")

    def batch(**options) -> tuple[float, float, float]:  # noqa: ANN003
        """Wall seconds, and core-seconds of the batch's own processes and of the whole machine."""
        own, machine = cpu_now()
        started = time.perf_counter()
        for assignment in assignments:
            report = grade_assignment(course, assignment, folders[assignment], force=True, progress=False, **options)
            bad = [r.student for r in report.results  # written answers (manual) wait for a person
                   if r.error or r.score != sum(c.max_points for c in r.cells.values() if not c.manual)]
            if bad:
                print(f"  warning: not full marks for {bad}", file=sys.stderr)
        seconds = time.perf_counter() - started
        own_after, machine_after = cpu_now()
        return seconds, own_after - own, machine_after - machine

    rates, cores = {}, {}
    how = os.environ.get("GRADBOOK_BENCH_CPUACCT") and f"the cpuacct group {os.environ['GRADBOOK_BENCH_CPUACCT']}" \
        or "getrusage (sandboxes not counted)"
    runs = [("1 local worker", {"workers": 1}, {}, 0), ("1, no fork server", {"workers": 1}, {FORK_SERVER_ENV: "0"}, 0),
            ("2 local workers", {"workers": 2}, {}, 0)]
    runs += [(f"1, {load} busy", {"workers": 1}, {}, load), (f"1, {load} busy, no fork", {"workers": 1},
             {FORK_SERVER_ENV: "0"}, load)] if load else []
    print(f"  {'':24s} {'wall':>7s}  {'rate':>17s}  {'core-s/submission':>17s} {'machine busy':>12s} {'worker s/submission':>19s}")
    for label, options, env, busy in runs:
        with environment(env), busy_load(busy):
            seconds, own, machine = batch(**options)
        rates[label] = 60 * count / seconds
        cores[label] = own / count
        print(f"  {label:24s} {seconds:7.1f} s  {rates[label]:6.1f} submissions/min  {own / count:15.2f} s "
              f"{machine / count:10.2f} s {seconds * options['workers'] / count:17.2f} s  (uptime: {uptime()})", flush=True)
    started = time.perf_counter()
    with connect("local:2") as engine:
        ready = time.perf_counter() - started
        seconds, own, machine = batch(engine=engine)
    rates["2 Dask workers"] = 60 * count / seconds
    print(f"  {'2 Dask workers':24s} {seconds:7.1f} s  {rates['2 Dask workers']:6.1f} submissions/min "
          f"(the local cluster took {ready:.1f} s to start, not counted; its workers outlive the batch: no core-seconds)",
          flush=True)
    print("  core-s/submission: CPU of the batch's own processes (workers, fork servers, sandboxes, the writer; "
          f"warm-up included), from {how};\n  machine busy: /proc/stat over the same time (everything else on the "
          "machine included); worker s/submission: wall x workers / submissions")
    return rates, cores


def class_batch(course, assignment: str, copies: int, tmp: Path, load: int, repeats: int) -> dict[str, float]:  # noqa: ANN001
    """A class-sized batch of one chapter on 1 worker, idle and beside `load` busy processes, interleaved: the
    core-seconds each submission costs with the start-up (worker, imports, fork server) carried by the whole
    class as it would be, against the grade itself (a forked grade's CPU, `per_chapter`); and the worker's
    seconds per submission on the loaded machine against the idle one."""
    from gradbook_grader.batch import grade_assignment

    folder = tmp / "class" / assignment
    folder.mkdir(parents=True)
    nb = honest_submission(course, assignment)
    for n in range(copies):
        nbformat.write(nb, folder / f"student{n:03d}.ipynb")
    print(f"\na class of {copies} submissions of {assignment} on 1 worker (warm-up included), idle"
          + (f" and beside {load} busy processes, interleaved" if load else "") + f", the median of {repeats}:")
    runs: dict[str, list[tuple[float, float, float]]] = {"idle": [], "loaded": []}
    for _ in range(repeats):
        for label, busy in (("idle", 0), ("loaded", load))[:2 if load else 1]:
            with busy_load(busy):
                own, machine = cpu_now()
                started = time.perf_counter()
                report = grade_assignment(course, assignment, folder, workers=1, force=True, progress=False)
                seconds = time.perf_counter() - started
                own_after, machine_after = cpu_now()
            if report.errors or any(r.error for r in report.results):
                print(f"  warning: {report.errors[:1] or [r.error for r in report.results if r.error][:1]}", file=sys.stderr)
            runs[label].append((seconds / copies, (own_after - own) / copies, (machine_after - machine) / copies))
            print(f"  {label:7s} {seconds:7.1f} s: worker {seconds / copies:5.2f} s/submission, core-s/submission "
                  f"{(own_after - own) / copies:5.2f} (own processes), {(machine_after - machine) / copies:5.2f} "
                  f"(machine busy)  (uptime: {uptime()})", flush=True)
    median = {label: [statistics.median(r[i] for r in rows) for i in range(3)] for label, rows in runs.items() if rows}
    grade = statistics.median(CHAPTER_GRADE_CPU.get(assignment) or [float("nan")])
    idle, loaded = median["idle"], median.get("loaded", [float("nan")] * 3)
    print(f"  core-seconds per submission, warm-up included: {idle[1]:.2f} (own processes, {how_own()}), "
          f"{idle[2]:.2f} (the machine's busy time, /proc/stat: everything else on it included); the grade itself "
          f"(a forked grade's CPU): {grade:.2f} s -> {idle[1] / grade:.2f}x (target <= 1.5x)")
    if load:
        print(f"  worker seconds per submission: {idle[0]:.2f} idle, {loaded[0]:.2f} beside {load} busy processes -> "
              f"{loaded[0] / idle[0]:.2f}x (target <= 2x)")
    return {"worker_idle": idle[0], "worker_loaded": loaded[0], "core_seconds": idle[1], "machine_busy": idle[2],
            "grade_cpu": grade, "ratio": idle[1] / grade, "load_ratio": loaded[0] / idle[0]}


def how_own() -> str:
    group = os.environ.get("GRADBOOK_BENCH_CPUACCT")
    return f"the cpuacct group {group}" if group else "getrusage: sandboxes not counted"


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def own_cpu_group() -> str:
    """Put this process (and so every process it starts from now on: workers, sandboxes, fork servers) in a
    cgroup v1 cpuacct group of its own, whose usage counts them all, sandboxes included (bubblewrap does not
    pass its children's CPU time up to getrusage). Returns how own CPU is measured."""
    group = CPUACCT / f"gradbook-bench-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError as error:
        return f"getrusage (no cpuacct group: {error.strerror}; sandboxes not counted)"
    os.environ["GRADBOOK_BENCH_CPUACCT"] = str(group)
    return f"the cpuacct group {group}"


def cpu_now() -> tuple[float, float]:
    """(CPU seconds of this process and everything it started, busy core-seconds of the whole machine)."""
    group = os.environ.get("GRADBOOK_BENCH_CPUACCT")
    if group:
        own = int(Path(group, "cpuacct.usage").read_text()) / 1e9
    else:
        own = sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                  for field in ("ru_utime", "ru_stime"))
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return own, (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def uptime() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def busy_load(processes: int) -> Iterator[None]:
    """`processes` busy loops beside the batch: a loaded machine, the same for every figure that asks for it."""
    def outside() -> None:  # not the batch's: out of its cpuacct group
        if os.environ.get("GRADBOOK_BENCH_CPUACCT"):
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))

    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=outside)  # noqa: PLW1509
                for _ in range(processes)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def writer_rate(tmp: Path, count: int, db_url: str | None) -> dict[str, float]:
    """Graded submissions the one writer stores per minute (graded notebook, gradebook rows, journal), fed
    by a fast fake source (tests/fake_grading.py: a grade without running anything) on 2 workers.

    `busy` is the writer's own time, the last commit included (its rate is what it can keep up with), `cpu` its
    CPU time alone (what it would store on a core of its own: the database server's time not counted); `wall` the
    whole batch's."""
    sys.path.insert(0, str(ROOT.parent / "tests"))
    import fake_grading

    from gradbook_grader import batch
    from gradbook_grader.course import Course
    from gradbook_grader.gradebook import Transaction
    from gradbook_grader.writer import Writer

    course = fake_grading.small_course(tmp)
    if db_url:
        course = Course(course.root, course.solutions, course.notebooks, db_url)
    folder = tmp / "submitted"
    folder.mkdir()
    source = nbformat.read(course.source(fake_grading.CH02), as_version=4)
    for n in range(count):
        nbformat.write(fake_grading.honest(source), folder / f"student{n:04d}.ipynb")
    busy, cpu = [0.0], [0.0]
    finish, close = Writer.finish, Transaction.close

    def timing(method: Callable[..., None]) -> Callable[..., None]:
        def timed(self, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
            started, cpu_started = time.perf_counter(), time.thread_time()
            method(self, *args, **kwargs)
            busy[0] += time.perf_counter() - started
            cpu[0] += time.thread_time() - cpu_started
        return timed

    # Every submission's stages, and the last transaction's commit (after the last submission: `close`).
    Writer.finish, Transaction.close = timing(finish), timing(close)
    try:
        started = time.perf_counter()
        report = batch.grade_assignment(course, fake_grading.CH02, folder, workers=2, progress=False,
                                        grade=fake_grading.grade_submission)
        wall = time.perf_counter() - started
    finally:
        Writer.finish, Transaction.close = finish, close
    assert report.graded == count and not report.errors, report.errors[:1]
    return {"busy": 60 * count / busy[0], "wall": 60 * count / wall, "cpu": 60 * count / cpu[0]}


def projection(rows: dict[str, dict[str, float]], rates: dict[str, float], cores: dict[str, float],
               writer: dict[str, float], whole: dict[str, float]) -> None:
    """Each chapter's forked grade on a core of its own, what the 2 Dask workers achieved, and the measured
    core-seconds per submission on 32 one-core workers beside what the one writer stores per minute."""
    measured = "every chapter" if len(rows) == CHAPTERS else f"{len(rows)} chapter(s) standing for all {CHAPTERS}"
    grade = sum(row["forked"] for row in rows.values()) / len(rows)
    estimates = {
        "forked grade per core": grade,
        "2 Dask workers' rate": 2 * 60 / rates["2 Dask workers"],  # seconds of one worker per submission
    }
    total = CLASS * CHAPTERS
    itself = statistics.mean(GRADE_CPU["forked"]) if GRADE_CPU.get("forked") else grade
    print(f"\ncore-seconds per submission (1 worker, warm-up included, {sum(1 for _ in rows)} chapter(s) x the "
          f"throughput's copies): {cores['1 local worker']:.2f} with the fork server, {cores['1, no fork server']:.2f} "
          f"with a sandbox per submission; the grade itself (forked, "
          f"{'its CPU seconds' if GRADE_CPU.get('forked') else 'its wall seconds'}, mean of the chapters): "
          f"{itself:.2f} s -> {cores['1 local worker'] / itself:.2f}x and {cores['1, no fork server'] / itself:.2f}x of it "
          "(few copies carry the whole start-up: the class-sized batch above is the figure for a class)")
    print(f"\nprojected wall time for {CLASS:,} students x {CHAPTERS} chapters ({total:,} submissions; "
          f"{measured}), N workers of one core each, scaling linearly:")
    print("  " + f"{'N':>5s}" + "".join(f"  {f'{name} ({seconds:.1f} s)':>34s}" for name, seconds in estimates.items()))
    for workers in PROJECTED_WORKERS:
        hours = [total * seconds / workers / 3600 for seconds in estimates.values()]
        print("  " + f"{workers:5d}" + "".join(f"  {f'{h:.1f} h':>34s}" for h in hours))
    database = "PostgreSQL" if "PostgreSQL" in writer else "SQLite"
    # Per submission: the chapters' mean grade (CPU) plus what the class-sized batch measured beyond its grade
    # (worker, imports, fork server, the writer's share), i.e. from measured costs, not a rate.
    overhead = max(0.0, whole["core_seconds"] - whole["grade_cpu"])
    per_submission = itself + overhead
    compute = total * per_submission / PROJECTED_CORES / 60
    storing = total / writer[database]
    print(f"\nprojection, {CLASS:,} x {CHAPTERS} on {PROJECTED_CORES} one-core workers from the measured costs: "
          f"grading {compute:.1f} min (({itself:.2f} s grade + {overhead:.2f} s beyond it, the class batch) x {total:,} / "
          f"{PROJECTED_CORES}), storing {storing:.1f} min (the writer on {database}, {writer[database]:.0f}/min): "
          f"{max(compute, storing):.1f} min (target < 30 min)")


def writer_rates(tmp: Path, count: int, compare: bool) -> dict[str, float]:
    """The writer's rate on SQLite and, where a local server can be started, on PostgreSQL; with `compare`, also
    with every row committed alone (ROWS_PER_COMMIT = 1), run next to the default."""
    sys.path.insert(0, str(ROOT.parent / "tests"))
    from postgres_helpers import postgres_problem, postgres_server

    from gradbook_grader import writer

    default = writer.ROWS_PER_COMMIT
    sizes = [default] + ([1] if compare and default != 1 else [])
    print(f"\nthe one writer, fed {count} graded submissions by a fast fake source (2 workers, tests/fake_grading.py), "
          f"submissions stored per minute (graded notebook, gradebook rows, journal; up to {default} "
          "submissions per gradebook commit by default):")
    problem = postgres_problem()
    rates = {}
    for database in ("SQLite", "PostgreSQL"):
        if database == "PostgreSQL" and problem:
            print(f"  PostgreSQL   not measured: {problem}")
            break
        for size in sizes:
            writer.ROWS_PER_COMMIT = size
            try:
                folder = tmp / f"writer-{database}-{size}"
                if database == "SQLite":
                    measured = writer_rate(folder, count, None)
                else:
                    with postgres_server() as url:
                        measured = writer_rate(folder, count, url)
            finally:
                writer.ROWS_PER_COMMIT = default
            label = database if size == default else f"{database}, 1 row per commit"
            rates[label] = measured["busy"]
            print(f"  {label:30s} {measured['busy']:7.0f}/min of the writer's own time ({measured['cpu']:.0f}/min of "
                  f"its CPU time; {measured['wall']:.0f}/min wall with the fake workers beside it)  (uptime: {uptime()})",
                  flush=True)
    return rates


def main(argv: list[str] | None = None) -> int:
    from gradbook_grader.course import Course, release

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="chapter 2 only, two copies (the smoke test's run)")
    parser.add_argument("--assignment", action="append", help="chapter(s) to measure (default: all; --quick: 02)")
    parser.add_argument("--copies", type=int, help="submissions per chapter for the throughput (default 4; --quick: 2)")
    parser.add_argument("--repeats", type=int, help="runs per figure of the per-chapter table, median (default 3; --quick: 1)")
    parser.add_argument("--load", type=int, help="busy processes beside a second 1-worker batch (default 2; --quick: 0)")
    parser.add_argument("--writer", type=int, help="fake submissions fed to the writer (default 300; --quick: 10, one commit as 40 was)")
    parser.add_argument("--class-size", type=int, help="submissions of the class-sized 1-worker batch, idle and loaded "
                        "(default 30; --quick: 2, idle only)")
    args = parser.parse_args(argv)
    os.environ.update(ONE_THREAD)  # inherited by the plain runs' kernels and interpreters (the sandboxes set their own)

    tmp = Path(tempfile.mkdtemp(prefix="gradbook-bench-"))
    print(f"own CPU measured with {own_cpu_group()}")
    try:
        (tmp / "autograder").mkdir()
        shutil.copy(ROOT.parent / "autograder" / "nbgrader_config.py", tmp / "autograder")
        course = Course(tmp / "autograder", ROOT.parent / "solutions", tmp / "notebooks", f"sqlite:///{tmp / 'gradebook.db'}")
        assignments = args.assignment or ([registry.chapter("ch02").notebook] if args.quick else
                                           [c.notebook for c in registry.chapters()])
        release(course, assignments)
        rows = per_chapter(course, assignments, tmp, args.repeats or (1 if args.quick else 3))
        load = args.load if args.load is not None else (0 if args.quick else 2)
        rates, cores = throughput(course, assignments, args.copies or (2 if args.quick else 4), tmp, load)
        chapter = registry.chapter("ch02").notebook
        whole = class_batch(course, chapter if chapter in assignments else assignments[0],
                            args.class_size or (2 if args.quick else 30), tmp, load, 1 if args.quick else 2)
        writer = writer_rates(tmp, args.writer or (10 if args.quick else 300), not args.quick)
        projection(rows, rates, cores, writer, whole)
        print(json.dumps({"per_chapter": rows, "submissions_per_minute": rates, "core_seconds_per_submission": cores,
                          "writer_per_minute": writer, "class_batch": whole}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        group = os.environ.pop("GRADBOOK_BENCH_CPUACCT", None)
        if group:  # back to where it was, and the group goes (with whatever still lingers in it)
            for pid in [os.getpid(), *map(int, Path(group, "cgroup.procs").read_text().split())]:
                try:
                    (CPUACCT / "cgroup.procs").write_text(str(pid))
                except OSError:
                    pass  # it ended meanwhile
            try:
                Path(group).rmdir()
            except OSError as error:
                print(f"the cpuacct group {group} could not be removed: {error.strerror}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
