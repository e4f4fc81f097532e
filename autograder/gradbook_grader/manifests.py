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

from gradbook_grader.course import Course, GraderError
from gradbook_grader.types import Limits


def require_sandbox() -> None:
    """Raise GraderError, with the cause, if the grading sandbox does not work here (manifests need it)."""
    from gradbook_grader.sandbox import bwrap_problem

    problem = bwrap_problem()
    if problem:
        raise GraderError(f"the grading manifests cannot be built: {problem}. Fix the sandbox and release again, or, "
                          "on a machine that does not grade, release with --no-manifests (the first "
                          "`gradbook-grader grade` of each assignment then builds its own).")


def build_manifests(course: Course, assignments: Iterable[str], limits: Limits | None = None,
                    say: Callable[[str], None] = print) -> list[str]:
    """Build (or find cached) each assignment's manifest; the names built. Raises GraderError for a
    solution that does not grade cleanly, and for a sandbox that does not work here (with its cause)."""
    from gradbook_grader.batch import load_manifest

    require_sandbox()
    built = []
    for name in assignments:
        started = time.perf_counter()
        load_manifest(course, name, limits or Limits())
        say(f"manifest of {name}: {course.manifest_path(name)} ({time.perf_counter() - started:.1f} s)")
        built.append(name)
    return built
