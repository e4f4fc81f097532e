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
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from gradbook_grader.comments import replace as translate_comments
from gradbook_grader.translate import (catalog_path, declare_language, localize_placeholders, translate_assignment,
                                       translated_languages)

if TYPE_CHECKING:  # nbgrader is imported lazily: importing it costs seconds
    import nbformat
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

COURSE_ID = "gradbook"
_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception): .+)$", re.M)
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
    # autograder/ first: the repository's root has an nbgrader_config.py too, which only loads the course's
    if root is not None:
        candidates = [root / "autograder", root]
    else:
        if os.environ.get("GRADBOOK_COURSE"):
            env = Path(os.environ["GRADBOOK_COURSE"])
            candidates += [env / "autograder", env]
        for here in [Path.cwd(), *Path.cwd().parents]:
            candidates += [here / "autograder", here]
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


def nbgrader_config(course: Course) -> "Config":
    """The course's nbgrader_config.py, rooted at `course.root`, with the course's gradebook."""
    ensure_tools_on_path()
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE, path=str(course.root)).load_config()
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.gradebook_url
    config.CourseDirectory.course_id = COURSE_ID
    return config


def nbgrader_api(course: Course) -> "NbGraderAPI":
    """nbgrader's Python API configured from the course's nbgrader_config.py, rooted at `course.root`."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = nbgrader_config(course)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def released_answers(course: Course, source: "nbformat.NotebookNode") -> dict[str, str]:
    """What each answer a person grades (a graded solution cell) holds in the students' notebook
    (nbgrader's ClearSolutions, as the course configures it)."""
    import copy

    from nbgrader.preprocessors import ClearSolutions

    from gradbook_grader.nbcells import grade_id, is_graded, is_solution

    released, _ = ClearSolutions(config=nbgrader_config(course)).preprocess(copy.deepcopy(source), {})
    return {str(grade_id(c)): c.source for c in released.cells
            if is_graded(c) and is_solution(c) and grade_id(c)}


def _written_answer_problems(source: "nbformat.NotebookNode") -> list[str]:
    """A written answer's model answer must sit between the solution markers.

    What is outside them is what a submission that lost the cell is graded with (and shown)."""
    from gradbook_grader.nbcells import BEGIN_SOLUTION, SOLUTION_MARKERS, grade_id, is_graded, is_solution

    begin, end = SOLUTION_MARKERS
    return [f"written answer {grade_id(c)}: put the model answer between `{begin}` and `{end}` lines "
            "(students must never receive it)"
            for c in source.cells
            if c.cell_type == "markdown" and is_graded(c) and is_solution(c) and not BEGIN_SOLUTION.search(c.source)]


def validate_sources(course: Course, names: Iterable[str]) -> None:
    """Every graded cell of every source can be graded, before any student sees it: test cells make only
    check calls, written answers keep their model answer between the solution markers."""
    import nbformat

    from gradbook_grader.questions import static_manifest

    problems = []
    for name in names:
        try:
            source = nbformat.read(course.source(name), as_version=4)
        except (OSError, ValueError) as error:
            problems.append(f"{name}: {course.source(name)} is not a readable notebook ({error})")
            continue
        problems += [f"{name}: {p}" for p in static_manifest(source).problems + _written_answer_problems(source)]
    if problems:
        raise GraderError("not released: fix these cells first (docs/authoring.md says what a graded cell holds):\n  "
                          + "\n  ".join(problems))


def release(course: Course, assignments: Iterable[str] | None = None) -> list[Path]:
    """Generate the student notebooks (notebooks/<a>.ipynb) and register the assignments in the gradebook.

    Refused first (GraderError, nothing written): a graded cell that cannot be graded (`validate_sources`) and a
    known mistake its exercise's checks do not reject with its hint (`mistakes.mistake_problems`).
    nbgrader's generate_assignment replaces solutions with stubs, removes hidden tests,
    clears outputs, records checksums and saves the cells to the gradebook. Every language with
    catalogs in solutions/i18n/ gets notebooks/<lang>/<a>.ipynb, the same assignment with its
    Markdown translated (`localized_release`).
    """
    import nbformat

    names = list(assignments) if assignments is not None else course.assignments
    if not names:
        raise GraderError(f"no notebooks in {course.solutions}: nothing to release.")
    validate_sources(course, names)
    from gradbook_grader.mistakes import mistake_problems

    problems = mistake_problems({name: course.source(name) for name in names})
    if problems:
        raise GraderError("not released: a known mistake must fail its exercise's checks with its hint "
                          "(docs/authoring.md, \"Mistakes\"):\n  " + "\n  ".join(problems))
    link_sources(course, names)
    api = nbgrader_api(course)
    course.notebooks.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        _generate(api, course, name)
        generated = course.root / "release" / name / f"{name}.ipynb"
        nb = nbformat.read(generated, as_version=4)
        target = course.notebooks / f"{name}.ipynb"
        _write(nb, target)
        written.append(target)
        for language in translated_languages(course.solutions):  # notebooks/<lang>/: same name, same assignment
            written.append(_write(localized_release(course, name, nb, language), course.notebooks / language / target.name))
    if assignments is None:  # a full release: notebooks/ holds exactly the generated notebooks
        folders = [course.notebooks] + [course.notebooks / lang for lang in translated_languages(course.solutions)]
        for stale in {p for folder in folders for p in folder.glob("*.ipynb")} - set(written):
            stale.unlink()
    return written


def _generate(api: "NbGraderAPI", course: Course, name: str) -> None:
    """nbgrader's generate_assignment, or GraderError with its cause."""
    result = api.generate_assignment(name, force=True, create=True)
    if result.get("success"):
        return
    # nbgrader's "error" is often just "Please see the above traceback"; its log has the cause
    detail = "\n".join(str(result.get(k) or "").strip() for k in ("log", "error")).strip() or "no details"
    # (a decision on nbgrader's words: its API returns only text; the line is left out of what is said, no more)
    causes = [m.group(1) for m in _EXCEPTION_LINE.finditer(detail) if "above traceback" not in m.group(1)]
    said = "\n  ".join(dict.fromkeys(causes)) or detail[-4000:]
    raise GraderError(f"nbgrader could not generate {name!r} from {course.source(name)}:\n  {said}")


def _write(nb: "nbformat.NotebookNode", target: Path) -> Path:
    import nbformat

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, target)
    return target


