"""The student edition: the repository students get, built from this one by one command.

    gradbook-grader release --student-edition DIR

This repository is the instructor's: `solutions/` holds every model answer and hidden test,
`autograder/` the grader, the course configuration, the gradebook and the course secret. The
edition holds only what a student works with (`EDITION`): the library, the released notebooks in
every language, the JupyterLab settings, `workbook.py`, the student-side tests, the glossary, a
student README and a pyproject.toml without the instructor's extras. DIR is a git repository
(made when new; an empty clone of a GitHub Classroom repository works too) and every build is one
new commit on top of the last, so its history is kept and a push updates the students' copies
(`git pull`, nbgitpuller).

Fail closed: before anything is written, every file of the edition is checked for the answers
(`leaks`): a solution region's text (English, and each translation catalog's), a hidden test's,
the course secret, an instructor file; in every file, the check modules included. Those are not the
instructor's: each chapter's package ships its public half (``chNN/public.py``) as it is and no answers
half (``chNN/answers.py``); its ``__init__.py`` is written by `recording` with its exercises' visible cases
and what the model answer and the known mistakes gave on them as data (``chNN/recorded.json``), so the
students' checks judge as the instructor's do with no answer in them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gradbook.i18n import ENGLISH

from gradbook_grader.course import Course, GraderError
from gradbook_grader.nbcells import HIDDEN_MARKER, hidden_tests, solution_bodies
from gradbook_grader.recording import answer_paths, edition_checks
from gradbook_grader.secret import SECRET_FILE, secret_path
from gradbook_grader.translate import translate_assignment, translated_languages

LIBRARY = "lib/gradbook"
# Everything the edition takes from the repository, besides the notebooks (from the course's notebooks/).
EDITION_TREES = (LIBRARY, "jupyter")
EDITION_FILES = ("workbook.py", "requirements/constraints.txt", "docs/glossary.md", "bench/bench_torch_path.py")
# The student-side tests: the library's engines, data loaders, widgets and the torch path, tested
# against PyTorch, numerical gradients and hand-computed values. Not here: tests of the grader, the
# release and the notebooks (they need solutions/ or autograder/), and tests of the checks
# (test_checks, test_check_seeds, test_diagnose, test_drivers, test_reference_gradcheck), which hold
# right answers to exercises, written differently, or one step away from them.
STUDENT_TESTS = (
    "conftest.py",
    "test_datasets_download.py", "test_datasets_idx.py", "test_datasets_mnist.py", "test_datasets_toy.py",
    "test_engine_switch.py", "test_reference_activations.py", "test_reference_layers.py",
    "test_reference_losses.py", "test_reference_model.py", "test_reference_optimizers.py",
    "test_sequential_api.py", "test_surfaces.py", "test_torch_path.py", "test_torch_path_model.py",
    "test_widgets.py",
)
TEMPLATES = Path(__file__).resolve().parent / "student_edition"  # README.md and .gitignore of the edition
INSTRUCTOR_EXTRAS = ("grader",)  # pyproject.toml's extras that only the instructor's side installs
INSTRUCTOR_TOOLS = ("playwright", "dask-jobqueue")  # dev requirements only the instructor's tests use
# Never in an edition, whatever the lists above say (checked on every file's path).
INSTRUCTOR_PATHS = re.compile(r"(^|/)(solutions|autograder|manifests|gradbook_grader)(/|$)|(^|/)nbgrader_config\.py$"
                              rf"|{re.escape(SECRET_FILE)}|gradebook\.db$")
SKIPPED = re.compile(r"(^|/)(__pycache__|\.ipynb_checkpoints|[^/]*\.egg-info)(/|$)|\.py[co]$|(^|/)\.[^/]*$")


@dataclass(frozen=True)
class Edition:
    path: Path
    files: int
    commit: str | None  # the new commit, None when nothing changed since the last build


def build_edition(course: Course, target: Path) -> Edition:
    """Write the student edition of `course` into the git repository `target` and commit it."""
    target = check_target(course, target)
    files = edition_files(course)
    problems = leaks(files, course)
    if problems:
        raise GraderError("the student edition was not written, it would hold the answers:\n  " + "\n  ".join(problems))
    if not (target / ".git").exists():
        target.mkdir(parents=True, exist_ok=True)
        _git(target, "init", "-q", "-b", "main")
    return Edition(target, len(files), _commit(target, files, course.root.parent))


def check_target(course: Course, target: Path) -> Path:
    """`target`, resolved, if the edition may be written there: a new or empty directory, or a clean git
    repository that holds a student edition or nothing yet, outside the instructor's repository."""
    repo, target = course.root.parent.resolve(), target.resolve()
    if target == repo or repo in target.parents or target in repo.parents:
        raise GraderError(f"{target} is not outside the instructor's repository {repo}: build the student edition "
                          "in a directory of its own (for example ../gradbook-student); it becomes its own repository")
    if not (target / ".git").exists():
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise GraderError(f"{target} is not empty and not a git repository: give a new directory, or a clone of "
                              "the student edition's repository")
        return target
    tracked = _git(target, "ls-files").splitlines()
    if tracked and ("workbook.py" not in tracked or any(INSTRUCTOR_PATHS.search(name) for name in tracked)):
        raise GraderError(f"{target} is a git repository, but not a student edition: give a new directory, or a "
                          "clone of the student edition's repository")
    if _git(target, "status", "--porcelain"):
        raise GraderError(f"{target} has uncommitted changes (git status): commit or remove them first; the "
                          "student edition is written only over a clean checkout, so nothing is lost")
    return target


