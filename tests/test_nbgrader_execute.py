"""Every nbgrader command that would execute a submission under the course's configuration runs it in the
sandbox, or refuses (issue 23): `nbgrader validate` on a submission (the command, and the instructor's
JupyterLab Validate button, whose handler builds nbgrader's Validator from the course's config),
`nbgrader autograde`, `nbgrader generate_feedback`.

The hostile submission writes a file on the host from its first cell, and its folder holds an
`ipykernel_launcher.py` that writes one too if a kernel is ever started there. The control runs the
same cell through nbgrader's Validator without the course's configuration: the file is written, so
the checks below can fail.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, require
from fake_grading import CH02, honest, small_course
from lifecycle_helpers import nbgrader_app
from gradbook_grader import sandbox
from gradbook_grader.nbgrader_execute import RefusedExecution, checked

def hostile(src: nbformat.NotebookNode, target: Path) -> nbformat.NotebookNode:
    nb = honest(src, {"naive-relu": "def naive_relu(x):\n    return abs(x)"})  # one wrong answer: validate says so
    nb.cells.insert(0, nbformat.v4.new_code_cell(f"open({str(target)!r}, 'w').write('pwned')"))
    return nb


def course_validator(course_root: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - nbgrader's Validator
    """nbgrader's Validator as the lab's Validate handler builds it: NbGrader's config, found from the
    server's directory (the instructor's lab runs in the course)."""
    from nbgrader.apps import NbGrader
    from nbgrader.validator import Validator

    monkeypatch.chdir(course_root)
    app = NbGrader()
    app.load_config_file()
    return Validator(config=app.config)


@pytest.mark.slow
@pytest.mark.sandbox
def test_no_nbgrader_command_runs_a_submission_outside_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    from nbgrader.validator import Validator
    from traitlets.config import Config

    course = small_course(tmp_path / "course", fake=False)
    src = nbformat.read(course.source(CH02), as_version=4)
    pwned = tmp_path / "host"
    pwned.mkdir()
    os.chmod(pwned, 0o777)

    control = tmp_path / "control"
    control.mkdir()
    nbformat.write(hostile(src, pwned / "control"), control / f"{CH02}.ipynb")
    Validator(config=Config()).validate(str(control / f"{CH02}.ipynb"))  # nbgrader alone: it runs, as you
    assert (pwned / "control").read_text() == "pwned", "the hostile cell works when nbgrader runs it"

    folder = course.root / "submitted" / "eve" / CH02
    folder.mkdir(parents=True)
    nbformat.write(hostile(src, pwned / "validate"), folder / f"{CH02}.ipynb")
    (folder / "ipykernel_launcher.py").write_text(f"open({str(pwned / 'launcher')!r}, 'w').write('pwned')\n")
    monkeypatch.chdir(course.root)  # `nbgrader validate submitted/eve/...` in the course (nbgrader's ValidateApp)
    # nbgrader's Validator writes to the sys.stdout of when it was imported (a class attribute), which under
    # pytest-xdist is whatever another test's capture was: give it a stream of its own.
    monkeypatch.setattr(Validator, "stream", io.StringIO())
    assert nbgrader_app("ValidateApp", f"submitted/eve/{CH02}/{CH02}.ipynb") == 0
    said = Validator.stream.getvalue() + capfd.readouterr().out
    assert not (pwned / "validate").exists() and not (pwned / "launcher").exists(), said
    assert "VALIDATION FAILED" in said and "naive_relu" in said, said  # graded in the sandbox: the wrong answer

    lab = course_validator(course.root, monkeypatch).validate(str(folder / f"{CH02}.ipynb"))  # the lab's Validate button
    assert not (pwned / "validate").exists() and lab.get("failed"), lab

    elsewhere = tmp_path / "copied"
    shutil.copytree(folder, elsewhere)
    with pytest.raises(RefusedExecution, match="not one of the course's own"):
        course_validator(course.root, monkeypatch).validate(str(elsewhere / f"{CH02}.ipynb"))
    assert not (pwned / "validate").exists() and not (pwned / "launcher").exists()

    # The formgrader's Autograde and Generate Feedback buttons: nbgrader's apps with the course's config.
    assert nbgrader_app("AutogradeApp", CH02) == 0 and (course.autograded("eve", CH02) / f"{CH02}.ipynb").exists()
    assert nbgrader_app("GenerateFeedbackApp", CH02) == 0  # renders the graded notebook, runs nothing
    assert (course.root / "feedback" / "eve" / CH02 / f"{CH02}.html").exists()
    assert not (pwned / "validate").exists() and not (pwned / "launcher").exists()

    # The instructor's own notebooks run as nbgrader runs them; a submission's, in the sandbox.
    assert checked(course.root, course.root / "source" / CH02) is None and checked(course.root, course.solutions) is None
    assert checked(course.root, (course.root / "submitted" / "eve" / CH02).resolve()) == ("eve", CH02)


def test_nbgrader_at_the_repositorys_root_has_the_courses_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """`nbgrader validate autograder/submitted/...` from the root (the issue's command) is guarded too."""
    from nbgrader.apps import NbGrader

    monkeypatch.chdir(ROOT)
    app = NbGrader()
    app.load_config_file()
    course = ROOT / "autograder"
    assert app.config.GradbookCourse.root == str(course) and app.config.CourseDirectory.root == str(course)
    assert checked(course, course / "submitted" / "eve" / CH02) == ("eve", CH02)
    assert checked(course, ROOT / "my-work") is None  # workbook.py lab's own copies
    with pytest.raises(RefusedExecution):
        checked(course, ROOT / "elsewhere")


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_validate_lists_each_failing_check_with_its_whole_lesson(tmp_path: Path, language: str) -> None:
    """nbgrader's Validate (the command, and the dialog of the lab's Validate button, which shows `raw_error`)
    reads only a failing cell's traceback: it must hold the whole lesson, in the notebook's language, not a
    line pointing at a panel that the dialog does not show (issue 25)."""
    import re

    import numpy as np
    from nbgrader.validator import Validator
    from traitlets.config import Config

    from gradbook.checks import load_all
    from gradbook.checks.core import collect, judge
    from gradbook.i18n import using

    wrong = "def naive_relu(x):\n    return abs(x)\n"
    grade = {"grade": True, "grade_id": "naive-relu-test", "points": 1, "locked": True, "schema_version": 3,
             "solution": False, "task": False}
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"from gradbook.i18n import set_language\nset_language({language!r})\n"
                                  f"from gradbook.checks import ch02 as check\n{wrong}"),
        nbformat.v4.new_code_cell("check.naive_relu(naive_relu)", metadata={"nbgrader": grade}),
    ]
    path = tmp_path / "validate-me.ipynb"
    nbformat.write(nb, path)
    failed = Validator(config=Config()).validate(str(path))["failed"]

    scope: dict = {"np": np}
    exec(wrong, scope)  # noqa: S102 - the same wrong answer, judged here by the library itself
    exercise = load_all()["ch02.naive_relu"]
    with using(language):  # the answer's own words (what it used) are said where it runs, in its language
        lesson = judge(exercise, collect(exercise, scope["naive_relu"], 0, False)).message
    (cell,) = failed
    shown = re.sub(r"\x1b\[[0-9;]*m", "", cell["raw_error"])
    assert all(line in shown for line in lesson.splitlines()), (shown, lesson)
    assert "shown above" not in shown and "上方" not in shown
