"""The course hub's release: the student notebooks, manifests and edition, made again only when what they are
made from changed.

Releasing the whole course (nbgrader's generate_assignment per chapter and language, every known mistake
checked, the edition's leak scan) takes minutes, and a hub restarts far more often than the course changes. So
the hub records a digest of everything the release and the edition read (`SOURCES`: the solutions and their
translations, the library, the grader that releases, the course's nbgrader configuration, the edition's own
files) in ROOT/state/release.json, and releases again only when that digest differs or a product of the last
release is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from gradbook_grader.course import Course
from gradbook_grader.edition import SKIPPED, EDITION_FILES, STUDENT_TESTS
from gradbook_grader.files import write_atomic

EDITION = "gradbook-student"  # the edition's folder: also the folder nbgitpuller makes in each home
# What the release reads, relative to the checkout: folders whole, and single files.
SOURCES = ("solutions", "lib", "jupyter", "autograder/gradbook_grader", "autograder/plugins",
           "autograder/nbgrader_config.py", *EDITION_FILES, *(f"tests/{name}" for name in STUDENT_TESTS))


def sources_digest(repo: Path) -> str:
    """SHA-256 over the names and bytes of every file the release reads (caches and hidden files left out, as the
    edition leaves them out); a file added, removed, renamed or changed changes it."""
    digest = hashlib.sha256()
    for source in SOURCES:
        top = repo / source
        paths = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top] if top.is_file() else []
        for path in paths:
            name = path.relative_to(repo).as_posix()
            if SKIPPED.search(name):
                continue
            data = path.read_bytes()
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class Released:
    edition: Path
    released: bool  # False: the last release was current, nothing was made again


def products_present(course: Course, edition: Path) -> bool:
    """Whether what the last release made is all still there: each chapter's student notebook, its manifest and
    the edition's repository."""
    return (edition / ".git").is_dir() and all(
        (course.notebooks / f"{name}.ipynb").is_file() and course.manifest_path(name).is_file()
        for name in course.assignments)


def release_if_changed(course: Course, root: Path) -> Released:
    """The released course and its student edition under ROOT/gradbook-student (readable by all): released again
    when the sources' digest differs from the recorded one or a product is missing, else left as it is."""
    record, edition = root / "state" / "release.json", root / EDITION
    digest = sources_digest(course.root.parent)
    try:
        recorded = json.loads(record.read_text()).get("sources_sha256")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded == digest and products_present(course, edition):
        return Released(edition, False)
    release_course(course, edition)
    write_atomic(record, json.dumps({"sources_sha256": digest}))
    return Released(edition, True)


def release_course(course: Course, target: Path) -> None:
    """The released course (its notebooks, manifests and secret, as `gradbook-grader release` makes them) and its
    student edition, committed to `target`, every file readable by all."""
    from gradbook_grader.course import release
    from gradbook_grader.edition import build_edition
    from gradbook_grader.manifests import build_manifests, require_sandbox
    from gradbook_grader.secret import ensure_secret

    require_sandbox()  # the formgrader grades in the sandbox: no sandbox, no hub
    ensure_secret(course)
    release(course, None)
    build_manifests(course, course.assignments)
    edition = build_edition(course, target)
    for folder, _, files in os.walk(edition.path):
        os.chmod(folder, 0o755)
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                os.chmod(path, 0o644 | (path.stat().st_mode & 0o111))
