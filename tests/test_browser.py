"""Chapter 6's optimiser race in a real JupyterLab, driven by headless Chromium.

Starts JupyterLab on 127.0.0.1 (free port, token auth) over a temporary copy of
solutions/06-optimizers.ipynb, runs the whole chapter, presses the race's "step",
moves the SGD learning-rate slider with the keyboard and types an exact value into
it, and checks what the kernel computed came back to the page: the status line's
SGD loss equals gradient descent on the Rosenbrock surface recomputed here, and the
figure's image was replaced. The last screenshot is kept in test-artifacts/ for a
human to look at.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import ROOT, require
from gradbook import surfaces

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHAPTER = ROOT / "solutions" / "06-optimizers.ipynb"
SURFACE = surfaces.rosenbrock  # what the chapter races on
RACER = "SGD"  # the chapter's own plain gradient-descent optimiser
TYPED_LR = 0.0005
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEPS_PER_CLICK = 10  # the race's default "steps" box


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gd_loss(lr: float, steps: int) -> float:
    """The surface's loss after `steps` of plain gradient descent from its start, computed here."""
    p = np.array(SURFACE.start, dtype=float)
    for _ in range(steps):
        p = p - lr * SURFACE.grad(p)
    return float(SURFACE.f(p))


@pytest.fixture
def jupyter_lab() -> Iterator[str]:
    """A JupyterLab server over a temp dir holding the chapter notebook; yields its base URL with the token."""
    require(importlib.util.find_spec("jupyterlab") is not None, "jupyterlab is not installed")
    work = Path(tempfile.mkdtemp(prefix="gradbook-browser-"))
    notebooks = work / "root"
    notebooks.mkdir()
    shutil.copy(CHAPTER, notebooks / CHAPTER.name)
    # No "Jupyter news?" toast over the widget, and no fetching of news or updates.
    settings = work / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # Render every cell: JupyterLab 4 otherwise leaves cells far below the fold out of the page,
    # and the race sits near the end of the chapter.
    notebook_settings = work / "settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)
    (notebook_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, MPLBACKEND="Agg",  # the widget's inline (PNG) view, whatever the user's config
               JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    command = [sys.executable, "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
               f"--ServerApp.root_dir={notebooks}", f"--LabApp.workspaces_dir={work / 'workspaces'}",
               f"--LabApp.user_settings_dir={work / 'settings'}"]
    if os.geteuid() == 0:  # CI containers run as root
        command.append("--allow-root")
    log = open(work / "server.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{(work / 'server.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer within 60 s")
                time.sleep(0.3)
        yield f"{base}/lab/tree/{CHAPTER.name}?token={token}"
    finally:
        # /api/shutdown stops the kernels too; the process group is the fallback.
        try:
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST"),
                                   timeout=5)
            server.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(server.pid, 9)
            server.wait(timeout=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def gd_loss_shown(page) -> float:
    match = re.search(rf"(?<![A-Za-z]){RACER}: loss ([-+0-9.e]+)", page.inner_text(".gb-status"))
    assert match, page.inner_text(".gb-status")
    return float(match.group(1))


def test_optimizer_race_reacts_to_its_learning_rate_slider(jupyter_lab: str, capsys) -> None:
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(jupyter_lab)
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
            # The status bar says "Idle" once the kernel has started and connected.
            page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| Idle/", timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            page.wait_for_selector(".gb-status", timeout=120_000)  # after the whole chapter ran
            assert "step 0" in page.inner_text(".gb-status")

            page.locator("button", has_text="step").first.click()
            page.wait_for_function("document.querySelector('.gb-status').innerText.includes('step 10')",
                                   timeout=30_000)
            lr = float(page.inner_text(f".gb-lr-{RACER} .widget-readout"))
            assert gd_loss_shown(page) == pytest.approx(gd_loss(lr, STEPS_PER_CLICK), rel=2e-3)
            status, image = page.inner_text(".gb-status"), page.get_attribute(".gb-figure", "src")

            # Move the slider: five presses of the left arrow on its handle.
            start = time.perf_counter()
            page.focus(f".gb-lr-{RACER} .noUi-handle")
            for _ in range(5):
                page.keyboard.press("ArrowLeft")
            page.wait_for_function(f"document.querySelector('.gb-status').innerText !== {json.dumps(status)}",
                                   timeout=30_000)
            page.wait_for_function(f"document.querySelector('.gb-figure').src !== {json.dumps(image)}",
                                   timeout=30_000)
            with capsys.disabled():
                print(f"\nbrowser: first slider key press -> new loss and figure on the page in "
                      f"{time.perf_counter() - start:.2f} s")
            moved_lr = float(page.inner_text(f".gb-lr-{RACER} .widget-readout"))
            assert moved_lr < lr
            assert "step 10" in page.inner_text(".gb-status")  # the path was replayed, not restarted
            assert gd_loss_shown(page) != pytest.approx(gd_loss(lr, STEPS_PER_CLICK), rel=1e-3)

            # Type an exact learning rate into the slider's readout: the kernel's loss must become ours.
            # (Waiting for this exact text, not for any change: the key presses' updates may still be
            # arriving.)
            image = page.get_attribute(".gb-figure", "src")
            readout = page.locator(f".gb-lr-{RACER} .widget-readout")
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type(str(TYPED_LR))
            page.keyboard.press("Enter")
            expected = f"{RACER}: loss {gd_loss(TYPED_LR, STEPS_PER_CLICK):.4g}"
            page.wait_for_function(
                f"document.querySelector('.gb-status').innerText.includes({json.dumps(expected)})", timeout=30_000)
            assert page.get_attribute(".gb-figure", "src") != image
            # The kernel sends the figure before the status line, so the figure on the page is the
            # TYPED_LR one by now; wait for the kernel to go idle so the screenshot shows the final state.
            page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| Idle/", timeout=30_000)
        finally:
            page.locator(".gb-figure").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "browser-optimizer-race.png"))
            browser.close()
