"""A check cell in a real JupyterLab, as a student sees it (headless Chromium, see test_browser.py).

A notebook holds a right answer and its check, a wrong answer and its check, and a stub cell
that still says ``raise NotImplementedError()``. After Run All (which stops at the failing
check, as a failed cell must) and running the stub cell by hand, the page shows:

* the passing check as one ✔ line with the number of cases, and no `Verdict(...)` echoed;
* the failing check as the ✘ panel with the lesson, the case and the hint, plus one red line,
  and no traceback through the checker's code;
* the stub cell as "not implemented yet", without a traceback.

The screenshot is kept in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from test_browser import ARTIFACTS, REACTION_MS, browser_page, jupyter_lab  # noqa: F401 - fixtures

from gradbook.checks import load_all
from gradbook.checks.drivers import NOT_IMPLEMENTED

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RELU = """def naive_relu(x):
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = {entry}
    return z

check.naive_relu(naive_relu)"""
CELLS = [
    "from gradbook.checks import ch02 as check",
    RELU.format(entry="max(x[i, j], 0)"),
    RELU.format(entry="abs(x[i, j])"),  # the absolute value: a listed mistake of chapter 2
    "# YOUR CODE HERE\nraise NotImplementedError()",
]
ABS_HINT = "this is the absolute value |x|"


def notebook(folder: Path) -> Path:
    path = folder / "checks-as-a-student-sees-them.ipynb"
    nb = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)
    return path


def wait_until_run(page, index: int) -> None:
    """Wait for code cell `index` to show its execution number (a queued or running cell shows *)."""
    page.wait_for_function(
        f"/\\[\\d+\\]/.test(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')[{index}].textContent)",
        timeout=REACTION_MS)


def test_a_passing_and_a_failing_check_as_a_student_sees_them(jupyter_lab, browser_page, tmp_path) -> None:  # noqa: F811
    path = notebook(tmp_path)
    lab, page = jupyter_lab(path), browser_page
    cases = len(load_all()["ch02.naive_relu"].make_cases(0, False))
    try:
        page.goto(lab.url(path.name))
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=REACTION_MS)
        page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| Idle/", timeout=REACTION_MS)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        wait_until_run(page, 2)  # Run All stops at the failing check: its cell fails
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        cells.nth(3).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        wait_until_run(page, 3)
        page.wait_for_selector("text=not implemented yet", timeout=REACTION_MS)

        passed = cells.nth(1).locator(".jp-OutputArea").inner_text()
        assert passed.strip() == f"\u2714 naive_relu: {cases} cases passed"

        failed = cells.nth(2)
        panel = failed.locator(".gb-check-failed")
        assert panel.count() == 1 and panel.is_visible()
        lesson = panel.inner_text()
        assert lesson.startswith("\u2718 naive_relu is not right yet:")
        assert "expected = [[1., 0.]," in lesson and f"Hint: {ABS_HINT}" in lesson
        error_line = failed.locator("[data-mime-type='application/vnd.jupyter.stderr']").inner_text()
        assert "\u2718 naive_relu" in error_line and "shown above" in error_line

        stub = cells.nth(3).locator(".jp-OutputArea").inner_text()
        assert NOT_IMPLEMENTED in stub

        everything = page.locator(".jp-Notebook").inner_text()
        assert "Traceback" not in everything and "core.py" not in everything and "Verdict(" not in everything
    finally:
        page.screenshot(path=str(ARTIFACTS / "browser-checks.png"), full_page=True)
