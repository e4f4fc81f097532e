"""The manifests, built at `release` so that no grading waits for one.

An assignment's manifest (which checks each graded test cell makes, validated by grading the
instructor's solution in the sandbox) costs about one run of the solution. `batch.load_manifest`
builds it when it is missing, and caches it by the source's digest; `release` calls it for each
released assignment, so the first `grade` (and every Dask worker) gets it ready-made. A solution
that fails its own tests is then said at release, before any student has the notebook.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from gradbook_grader.course import Course
from gradbook_grader.types import Limits


def build_manifests(course: Course, assignments: Iterable[str], limits: Limits | None = None,
                    say: Callable[[str], None] = print) -> list[str]:
    """Build (or find cached) each assignment's manifest; the names built. Raises GraderError for a
    solution that does not grade cleanly. Without a sandbox here nothing is built (grading builds them)."""
    from gradbook_grader.batch import load_manifest
    from gradbook_grader.sandbox import bwrap_problem

    problem = bwrap_problem()
    if problem:
        say(f"manifests not built here ({problem}): the first `gradbook-grader grade` of each assignment builds its own")
        return []
    built = []
    for name in assignments:
        started = time.perf_counter()
        load_manifest(course, name, limits or Limits())
        say(f"manifest of {name}: {course.manifest_path(name)} ({time.perf_counter() - started:.1f} s)")
        built.append(name)
    return built
