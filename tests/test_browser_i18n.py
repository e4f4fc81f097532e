"""A Chinese chapter in a real JupyterLab started as `workbook.py lab --lang zh` starts it (headless
Chromium, see test_browser.py): JupyterLab's own menus in Chinese, the chapter's plots drawn with
Chinese labels (the bundled CJK font, no missing glyph), and a failing check whose lesson and hint
are Chinese. The screenshots are kept in test-artifacts/ for a human to look at."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from test_browser import ARTIFACTS, REACTION_MS, browser_page, jupyter_lab  # noqa: F401 - fixtures
from test_browser_checks import wait_until_run

from conftest import ROOT
from test_packaging import load_workbook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CH00 = "00-what-is-deep-learning"
WRONG_LOSS = "import numpy as np\n\ndef mse_loss(y_pred, y):\n    return np.sum((y_pred - y) ** 2)"


def chinese_chapter(folder: Path) -> tuple[Path, int, int, int]:
    """Chapter 0 as released in Chinese, `predict` answered and `mse_loss` answered with a listed mistake;
    with the indices (among code cells) of the first plot, of the training data's plot and of the check."""
    nb = nbformat.read(ROOT / "notebooks" / "zh_CN" / f"{CH00}.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "predict":
            cell.source = "def predict(w, b, x):\n    return w * x + b"
        elif gid == "mse-loss":
            cell.source = WRONG_LOSS
    code = [c for c in nb.cells if c.cell_type == "code"]
    first_plot = next(i for i, c in enumerate(code) if "tr(\"classical programming\")" in c.source)
    data_plot = next(i for i, c in enumerate(code) if "tr(\"training data\")" in c.source)
    check = next(i for i, c in enumerate(code) if c.metadata.get("nbgrader", {}).get("grade_id") == "test-mse-loss")
    path = folder / f"{CH00}.ipynb"
    nbformat.write(nb, path)
    return path, first_plot, data_plot, check


def test_a_chinese_chapter_shows_chinese_plots_and_a_chinese_hint(jupyter_lab, browser_page, tmp_path) -> None:  # noqa: F811
    args, env = load_workbook().lab_command(Path(sys.executable), ["--lang", "zh"])
    path, first_plot, data_plot, check = chinese_chapter(tmp_path)
    lab = jupyter_lab(path, [a for a in args if a.startswith("--LabApp.app_settings_dir=")],
                      {"GRADBOOK_LANG": env["GRADBOOK_LANG"]})
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 2400})
    try:
        page.goto(lab.url(path.name))
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=REACTION_MS)
        page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| 空闲/", timeout=REACTION_MS)  # JupyterLab in Chinese
        page.get_by_role("menuitem", name="运行", exact=True).click()
        page.get_by_role("menuitem", name="运行所有单元格", exact=True).click()
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        panel = cells.nth(check).locator(".gb-check-failed")
        panel.wait_for(timeout=REACTION_MS)  # Run All goes on past a failing check (start_chapter)
        for index in range(first_plot, check + 1):
            wait_until_run(page, index)
        plot = cells.nth(first_plot).locator(".jp-OutputArea img")
        plot.wait_for(timeout=REACTION_MS)

        lesson = panel.inner_text()
        assert lesson.startswith("\u2718 mse_loss 还不对")
        assert "提示：这是误差平方和" in lesson and "期望" in lesson and "Hint" not in lesson
        everything = page.locator(".jp-Notebook").inner_text()
        assert "Traceback" not in everything and "missing from font" not in everything  # every glyph was found
        assert "第 0 章 — 什么是深度学习？" in everything
        assert page.locator(".lm-MenuBar-itemLabel", has_text="文件").count() == 1  # JupyterLab's own menu
    finally:
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        if cells.count() > data_plot:  # one picture: the training data's plot, and below it the failing check
            cells.nth(data_plot).evaluate("cell => cell.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(ARTIFACTS / "browser-zh-chapter.png"))
        if cells.count() > check:
            cells.nth(check).screenshot(path=str(ARTIFACTS / "browser-zh-hint.png"))
            cells.nth(first_plot).screenshot(path=str(ARTIFACTS / "browser-zh-plot.png"))
