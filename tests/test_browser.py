"""The workbook in a real JupyterLab, driven by headless Chromium, as a student sees it.

Each test starts JupyterLab on 127.0.0.1 (free port, token auth) over a temporary copy of a
chapter, with the student's Jupyter config from workbook.py (nbgrader's instructor tools hidden),
and presses Run All.

* An untouched chapter (notebooks/00, the student version) runs to its last cell: its checks
  show their failures, its plots and its widget are drawn with the library's answers, and a
  line says so.
* Chapter 6's optimiser race (the solution): once Run All has finished, "step" and the SGD
  learning-rate slider (arrow keys, then an exact typed value) change what the page shows, and
  the SGD loss on the page equals gradient descent on the Rosenbrock surface recomputed here.
  While the kernel is kept busy by another cell, the race shows its busy notice and a click
  waits; when the kernel is free again the click takes effect and the notice goes.

Every wait is for an event on the page (a prompt number, a text, an image); the timeouts are
safety nets, generous for a loaded 2-core machine. The last screenshots are kept in
test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pytest

from conftest import ROOT, await_jupyter, free_port, require, stop_jupyter
from gradbook import surfaces

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RACE_CHAPTER = ROOT / "solutions" / "06-optimizers.ipynb"
UNTOUCHED_CHAPTER = ROOT / "notebooks" / "00-what-is-deep-learning.ipynb"
STUDENT_JUPYTER_CONFIG = ROOT / "jupyter" / "student"  # what `workbook.py lab` uses
SURFACE = surfaces.rosenbrock  # what the chapter races on
RACER = "SGD"  # the chapter's own plain gradient-descent optimiser
TYPED_LR = 0.0005
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEPS_PER_CLICK = 10  # the race's default "steps" box
# Safety nets, not measurements: Run All of a chapter on a busy 2-core machine, and one reaction.
RUN_ALL_MS = 600_000
REACTION_MS = 120_000


def gd_loss(lr: float, steps: int) -> float:
    """The surface's loss after `steps` of plain gradient descent from its start, computed here."""
    p = np.array(SURFACE.start, dtype=float)
    for _ in range(steps):
        p = p - lr * SURFACE.grad(p)
    return float(SURFACE.f(p))


class Lab:
    """A running JupyterLab: `url(name)` opens a notebook; `root` is the folder it serves."""

    def __init__(self, root: Path, base: str, token: str) -> None:
        self.root, self.base, self.token = root, base, token

    def url(self, name: str) -> str:
        return f"{self.base}/lab/tree/{name}?token={self.token}"


