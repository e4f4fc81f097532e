"""The student edition (`gradbook-grader release --student-edition DIR`, gradbook_grader.edition).

What students clone holds no model answer, no hidden test, no instructor file and not the course secret,
in any file of any commit of its history (searched here with this file's own reading of solutions/ and
its catalogues, not the builder's); a rebuild is a new commit on top; and a fresh clone's two README
commands work: the edition's own install, with no package index and only the distributions it
declares (edition_helpers), then `lab` with every package source out of reach.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
import venv
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Iterator

import nbformat
import pytest
from babel.messages.pofile import read_po
from packaging.utils import canonicalize_name

from conftest import ROOT, await_jupyter, free_port, stop_jupyter
from edition_helpers import declared_closure, link_closure, site_packages
from notebook_helpers import assert_untouched_chapter_ran
from run_helpers import chapters_recorded_once
from gradbook_grader.course import Course, GraderError
from gradbook.checks.registry import chapters
from gradbook_grader.edition import Edition, build_edition, check_target
from gradbook_grader.secret import ensure_secret, secret_path
from test_packaging import offline, remove_in_background

SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION", re.M | re.S)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.M | re.S)
LINKED = ("lib", "jupyter", "workbook.py", "pyproject.toml", "requirements", "docs", "tests", "bench", "solutions")
INSTRUCTOR_PATH = re.compile(r"^(solutions|autograder)/|(^|/)(nbgrader_config\.py|\.gradbook-secret|gradebook\.db)$"
                             r"|(^|/)manifests/|^(?!lib/gradbook/locale/).*\.po$")


def build_requirements(checkout: Path) -> list[str]:
    """What a checkout's own workbook.py installs before the project (pip, the build backend)."""
    spec = importlib.util.spec_from_file_location("edition_workbook", checkout / "workbook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BUILD_REQUIREMENTS


def git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, check=True).stdout


def normal(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def regions() -> dict[str, tuple[str, str]]:
    """Every solution region's and hidden test's text, normalised -> (kind, chapter): the English sources'
    and each catalogue's translations (a written answer's model answer is translated too)."""
    found: dict[str, tuple[str, str]] = {}
    texts = [(p.stem, c.source) for p in sorted((ROOT / "solutions").glob("*.ipynb"))
             for c in nbformat.read(p, as_version=4).cells]
    for po in sorted((ROOT / "solutions" / "i18n").glob("*/*.po")):
        with open(po, "rb") as file:
            texts += [(po.stem, m.string) for m in read_po(file) if isinstance(m.string, str) and m.string]
    for chapter, text in texts:
        for pattern, kind in ((SOLUTION, "solution"), (HIDDEN, "hidden")):
            found.update({normal(m.group(1)): (kind, chapter) for m in pattern.finditer(text) if normal(m.group(1))})
    return found


def readable(data: bytes) -> str:
    """A blob as text; a notebook (or any JSON) also as the text of each of its strings and cells."""
    text = data.decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except ValueError:
        return normal(text)
    strings: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            strings.append("".join(v))
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            strings.append(v)

    walk(value)
    return "\n".join(normal(s) for s in [text, *strings])


def history(repo: Path) -> tuple[dict[str, bytes], dict[str, set[str]], bytes]:
    """Every blob in the repository's object database (by id), the paths each had in any commit, the commits."""
    listed = git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)").decode()
    ids = [line.split()[0] for line in listed.splitlines() if line.endswith(" blob")]
    raw, blobs = git(repo, "cat-file", "--batch", data="\n".join(ids).encode() + b"\n"), {}
    while raw:
        header, _, raw = raw.partition(b"\n")
        blob_id, _, size = header.decode().split()
        blobs[blob_id], raw = raw[: int(size)], raw[int(size) + 1:]
    paths: dict[str, set[str]] = {}
    for commit in git(repo, "rev-list", "--all").decode().split():
        for entry in git(repo, "ls-tree", "-r", "-z", commit).decode().split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                paths.setdefault(meta.split()[2], set()).add(path)
    return blobs, paths, git(repo, "log", "--all", "--format=%H %B")


