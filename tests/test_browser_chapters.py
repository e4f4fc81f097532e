"""Chapters 9 and 10 in a real JupyterLab, as a student gets them (the student edition, untouched).

For each (a JupyterLab of its own, so no other notebook's cells or toolbar are on the page): Run → Run All Cells reaches the last cell (every code
cell gets its execution number and the kernel is idle: nothing stopped the run), every check cell shows
its failure, the demos and the language models ran on the library's stand-ins, and the chapter's widget
is drawn and answers its control: chapter 9's gradient-through-time plot redraws when clipping is
switched on; chapter 10's attention map redraws for a sentence typed into its box, and a character the
model never saw gets a message while the last map stays.

Every wait is for an event on the page; the timeouts are `test_browser`'s safety nets.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT
from test_browser import ARTIFACTS, REACTION_MS, browser_page, jupyter_lab, open_and_run_all  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow(seconds=60)]  # CI, idle: 57 s

CHAPTER_9 = ROOT / "notebooks" / "09-sequences.ipynb"
CHAPTER_10 = ROOT / "notebooks" / "10-attention.ipynb"


def _ran_to_the_end_with_failing_checks(page) -> None:
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    prompts = cells.locator(".jp-InputPrompt").all_inner_texts()
    assert prompts and all(re.search(r"\[\d+\]", p) for p in prompts), prompts
    checks = cells.filter(has_text=re.compile(r"check\.\w+\("))
    assert checks.count() >= 8
    for i in range(checks.count()):  # each untouched exercise shows its failure in red
        assert checks.nth(i).locator("[data-mime-type='application/vnd.jupyter.stderr']").count() >= 1


def _figure_drawn(page) -> str:
    figure = page.locator(".gb-figure").first
    figure.wait_for(state="visible", timeout=REACTION_MS)
    page.wait_for_function("document.querySelector('.gb-figure').naturalWidth > 0", timeout=REACTION_MS)
    return figure.get_attribute("src") or ""


def _redrawn(page, before: str) -> None:
    page.wait_for_function(f"document.querySelector('.gb-figure').src !== {json.dumps(before)}", timeout=REACTION_MS)


def test_chapters_9_and_10_run_all_untouched_and_their_widgets_answer(jupyter_lab, browser_page) -> None:
    lab, page = jupyter_lab(CHAPTER_9), browser_page
    shot = "browser-chapter-09.png"
    try:
        open_and_run_all(page, lab.url(CHAPTER_9.name))
        _ran_to_the_end_with_failing_checks(page)
        assert page.locator(".jp-Notebook .jp-RenderedImage img").count() >= 1  # the language model's curves
        before = _figure_drawn(page)
        page.locator(".widget-checkbox input").first.click()  # clip the gradient's global norm
        _redrawn(page, before)

        shot = "browser-chapter-10.png"
        page.locator(".gb-figure").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "browser-chapter-09.png"))
        lab = jupyter_lab(CHAPTER_10)
        open_and_run_all(page, lab.url(CHAPTER_10.name))
        _ran_to_the_end_with_failing_checks(page)
        before = _figure_drawn(page)
        sentence = page.locator(".widget-text input").first
        sentence.fill("ROMEO: the night is long")
        sentence.press("Enter")
        _redrawn(page, before)
        assert not page.locator(".gb-error").count()
        drawn = page.locator(".gb-figure").first.get_attribute("src")
        sentence.fill("naïve €")
        sentence.press("Enter")
        page.locator(".gb-error").first.wait_for(state="visible", timeout=REACTION_MS)
        assert "never saw" in page.locator(".gb-error").first.inner_text()
        assert page.locator(".gb-figure").first.get_attribute("src") == drawn  # the last good map stays
    finally:
        page.locator(".gb-figure").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / shot))
