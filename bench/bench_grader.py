#!/usr/bin/env python3
"""Benchmark the batch grader: submissions per minute with 1 and 2 workers, and the overhead
against plainly executing the same notebooks with nbclient, one after the other.

    .venv/bin/python bench/bench_grader.py [--copies N] [--assignment A ...]

Targets: grading overhead <= 1.3x plain execution; 2 workers >= 1.6x one worker.
Figures are printed, never asserted (machines differ). The manifest is built before
timing: it is a once-per-assignment cost, cached across batches.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from gradbook.checks import registry

ROOT = Path(__file__).resolve().parents[1]
_SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


def honest_submission(course, assignment: str) -> nbformat.NotebookNode:  # noqa: ANN001 - Course
    """The released student notebook answered with the solution's code (what a good student hands in)."""
    solution = nbformat.read(course.source(assignment), as_version=4)
    answers = {c.metadata.nbgrader.grade_id: c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(course.notebooks / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = _SOLUTION_MARKER.sub("", answers[meta["grade_id"]])
    return nb


def plain_execution(paths: list[Path]) -> float:
    """nbclient, sequentially, one kernel per notebook: what `jupyter nbconvert --execute` would do."""
    from nbclient import NotebookClient

    started = time.perf_counter()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - started


def main() -> int:
    from gradbook_grader.batch import grade_assignment
    from gradbook_grader.manifests import load_manifest
    from gradbook_grader.course import Course, release
    from gradbook_grader.types import Limits

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=4, help="submissions per assignment (default 4)")
    parser.add_argument("--assignment", action="append", help="assignment(s) to use (default: 02-tensor-operations)")
    args = parser.parse_args()
    assignments = args.assignment or [registry.chapter("ch02").notebook]

    tmp = Path(tempfile.mkdtemp(prefix="gradbook-bench-"))
    try:
        (tmp / "autograder").mkdir()
        shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
        course = Course(tmp / "autograder", ROOT / "solutions", tmp / "notebooks", f"sqlite:///{tmp / 'gradebook.db'}")
        release(course, assignments)
        folders, paths = {}, []
        for assignment in assignments:
            folders[assignment] = tmp / "submitted" / assignment
            folders[assignment].mkdir(parents=True)
            nb = honest_submission(course, assignment)
            for n in range(args.copies):
                path = folders[assignment] / f"student{n:03d}.ipynb"
                nbformat.write(nb, path)
                paths.append(path)
            load_manifest(course, assignment, Limits())  # once per assignment, cached: not timed
        count = len(paths)
        print(f"{count} submissions ({args.copies} x {', '.join(assignments)})")

        plain = plain_execution(paths)
        print(f"plain nbclient, sequential: {plain:7.1f} s  {60 * count / plain:6.1f} submissions/min")

        timings = {}
        for workers in (1, 2):
            started = time.perf_counter()
            for assignment in assignments:
                report = grade_assignment(course, assignment, folders[assignment], workers=workers, force=True, progress=False)
                bad = [r.student for r in report.results if r.error or r.score != r.max_score]
                if bad:
                    print(f"  warning: not full marks for {bad}", file=sys.stderr)
            timings[workers] = time.perf_counter() - started
            print(f"grader, {workers} worker{'s' if workers > 1 else ' '}:       {timings[workers]:7.1f} s  "
                  f"{60 * count / timings[workers]:6.1f} submissions/min")
        print(f"overhead, 1 worker vs plain: {timings[1] / plain:.2f}x (target <= 1.3x)")
        print(f"speed-up, 2 workers vs 1:    {timings[1] / timings[2]:.2f}x (target >= 1.6x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
