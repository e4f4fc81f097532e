"""A course run end to end as an nbgrader instructor runs it, with gradbook-grader's grading in the middle.

nbgrader's own commands move the notebooks through an exchange directory: release_assignment,
fetch_assignment and submit (as three students), collect, release_feedback and fetch_feedback;
`nbgrader autograde` (the formgrader's Autograde) and `nbgrader export` too. In between:
`gradbook-grader release`, `grade` (the class, then one student), `feedback`, `export` and
`misconceptions`, with the real sandbox.

* alice submits on time; a person scores her written answer and comments on it through nbgrader's
  API; she fetches feedback that shows that score and comment.
* carol submits a known mistake, then resubmits the right answer before the due date: her
  resubmission is graded (through `nbgrader autograde`), alice's grade is not redone.
* bob submits after the due date under `LateSubmissionPlugin.penalty_method = "zero"`: his grade is
  0 whatever a person adds, and his feedback, the report and every export say so.

The exports are checked value by value against nbgrader's own `nbgrader export` and against the
points computed here from the notebook.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, require
from gradbook_grader import sandbox
from gradbook_grader.course import Course
from gradbook_grader.feedback import visible_text
from gradbook_grader.gradebook import graded_cells, open_gradebook
from gradbook_grader.journal import read_journal
from lifecycle_helpers import configure, run, set_due

pytestmark = [pytest.mark.slow(seconds=115), pytest.mark.sandbox]  # CI, idle: 114 s

CHAPTER = "05-softmax-and-classification"
WRITTEN = "softmax-shift"  # its written answer: why softmax subtracts the max
# carol's first try and bob's answer: softmax for several tags, a mistake ch05 knows (no other exercise uses it)
WRONG_CELL, WRONG_TEST = "output-activations", "test-output-activations"
WRONG = ('output_activations = {"house price": "linear", "spam or not": "sigmoid", "digit 0-9": "softmax",\n'
         '                      "photo tags": "softmax", "hidden layer": "relu"}\n')
HINT = "a photo can have several tags"
ANSWER = "exp(1000) overflows to inf; subtracting the max leaves softmax unchanged and keeps every exponent <= 0."
COMMENT = "Right: and say why the shift leaves the probabilities unchanged."
_SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)  # nbgrader's naive UTC


class Class:
    """The instructor's course, the exchange, and each student's home folder."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "autograder").mkdir()
        (tmp / "solutions").mkdir()
        shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
        shutil.copy(ROOT / "solutions" / f"{CHAPTER}.ipynb", tmp / "solutions")
        self.course = Course(tmp / "autograder", tmp / "solutions", tmp / "notebooks")
        # The students here are not accounts of this machine (every folder is the test's): nbgrader's owner check
        # cannot tell them apart, as on a hub without per-student accounts (test_lifecycle_lateness.py has them).
        configure(self.course, 'c.LateSubmissionPlugin.penalty_method = "zero"', "c.ExchangeCollect.check_owner = False")
        self.exchange = tmp / "exchange"
        self.exchange.mkdir()
        self.env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "jupyter"), JUPYTER_DATA_DIR=str(tmp / "jupyter-data"))

    def instructor(self, *args: str, ok: bool = True) -> str:
        command = list(args) + ([f"--Exchange.root={self.exchange}"] if args[0] == "nbgrader" else [])
        out = run(command, self.course.root, self.env)
        assert (out.returncode == 0) == ok, f"{' '.join(args)}: {out.returncode}\n{out.stdout}\n{out.stderr}"
        return out.stdout + out.stderr

    def student(self, name: str, *args: str) -> Path:
        home = self.tmp / "home" / name
        home.mkdir(parents=True, exist_ok=True)
        out = run(["nbgrader", *args, "--course=gradbook", f"--student={name}", f"--Exchange.root={self.exchange}",
                   f"--Exchange.cache={home / '.cache'}"], home, self.env)
        assert out.returncode == 0, f"{name}: nbgrader {' '.join(args)}\n{out.stdout}\n{out.stderr}"
        return home

    def work(self, name: str, wrong: bool, answer: str) -> None:
        """The student answers every exercise in the fetched notebook (one wrongly if `wrong`)."""
        path = self.tmp / "home" / name / CHAPTER / f"{CHAPTER}.ipynb"
        source = {c.metadata["nbgrader"]["grade_id"]: c.source for c in self.source().cells if c.metadata.get("nbgrader")}
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                cell.source = answer if meta["grade_id"] == WRITTEN else _SOLUTION.sub("", source[meta["grade_id"]])
                if wrong and meta["grade_id"] == WRONG_CELL:
                    cell.source = WRONG
        nbformat.write(nb, path)

    def source(self) -> nbformat.NotebookNode:
        return nbformat.read(self.course.source(CHAPTER), as_version=4)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_course_from_release_to_feedback_and_export(tmp_path: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    c = Class(tmp_path)
    points = {gid: p for gid, p, _ in graded_cells(c.source())}
    assert WRITTEN in points, f"{CHAPTER} asks for a written answer"
    auto = sum(points.values()) - points[WRITTEN]  # what the checks give a right answer
    full = sum(points.values())

    c.instructor("gradbook-grader", "release", CHAPTER)
    c.instructor("nbgrader", "release_assignment", CHAPTER)
    for name in ("alice", "bob", "carol"):
        c.student(name, "fetch_assignment", CHAPTER)
    c.work("alice", wrong=False, answer=ANSWER)
    c.student("alice", "submit", CHAPTER)
    c.work("carol", wrong=True, answer=ANSWER)
    c.student("carol", "submit", CHAPTER)
    c.instructor("nbgrader", "collect", CHAPTER)
    out = c.instructor("gradbook-grader", "grade", "submitted", "--no-progress")
    assert "2 submissions (2 graded" in out and "2 written answers to grade by hand" in out, out
    alice_graded = read_journal(c.course, "alice", CHAPTER).graded_at
    carol_first = read_journal(c.course, "carol", CHAPTER)
    assert not carol_first.cells[WRONG_TEST].passed and HINT in carol_first.cells[WRONG_TEST].message

    c.work("carol", wrong=False, answer=ANSWER)  # the right answer, still before the due date
    c.student("carol", "submit", CHAPTER)
    set_due(c.course, CHAPTER, now())
    c.work("bob", wrong=True, answer=ANSWER)
    c.student("bob", "submit", CHAPTER)  # late
    c.instructor("nbgrader", "collect", "--update", CHAPTER)
    out = c.instructor("gradbook-grader", "grade", "submitted", "--student", "bob", "--no-progress")
    assert "1 submissions (1 graded" in out and "1 late (bob)" in out, out
    c.instructor("nbgrader", "autograde", CHAPTER, "--student=carol", "--force")  # the formgrader's Autograde
    carol = read_journal(c.course, "carol", CHAPTER)
    assert carol.digest != carol_first.digest and carol.cells[WRONG_TEST].passed, "the resubmission was graded"
    assert read_journal(c.course, "alice", CHAPTER).graded_at == alice_graded, "alice was not graded again"

    with open_gradebook(c.course) as gb:  # a person grades the written answers (nbgrader's API, as the formgrader)
        queue = {s.student_id for s in gb.find_assignment(CHAPTER).submissions if s.needs_manual_grade}
        assert queue == {"alice", "bob", "carol"}
        for name, score in (("alice", 1.5), ("bob", points[WRITTEN])):
            grade = gb.find_grade(WRITTEN, CHAPTER, CHAPTER, name)
            grade.manual_score, grade.needs_manual_grade = score, False
        gb.find_comment(WRITTEN, CHAPTER, CHAPTER, "alice").manual_comment = COMMENT
        gb.db.commit()
    bob_raw = auto - points[WRONG_TEST] + points[WRITTEN]
    expected = {"alice": (auto + 1.5, 0.0), "bob": (bob_raw, bob_raw), "carol": (auto, 0.0)}  # (raw, penalty)

    report = c.instructor("gradbook-grader", "report", "--assignment", CHAPTER)
    assert f"alice / {CHAPTER}: {auto + 1.5:g} / {full:g}\n" in report
    assert f"bob / {CHAPTER}: 0 / {full:g}  (raw {bob_raw:g}, late penalty {bob_raw:g})" in report
    assert f"carol / {CHAPTER}: {auto:g} / {full:g}  [TO GRADE BY HAND: {WRITTEN}]" in report

    c.instructor("gradbook-grader", "feedback", "--assignment", CHAPTER)
    c.instructor("nbgrader", "release_feedback", CHAPTER)
    for name in ("alice", "bob"):
        home = c.student(name, "fetch_feedback", CHAPTER)
        pages = list((home / CHAPTER / "feedback").glob(f"*/{CHAPTER}.html"))
        assert len(pages) == 1, pages
        page = visible_text(pages[0].read_text(encoding="utf-8"))
        if name == "alice":
            assert f"Score: {auto + 1.5:g} / {full:g}" in page and f"{WRITTEN}1.5 / {points[WRITTEN]:g}" in page
            assert COMMENT in page
        else:
            assert f"Score: 0 / {full:g}" in page and f"late penalty {bob_raw:g}" in page and HINT in page

    c.instructor("gradbook-grader", "export", "--csv", "long.csv")
    c.instructor("nbgrader", "export", "--to", "nbgrader.csv")
    ours = {r["student_id"]: r for r in csv_rows(c.course.root / "long.csv")}
    theirs = {r["student_id"]: r for r in csv_rows(c.course.root / "nbgrader.csv")}
    assert set(ours) == set(theirs) == set(expected)
    for name, (raw, penalty) in expected.items():
        mine, nb = ours[name], theirs[name]
        for column in ("raw_score", "late_submission_penalty", "score", "max_score"):
            assert float(mine[column]) == float(nb[column]), (name, column, mine[column], nb[column])
        for column in ("assignment", "duedate", "timestamp", "student_id"):
            assert mine[column] == nb[column], (name, column)
        assert (float(mine["raw_score"]), float(mine["late_submission_penalty"]), float(mine["score"])) == (
            raw, penalty, max(raw - penalty, 0.0))
        assert mine["status"] == "submitted" and float(mine["max_score"]) == full
    assert float(ours["bob"]["seconds_late"]) > 0 == float(ours["alice"]["seconds_late"])
    assert ours["carol"]["needs_manual_grade"] == WRITTEN and ours["alice"]["needs_manual_grade"] == ""

    configure(c.course, f"c.GradbookExport.canvas_assignments = {{{CHAPTER!r}: 4521}}")
    c.instructor("gradbook-grader", "export", "--csv", "canvas.csv", "--format", "canvas")
    canvas = list(csv.reader((c.course.root / "canvas.csv").open(encoding="utf-8")))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{CHAPTER} (4521)"]
    assert canvas[1] == ["Points Possible", "", "", "", "", f"{full:g}"]
    by_login = {row[3]: row for row in canvas[2:]}
    assert {n: row[5] for n, row in by_login.items()} == {"alice": f"{auto + 1.5:g}", "bob": "0", "carol": f"{auto:g}"}

    c.instructor("gradbook-grader", "export", "--csv", "moodle.csv", "--format", "moodle")
    moodle = {r["Username"]: r for r in csv_rows(c.course.root / "moodle.csv")}
    assert {n: (r[f"{CHAPTER} (Real)"], r[f"{CHAPTER} (Feedback)"] == "") for n, r in moodle.items()} == {
        "alice": (f"{auto + 1.5:g}", True), "bob": ("0", False), "carol": (f"{auto:g}", True)}
    assert f"late, penalty {bob_raw:g}" in moodle["bob"][f"{CHAPTER} (Feedback)"]

    misconceptions = c.instructor("gradbook-grader", "misconceptions", "--assignment", CHAPTER)
    assert f"{CHAPTER}: 3 graded submissions" in misconceptions
    assert "  output_activations (test-output-activations): 1 of 3 failed" in misconceptions
    assert re.search(rf"^ +1  {re.escape(HINT)}", misconceptions, re.M), misconceptions

    print("\n" + "\n".join(f"--- {name}\n" + "".join((c.course.root / name).open(encoding="utf-8").readlines()[:4])
                           for name in ("long.csv", "canvas.csv", "moodle.csv", "nbgrader.csv")))
    print(report)
    print(misconceptions)
