"""`python3 workbook.py lab --instructor` opens on the course: the formgrader lists its assignments (issue 26).

The lab is started exactly as workbook.py starts it (its command line, environment and working directory,
from `lab_command`), over a scratch repository laid out as this one is (workbook.py, autograder/ with the
course's nbgrader_config.py, solutions/), so that nothing of this checkout's course is written. Headless
Chromium opens the formgrader the way the lab's "Formgrader" command does and reads the assignment table
nbgrader renders from the course's source/ folder.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT, await_jupyter, free_port, require, stop_jupyter
from test_browser import CHROMIUM, CHROMIUM_ARGS
from test_browser_manual_grading import formgrader_page  # the formgrader's page, offline

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHAPTERS = ("00-what-is-deep-learning", "02-tensor-operations")


def scratch_repository(root: Path) -> ModuleType:
    """A repository with this one's layout and two chapters; its workbook.py, imported (ROOT is `root`)."""
    (root / "autograder").mkdir(parents=True)
    (root / "solutions").mkdir()
    shutil.copy(ROOT / "workbook.py", root)
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", root / "autograder")
    for name in CHAPTERS:
        shutil.copy(ROOT / "solutions" / f"{name}.ipynb", root / "solutions")
    spec = importlib.util.spec_from_file_location("scratch_workbook", root / "workbook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_instructor_lab_opens_the_formgrader_on_the_course(tmp_path: Path) -> None:
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")
    require(importlib.util.find_spec("nbgrader") is not None, "nbgrader is not installed")
    from playwright.sync_api import sync_playwright

    workbook = scratch_repository(tmp_path / "repo")
    port, token = free_port(), secrets.token_hex(16)
    args, env = workbook.lab_command(Path(sys.executable), [
        "--instructor", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False"])
    assert f"--ServerApp.root_dir={workbook.ROOT}" in args, "the lab serves the repository"
    private = tmp_path / "jupyter"  # this test's own Jupyter state, not the user's
    env.update(JUPYTER_CONFIG_DIR=str(private / "config"), JUPYTER_RUNTIME_DIR=str(private / "runtime"),
               JUPYTER_DATA_DIR=str(private / "data"))
    server = subprocess.Popen(args, cwd=workbook.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)  # as workbook.py's main() runs it
    base = f"http://127.0.0.1:{port}"
    try:
        printed = await_jupyter(server, port)
        assert "No nbgrader_config.py file found" not in printed, printed
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = formgrader_page(browser, base, token)
                page.goto(f"{base}/formgrader?token={token}")  # what the lab's Formgrader command opens
                names = page.locator("td.name")
                names.nth(len(CHAPTERS) - 1).wait_for(timeout=120_000)  # the table nbgrader fills from its API
                assert sorted(names.all_inner_texts()) == sorted(CHAPTERS)
                body = page.inner_text("body")
                assert "nbgrader_config.py" not in body and "not a subdirectory" not in body, body
            finally:
                browser.close()
    finally:
        stop_jupyter(server, base, token)
    # The course's own state went to the course's directory (nbgrader_config.py's root), nowhere else.
    assert (workbook.ROOT / "autograder" / "gradebook.db").is_file()
    assert sorted(p.name for p in (workbook.ROOT / "autograder" / "source").iterdir()) == sorted(CHAPTERS)
    assert not (workbook.ROOT / "gradebook.db").exists() and not (workbook.ROOT / "source").exists()