@pytest.fixture
def jupyter_lab() -> Iterator[Callable[[Path], Lab]]:
    """Start JupyterLab, as a student gets it, over a temp dir holding the given notebook."""
    require(importlib.util.find_spec("jupyterlab") is not None, "jupyterlab is not installed")
    servers: list[tuple[subprocess.Popen, str, str, Path]] = []

    def start(notebook: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Lab:
        """`args` and `env`: more for JupyterLab's command line and environment (`workbook.py lab`'s options)."""
        extra_env = dict(env or {})
        work = Path(tempfile.mkdtemp(prefix="gradbook-browser-"))
        root = work / "root"
        root.mkdir()
        shutil.copy(notebook, root / notebook.name)
        # No "Jupyter news?" toast over the widgets, and no fetching of news or updates.
        settings = work / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        # Render every cell: JupyterLab 4 otherwise leaves cells far below the fold out of the page.
        notebook_settings = work / "settings" / "@jupyterlab" / "notebook-extension"
        notebook_settings.mkdir(parents=True)
        (notebook_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        port, token = free_port(), secrets.token_hex(16)
        # The kernel's default backend, as a student has it (the tests' own MPLBACKEND=Agg would hide the
        # plots): inline PNG plots, and the widgets' PNG view.
        env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline",
                   JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
                   JUPYTER_CONFIG_PATH=str(STUDENT_JUPYTER_CONFIG))
        env.update(extra_env)  # workbook.py lab's own (a --lang zh lab adds its font config to the path)
        command = [sys.executable, "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                   "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}",
                   f"--LabApp.workspaces_dir={work / 'workspaces'}", f"--LabApp.user_settings_dir={work / 'settings'}",
                   *args]
        if os.geteuid() == 0:  # CI containers run as root
            command.append("--allow-root")
        server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        servers.append((server, base, token, work))
        await_jupyter(server, port)
        return Lab(root, base, token)

    yield start
    for server, base, token, work in servers:
        stop_jupyter(server, base, token)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def browser_page() -> Iterator[object]:
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def open_and_run_all(page, url: str) -> None:
    """Open the notebook, wait for its kernel, press Run → Run All Cells, and wait until every code
    cell has run: each input prompt shows its execution number (a queued cell shows *; the number
    appears when a cell starts), and then the kernel is idle (the last cell has finished too)."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=REACTION_MS)
    page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| Idle/", timeout=REACTION_MS)  # kernel connected
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        "[...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
        ".every(p => /\\[\\d+\\]/.test(p.textContent))", timeout=RUN_ALL_MS)
    page.wait_for_selector(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=RUN_ALL_MS)


def status_text(page) -> str:
    return page.inner_text(".gb-status")


def gd_loss_shown(page) -> float:
    match = re.search(rf"(?<![A-Za-z]){RACER}: loss ([-+0-9.e]+)", status_text(page))
    assert match, status_text(page)
    return float(match.group(1))


def test_untouched_chapter_runs_all_and_draws_its_plots_and_widget(jupyter_lab, browser_page) -> None:
    lab, page = jupyter_lab(UNTOUCHED_CHAPTER), browser_page
    try:
        open_and_run_all(page, lab.url(UNTOUCHED_CHAPTER.name))
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        checks = cells.filter(has_text=re.compile(r"check\.\w+\("))
        assert checks.count() == 4  # the four exercises' check cells ...
        for i in range(checks.count()):  # ... each shows its failure in red
            assert checks.nth(i).locator("[data-mime-type='application/vnd.jupyter.stderr']").count() >= 1
        # The demos below them ran with the library's answers, said so, and drew their plots.
        demo = cells.filter(has_text="w, b, losses = train_fn(x, y, lr=0.1, steps=100)")
        assert "your `train` isn't done yet" in demo.inner_text()
        assert demo.locator(".jp-RenderedImage img").count() == 1
        plots = page.locator(".jp-Notebook .jp-RenderedImage img")
        assert plots.count() >= 5  # the two diagrams, the data, the fitted line, the learning rates
        assert all(plots.nth(i).evaluate("img => img.naturalWidth") > 0 for i in range(plots.count()))
        widget = page.locator(".gb-figure")  # the training-loop widget at the end, drawn
        widget.wait_for(state="visible", timeout=REACTION_MS)
        page.wait_for_function("document.querySelector('.gb-figure').naturalWidth > 0", timeout=REACTION_MS)
        assert "step 0" in status_text(page)
        # The student's JupyterLab: the Validate button, and no Nbgrader menu (instructor-only).
        assert page.locator(".jp-NotebookPanel-toolbar .jp-ToolbarButtonComponent-label",
                            has_text="Validate").count() == 1
        menus = page.locator(".lm-MenuBar-itemLabel")
        assert menus.filter(has_text="Kernel").count() == 1 and menus.filter(has_text="Nbgrader").count() == 0
    finally:
        page.screenshot(path=str(ARTIFACTS / "browser-untouched-chapter.png"), full_page=True)


def test_optimizer_race_reacts_to_its_controls_and_shows_when_the_kernel_is_busy(
        jupyter_lab, browser_page, capsys) -> None:
    lab, page = jupyter_lab(RACE_CHAPTER), browser_page
    try:
        open_and_run_all(page, lab.url(RACE_CHAPTER.name))  # the MNIST section after the race has finished too
        assert "step 0" in status_text(page)
        busy = page.locator(".gb-busy").first
        assert not busy.is_visible()  # the kernel is idle

        page.locator("button", has_text="step").first.click()
        page.wait_for_function("document.querySelector('.gb-status').innerText.includes('step 10')",
                               timeout=REACTION_MS)
        lr = float(page.inner_text(f".gb-lr-{RACER} .widget-readout"))
        assert gd_loss_shown(page) == pytest.approx(gd_loss(lr, STEPS_PER_CLICK), rel=2e-3)
        status, image = status_text(page), page.get_attribute(".gb-figure", "src")

        # Move the slider: five presses of the left arrow on its handle.
        page.focus(f".gb-lr-{RACER} .noUi-handle")
        for _ in range(5):
            page.keyboard.press("ArrowLeft")
        page.wait_for_function(f"document.querySelector('.gb-status').innerText !== {json.dumps(status)}",
                               timeout=REACTION_MS)
        page.wait_for_function(f"document.querySelector('.gb-figure').src !== {json.dumps(image)}",
                               timeout=REACTION_MS)
        moved_lr = float(page.inner_text(f".gb-lr-{RACER} .widget-readout"))
        assert moved_lr < lr
        assert "step 10" in status_text(page)  # the path was replayed, not restarted
        assert gd_loss_shown(page) != pytest.approx(gd_loss(lr, STEPS_PER_CLICK), rel=1e-3)

        # Type an exact learning rate into the slider's readout: the kernel's loss must become ours.
        # (Waiting for this exact text, not for any change: the key presses' updates may still be arriving.)
        image = page.get_attribute(".gb-figure", "src")
        readout = page.locator(f".gb-lr-{RACER} .widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(TYPED_LR))
        page.keyboard.press("Enter")
        expected = f"{RACER}: loss {gd_loss(TYPED_LR, STEPS_PER_CLICK):.4g}"
        page.wait_for_function(
            f"document.querySelector('.gb-status').innerText.includes({json.dumps(expected)})", timeout=REACTION_MS)
        assert page.get_attribute(".gb-figure", "src") != image
        page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| Idle/", timeout=REACTION_MS)

        # Keep the kernel busy with a new last cell that waits for a file this test creates.
        release = lab.root / "release-the-kernel"
        last = page.locator(".jp-Notebook .jp-Cell").last
        last.locator(".jp-InputPrompt").click()  # select it (command mode)
        page.keyboard.press("Escape")
        page.keyboard.press("b")  # a new code cell below, selected
        page.keyboard.press("Enter")  # edit it
        page.keyboard.type(f"import pathlib, time; [time.sleep(0.05) for _ in "
                           f"iter(lambda: pathlib.Path({release.name!r}).exists(), True)]")
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| Busy/", timeout=REACTION_MS)
        busy.wait_for(state="visible", timeout=REACTION_MS)  # the race says the kernel is busy ...
        page.locator("button", has_text="step").first.click()  # ... and a click now waits in the queue
        assert "step 10" in status_text(page)  # (it cannot have run: the kernel is still in that cell)
        release.touch()
        page.wait_for_function("document.querySelector('.gb-status').innerText.includes('step 20')",
                               timeout=REACTION_MS)  # the queued click ran once the kernel was free
        busy.wait_for(state="hidden", timeout=REACTION_MS)
        with capsys.disabled():
            print("\nbrowser: the race's busy notice showed while another cell ran, and its queued click ran after")
    finally:
        page.locator(".gb-figure").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "browser-optimizer-race.png"))
