"""A person grades a written answer in nbgrader's formgrader (headless Chromium), and `gradbook-grader
report` and `export` show that score and comment: the gradebook is the one source of truth.

The submission is graded by gradbook-grader (a stand-in execution side: `fake_grading`), which
leaves the written answer to a person: the formgrader shows it with an empty score field. The
test types a score and a comment as a grader does, waits for the formgrader to save each (its
PUT to nbgrader's API), and reads them back through the command line.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import nbformat
import pytest

from conftest import require
from fake_grading import CH02, honest, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader.batch import grade_assignment
from gradbook_grader.course import Course
from gradbook_grader.gradebook import open_gradebook
from lifecycle_helpers import WRITTEN, add_written_answer, run
from test_browser import CHROMIUM, CHROMIUM_ARGS
from test_browser_grading import formgrader  # noqa: F401 - the fixture: a Jupyter server with the formgrader

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The formgrader's page loads MathJax from a CDN and starts only once it has; offline, a stand-in.
MATHJAX = "window.MathJax = {Hub: {Startup: {signal: {Interest: function () {}}}, Queue: function () {}, Config: function () {}}};"


def formgrader_page(browser, base: str, token: str):  # noqa: ANN001, ANN201 - playwright's Browser and Page
    """A page that reaches only the server at `base`, with its token on every request (the formgrader's own API
    calls carry none), and the stand-in MathJax for the CDN's."""
    page = browser.new_page(extra_http_headers={"Authorization": f"token {token}"})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else
               route.fulfill(body=MATHJAX, content_type="application/javascript")
               if "mathjax" in route.request.url.lower() else route.abort())
    return page
ANSWER = "It repeats the smaller array along the missing axes (without copying it)."
COMMENT = "Good; say which axes are matched first."


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """ann's chapter 2, with a written answer, graded: 10 automatic points, 2 waiting for a person."""
    tmp = tmp_path_factory.mktemp("manual")
    course = small_course(tmp / "course")
    add_written_answer(course, CH02)
    nb = honest(nbformat.read(course.source(CH02), as_version=4))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == WRITTEN:
            cell.source = ANSWER
    (tmp / "submitted" / "ann" / CH02).mkdir(parents=True)
    nbformat.write(nb, tmp / "submitted" / "ann" / CH02 / f"{CH02}.ipynb")
    report = grade_assignment(course, CH02, tmp / "submitted", workers=1, progress=False, grade=fake_grade)
    assert [(r.student, r.error) for r in report.results] == [("ann", None)]
    return course


def test_a_score_given_in_the_formgrader_is_in_report_and_export(graded: Course, formgrader: str, tmp_path: Path) -> None:  # noqa: F811
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")
    from playwright.sync_api import sync_playwright

    base, token = formgrader.split("|")
    with open_gradebook(graded) as gb:
        submission_id = gb.find_submission_notebook(CH02, CH02, "ann").id
        assert gb.find_grade(WRITTEN, CH02, CH02, "ann").needs_manual_grade, "in the formgrader's queue"
    before = run(["gradbook-grader", "report", "--course", str(graded.root)], tmp_path)
    assert f"ann / {CH02}: 10 / 12  [TO GRADE BY HAND: {WRITTEN}]" in before.stdout, before.stdout + before.stderr

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = formgrader_page(browser, base, token)
            page.goto(f"{base}/formgrader/submissions/{submission_id}/?token={token}")
            score = page.locator(f"input.score#{WRITTEN}")
            # The formgrader binds its fields once it has loaded the grades and comments from nbgrader's API.
            page.wait_for_function("() => window.formgrader && formgrader.loaded && formgrader.grades.loaded "
                                   "&& formgrader.comments.loaded", timeout=120_000)
            assert ANSWER in page.inner_text("body"), "the grader reads the student's answer"
            saved = lambda kind: lambda r: f"/formgrader/api/{kind}/" in r.url and r.request.method == "PUT"  # noqa: E731
            with page.expect_response(saved("grade"), timeout=60_000) as response:
                score.fill("1.5")
                score.press("Tab")  # the formgrader saves a field when it loses focus
            assert response.value.ok
            comment = page.locator(f"textarea#{WRITTEN}-comment")
            with page.expect_response(saved("comment"), timeout=60_000) as response:
                comment.fill(COMMENT)
                comment.press("Tab")
            assert response.value.ok
        finally:
            browser.close()

    after = run(["gradbook-grader", "report", "--course", str(graded.root)], tmp_path)
    assert after.returncode == 0, after.stderr
    assert f"ann / {CH02}: 11.5 / 12\n" in after.stdout and f"{WRITTEN}: 1.5 / 2 (by hand)" in after.stdout
    assert f"comment: {COMMENT}" in after.stdout
    exported = run(["gradbook-grader", "export", "--course", str(graded.root), "--csv", str(tmp_path / "g.csv")], tmp_path)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader((tmp_path / "g.csv").open(encoding="utf-8")))
    assert [(r["student_id"], r["raw_score"], r["score"], r["needs_manual_grade"]) for r in rows] == [("ann", "11.5", "11.5", "")]
    cells = run(["gradbook-grader", "export", "--course", str(graded.root), "--csv", str(tmp_path / "c.csv"),
                 "--format", "cells"], tmp_path)
    assert cells.returncode == 0, cells.stderr
    written = [r for r in csv.DictReader((tmp_path / "c.csv").open(encoding="utf-8")) if r["cell"] == WRITTEN]
    assert [(r["manual_score"], r["comment"]) for r in written] == [("1.5", COMMENT)]
