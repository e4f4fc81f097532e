#!/usr/bin/env python3
"""What grading a class costs, side by side in one run: per chapter, plain execution against grading;
submissions per minute with 1 and 2 local workers and with 2 Dask workers; and the wall time of a
class of 2,000 students x 9 chapters projected on N workers.

    .venv/bin/python bench/bench_grading.py               every chapter (about 20 minutes on 2 cores)
    .venv/bin/python bench/bench_grading.py --quick       chapter 2 only, two copies (under a minute)

Per chapter, one honest submission (the student notebook answered with the solution):

* plain, nbclient: `jupyter nbconvert --execute` would cost this (a fresh kernel runs every cell);
* plain, python:   a fresh interpreter runs every cell with IPython, no kernel, no sandbox;
* graded, cold:    `execute.grade_submission`, its sandbox started for it;
* graded, warm:    the same with a warm runner (`warm.WarmRunner`: started and loaded ahead, as
                   the batch's workers get one), the grade timed alone (in a batch the next
                   runner warms up meanwhile: the throughput figures include that).

Both plain runs and every sandbox use one BLAS thread (the grader's `Limits.threads`), so the
arithmetic is the same everywhere. Throughput runs `batch.grade_assignment` on copies of the
submissions (the writer, the journal and the gradebook included). Manifests are built at release,
before anything is timed. Figures are printed, never asserted: machines differ.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from gradbook.checks import registry

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from bench_grader import honest_submission  # noqa: E402

ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}
CLASS, CHAPTERS = 2_000, len(registry.CHAPTERS)
PROJECTED_WORKERS = (1, 2, 16, 64, 256)


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


def graded(data: bytes, source: nbformat.NotebookNode, manifest, warm: bool) -> float:  # noqa: ANN001
    from gradbook_grader.execute import _default_data_dir, grade_submission
    from gradbook_grader.types import Limits
    from gradbook_grader.verdict import manual_cell
    from gradbook_grader.warm import WarmRunner, preloads

    options = {}
    if warm:  # a runner started and loaded while the previous submission was graded; no next one competes
        runner = WarmRunner(Limits(), preloads(source), lambda: None, data_dir=_default_data_dir())
        options["runners"] = runner.claim
    started = time.perf_counter()
    grade = grade_submission(data, source, manifest, seed=1, **options)
    seconds = time.perf_counter() - started
    written = {c.metadata["nbgrader"]["grade_id"] for c in source.cells if manual_cell(c)}  # they wait for a person
    automatic = sum(cell.max_points for gid, cell in grade.cells.items() if gid not in written)
    if grade.error or grade.score != automatic:
        print(f"  warning: the honest submission scored {grade.score}/{automatic} automatic points ({grade.error})",
              file=sys.stderr)
    return seconds


def per_chapter(course, assignments: list[str], tmp: Path, repeats: int) -> dict[str, dict[str, float]]:  # noqa: ANN001
    from gradbook_grader.batch import load_manifest
    from gradbook_grader.cluster import warm_caches
    from gradbook_grader.types import Limits

    warm_caches()  # a worker pays these once, not per submission
    print(f"\nper chapter, one honest submission, seconds, the median of {repeats} run(s), interleaved "
          "(ratio = graded warm / plain)")
    print(f"{'chapter':32s} {'nbclient':>9s} {'python':>8s} {'cold':>8s} {'warm':>8s}   {'warm/nbclient':>13s} {'warm/python':>11s}")
    rows = {}
    for assignment in assignments:
        nb = honest_submission(course, assignment)
        path = tmp / "plain" / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        source = nbformat.read(course.source(assignment), as_version=4)
        manifest = load_manifest(course, assignment, Limits())
        data = nbformat.writes(nb).encode()
        runs = {"nbclient": lambda: plain_nbclient(path),
                "python": lambda: plain_python(path, tmp / "plain-out" / assignment),
                "cold": lambda: graded(data, source, manifest, warm=False),
                "warm": lambda: graded(data, source, manifest, warm=True)}
        # Interleaved, so a burst of load elsewhere on the machine touches every figure alike.
        times = {name: [] for name in runs}
        for _ in range(repeats):
            for name, run in runs.items():
                times[name].append(run())
        row = {name: statistics.median(seconds) for name, seconds in times.items()}
        rows[assignment] = row
        print(f"{assignment:32s} {row['nbclient']:9.1f} {row['python']:8.1f} {row['cold']:8.1f} {row['warm']:8.1f}   "
              f"{row['warm'] / row['nbclient']:12.2f}x {row['warm'] / row['python']:10.2f}x", flush=True)
    return rows


def throughput(course, assignments: list[str], copies: int, tmp: Path) -> dict[str, float]:  # noqa: ANN001
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

    def batch(**options) -> float:  # noqa: ANN003
        started = time.perf_counter()
        for assignment in assignments:
            report = grade_assignment(course, assignment, folders[assignment], force=True, progress=False, **options)
            bad = [r.student for r in report.results  # written answers (manual) wait for a person
                   if r.error or r.score != sum(c.max_points for c in r.cells.values() if not c.manual)]
            if bad:
                print(f"  warning: not full marks for {bad}", file=sys.stderr)
        return time.perf_counter() - started

    rates = {}
    for label, options in (("1 local worker", {"workers": 1}), ("2 local workers", {"workers": 2})):
        seconds = batch(**options)
        rates[label] = 60 * count / seconds
        print(f"  {label:16s} {seconds:7.1f} s  {rates[label]:6.1f} submissions/min "
              "(a pool per chapter: its processes start within the time)", flush=True)
    started = time.perf_counter()
    with connect("local:2") as engine:
        ready = time.perf_counter() - started
        seconds = batch(engine=engine)
    rates["2 Dask workers"] = 60 * count / seconds
    print(f"  {'2 Dask workers':16s} {seconds:7.1f} s  {rates['2 Dask workers']:6.1f} submissions/min "
          f"(the local cluster took {ready:.1f} s to start, not counted)", flush=True)
    return rates


def projection(rows: dict[str, dict[str, float]], rates: dict[str, float]) -> None:
    """Two estimates: each chapter's warm grade on a core of its own, and what the 2 Dask workers achieved."""
    measured = "every chapter" if len(rows) == CHAPTERS else f"{len(rows)} chapter(s) standing for all {CHAPTERS}"
    estimates = {
        "warm grade per core": sum(row["warm"] for row in rows.values()) / len(rows),
        "2 Dask workers' rate": 2 * 60 / rates["2 Dask workers"],  # seconds of one worker per submission
    }
    print(f"\nprojected wall time for {CLASS:,} students x {CHAPTERS} chapters ({CLASS * CHAPTERS:,} submissions; "
          f"{measured}), N workers of one core each, scaling linearly:")
    print("  " + f"{'N':>5s}" + "".join(f"  {f'{name} ({seconds:.1f} s)':>34s}" for name, seconds in estimates.items()))
    for workers in PROJECTED_WORKERS:
        hours = [CLASS * CHAPTERS * seconds / workers / 3600 for seconds in estimates.values()]
        print("  " + f"{workers:5d}" + "".join(f"  {f'{h:.1f} h':>34s}" for h in hours))