def edition_files(course: Course) -> dict[str, bytes]:
    """Every file of the edition: its path (posix, relative) and its bytes."""
    repo = course.root.parent
    files: dict[str, bytes] = {}
    for tree in EDITION_TREES:
        files.update(_tree(repo / tree, tree))
    checks = edition_checks()  # the chapters' checks as recordings: their answers halves hold every answer
    answers = answer_paths()
    files = {name: data for name, data in files.items() if name not in answers}
    files.update(checks)
    for name in EDITION_FILES:
        files[name] = _read(repo / name)
    for name in STUDENT_TESTS:
        files[f"tests/{name}"] = _read(repo / "tests" / name)
    files.update({f"notebooks/{name}": data for name, data in _tree(course.notebooks, "").items()
                  if name.endswith(".ipynb")})
    if not any(name.startswith("notebooks/") for name in files):
        raise GraderError(f"no notebooks in {course.notebooks}: run `gradbook-grader release` first")
    files["pyproject.toml"] = student_pyproject(_read(repo / "pyproject.toml").decode("utf-8")).encode("utf-8")
    files["README.md"] = _read(TEMPLATES / "README.md")
    files[".gitignore"] = _read(TEMPLATES / "gitignore")
    return files


def _tree(folder: Path, prefix: str) -> dict[str, bytes]:
    if not folder.is_dir():
        raise GraderError(f"{folder} is missing: the student edition is built from a whole checkout of the course")
    found = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and not SKIPPED.search(name):
            found[f"{prefix}/{name}" if prefix else name] = path.read_bytes()
    return found


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise GraderError(f"cannot read {path} for the student edition ({error}): build it from a whole checkout "
                          "of the course") from None


# ---------------------------------------------------------------- pyproject.toml without the instructor's side

_ARRAY = re.compile(r"^([A-Za-z0-9_-]+) = \[\n(.*?)^\]\n", re.M | re.S)
_ENTRY = re.compile(r'^\s*"([^"]+)",?\s*(#.*)?$')


def student_pyproject(text: str) -> str:
    """pyproject.toml with the instructor's extras gone (`INSTRUCTOR_EXTRAS`), from the self-references
    too, and the instructor's test tools (`INSTRUCTOR_TOOLS`) out of every extra."""
    table = "[project.optional-dependencies]\n"
    if table not in text:
        raise GraderError("pyproject.toml has no [project.optional-dependencies]: cannot derive the student edition's")
    start = text.index(table) + len(table)
    following = re.compile(r"^\[", re.M).search(text, start)
    end = following.start() if following else len(text)

    def array(match: re.Match) -> str:
        if match.group(1) in INSTRUCTOR_EXTRAS:
            return ""
        lines = [_student_requirement(line) for line in match.group(2).splitlines(keepends=True)]
        return f"{match.group(1)} = [\n{''.join(line for line in lines if line is not None)}]\n"

    result = text[:start] + _ARRAY.sub(array, text[start:end]) + text[end:]
    _check_pyproject(result)
    return result


def _student_requirement(line: str) -> str | None:
    match = _ENTRY.match(line)
    if not match:
        return line
    name = re.split(r"[\[<>=!~ ;]", match.group(1), maxsplit=1)[0]
    if name in INSTRUCTOR_TOOLS:
        return None
    if "[" in match.group(1):  # a self-reference such as gradbook[lab,grader]
        extras = re.search(r"\[([^\]]*)\]", match.group(1)).group(1)
        kept = ",".join(e for e in (x.strip() for x in extras.split(",")) if e not in INSTRUCTOR_EXTRAS)
        return line.replace(f"[{extras}]", f"[{kept}]")
    return line


