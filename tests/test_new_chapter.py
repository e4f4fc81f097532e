"""Adding a chapter takes only the files docs/authoring.md lists ("Adding a chapter", issue 24).

A fixture chapter with one exercise is written here from nothing but those files, in a scratch course and a
scratch package: its solution notebook, its package (``__init__.py`` and ``answers.py``; it needs no public
half), its catalogue (solutions/i18n/zh_CN/) and its line in the registry. Then the checks judge it, `release`
releases it in both languages (the known mistake refused by the checks, the manifest built by grading the
solution in the sandbox), and the grader grades a submission that makes the mistake.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, require
from gradbook.checks import REGISTRY, registry
from gradbook.checks.registry import Chapter
from gradbook_grader import sandbox
from gradbook_grader.cli import main

NOTEBOOK = "90-doubling"
HINT = "this adds one too many: doubling is x + x, nothing more."
# The files an author writes (docs/authoring.md lists them), and nothing else.
PACKAGE = {
    "__init__.py": "from fixture_ch90.answers import *  # noqa: F403 - the chapter's exercises\n",
    "answers.py": textwrap.dedent(f'''
        import numpy as np

        from gradbook.checks.core import Exercise, Mistake
        from gradbook.checks.drivers import Case
        from gradbook.i18n import N_


        def _double(x):
            return 2 * x


        def _cases(rng, hidden):
            return [Case((np.array([1.0, -2.0, 3.5]),)), Case((rng.normal(size=(30 if hidden else 4, 3)),))]


        double = Exercise("ch90.double", reference=_double, cases=_cases,
                          mistakes=[Mistake(lambda x: x + x + 1, N_({HINT!r}))])
        '''),
}
CHAPTER = Chapter("ch90", NOTEBOOK, "Doubling", "a function that doubles", package="fixture_ch90")


def _notebook(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("nbbuild", ROOT / "tools" / "nbbuild.py")
    nbbuild = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbbuild)
    nb = nbbuild.Notebook(NOTEBOOK)
    nb.md("# Chapter 90 — Doubling")
    nb.solution("double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION")
    nb.tests("test-double", points=2, source=(
        "from gradbook.checks import ch90 as check\ncheck.double(double)\n"
        "### BEGIN HIDDEN TESTS\ncheck.double(double, hidden=True)\n### END HIDDEN TESTS"))
    return nb.write(folder)


def _catalogue(solutions: Path) -> Path:
    from gradbook_grader.translate import catalog_path, update_catalog, write_catalog

    catalog = update_catalog(nbformat.read(solutions / f"{NOTEBOOK}.ipynb", as_version=4), None, "zh_CN")
    for message in catalog:
        if message.id:
            message.string = "# 第 90 章 — 加倍"
    path = catalog_path(solutions, NOTEBOOK, "zh_CN")
    path.parent.mkdir(parents=True)
    write_catalog(catalog, path)
    return path


@pytest.fixture
def fixture_chapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The scratch course (autograder/, solutions/) with the fixture chapter registered; the registry restored after."""
    package = tmp_path / "lib" / "fixture_ch90"
    package.mkdir(parents=True)
    for name, text in PACKAGE.items():
        (package / name).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    monkeypatch.setattr(registry, "CHAPTERS", (*registry.CHAPTERS, CHAPTER))  # its line in the registry
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "nbgrader_config.py").write_bytes((ROOT / "autograder" / "nbgrader_config.py").read_bytes())
    (tmp_path / "solutions").mkdir()
    _catalogue(_notebook(tmp_path / "solutions").parent)
    yield tmp_path
    REGISTRY.pop("ch90.double", None)
    for name in [m for m in sys.modules if m.startswith("fixture_ch90")]:
        del sys.modules[name]


def test_the_checks_judge_a_new_chapter_from_its_files(fixture_chapter: Path, capsys: pytest.CaptureFixture) -> None:
    from gradbook.checks import ch90 as check  # as its notebook imports it, through the registry

    check.double(lambda x: x * 2)
    assert "\u2714" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="adds one too many"):
        check.double(lambda x: x + x + 1)
    assert registry.chapter("ch90.double") == CHAPTER and registry.by_notebook(NOTEBOOK) == CHAPTER


@pytest.mark.slow
@pytest.mark.sandbox
def test_a_new_chapter_is_released_and_graded_with_only_its_files(fixture_chapter: Path) -> None:
    require(sandbox.bwrap_problem() is None, f"the sandbox is needed: {sandbox.bwrap_problem()}")
    from gradbook_grader.batch import load_manifest
    from gradbook_grader.course import Course
    from gradbook_grader.execute import grade_submission
    from gradbook_grader.types import Limits

    assert main(["release", NOTEBOOK, "--course", str(fixture_chapter / "autograder")]) == 0  # mistakes, manifest
    released = fixture_chapter / "notebooks"
    student = nbformat.read(released / f"{NOTEBOOK}.ipynb", as_version=4)
    assert "return 2 * x" not in nbformat.writes(student) and "hidden=True" not in nbformat.writes(student)
    assert "第 90 章" in nbformat.writes(nbformat.read(released / "zh_CN" / f"{NOTEBOOK}.ipynb", as_version=4))

    course = Course(fixture_chapter / "autograder", fixture_chapter / "solutions", released,
                    f"sqlite:///{fixture_chapter / 'gradebook.db'}")
    manifest = load_manifest(course, NOTEBOOK, Limits())  # built at release: the solution scored full marks there
    assert [q.exercise for q in manifest.expected["test-double"]] == ["ch90.double", "ch90.double"]
    for cell in student.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "double":
            cell.source = "def double(x):\n    return x + x + 1\n"
    grade = grade_submission(student, nbformat.read(course.source(NOTEBOOK), as_version=4), manifest)
    assert grade.sandboxed and grade.error is None and grade.max_score == 2
    assert grade.score == 0 and HINT in grade.cells["test-double"].message, grade.cells["test-double"].message


@pytest.mark.parametrize("readme", ["README.md", "autograder/gradbook_grader/student_edition/README.md"])
def test_the_readmes_list_the_registry_s_chapters(readme: str) -> None:
    """The instructor's README and the one students receive list every chapter of the registry."""
    chapters_tool = importlib.util.spec_from_file_location("chapters_tool", ROOT / "tools" / "chapters.py")
    tool = importlib.util.module_from_spec(chapters_tool)
    chapters_tool.loader.exec_module(tool)
    text = (ROOT / readme).read_text(encoding="utf-8")
    assert tool.rewritten(text) == text, f"{readme}'s chapter table is not the registry's: run `python tools/chapters.py`"
    assert all(f"| {c.number} | {c.title} |" in text for c in registry.chapters())