def assert_tests_import_only(edition: Path, declared: dict) -> None:
    """Each test the edition ships imports the standard library, the edition's own modules, or a distribution
    its pyproject.toml declares (only one file is collected below; this reads every file's imports)."""
    import ast

    provided = {top for top, names in packages_distributions().items() if any(canonicalize_name(n) in declared for n in names)}
    own = {"gradbook", "conftest", *(p.stem for p in (edition / "tests").glob("*.py"))}
    assert "nbgrader" not in provided and "gradbook_grader" not in provided and "distributed" not in provided
    for test in sorted((edition / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(test.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in own or top in provided, f"{test.name} imports {name}"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Course]:
    """An instructor's checkout (this repository's parts, linked; its own notebooks/ and course with a secret).
    Its editions take the chapters' recorded checks from the run's one recording (run_helpers)."""
    repo = tmp_path_factory.mktemp("instructor")
    for name in LINKED:
        (repo / name).symlink_to(ROOT / name)
    (repo / "autograder").mkdir()
    (repo / "autograder" / "nbgrader_config.py").write_bytes((ROOT / "autograder" / "nbgrader_config.py").read_bytes())
    shutil.copytree(ROOT / "notebooks", repo / "notebooks")
    course = Course(repo / "autograder", repo / "solutions", repo / "notebooks")
    ensure_secret(course)
    with chapters_recorded_once():
        yield course


@pytest.fixture(scope="module")
def edition(checkout: Course, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The edition built into an empty repository, again after a chapter changed (a second commit), and
    again unchanged (no commit)."""
    target = tmp_path_factory.mktemp("student") / "gradbook-student"
    target.mkdir()
    git(target, "init", "-q")  # as `git clone` of a new, empty GitHub Classroom repository leaves it
    with pytest.MonkeyPatch.context() as patch:  # the first build through the command, nbgrader's release aside
        from gradbook_grader import cli, course as course_module

        patch.setattr(course_module, "release", lambda *args: [])
        assert cli.main(["release", "--no-manifests", "--course", str(checkout.root), "--student-edition", str(target)]) == 0
    first = Edition(target, 0, git(target, "rev-parse", "HEAD").decode().strip())
    chapter = checkout.notebooks / "00-what-is-deep-learning.ipynb"
    nb = nbformat.read(chapter, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A course update."))
    nbformat.write(nb, chapter)
    second = build_edition(checkout, target)
    third = build_edition(checkout, target)
    assert first.commit and second.commit and third.commit is None, (first, second, third)
    assert git(target, "rev-list", "HEAD").decode().split() == [second.commit, first.commit]  # history kept
    return target


def test_the_edition_holds_no_answer_hidden_test_instructor_file_or_secret_in_any_commit(
        checkout: Course, edition: Path) -> None:
    blobs, paths, commits = history(edition)
    every_path = set().union(*paths.values())
    assert not [p for p in every_path if INSTRUCTOR_PATH.search(p)]
    assert {"workbook.py", "README.md", "notebooks/zh_CN/05-softmax-and-classification.ipynb",
            "lib/gradbook/locale/zh_CN/LC_MESSAGES/gradbook.mo", "docs/glossary.md", "tests/conftest.py"} <= every_path

    secret = secret_path(checkout).read_bytes()
    for data in [*blobs.values(), commits]:
        assert secret not in data and secret.hex().encode() not in data.lower()

    texts = {blob_id: "\n" + readable(data) + "\n" for blob_id, data in blobs.items()}
    assert not [(b, t) for b, t in texts.items() if "BEGIN HIDDEN TESTS" in t or "BEGIN SOLUTION" in t]
    answers = regions()
    assert sum(kind == "solution" for kind, _ in answers.values()) >= 60 and "hidden" in {k for k, _ in answers.values()}
    lines = {blob_id: set(text.split("\n")) for blob_id, text in texts.items()}
    found = [(kind, chapter, text[:80], paths.get(blob_id)) for text, (kind, chapter) in answers.items()
             for blob_id in (b for b, t in texts.items() if text.split("\n", 1)[0] in lines[b] and f"\n{text}\n" in t)]
    assert not found  # no allowance: the check modules are recordings (gradbook_grader.recording), not the library's
    keys = [chapter.key for chapter in chapters()]
    recorded = {p for p in every_path if re.fullmatch(rf"lib/gradbook/checks/({'|'.join(keys)})/(__init__\.py|recorded\.json)", p)}
    assert len(recorded) == 2 * len(keys)  # each chapter's module recorded, and its data
    assert not [p for p in every_path if p.endswith("/answers.py")]  # no answers half, in any commit
    print(f"\n{len(answers)} answer regions searched in {len(blobs)} blobs; none found")


def test_answers_anywhere_stop_the_build_and_nothing_is_written(
        checkout: Course, edition: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The builder's own check, fail closed: each planted file is named, and the edition stays as it was."""
    from gradbook_grader import edition as builder

    head, real = git(edition, "rev-parse", "HEAD"), builder.edition_files
    solution = (ROOT / "solutions" / "02-tensor-operations.ipynb").read_bytes()
    assert any(f"\n{t}\n" in "\n" + readable(solution) + "\n" for t in regions())  # this file's search sees it too
    planted = {
        "notebooks/99-planted.ipynb": solution,  # a solution notebook among the released ones
        "tests/test_planted.py": b"def test_it():\n        check.softmax(softmax, hidden=True)\n",  # a hidden test
        "lib/gradbook/notes.py": (ROOT / "lib" / "gradbook" / "checks" / "ch02" / "answers.py").read_bytes(),  # not a check module
        "lib/gradbook/checks/ch05/answers.py": (ROOT / "lib" / "gradbook" / "checks" / "ch05" / "answers.py").read_bytes(),  # the real one
        "docs/key.txt": secret_path(checkout).read_bytes().hex().upper().encode(),
        "autograder/nbgrader_config.py": b"",
    }
    monkeypatch.setattr(builder, "edition_files", lambda course: real(course) | planted)
    with pytest.raises(GraderError, match="would hold the answers") as refused:
        build_edition(checkout, edition)
    named = {line.split(": ")[0].strip() for line in str(refused.value).splitlines()[1:]}
    assert named == set(planted), str(refused.value)
    assert "a hidden test of 05-softmax" in str(refused.value) and "the course secret" in str(refused.value)
    assert git(edition, "rev-parse", "HEAD") == head and not git(edition, "status", "--porcelain")


def test_the_edition_is_written_only_where_nothing_is_lost(checkout: Course, tmp_path: Path) -> None:
    assert check_target(checkout, tmp_path / "new" / "gradbook-student") == tmp_path / "new" / "gradbook-student"
    with pytest.raises(GraderError, match="outside the instructor's repository"):
        build_edition(checkout, checkout.root.parent / "student")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep")
    with pytest.raises(GraderError, match="not empty and not a git repository"):
        build_edition(checkout, tmp_path / "notes")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    (other / "solutions").mkdir()
    (other / "solutions" / "a.ipynb").write_text("{}")
    git(other, "add", "-A")
    git(other, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    with pytest.raises(GraderError, match="not a student edition"):
        build_edition(checkout, other)
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep" and (other / "solutions" / "a.ipynb").exists()


def test_release_student_edition_refuses_a_wrong_place_before_releasing(
        checkout: Course, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from gradbook_grader import cli, course as course_module

    released: list[object] = []
    monkeypatch.setattr(course_module, "release", lambda *args: released.append(args) or [])
    inside = checkout.root.parent / "student"
    assert cli.main(["release", "--no-manifests", "--course", str(checkout.root), "--student-edition", str(inside)]) == 1
    assert "outside the instructor's repository" in capsys.readouterr().err and not released and not inside.exists()


def test_an_edition_with_uncommitted_changes_is_refused_and_kept(checkout: Course, edition: Path) -> None:
    (edition / "README.md").write_text("edited by hand")
    try:
        with pytest.raises(GraderError, match="uncommitted changes"):
            build_edition(checkout, edition)
        assert (edition / "README.md").read_text() == "edited by hand"
    finally:
        git(edition, "checkout", "--", "README.md")


@pytest.mark.slow
def test_a_fresh_clone_installs_what_it_declares_without_an_index_then_lab_starts_offline(
        edition: Path, tmp_path: Path) -> None:
    """What this proves: a clone of the edition (committed files only) has what its workbook.py needs; its
    own install commands (workbook.py's, unchanged) succeed with no package index given exactly the
    distributions its pyproject.toml, constraints and build requirements declare, at this environment's
    versions (linked, not downloaded); its tests collect there, and nothing of the instructor's side is
    importable; a second command installs nothing and JupyterLab answers on 127.0.0.1 with pip unable
    to reach any package source. Not proven here: that the package index serves those versions
    (test_packaging's fresh-clone test downloads the same pins), and the venv's own pip bootstrap (the
    venv is made without pip; pip comes from the declared build requirements)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(edition), str(clone)], check=True)
    declared = declared_closure(clone / "pyproject.toml", build_requirements(clone))
    assert_tests_import_only(clone, declared)
    venv.EnvBuilder(with_pip=False).create(clone / ".venv")
    link_closure(declared, tmp_path / "declared", clone / ".venv")
    (site_packages(clone / ".venv") / "declared.pth").write_text(str(tmp_path / "declared") + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "VIRTUAL_ENV", "JUPYTER", "PIP_"))}
    env |= {"JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data")}
    python = sys._base_executable  # the interpreter a student runs, not this test's environment

    first = subprocess.run([python, "workbook.py", "test", "-n", "0", "-q", "--co", "tests/test_datasets_toy.py"],
                           cwd=clone, env=offline(env, tmp_path), capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert first.stdout.startswith("gradbook: installing") and "tests collected" in first.stdout
    where = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c",
                            "import gradbook, importlib.util as u; print(gradbook.__file__); "
                            "print([m for m in ('gradbook_grader', 'nbgrader', 'distributed') if u.find_spec(m)])"],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    assert Path(where[0]).is_relative_to(clone) and where[1] == "[]"

    port, token = free_port(), "t" + os.urandom(8).hex()
    stamp = (clone / ".venv" / ".gradbook-installed").stat().st_mtime_ns
    lab = subprocess.Popen([python, "workbook.py", "lab", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                            f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False"],
                           cwd=clone, env=offline(env, tmp_path), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    watchdog = threading.Timer(300, lab.kill)  # a safety net only: the wait below is for an event
    watchdog.start()
    base = f"http://127.0.0.1:{port}"
    try:
        said = await_jupyter(lab, port)
        assert "started" in json.loads(urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=60).read())
        page = urllib.request.urlopen(f"{base}/lab?token={token}", timeout=60).read().decode()
        assert "JupyterLab" in page and '"disabledExtensions"' in page
    finally:
        stop_jupyter(lab, base, token)
        watchdog.cancel()
    assert "installing" not in said and (clone / ".venv" / ".gradbook-installed").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (clone / "my-work").glob("*.ipynb")) == sorted(
        p.name for p in (clone / "notebooks").glob("*.ipynb"))
    assert not git(clone, "status", "--porcelain")  # .venv/ and my-work/ are ignored: `git pull` never meets them
    remove_in_background(clone)


def test_the_editions_own_checks_pass_the_model_answers_and_fail_the_stubs(edition: Path) -> None:
    """The edition's check modules, imported from its own lib/ in a fresh process (no instructor file on the path),
    judge what the model answer and an untouched stub return on every exercise's visible cases as the
    instructor's checks do. What they return is collected here, with the real checks, as plain data."""
    from gradbook.checks import REGISTRY, load_all
    from gradbook.checks.core import VISIBLE_SEED, collect, judge
    from gradbook.checks.plain import dumps

    def stub(*args: object, **kwargs: object) -> object:
        raise NotImplementedError

    load_all()
    asked, expected = {}, {}
    for name, exercise in sorted(REGISTRY.items()):
        for what, answer in (("reference", exercise.reference), ("stub", stub)):
            observation = collect(exercise, answer, VISIBLE_SEED, False)
            asked[f"{name} {what}"] = observation
            verdict = judge(exercise, observation, "en")
            expected[f"{name} {what}"] = [verdict.passed, verdict.message]
    judge_there = (
        "import json, sys\n"
        "from gradbook.checks import REGISTRY, load_all, judge\n"
        "from gradbook.checks.plain import loads\n"
        "from gradbook.checks.recorded import Recorded\n"
        "load_all()\n"
        "assert all(isinstance(e.reference, Recorded) for e in REGISTRY.values()), 'a check module that computes'\n"
        "asked = loads(sys.stdin.buffer.read())\n"
        "verdicts = {key: judge(REGISTRY[key.split()[0]], obs, 'en') for key, obs in asked.items()}\n"
        "print(json.dumps({key: [v.passed, v.message] for key, v in verdicts.items()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(edition / "lib")}
    ran = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(edition / 'lib')!r})\n"
                          + judge_there], input=dumps(asked), capture_output=True, env=env, cwd=edition, timeout=600)
    assert ran.returncode == 0, ran.stderr.decode()[-3000:]
    got = json.loads(ran.stdout)
    assert got == expected
    assert all(passed == key.endswith("reference") for key, (passed, _message) in got.items())


@pytest.mark.slow  # a kernel per chapter
def test_run_all_goes_through_every_untouched_chapter_of_the_edition(edition: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chapter as students receive it, run untouched: the edition's demos have no library answer to
    stand in for most exercises, so cells that need one wait (gradbook.notebook) instead of stopping Run All,
    which nbclient does exactly as JupyterLab does; every graded cell fails with "not implemented yet" (or a
    NameError), and from chapter 3 on the demos say that the student's answers are not done yet. (The one run
    of chapters 1-8 untouched in a kernel: with the library's answers present, chapter 0 runs untouched in
    test_run_all.py and test_browser.py, chapters 9 and 10 in test_browser_chapters.py; every untouched chapter is
    graded zero, in the sandbox, in test_grader.py.)"""
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", str(edition / "lib"))  # the kernels import the edition's library
    chapters_there = sorted((edition / "notebooks").glob("*.ipynb"))
    assert [path.stem for path in chapters_there] == [c.notebook for c in chapters()]
    for path, chapter in zip(chapters_there, chapters()):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises where Run All stops
        assert_untouched_chapter_ran(nb, path.name, demos_say_so=chapter.number >= 3)