def _check_pyproject(text: str) -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10; pip vendors tomli, so it is always there
        from pip._vendor import tomli as tomllib
    extras = tomllib.loads(text)["project"].get("optional-dependencies", {})
    named = [r for requirements in extras.values() for r in requirements]
    wrong = [r for r in named if any(x in r for x in INSTRUCTOR_EXTRAS + INSTRUCTOR_TOOLS)]
    if set(extras) & set(INSTRUCTOR_EXTRAS) or wrong:
        raise GraderError(f"the student edition's pyproject.toml still names the instructor's side ({wrong}): "
                          "keep each extra of pyproject.toml a plain list, one requirement a line")


# ---------------------------------------------------------------- no answers in it


def answers(course: Course) -> dict[str, str]:
    """What must never reach students, by where it comes from: each solution region's text (each
    language's, as its catalog translates it), each hidden test's."""
    import nbformat

    found: dict[str, str] = {}
    for name in course.assignments:
        source = nbformat.read(course.source(name), as_version=4)
        versions = [(ENGLISH, source)] + [(lang, translate_assignment(course.solutions, name, source, lang).notebook)
                                       for lang in translated_languages(course.solutions)]
        for language, nb in versions:
            for cell in nb.cells:
                where = f"{name} ({language}) cell {cell.get('id', '?')}"
                for body in solution_bodies(cell.get("source", "")):
                    found.setdefault(normalized(body), f"the solution of {where}")
                for block in hidden_tests(cell.get("source", "")):  # its lines, without the delimiters
                    inside = "\n".join(line for line in block.splitlines() if HIDDEN_MARKER not in line)
                    found.setdefault(normalized(inside), f"a hidden test of {where}")
    found.pop("", None)
    return found


def normalized(text: str) -> str:
    """Text as lines without their indentation and blank lines: a copy re-indented is still a copy."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def leaks(files: dict[str, bytes], course: Course) -> list[str]:
    """Why `files` cannot go to students (none: it can): an instructor's path, the course secret, an answer."""
    problems = [f"{name}: an instructor's file" for name in files if INSTRUCTOR_PATHS.search(name)]
    secret = secret_path(course).read_bytes() if secret_path(course).is_file() else None
    texts = {name: "\n" + "\n".join(normalized(text) for text in _texts(name, data)) + "\n" for name, data in files.items()}
    lines = {name: set(text.split("\n")) for name, text in texts.items()}
    for name, data in files.items():
        if secret and (secret in data or secret.hex().encode() in data.lower()):
            problems.append(f"{name}: the course secret")
    for answer, where in answers(course).items():
        first = answer.split("\n", 1)[0]
        for name, text in texts.items():
            if first in lines[name] and f"\n{answer}\n" in text:
                problems.append(f"{name}: {where}")
    return problems


def _texts(name: str, data: bytes) -> list[str]:
    """A file's text, and for JSON (a notebook) each of its strings, a list of lines joined as nbformat does."""
    text = data.decode("utf-8", "replace")
    if not name.endswith((".ipynb", ".json")):
        return [text]
    try:
        found: list[str] = []
        _strings(json.loads(text), found)
        return [text, *found]
    except ValueError:
        return [text]


def _strings(value: object, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        found.append("".join(value))
    elif isinstance(value, (list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            _strings(item, found)


# ---------------------------------------------------------------- the git repository


def _git(target: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", "-C", str(target), *args], capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise GraderError("the student edition is a git repository: install git") from None
    if result.returncode != 0:
        raise GraderError(f"git {' '.join(args)} failed in {target}: {result.stderr.strip()[-1000:]}")
    return result.stdout


def _commit(target: Path, files: dict[str, bytes], repo: Path) -> str | None:
    for name in _git(target, "ls-files", "-z").split("\0"):
        if name and name not in files:
            (target / name).unlink(missing_ok=True)
    for name, data in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():  # a checkout's odd entry: replaced by the file
            shutil.rmtree(path)
        elif path.is_symlink():
            path.unlink()
        path.write_bytes(data)
        source = repo / name
        os.chmod(path, 0o755 if source.is_file() and os.access(source, os.X_OK) else 0o644)
    _git(target, "add", "-A")
    if not _git(target, "status", "--porcelain"):
        return None
    who = [] if _git_identity(target) else ["-c", "user.name=gradbook-grader", "-c", "user.email=gradbook-grader@localhost"]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    _git(target, *who, "commit", "-q", "-m", f"Student edition of the course, {when}")
    return _git(target, "rev-parse", "HEAD").strip()


def _git_identity(target: Path) -> bool:
    result = subprocess.run(["git", "-C", str(target), "config", "user.email"], capture_output=True, text=True)
    return bool(result.stdout.strip())
