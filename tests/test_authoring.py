"""What an author gets told before students do (issue 26, item 7).

* `release` runs every known mistake of the exercises an assignment checks, and refuses (exit 1, the
  exercise and the mistake named) one that the checks pass.
* A chapter owns its rules: any exercise named ``ch02.*``, however it is made, runs under chapter 2's
  loops-only rule, and cannot name another driver.
* `tools/i18n.py check` extracts the messages itself: a new message without a translation fails it at once.
* A release whose sandbox cannot import the course's library exits 1 and says why.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, require
from gradbook.checks import REGISTRY, Case, Exercise, Mistake, collect, judge, load_all
from gradbook.checks.ch02.public import LOOPS_ONLY
from gradbook_grader import sandbox
from gradbook_grader.cli import main
from gradbook_grader.mistakes import unrejected

CH02 = "02-tensor-operations"


def _loops_relu(x: np.ndarray) -> np.ndarray:
    out = x.copy() if isinstance(x, np.ndarray) else np.zeros((len(x), len(x[0])))
    for i in range(len(x)):
        for j in range(len(x[0])):
            out[i, j] = max(x[i, j], 0.0)
    return out


def _cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((np.array([[-1.0, 2.0], [3.0, -4.0]]),)), Case((rng.normal(size=(3, 5)),))]


@pytest.fixture
def scratch_exercises():
    """Exercises made here leave the registry as they found it (the course's exercises in it)."""
    before = set(load_all())
    yield
    for name in set(REGISTRY) - before:
        del REGISTRY[name]


def verdict(exercise: Exercise, answer: object):
    return judge(exercise, collect(exercise, answer, 0, False), "en")


def test_a_plain_exercise_of_chapter_2_obeys_the_loops_only_rule(scratch_exercises) -> None:
    exercise = Exercise("ch02.fresh_relu", reference=_loops_relu, cases=_cases,
                        mistakes=[Mistake(lambda x: np.abs(x), "absolute value")])
    assert verdict(exercise, _loops_relu).passed
    vectorised = verdict(exercise, lambda x: np.maximum(x, 0))
    assert not vectorised.passed and LOOPS_ONLY in vectorised.message, vectorised.message
    # Outside chapter 2 the same answer is simply right: the rule is the chapter's, not the exercise's.
    elsewhere = Exercise("ch03.fresh_relu", reference=_loops_relu, cases=_cases,
                         mistakes=[Mistake(lambda x: np.abs(x), "absolute value")])
    assert verdict(elsewhere, lambda x: np.maximum(x, 0)).passed
    with pytest.raises(ValueError, match=r"ch02.other.*rule is enforced by the driver 'ch02.loops'"):
        Exercise("ch02.other", reference=_loops_relu, cases=_cases, run="ch03.dense")


def test_every_chapter_2_exercise_runs_under_its_rule() -> None:
    chapter = [e for name, e in load_all().items() if name.startswith("ch02.")]
    assert chapter and all(e.run == "ch02.loops" for e in chapter)


def test_unrejected_names_a_mistake_the_checks_pass(scratch_exercises) -> None:
    exercise = Exercise("ch03.weak_relu", reference=lambda x: np.maximum(x, 0),
                        cases=lambda rng, hidden: [Case((np.array([1.0, 2.0]),))],  # no negative input
                        mistakes=[Mistake(lambda x: np.abs(x), "absolute value"),
                                  Mistake(lambda x: x * 2, "doubled")])
    problems = unrejected(exercise)
    assert len(problems) == 1 and "ch03.weak_relu" in problems[0] and "'absolute value'" in problems[0]
    assert "passes the visible checks" in problems[0]


def _course(tmp: Path) -> Path:
    (tmp / "autograder").mkdir(parents=True)
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
    (tmp / "solutions").mkdir()
    shutil.copy(ROOT / "solutions" / f"{CH02}.ipynb", tmp / "solutions")
    return tmp / "autograder"


def test_release_refuses_a_mistake_that_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    relu = load_all()["ch02.naive_relu"]
    monkeypatch.setattr(relu, "mistakes", [*relu.mistakes, Mistake(_loops_relu, "not a mistake at all")])
    course = _course(tmp_path)
    assert main(["release", CH02, "--course", str(course), "--no-manifests"]) == 1
    said = capsys.readouterr().err
    assert f"{CH02}: ch02.naive_relu: the mistake _loops_relu ('not a mistake at all') passes the visible checks" in said
    assert not (tmp_path / "notebooks").exists(), "nothing is released"


@pytest.mark.sandbox
def test_release_whose_sandbox_cannot_import_the_course_fails_with_the_cause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    require(sandbox.bwrap_problem() is None, f"the sandbox is needed: {sandbox.bwrap_problem()}")
    # The sandbox binds Python and its packages, and over the library the graded chapter's view of it: a view
    # that lacks the library's modules is a sandbox whose Python cannot import the course.
    empty = tmp_path / "no-library"
    empty.mkdir()
    monkeypatch.setattr(sandbox, "package_view", lambda chapters=(): empty)
    sandbox.bwrap_problem.cache_clear()
    try:
        assert main(["release", CH02, "--course", str(_course(tmp_path))]) == 1
    finally:
        sandbox.bwrap_problem.cache_clear()
    said = capsys.readouterr()
    assert not (tmp_path / "notebooks").exists() and "wrote" not in said.out, "refused before anything is written"
    assert "its Python cannot import the course's library (ModuleNotFoundError: No module named 'gradbook" in said.err, said.err
    assert "bwrap does not run" not in said.err and "--no-manifests" in said.err


def test_i18n_check_fails_on_a_new_message_without_update(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    import i18n as catalogs

    assert catalogs.check() == 0, capsys.readouterr().out  # the committed catalogues are current
    capsys.readouterr()
    extract = catalogs.extract_messages

    def with_a_new_hint():  # as if a module had gained N_("...") today
        catalog = extract()
        catalog.add("a hint written today, not yet translated", locations=[("lib/gradbook/checks/ch99.py", 1)])
        return catalog

    monkeypatch.setattr(catalogs, "extract_messages", with_a_new_hint)
    assert catalogs.check() == 1
    assert "no current translation: 'a hint written today, not yet translated'" in capsys.readouterr().out
