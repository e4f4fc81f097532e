"""The fail-closed batch with the real sandbox: a few hostile submissions beside honest ones on chapter 2.

The same attacks as `test_failclosed_batch.py` (which stubs the execution side), here through
`execute.grade_submission` and bubblewrap: a submission folder that is a link to the
instructor's solutions/ (graded 10/10 before), a FIFO in place of the notebook (hung the batch),
an exception whose text is a lone surrogate (crashed the writer), an out-of-range timestamp
(aborted storing grades), the innocent `check.naive_relu(naive_relu, hidden=True)` (stopped
feedback for everyone), HTML and JavaScript outputs, and an odd folder name. Every honest
student keeps full marks and gets feedback; every submission has its row.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import require
from fake_grading import CH02, honest, small_course
from gradbook_grader import sandbox
from gradbook_grader.batch import grade_assignment
from gradbook_grader.export import export_csv
from gradbook_grader.feedback import report_text, run_feedback, visible_text
from gradbook_grader.text import printable
from gradbook_grader.types import Limits
from test_failclosed_batch import assert_inert, stored, terminal_safe

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

LIMITS = Limits(cell_timeout=30, total_timeout=300, memory_mb=1024, max_output_bytes=200_000, max_file_mb=50)
HTML = ("from IPython.display import HTML, Javascript, SVG, display\n"
        "display(HTML('<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>'))\n"
        "display(Javascript('window.__pwned=3'))\n"
        "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__pwned=4\"/>'))")


def test_hostile_submissions_through_the_real_sandbox(tmp_path: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    course = small_course(tmp_path / "course", fake=False)
    src = nbformat.read(course.source(CH02), as_version=4)
    folder = tmp_path / "submitted"

    def submit(student: str, nb: nbformat.NotebookNode | None = None, **side: bytes) -> Path:
        directory = folder / student / CH02
        directory.mkdir(parents=True)
        if nb is not None:
            nbformat.write(nb, directory / f"{CH02}.ipynb")
        for name, data in side.items():
            (directory / name.replace("_", ".")).write_bytes(data)
        return directory

    def extra(*sources: str, markdown: str = "") -> nbformat.NotebookNode:
        nb = honest(src)
        nb.cells.extend(nbformat.v4.new_code_cell(s) for s in sources)
        if markdown:
            nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
        return nb

    submit("ann", honest(src))
    submit("José", honest(src), timestamp_txt=b"2026-11-20 10:00:00.000000 UTC")
    (folder / "dir-link").mkdir()
    (folder / "dir-link" / CH02).symlink_to(course.solutions)
    fifo = submit("fifo")
    os.mkfifo(fifo / f"{CH02}.ipynb")
    submit("surrogate", extra("raise ValueError('\\ud800 lone')"))
    submit("old-date", honest(src), timestamp_txt=b"0001-01-01 00:00:00+01:00")
    submit("innocent", extra("from gradbook.checks import ch02 as check\ncheck.naive_relu(naive_relu, hidden=True)"))
    submit("html", extra(HTML, markdown="<script>window.__pwned=5</script> [x](javascript:alert(1))"))
    submit("esc\x1b[2J", honest(src))

    report = grade_assignment(course, CH02, folder, workers=2, limits=LIMITS, progress=False)
    results = {r.student: r for r in report.results}
    assert set(results) == {p.name for p in folder.iterdir()}
    for student in ("ann", "José", "old-date", "innocent", "html", "surrogate"):
        assert results[student].error is None and results[student].score == 10, (student, results[student].error,
            {c.grade_id: c.message for c in results[student].cells.values() if not c.passed})
    assert "symbolic link" in results["dir-link"].error and results["dir-link"].score == 0
    assert "FIFO" in results["fifo"].error and results["fifo"].score == 0
    assert "white space" not in (results["esc\x1b[2J"].error or "") and "\\x1b" in results["esc\x1b[2J"].error
    assert results["José"].claimed == "2026-11-20 10:00:00.000000 UTC"
    assert results["old-date"].claimed is None and "timestamp.txt ignored" in results["old-date"].notes[0]
    for path in (course.root / "autograded").glob(f"*/{CH02}/{CH02}.ipynb"):
        assert_inert(path, src)
    graded = (course.autograded("surrogate", CH02) / f"{CH02}.ipynb").read_text(encoding="utf-8")
    assert " lone" in graded, "the exception's text reached the writer (which wrote it as valid UTF-8: assert_inert)"
    assert set(stored(course)) == set(results) - {"esc\x1b[2J"}

    run = run_feedback(course, CH02)
    assert not run.failed and len(run.written) == len(results)
    innocent = visible_text((course.feedback_dir("innocent", CH02) / f"{CH02}.html").read_text())
    assert "check.naive_relu(naive_relu, hidden=True)" in innocent and "Score: 10 / 10" in innocent
    text = report_text(list(results.values()))
    assert terminal_safe(text) and all(f"{printable(s)} / {CH02}: " in text for s in results)
    export_csv(course, tmp_path / "grades.csv")
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8"))}  # nbgrader's column
    assert set(rows) == {printable(s) for s in results}
