"""Manifests are built at `release`, so grading never waits for one (gradbook_grader.manifests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import require
from gradbook_grader import manifests, questions, sandbox
from gradbook_grader.batch import grade_assignment
from gradbook_grader.cli import main
from gradbook_grader.course import Course, GraderError
from gradbook_grader.manifests import build_manifests
from gradbook_grader.types import Manifest

import fake_grading
from grader_helpers import CH02, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


def _course(tmp: Path) -> Course:
    (tmp / "autograder").mkdir(parents=True)
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
    (tmp / "solutions").mkdir()
    shutil.copy(ROOT / "solutions" / f"{CH02}.ipynb", tmp / "solutions")
    return Course((tmp / "autograder").resolve(), (tmp / "solutions").resolve(), (tmp / "notebooks").resolve())


def test_release_builds_the_manifest_and_grading_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    require(sandbox.bwrap_problem() is None, f"the sandbox is needed: {sandbox.bwrap_problem()}")
    course = _course(tmp_path)
    assert main(["release", CH02, "--course", str(course.root)]) == 0
    assert f"manifest of {CH02}" in capsys.readouterr().out
    manifest = Manifest.from_json(__import__("json").loads(course.manifest_path(CH02).read_text())["manifest"])
    source = nbformat.read(course.source(CH02), as_version=4)
    assert manifest.expected == questions.static_manifest(source).expected and not manifest.problems

    def no_building(*args: object, **kwargs: object) -> Manifest:
        raise AssertionError("grading built a manifest that release had built")

    monkeypatch.setattr(manifests, "build_manifest", no_building)
    folder = tmp_path / "flat"
    folder.mkdir()
    nbformat.write(fake_grading.honest(source), folder / "ann.ipynb")
    report = grade_assignment(course, CH02, folder, workers=1, progress=False, grade=fake_grading.grade_submission)
    assert [(r.student, r.score, r.error) for r in report.results] == [("ann", 10.0, None)]


def test_without_a_sandbox_release_fails_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    course = _course(tmp_path)
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bwrap (bubblewrap) is not installed")
    with pytest.raises(GraderError, match=r"manifests cannot be built: bwrap \(bubblewrap\) is not installed\. .*"
                                          r"--no-manifests"):
        build_manifests(course, [CH02])
    assert not course.manifest_path(CH02).exists()
