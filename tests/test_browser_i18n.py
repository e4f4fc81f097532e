"""A Chinese chapter in a real JupyterLab started as `workbook.py lab --lang zh` starts it (headless
Chromium, see test_browser.py): JupyterLab's own menus in Chinese, the chapter's plots drawn with
Chinese labels (the bundled CJK font, no missing glyph), and a failing check whose lesson and hint
are Chinese. The screenshots are kept in test-artifacts/ for a human to look at."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from test_browser import (ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REACTION_MS, RUN_ALL_MS, browser_page,  # noqa: F401
                          jupyter_lab)
from test_browser_checks import wait_until_run

from conftest import ROOT, require
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


# ---------------------------------------------------------------- the CJK font in the browser, the progress page

# Every visible character of the page, drawn in a canvas with its element's own font stack, compared with
# what the same stack draws for characters no font here has (tofu): a private-use character, and hanzi
# outside the bundled subset (fontconfig may pick another fallback, with another .notdef, for CJK).
GLYPH_CHECK = """async ({known_missing}) => {
  await document.fonts.ready;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 40;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (font, ch) => {
    ctx.clearRect(0, 0, 40, 40); ctx.font = font; ctx.textBaseline = 'top'; ctx.fillText(ch, 4, 4);
    return ctx.getImageData(0, 0, 40, 40).data.join();
  };
  const fonts = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const element = node.parentElement;
    if (!element || !element.checkVisibility({visibilityProperty: true})) continue;
    if (element.closest('mjx-assistive-mml')) continue;  // MathJax's copy for screen readers, never drawn
    const font = `24px ${getComputedStyle(element).fontFamily}`;
    if (!fonts.has(font)) fonts.set(font, new Map());
    for (const ch of node.textContent) {
      if (/[\\x00-\\x7f]/.test(ch) || /[\\p{Z}\\p{C}\\p{M}]/u.test(ch)) continue;
      if (!fonts.get(font).has(ch)) fonts.get(font).set(ch, node.textContent.trim().slice(0, 40));
    }
  }
  const missing = [];
  let characters = 0;
  for (const [font, chars] of fonts) {
    await document.fonts.load(font, [...chars.keys()].join('') + known_missing);
    const tofu = new Set(['\\u{10FFFD}', ...known_missing].map(ch => draw(font, ch)));
    for (const [ch, where] of chars) {
      characters += 1;
      if (tofu.has(draw(font, ch))) missing.push({ch, where, font});
    }
  }
  return {missing, characters};
}"""
KNOWN_MISSING = "\u9f98\u4db5"  # 龘 䶵: outside GB 2312 and outside the subset (tests/test_i18n.py checks the font)
CONTROL = "\u9f96\u9fcb"  # 龖 鿋: outside the subset too; the check must report them


def fontconfig_without_cjk(folder: Path) -> Path:
    """A fontconfig file with the system's fonts minus every CJK one, for a browser that must find no CJK
    font but the page's (this machine has none; a developer's may)."""
    import subprocess

    listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False).stdout
    files = sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()})
    rejects = "".join(f"<glob>{f}</glob>" for f in files)
    config = folder / "fonts.conf"
    config.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                      '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                      f"<selectfont><rejectfont>{rejects}</rejectfont></selectfont></fontconfig>")
    return config


def glyphs_missing(page) -> list[dict]:  # noqa: ANN001
    """The visible characters drawn as tofu; asserts first that the check finds tofu where there is some."""
    page.evaluate("c => { const s = document.createElement('span'); s.id = 'gb-control'; s.textContent = c;"
                  " document.querySelector('.jp-Notebook').prepend(s); }", CONTROL)
    result = page.evaluate(GLYPH_CHECK, {"known_missing": KNOWN_MISSING})
    found = {m["ch"] for m in result["missing"]}
    assert set(CONTROL) <= found, "the glyph check cannot tell tofu from a glyph on this machine"
    assert result["characters"] > 500  # the UI's, the chapter's and the outputs' characters were looked at
    page.evaluate("document.getElementById('gb-control').remove()")
    return [m for m in result["missing"] if m["ch"] not in CONTROL]


PROGRESS_EN = "from gradbook.i18n import using\nfrom gradbook.progress import show_progress\n\nwith using('en'):\n    show_progress()"


def test_the_chinese_ui_has_every_glyph_without_a_system_cjk_font_and_shows_the_progress_page(
        jupyter_lab, tmp_path) -> None:  # noqa: F811
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    args, env = load_workbook().lab_command(Path(sys.executable), ["--lang", "zh"])
    path, first_plot, data_plot, check = chinese_chapter(tmp_path)
    lab = jupyter_lab(path, [a for a in args if a.startswith("--LabApp.app_settings_dir=")],
                      {"GRADBOOK_LANG": env["GRADBOOK_LANG"], "JUPYTER_CONFIG_PATH": env["JUPYTER_CONFIG_PATH"]})
    english = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROGRESS_EN)], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    nbformat.write(english, lab.root / "progress-en.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    browser_env = dict(os.environ, FONTCONFIG_FILE=str(fontconfig_without_cjk(tmp_path)))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=browser_env)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        try:
            page.goto(lab.url(path.name))
            page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| 空闲/", timeout=REACTION_MS)
            page.get_by_role("menuitem", name="运行", exact=True).click()
            page.get_by_role("menuitem", name="运行所有单元格", exact=True).click()
            progress = page.locator(".gb-progress")
            progress.wait_for(timeout=RUN_ALL_MS)  # the last cell: every check above it has run
            for index in range(first_plot, check + 1):
                wait_until_run(page, index)
            assert "你的进度" in progress.inner_text() and "✘" in progress.inner_text()
            assert "练习 mse_loss：它的检查还没通过" in progress.inner_text()  # predict passed, mse_loss is wrong
            page.get_by_role("menuitem", name="运行", exact=True).click()  # a menu open: its items are checked too
            page.get_by_role("menuitem", name="运行所有单元格", exact=True).wait_for(timeout=REACTION_MS)
            missing = glyphs_missing(page)
            assert missing == [], f"drawn as tofu: {missing[:20]}"
            page.keyboard.press("Escape")
            progress.scroll_into_view_if_needed()
            progress.screenshot(path=str(ARTIFACTS / "progress-zh.png"))
            page.screenshot(path=str(ARTIFACTS / "browser-zh-no-system-cjk-font.png"))

            page.goto(lab.url("progress-en.ipynb"))
            page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| 空闲/", timeout=REACTION_MS)
            # the workspace reopens the Chinese chapter too: Run All must go to this notebook, so it is made the
            # current one (its tab, then its cell) before the menu is used
            page.locator(".lm-TabBar-tab.lm-mod-current", has_text="progress-en.ipynb").wait_for(timeout=REACTION_MS)
            page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .jp-InputArea-prompt").first.click()
            page.get_by_role("menuitem", name="运行", exact=True).click()
            page.get_by_role("menuitem", name="运行所有单元格", exact=True).click()
            # JupyterLab keeps the Chinese chapter open in a hidden tab: the English page is the one in English
            english_page = page.locator(".gb-progress", has_text="Your progress")
            english_page.wait_for(timeout=REACTION_MS)
            assert "Your progress" in english_page.inner_text() and "1 of 6 points" in english_page.inner_text()
            english_page.screenshot(path=str(ARTIFACTS / "progress-en.png"))
        finally:
            page.screenshot(path=str(ARTIFACTS / "browser-zh-last.png"))
            browser.close()
