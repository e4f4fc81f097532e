"""The course's late-penalty plugin where docs/lifecycle.md puts it, and extensions (issue 26, items 2 and 3).

The plugin is the doc's own code, read from the page, saved where the page says
(`autograder/plugins/late_penalties.py`) and named by the page's configuration line. A fresh
gradbook-grader process (no PYTHONPATH) runs grade, report, extend (the page's command, as written),
report, export and feedback with it. Penalties are hand-computed from the plugin's rule: 10% of the
score per day late or part of one.
"""

from __future__ import annotations

import csv
import re
import shlex
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import ROOT
from fake_grading import CH02, honest, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader.batch import grade_assignment
from gradbook_grader.feedback import visible_text
from gradbook_grader.grades import read
from gradbook_grader.late import extend
from lifecycle_helpers import configure, received, run, set_due, stamp

DOC = ROOT / "docs" / "lifecycle.md"
DUE = datetime(2026, 11, 20, 12, 0)


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)


def doc_command(start: str) -> list[str]:
    """The page's command line that begins with `start`, as written (its comment dropped)."""
    lines = [line for block in doc_blocks("bash") for line in block.splitlines() if line.startswith(start)]
    assert len(lines) == 1, lines
    return shlex.split(lines[0], comments=True)


@pytest.mark.slow  # a gradbook-grader process
def test_the_docs_plugin_and_extensions_work_in_every_command(tmp_path: Path) -> None:
    plugin = next(b for b in doc_blocks("python") if "class TenPercentPerDay" in b)
    assert (ROOT / "autograder" / "plugins" / "late_penalties.py").read_text() == plugin, "the repository ships the doc's"
    (config_line,) = [b.strip() for b in doc_blocks("python") if b.startswith("c.AssignLatePenalties.plugin_class")]

    course = small_course(tmp_path / "course")
    (course.root / "plugins").mkdir()
    (course.root / "plugins" / "late_penalties.py").write_text(plugin)
    configure(course, config_line)
    set_due(course, CH02, DUE)
    src = honest(__import__("nbformat").read(course.source(CH02), as_version=4))
    folder = course.root / "submitted"
    for student, late in (("ann", -1), ("bob", 30), ("carl", 30)):  # hours past the due date
        path = folder / student / CH02
        path.mkdir(parents=True)
        __import__("nbformat").write(src, path / f"{CH02}.ipynb")
        (path / "timestamp.txt").write_bytes(stamp(DUE + timedelta(hours=late)))
        received(course, path, student, CH02, DUE + timedelta(hours=late))
    assert "carl has 48 hours more" in extend(course, "carl", CH02, 48)  # before carl is in the gradebook
    grade_assignment(course, CH02, folder, workers=1, progress=False, grade=fake_grade)
    penalties = {g.student: (g.seconds_late, g.penalty) for g in read(course, CH02).graded}
    assert penalties == {"ann": (0, 0), "bob": (30 * 3600, 2.0), "carl": (0, 0)}  # 30 h: 2 days begun, 20% of 10

    command = doc_command("gradbook-grader extend")  # as the page writes it, for bob of 02-tensor-operations
    assert command[command.index("--student") + 1] == "bob" and command[command.index("--assignment") + 1] == CH02
    script = textwrap.dedent(f"""
        import sys
        from gradbook_grader.cli import main
        for argv in (["grade", "submitted", "--no-progress"], ["report"], {command[1:]!r}, ["report"],
                     ["export", "--csv", "long.csv"], ["export", "--csv", "moodle.csv", "--format", "moodle"],
                     ["feedback", "--student", "bob"], ["feedback", "--student", "carl"]):
            print("=== " + argv[0], flush=True)
            if main(argv) != 0:
                sys.exit(1)
    """)
    out = run(["python", "-c", script], course.root)  # a fresh process, no PYTHONPATH: the plugin from plugins/
    assert out.returncode == 0, out.stdout + out.stderr
    before, after = out.stdout.split("=== report")[1:3]
    assert f"bob / {CH02}: 8 / 10  (raw 10, late penalty 2)  [LATE: 1 day 6:00:00 late]" in before, before
    extended = "extended by 48 h, due 2026-11-22 12:00:00 UTC"
    for student in ("bob", "carl"):
        assert f"{student} / {CH02}: 10 / 10  [{extended.upper()}]\n" in after, after
    rows = {r["student_id"]: r for r in csv.DictReader((course.root / "long.csv").open(encoding="utf-8"))}
    assert {s: (r["late_submission_penalty"], r["score"], r["seconds_late"]) for s, r in rows.items()} == {
        "ann": ("0", "10", "0"), "bob": ("0", "10", "0"), "carl": ("0", "10", "0")}
    moodle = {r["Username"]: r for r in csv.DictReader((course.root / "moodle.csv").open(encoding="utf-8"))}
    assert {s: (r[f"{CH02} (Real)"], r[f"{CH02} (Feedback)"]) for s, r in moodle.items()} == {
        "ann": ("10", ""), "bob": ("10", extended), "carl": ("10", extended)}
    for student, late in (("bob", 30), ("carl", 30)):
        page = visible_text((course.feedback_dir(student, CH02) / f"{CH02}.html").read_text(encoding="utf-8"))
        when = (DUE + timedelta(hours=late)).strftime("%Y-%m-%d %H:%M:%S")
        assert "Score: 10 / 10" in page and f"submitted {when} UTC, on time ({extended})" in page, page[:400]

    assert "bob's extension on 02-tensor-operations is gone" in extend(course, "bob", CH02, 0)
    assert {g.student: g.penalty for g in read(course, CH02).graded} == {"ann": 0, "bob": 2.0, "carl": 0}
