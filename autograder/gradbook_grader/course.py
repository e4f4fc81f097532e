"""The nbgrader course: where things live, nbgrader's API with the course config, and release.

A course is a directory with an nbgrader_config.py (this repository's is `autograder/`), found
from configuration: `--course PATH`, `$GRADBOOK_COURSE`, or the nbgrader course in the current
directory or one of its parents; never from where this package is installed. Every
notebook `solutions/NN-topic.ipynb` is one assignment named after its stem; nbgrader expects
`source/<assignment>/<notebook>.ipynb`, so `link_sources` makes that a symlink into
solutions/ (a copy where symlinks are not allowed) and solutions/ stays the one source.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # nbgrader is imported lazily: it costs seconds (see DESIGN.md)
    from nbgrader.apps import NbGraderAPI

COURSE_ID = "gradbook"
CONFIG_FILE = "nbgrader_config.py"


class GraderError(Exception):
    """A problem the instructor can fix; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Course:
    root: Path  # the nbgrader course directory (autograder/)
    solutions: Path  # instructor sources, one notebook per assignment
    notebooks: Path  # generated student notebooks
    db_url: str = ""  # "" = SQLite gradebook.db in root

    @property
    def gradebook_url(self) -> str:
        return _with_driver(self.db_url) if self.db_url else f"sqlite:///{self.root / 'gradebook.db'}"

    @property
    def assignments(self) -> list[str]:
        return sorted(p.stem for p in self.solutions.glob("*.ipynb"))

    def source(self, assignment: str) -> Path:
        path = self.solutions / f"{assignment}.ipynb"
        if not path.is_file():
            known = ", ".join(self.assignments) or "none"
            raise GraderError(f"unknown assignment {assignment!r}: no {path}. Known assignments: {known}.")
        return path

    def autograded(self, student: str, assignment: str) -> Path:
        """nbgrader's layout, so its formgrader finds the graded notebooks too."""
        return self.root / "autograded" / student / assignment

    def feedback_dir(self, student: str, assignment: str) -> Path:
        return self.root / "feedback" / student / assignment

    def manifest_path(self, assignment: str) -> Path:
        return self.root / "manifests" / f"{assignment}.json"


def _with_driver(url: str) -> str:
    """A plain postgresql:// URL with the driver that is installed.

    SQLAlchemy 2.1 reads postgresql:// as psycopg (3); gradbook[grader] installs psycopg2.
    """
    import importlib.util

    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix) and importlib.util.find_spec("psycopg") is None:
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def find_course(root: Path | None = None, db_url: str = "") -> Course:
    """The course at `root` (the autograder/ dir or the repository holding it).

    Without `root`: $GRADBOOK_COURSE, else the nbgrader course in the current directory or one
    of its parents (as nbgrader finds its own), each also tried with `autograder/` below it.
    """
    candidates: list[Path] = []
    if root is not None:
        candidates = [root, root / "autograder"]
    else:
        if os.environ.get("GRADBOOK_COURSE"):
            env = Path(os.environ["GRADBOOK_COURSE"])
            candidates += [env, env / "autograder"]
        for here in [Path.cwd(), *Path.cwd().parents]:
            candidates += [here, here / "autograder"]
    for candidate in candidates:
        if (candidate / CONFIG_FILE).is_file():
            course_root = candidate.resolve()
            repo = course_root.parent
            return Course(course_root, repo / "solutions", repo / "notebooks", db_url)
    where = ", ".join(str(c) for c in candidates)
    raise GraderError(
        f"no nbgrader course found (looked for {CONFIG_FILE} in {where}). "
        "Pass --course PATH (the autograder/ directory) or set GRADBOOK_COURSE."
    )


def ensure_tools_on_path() -> None:
    """nbgrader runs `alembic` as a subprocess when it creates a gradebook; find ours, not PATH's."""
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in parts if p]])


def link_sources(course: Course, assignments: Iterable[str] | None = None) -> None:
    """Make source/<a>/<a>.ipynb point at solutions/<a>.ipynb for every (or the given) assignment."""
    names = list(assignments) if assignments is not None else course.assignments
    for name in names:
        target = course.source(name).resolve()
        link = course.root / "source" / name / f"{name}.ipynb"
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() and link.resolve() == target:
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        try:
            link.symlink_to(os.path.relpath(target, link.parent))
        except OSError:  # e.g. Windows without developer mode: a copy, refreshed on every release
            shutil.copy2(target, link)


def nbgrader_api(course: Course) -> "NbGraderAPI":
    """nbgrader's Python API configured from the course's nbgrader_config.py, rooted at `course.root`."""
    ensure_tools_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE, path=str(course.root)).load_config()
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.gradebook_url
    config.CourseDirectory.course_id = COURSE_ID
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def release(course: Course, assignments: Iterable[str] | None = None) -> list[Path]:
    """Generate the student notebooks (notebooks/<a>.ipynb) and register the assignments in the gradebook.

    nbgrader's generate_assignment replaces solutions with stubs, removes hidden tests,
    clears outputs, records checksums and saves the cells to the gradebook.
    """
    import nbformat

    names = list(assignments) if assignments is not None else course.assignments
    if not names:
        raise GraderError(f"no notebooks in {course.solutions}: nothing to release.")
    link_sources(course, names)
    api = nbgrader_api(course)
    course.notebooks.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        result = api.generate_assignment(name, force=True, create=True)
        if not result.get("success"):
            detail = result.get("error") or result.get("log") or "no details"
            raise GraderError(f"nbgrader could not generate {name!r} from {course.source(name)}:\n{detail}")
        generated = course.root / "release" / name / f"{name}.ipynb"
        nb = nbformat.read(generated, as_version=4)
        target = course.notebooks / f"{name}.ipynb"
        tmp = target.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, target)
        written.append(target)
    if assignments is None:  # a full release: notebooks/ holds exactly the generated notebooks
        for stale in set(course.notebooks.glob("*.ipynb")) - set(written):
            stale.unlink()
    return written