def localized_release(course: Course, assignment: str, released: "nbformat.NotebookNode",
                      language: str) -> "nbformat.NotebookNode":
    """The student notebook in `language`: nbgrader's release (`released`) with each Markdown cell's text
    translated (`translate`; a written answer's through nbgrader's ClearSolutions, as released) and each
    code cell's comments translated, matched by cell id. The code, grade ids and points are the release's
    own; a changed cell's checksum is computed again (nbgrader's, of the text the student receives)."""
    import copy
    import warnings

    import nbformat
    from nbgrader.preprocessors import ClearSolutions
    from nbgrader.utils import compute_checksum

    source = nbformat.read(course.source(assignment), as_version=4)
    translation = translate_assignment(course.solutions, assignment, source, language)
    if translation.untranslated:
        warnings.warn(f"{assignment} ({language}): cells {', '.join(translation.untranslated)} have no current "
                      f"translation (of the Markdown, or of a code cell's comments) and stay English; update {catalog_path(course.solutions, assignment, language)} "
                      "(python tools/i18n.py notebooks, then translate the fuzzy and empty entries)", stacklevel=2)
    cleared, _ = ClearSolutions(config=nbgrader_config(course)).preprocess(translation.notebook, {})
    text = {c.get("id"): c.source for c in cleared.cells if c.cell_type == "markdown"}
    nb = copy.deepcopy(released)
    nb.metadata["gradbook"] = {**nb.metadata.get("gradbook", {}), "language": translation.language}
    declare_language(nb, translation.language)  # nbclient/nbconvert: the kernel cannot read the metadata
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.get("id") in text:
            cell.source = text[cell.get("id")]
        if cell.cell_type == "code" and cell.get("id") in translation.comments:  # the code is never touched
            cell.source = translate_comments(cell.source, translation.comments[cell.get("id")])
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):  # nbgrader's stubs, in the language
            cell.source = localize_placeholders(cell.source, translation.language)
        if "checksum" in cell.metadata.get("nbgrader", {}):
            cell.metadata.nbgrader.checksum = compute_checksum(cell)
    return nb
