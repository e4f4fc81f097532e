"""The manifests: built (validated) here, cached by the source's digest, and built at `release` so that no
grading waits for one.

An assignment's manifest is read from the instructor's source (`questions.static_manifest`: which
checks each graded test cell makes, and every graded cell's points) and validated by grading the
instructor's solution in the sandbox (`build_manifest`), which costs about one run of the solution.
`load_manifest` builds it when it is missing and caches it in `manifests/<assignment>.json`, keyed
by the source's digest; `release` calls it for each released assignment, so the first `grade` (and
every Dask worker) gets it ready-made. A solution that fails its own tests is then said at release,
before any student has the notebook.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterable

from nbformat import NotebookNode

from gradbook_grader.course import Course, GraderError
from gradbook_grader.files import write_atomic
from gradbook_grader.jobs import sha256
from gradbook_grader.questions import static_manifest
from gradbook_grader.types import Limits, Manifest

VALIDATION_SEED = 20_240_601


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
    require_sandbox()
    built = []
    for name in assignments:
        started = time.perf_counter()
        load_manifest(course, name, limits or Limits())
        say(f"manifest of {name}: {course.manifest_path(name)} ({time.perf_counter() - started:.1f} s)")
        built.append(name)
    return built


def build_manifest(source_nb: NotebookNode, limits: Limits = Limits(), **run_options: Any) -> Manifest:
    """The static manifest, validated: the instructor's solution, graded like a submission, must score full marks."""
    from gradbook_grader.execute import grade_submission  # here: the batch's own process never grades

    manifest = static_manifest(source_nb)
    grade = grade_submission(source_nb, source_nb, manifest, limits=limits, seed=VALIDATION_SEED, **run_options)
    if grade.error:
        manifest.problems.append(f"the solution could not be graded: {grade.error}")
    for gid, cell in grade.cells.items():
        if not cell.manual and not cell.passed and manifest.expected.get(gid):
            manifest.problems.append(f"the solution fails its own test cell {gid}: {cell.message[:300]}")
    # What says how it was graded (output cut at the limit, no control group here) is no problem of the solution.
    manifest.problems.extend(f"solution run: {e}" for e in grade.events if e not in grade.notices)
    return manifest


def load_manifest(course: Course, assignment: str, limits: Limits) -> Manifest:
    """The cached manifest if it was built from this very source, else build (runs the solution once)."""
    import nbformat

    source_bytes = course.source(assignment).read_bytes()
    try:
        cached = json.loads(course.manifest_path(assignment).read_text(encoding="utf-8"))
        if cached.get("source_sha256") == sha256(source_bytes):
            return Manifest.from_json(cached["manifest"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache, or a broken one: build it again
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
    digest = sha256(course.source(assignment).read_bytes())
    write_atomic(course.manifest_path(assignment), json.dumps({"source_sha256": digest, "manifest": manifest.to_json()}))
