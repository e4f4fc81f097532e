"""Nothing a student wrote runs in the instructor's browser (issue 13), in headless Chromium.

A submission carrying every kind of active content (a <script> in an HTML output, an SVG with
onload, JavaScript and Markdown outputs, <img onerror> and javascript: links in Markdown, a raw
HTML cell, widget state, a hostile title, cell tags and image metadata that break out of their
attributes) is graded with an execution side that passes it all through, as the worst one
would. Then nbgrader's own formgrader, served by a real Jupyter server, shows the graded
submission, and the feedback page is opened: every payload sets `window.__pwned` if it runs,
and it must stay unset, with the student's text still shown (as text). A control first opens
the same notebook rendered the way the formgrader would render it unsanitised, and sees the
payloads run: the test can fail.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import nbformat
import pytest

from conftest import require
from fake_grading import CH02, honest, hostile_graded, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader.batch import grade_assignment
from gradbook_grader.course import Course
from gradbook_grader.feedback import run_feedback
from gradbook_grader.gradebook import open_gradebook
from test_browser import CHROMIUM, CHROMIUM_ARGS, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Evaluated in the page: what ran, and what is left in the student's part of it that could run.
PROBE = """(area) => {
  const scope = document.querySelectorAll(area);
  const all = [...scope].flatMap(e => [e, ...e.querySelectorAll('*')]);
  const handlers = all.flatMap(e => [...e.attributes].filter(a => /^on/i.test(a.name)).map(a => e.tagName + ' ' + a.name));
  const urls = all.flatMap(e => ['href', 'src', 'action', 'formaction', 'xlink:href'].map(n => e.getAttribute(n) || ''))
                  .filter(u => /^\\s*(javascript|vbscript|data:text\\/html)/i.test(u));
  const active = all.filter(e => ['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'svg'].includes(e.tagName)).map(e => e.tagName);
  return {pwned: window.__pwned === undefined ? null : window.__pwned, title: document.title,
          handlers, urls, active, text: [...scope].map(e => e.innerText).join('\\n'), cells: scope.length};
}"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Course:
    tmp = tmp_path_factory.mktemp("browser")
    course = small_course(tmp / "course")
    src = nbformat.read(course.source(CH02), as_version=4)
    folder = tmp / "submitted"
    for student, nb in (("mallory", hostile_graded(src)), ("ann", honest(src))):
        (folder / student / CH02).mkdir(parents=True)
        nbformat.write(nb, folder / student / CH02 / f"{CH02}.ipynb")
    report = grade_assignment(course, CH02, folder, workers=1, progress=False, grade=fake_grade)
    assert {r.student: r.score for r in report.results} == {"mallory": 10, "ann": 10}
    assert not run_feedback(course, CH02).failed
    return course


@pytest.fixture(scope="module")
def formgrader(graded: Course) -> Iterator[str]:
    """A Jupyter server over the course, with nbgrader's formgrader; yields its base URL and token."""
    require(importlib.util.find_spec("nbgrader") is not None, "nbgrader is not installed")
    work = Path(tempfile.mkdtemp(prefix="gradbook-formgrader-"))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               JUPYTER_DATA_DIR=str(work / "data"))
    command = [sys.executable, "-m", "jupyter", "server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
               f"--ServerApp.root_dir={graded.root}"]
    if os.geteuid() == 0:  # CI containers run as root
        command.append("--allow-root")
    log = open(work / "server.log", "wb")
    # The formgrader reads nbgrader_config.py from the directory it starts in: the course's.
    server = subprocess.Popen(command, cwd=graded.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"the Jupyter server exited with {server.returncode}:\n{(work / 'server.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/formgrader/?token={token}", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the Jupyter server did not answer within 120 s:\n" + (work / "server.log").read_text()[-3000:])
                time.sleep(0.3)  # polling a starting server: the only event there is to wait for
        yield f"{base}|{token}"
    finally:
        try:
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST"), timeout=5)
            server.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(server.pid, 9)
            server.wait(timeout=10)
        log.close()


def unsanitised_page(graded: Course, target: Path) -> Path:
    """The control: the hostile notebook rendered as the formgrader renders notebooks, but not made safe."""
    from nbconvert import HTMLExporter

    src = nbformat.read(graded.source(CH02), as_version=4)
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(hostile_graded(src))
    target.write_text(body, encoding="utf-8")
    return target


def test_no_student_script_runs_in_the_formgrader_or_the_feedback(graded: Course, formgrader: str, tmp_path: Path) -> None:
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")
    from playwright.sync_api import sync_playwright

    base, token = formgrader.split("|")
    with open_gradebook(graded) as gb:
        submission_id = gb.find_submission_notebook(CH02, CH02, "mallory").id
    feedback = graded.feedback_dir("mallory", CH02) / f"{CH02}.html"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            # Offline and deterministic: the page may load what the server and the disk hold, nothing else.
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith((base, "file://"))
                       else route.abort())

            page.goto(unsanitised_page(graded, tmp_path / "control.html").as_uri())
            page.wait_for_function("window.__pwned !== undefined", timeout=30_000)  # the payloads are live

            page.goto(f"{base}/formgrader/submissions/{submission_id}/?token={token}")
            page.wait_for_selector(".cell", timeout=60_000)
            page.wait_for_load_state("networkidle")
            seen = page.evaluate(PROBE, ".cell")
            assert seen["cells"] > 10, "the formgrader showed the graded notebook"
            assert seen["pwned"] is None and "script" not in seen["title"].lower(), seen
            assert (seen["handlers"], seen["urls"], seen["active"]) == ([], [], []), seen
            assert "<script>window.__pwned=5</script>" in seen["text"], "the student's Markdown is shown, as text"
            assert "window.__pwned=4" in seen["text"], "a JavaScript output is shown as its text"

            page.goto(feedback.as_uri())
            page.wait_for_load_state("networkidle")
            seen = page.evaluate(PROBE, ".jp-Cell, .gradbook-feedback")
            assert seen["cells"] > 10
            assert seen["pwned"] is None and "script" not in seen["title"].lower(), seen
            assert (seen["handlers"], seen["urls"], seen["active"]) == ([], [], []), seen
            assert "<script>window.__pwned=5</script>" in seen["text"] and "Score: 10 / 10" in seen["text"]
        finally:
            browser.close()