def main(argv: list[str] | None = None) -> int:
    from gradbook_grader.course import Course, release

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="chapter 2 only, two copies (the smoke test's run)")
    parser.add_argument("--assignment", action="append", help="chapter(s) to measure (default: all; --quick: 02)")
    parser.add_argument("--copies", type=int, help="submissions per chapter for the throughput (default 4; --quick: 2)")
    parser.add_argument("--repeats", type=int, help="runs per figure of the per-chapter table, median (default 3; --quick: 1)")
    args = parser.parse_args(argv)
    os.environ.update(ONE_THREAD)  # inherited by the plain runs' kernels and interpreters (the sandboxes set their own)

    tmp = Path(tempfile.mkdtemp(prefix="gradbook-bench-"))
    try:
        (tmp / "autograder").mkdir()
        shutil.copy(ROOT.parent / "autograder" / "nbgrader_config.py", tmp / "autograder")
        course = Course(tmp / "autograder", ROOT.parent / "solutions", tmp / "notebooks", f"sqlite:///{tmp / 'gradebook.db'}")
        assignments = args.assignment or ([registry.chapter("ch02").notebook] if args.quick else
                                           [c.notebook for c in registry.chapters()])
        release(course, assignments)
        rows = per_chapter(course, assignments, tmp, args.repeats or (1 if args.quick else 3))
        rates = throughput(course, assignments, args.copies or (2 if args.quick else 4), tmp)
        projection(rows, rates)
        print(json.dumps({"per_chapter": rows, "submissions_per_minute": rates}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
