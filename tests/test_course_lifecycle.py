"""The nbgrader course around the grading (issue 12), with a stand-in execution side (`fake_grading`).

Late penalties are nbgrader's (its due dates, its LateSubmissionPlugin or the course's own);
written answers enter nbgrader's needs-manual-grade queue and count once a person scores them;
report, feedback and export read the gradebook `--db` names and nothing else; the submitted/
layout is read as nbgrader lays it out, however much of it the instructor names; the formgrader's
Autograde goes through gradbook-grader; every failing verdict names its known mistake in a way the
grader can count. `test_lifecycle_exchange.py` runs the whole course with nbgrader's exchange and
the real sandbox.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest

from fake_grading import CH02, honest, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader.batch import BatchReport, grade_assignment
from gradbook_grader.course import Course, GraderError
from gradbook_grader.export import export_csv
from gradbook_grader.feedback import report_text, run_feedback, visible_text
from gradbook_grader.gradebook import open_gradebook
from gradbook_grader.grades import read
from gradbook_grader.submissions import discover
from lifecycle_helpers import MODEL, WRITTEN, add_written_answer, configure, received, run, set_due, stamp

DUE = datetime(2026, 11, 20, 12, 0)
WRONG_RELU = {"naive-relu": "def naive_relu(x):\n    return abs(x)"}  # the fake scores its test cell 0 (1 point)


def source(course: Course) -> nbformat.NotebookNode:
    return nbformat.read(course.source(CH02), as_version=4)


def submit(folder: Path, student: str, nb: nbformat.NotebookNode, when: datetime | None = None,
           course: Course | None = None) -> None:
    """A submission in nbgrader's layout claiming `when`; with `course`, as collected (arrived at `when`)."""
    path = folder / student / CH02
    path.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path / f"{CH02}.ipynb")
    if when is not None:
        (path / "timestamp.txt").write_bytes(stamp(when))
    if course is not None and when is not None:
        received(course, path, student, CH02, when)


def grade(course: Course, folder: Path, **kwargs: Any) -> BatchReport:
    return grade_assignment(course, CH02, folder, workers=1, progress=False, grade=fake_grade, **kwargs)


def exported(course: Course, path: Path, fmt: str = "long") -> list[dict[str, str]]:
    export_csv(course, path, fmt)
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def with_answer(nb: nbformat.NotebookNode, text: str | None) -> nbformat.NotebookNode:
    """`nb` with the written answer's text replaced (None: the cell deleted)."""
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == WRITTEN]
    if text is None:
        nb.cells = [c for c in nb.cells if c not in cells]
    for cell in cells:
        cell.source = text
    return nb


# ---------------------------------------------------------------- the layout


def test_a_students_folder_or_one_submission_is_that_students_not_a_class(tmp_path: Path) -> None:
    known = [CH02, "03-perceptron-and-xor"]
    folder = tmp_path / "submitted"
    for student in ("ann", "bob"):
        (folder / student / CH02).mkdir(parents=True)
        (folder / student / CH02 / f"{CH02}.ipynb").write_text("{}")
        (folder / student / CH02 / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")

    def found(*args: Any) -> list[tuple[str, str]]:
        return [(s.student, s.assignment) for s in discover(*args)[0]]

    assert found(folder, None, known) == [("ann", CH02), ("bob", CH02)]
    assert found(folder / "bob" / CH02, None, known) == [("bob", CH02)], "not a student named like the assignment"
    assert found(folder / "bob", None, known) == [("bob", CH02)], "not a class of students named like assignments"
    assert found(folder, None, known, ["bob"]) == [("bob", CH02)]
    with pytest.raises(GraderError, match="no submission of carol"):
        discover(folder, None, known, ["carol"])
    with pytest.raises(GraderError, match="bob's submission of 02-tensor-operations, not of 03-perceptron-and-xor"):
        discover(folder / "bob" / CH02, "03-perceptron-and-xor", known)
    elsewhere = tmp_path / "copied"
    elsewhere.mkdir()
    (elsewhere / f"{CH02}.ipynb").write_text("{}")
    with pytest.raises(GraderError, match="a notebook named like an assignment, not like a student"):
        discover(elsewhere, CH02, known)


def test_nbgraders_timestamp_and_secret_are_read_never_followed(tmp_path: Path) -> None:
    from gradbook_grader.submissions import load

    folder = tmp_path / "submitted"
    secret = "ab12" * 32  # nbgrader writes secrets.token_hex(64)
    for student, side in (("ann", secret), ("bob", ("link", "/etc/passwd")), ("cy", "not <hex>\n")):
        (folder / student / CH02).mkdir(parents=True)
        (folder / student / CH02 / f"{CH02}.ipynb").write_text("{}")
        (folder / student / CH02 / "timestamp.txt").write_bytes(stamp(DUE))
        target = folder / student / CH02 / "submission_secret.txt"
        target.symlink_to(side[1]) if isinstance(side, tuple) else target.write_text(side)
    loaded = {s.student: load(s) for s in discover(folder, CH02, [CH02])[0]}
    assert (loaded["ann"].secret, loaded["ann"].timestamp, loaded["ann"].notes) == (secret, stamp(DUE).decode(), [])
    assert loaded["bob"].data is None and "symbolic link" in loaded["bob"].problem  # the whole folder is refused
    assert loaded["cy"].secret is None and loaded["cy"].timestamp == stamp(DUE).decode()
    assert loaded["cy"].notes == ["submission_secret.txt ignored: it is not nbgrader's hex secret "
                                  "(the student cannot fetch feedback)"]


# ---------------------------------------------------------------- late submissions


@pytest.mark.slow  # spawns grading workers
def test_late_penalties_are_the_course_plugins_and_show_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbgrader.plugins import LateSubmissionPlugin

    course = small_course(tmp_path / "course")
    configure(course, 'c.LateSubmissionPlugin.penalty_method = "zero"')
    set_due(course, CH02, DUE)
    folder = tmp_path / "submitted"
    src = source(course)
    submit(folder, "ann", honest(src), DUE - timedelta(hours=1), course)
    submit(folder, "bob", honest(src), DUE + timedelta(hours=2, minutes=30), course)
    submit(folder, "cy", honest(src, WRONG_RELU), DUE + timedelta(hours=2, minutes=30), course)
    grade(course, folder)
    zero = LateSubmissionPlugin(penalty_method="zero")  # nbgrader's own plugin, called directly
    with open_gradebook(course) as gb:
        late = {s: gb.find_submission(CH02, s) for s in ("ann", "bob", "cy")}
        assert {s: x.total_seconds_late for s, x in late.items()} == {"ann": 0, "bob": 9000, "cy": 9000}
        assert {s: x.late_submission_penalty for s, x in late.items()} == {
            "ann": 0, "bob": zero.late_submission_penalty("bob", 10, 9000), "cy": zero.late_submission_penalty("cy", 9, 9000)}
    rows = {r["student_id"]: r for r in exported(course, tmp_path / "long.csv")}
    assert [rows[s]["raw_score"] for s in ("ann", "bob", "cy")] == ["10", "10", "9"]
    assert [rows[s]["late_submission_penalty"] for s in ("ann", "bob", "cy")] == ["0", "10", "9"]
    assert [rows[s]["score"] for s in ("ann", "bob", "cy")] == ["10", "0", "0"]
    assert rows["bob"]["seconds_late"] == "9000" and rows["bob"]["duedate"] == str(DUE)
    text = report_text(read(course).graded)
    assert "bob / 02-tensor-operations: 0 / 10  (raw 10, late penalty 10)  [LATE: 2:30:00 late]" in text
    assert "ann / 02-tensor-operations: 10 / 10\n" in text
    run_feedback(course, CH02, "bob")
    page = visible_text((course.feedback_dir("bob", CH02) / f"{CH02}.html").read_text(encoding="utf-8"))
    assert "Score: 0 / 10" in page and "2:30:00 late: late penalty 10 (score 10 - 10)" in page
    configure(course, f"c.GradbookExport.canvas_assignments = {{{CH02!r}: 77}}")
    canvas = exported(course, tmp_path / "canvas.csv", "canvas")
    assert {r["SIS Login ID"]: r[f"{CH02} (77)"] for r in canvas[1:]} == {"ann": "10", "bob": "0", "cy": "0"}
    moodle = exported(course, tmp_path / "moodle.csv", "moodle")
    assert {r["Username"]: (r[f"{CH02} (Real)"], r[f"{CH02} (Feedback)"]) for r in moodle} == {
        "ann": ("10", ""), "bob": ("0", "2:30:00 late, penalty 10"), "cy": ("0", "2:30:00 late, penalty 9")}

    # A plugin of the course's own, named in nbgrader_config.py: one point per hour late.
    (tmp_path / "policy.py").write_text(
        "from nbgrader.plugins import LateSubmissionPlugin\n"
        "class OnePointPerHour(LateSubmissionPlugin):\n"
        "    def late_submission_penalty(self, student_id, score, total_seconds_late):\n"
        "        return total_seconds_late / 3600\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    configure(course, 'c.AssignLatePenalties.plugin_class = "policy.OnePointPerHour"')
    rows = {r["student_id"]: r for r in exported(course, tmp_path / "long.csv")}  # recomputed as it is read
    assert [(rows[s]["late_submission_penalty"], rows[s]["score"]) for s in ("ann", "bob", "cy")] == [
        ("0", "10"), ("2.5", "7.5"), ("2.5", "6.5")]


# ---------------------------------------------------------------- written answers


@pytest.mark.slow  # spawns grading workers
def test_written_answers_wait_for_a_person_and_count_in_every_total(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    add_written_answer(course, CH02)
    src = source(course)
    folder = tmp_path / "submitted"
    submit(folder, "wrote", with_answer(honest(src), "It stretches the smaller array along the missing axes."))
    submit(folder, "blank", with_answer(honest(src), "YOUR ANSWER HERE"))  # as nbgrader released it
    submit(folder, "deleted", with_answer(honest(src), None))
    grade(course, folder)

    def state(student: str) -> tuple:
        with open_gradebook(course) as gb:
            g = gb.find_grade(WRITTEN, CH02, CH02, student)
            c = gb.find_comment(WRITTEN, CH02, CH02, student)
            queued = gb.find_submission_notebook(CH02, CH02, student).needs_manual_grade  # the formgrader's queue
            return g.auto_score, g.manual_score, g.needs_manual_grade, queued, c.auto_comment, gb.find_submission(CH02, student).score

    assert state("wrote") == (None, None, True, True, None, 10)
    assert state("blank") == state("deleted") == (0, None, False, False, "No response.", 10)
    text = report_text(read(course).graded)
    assert "wrote / 02-tensor-operations: 10 / 12  [TO GRADE BY HAND: why-broadcasting]" in text
    assert "blank / 02-tensor-operations: 10 / 12\n" in text and "comment: No response." in text

    with open_gradebook(course) as gb:  # a person grades it (what the formgrader's fields do)
        gb.find_grade(WRITTEN, CH02, CH02, "wrote").manual_score = 1.5
        gb.find_grade(WRITTEN, CH02, CH02, "wrote").needs_manual_grade = False
        gb.find_comment(WRITTEN, CH02, CH02, "wrote").manual_comment = "Right idea; say why nothing is copied."
        gb.db.commit()
    text = report_text(read(course, CH02, "wrote").graded)
    assert "wrote / 02-tensor-operations: 11.5 / 12\n" in text and "why-broadcasting: 1.5 / 2 (by hand)" in text
    assert "comment: Right idea; say why nothing is copied." in text
    assert {r["student_id"]: r["raw_score"] for r in exported(course, tmp_path / "long.csv")}["wrote"] == "11.5"
    cells = {(r["student_id"], r["cell"]): r for r in exported(course, tmp_path / "cells.csv", "cells")}
    assert (cells[("wrote", WRITTEN)]["manual_score"], cells[("wrote", WRITTEN)]["kind"]) == ("1.5", "written")
    run_feedback(course, CH02, "wrote")
    page = visible_text((course.feedback_dir("wrote", CH02) / f"{CH02}.html").read_text(encoding="utf-8"))
    assert "Score: 11.5 / 12" in page and "Right idea; say why nothing is copied." in page

    again = grade(course, folder)  # unchanged: the person's grade stands, nothing to look at again
    assert again.reused == 3 and state("wrote")[1:4] == (1.5, False, False)
    grade(course, folder, force=True)  # the same submission graded again: still the person's
    assert state("wrote")[1:4] == (1.5, False, False)
    submit(folder, "wrote", with_answer(honest(src), "A new answer."))  # a resubmission: the person looks again
    grade(course, folder)
    assert state("wrote")[1:4] == (1.5, True, True)


# ---------------------------------------------------------------- one gradebook


@pytest.mark.slow  # spawns grading workers
def test_report_feedback_and_export_read_only_the_gradebook_named(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    other = Course(course.root, course.solutions, course.notebooks, f"sqlite:///{tmp_path / 'other.db'}")
    src = source(course)
    submit(tmp_path / "first", "ann", honest(src))
    submit(tmp_path / "second", "bob", honest(src, WRONG_RELU))
    grade(course, tmp_path / "first")
    grade(other, tmp_path / "second")
    assert [e.student for e in read(course).graded] == ["ann"] and [e.student for e in read(other).graded] == ["bob"]
    assert "bob" not in report_text(read(course).graded) and "ann" not in report_text(read(other).graded)
    assert [r["student_id"] for r in exported(other, tmp_path / "other.csv")] == ["bob"]
    assert [p.parent.parent.name for p in run_feedback(other).written] == ["bob"]
    with open_gradebook(other) as gb:  # the gradebook's score, not the journal's, is what is shown
        gb.find_grade("test-naive-relu", CH02, CH02, "bob").manual_score = 1
        gb.db.commit()
    assert "bob / 02-tensor-operations: 10 / 10" in report_text(read(other).graded)


# ---------------------------------------------------------------- the command line and nbgrader's autograde


@pytest.mark.slow  # spawns grading workers
def test_grade_one_student_exits_non_zero_when_not_everything_was_graded_and_says_what_next(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    folder = tmp_path / "submitted"
    (folder / "ann" / CH02).mkdir(parents=True)
    (folder / "ann" / CH02 / f"{CH02}.ipynb").symlink_to("/etc/passwd")
    (folder / "bob" / CH02).mkdir(parents=True)
    (folder / "bob" / CH02 / f"{CH02}.ipynb").write_text("{ not json")
    common = ["--course", str(course.root), "--no-progress"]
    out = run(["gradbook-grader", "grade", str(folder), "--student", "bob", *common], tmp_path)
    assert out.returncode == 3, out.stderr
    assert "1 submissions (1 graded" in out.stdout and "bob:" in out.stdout and "ann" not in out.stdout
    assert "next:\n  - 1 could not be graded (see above)" in out.stdout and "gradbook-grader feedback" in out.stdout
    one = run(["gradbook-grader", "grade", str(folder / "bob" / CH02), *common], tmp_path)
    assert one.returncode == 3 and "bob:" in one.stdout and "02-tensor-operations: 1 submissions" in one.stdout
    assert not (course.root / "autograded" / CH02).exists(), "no student named like the assignment"


@pytest.mark.slow  # spawns grading workers
def test_the_formgraders_autograde_grades_through_gradbook_grader(tmp_path: Path) -> None:
    """nbgrader's API call behind the formgrader's Autograde button: gradbook-grader grades (here a
    submission that is no notebook, so no sandbox is needed to see it), nbgrader executes nothing."""
    from gradbook_grader.course import nbgrader_api
    from gradbook_grader.journal import read_journal

    course = small_course(tmp_path / "course")
    src = source(course)
    submit(course.root / "submitted", "ann", honest(src))
    (course.root / "submitted" / "bob" / CH02).mkdir(parents=True)
    (course.root / "submitted" / "bob" / CH02 / f"{CH02}.ipynb").write_text("{ not json")
    outcome = nbgrader_api(course).autograde(CH02, "bob")
    assert not outcome["success"] and "gradbook-grader could not grade everything" in outcome["error"]
    assert "bob / 02-tensor-operations: the submission is not valid notebook JSON" in outcome["error"]
    assert read_journal(course, "bob", CH02).error and read_journal(course, "ann", CH02) is None  # bob only
    graded = nbformat.read(course.autograded("bob", CH02) / f"{CH02}.ipynb", as_version=4)  # gradbook-grader's
    assert all(c.metadata.get("gradbook") == {"trusted_verdict": True} for c in graded.cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")


# ---------------------------------------------------------------- verdicts name their mistake


def _mistakes() -> list[tuple[str, int]]:
    from gradbook.checks import load_all

    return [(name, i) for name, e in sorted(load_all().items()) for i in range(len(e.mistakes))]


@pytest.mark.parametrize(("name", "index"), _mistakes(), ids=[f"{n}-{i}" for n, i in _mistakes()])
def test_a_failing_verdict_names_its_known_mistake_and_the_grader_reads_it_back(name: str, index: int) -> None:
    from gradbook.checks import collect, display, judge, load_all, plain
    from gradbook.checks.core import known_mistake

    exercise = load_all()[name]
    student = exercise.mistakes[index].wrong
    if exercise.value:
        wrong = exercise.answer(student, exercise.make_cases(0, False)[0])
        student = lambda *a, **k: wrong  # noqa: E731
    verdict = judge(exercise, plain.loads(plain.dumps(collect(exercise, student, seed=0, hidden=False))))
    assert verdict.mistake is not None, verdict.message
    # The first listed mistake that behaves the same is named: its hint is this mistake's.
    assert exercise.mistakes[verdict.mistake].hint == exercise.mistakes[index].hint
    read_back = known_mistake(exercise, verdict.message)  # mistakes that share a hint are one: the first
    assert read_back is not None and exercise.mistakes[read_back].hint == exercise.mistakes[verdict.mistake].hint
    # The student's own text (an exception's message, whatever their process sends as it) cannot pass for a hint:
    # the judge puts it on the first line of its message, its lines joined, and reads a hint back only after it.
    hint = display.hint(exercise.mistakes[index].hint)
    assert known_mistake(exercise, f"{exercise.title} raised ValueError: x {hint}") is None
    observation = plain.loads(plain.dumps(collect(exercise, student, seed=0, hidden=False)))
    observation["results"][0] = {**observation["results"][0], "error": f"ValueError: x\n{hint}"}
    forged = judge(exercise, observation)
    assert forged.mistake is None or forged.mistake == verdict.mistake, forged.message  # the judge's own reading
    assert known_mistake(exercise, forged.message) in (None, forged.mistake), forged.message


def test_misconception_counts_come_from_the_gradebooks_graded_submissions(tmp_path: Path) -> None:
    """Journal entries carry each failing cell's mistake; the report counts those of the gradebook's grades."""
    from gradbook.checks import load_all

    from gradbook_grader.journal import Result, write_journal
    from gradbook_grader.misconceptions import report
    from gradbook_grader.types import CellGrade

    course = small_course(tmp_path / "course")
    relu = load_all()["ch02.naive_relu"]
    hint = relu.mistakes[0].hint
    from gradbook_grader.gradebook import graded_cells, register_assignment, store

    with open_gradebook(course) as gb:
        register_assignment(gb, CH02, source(course))
        for n, mistake in enumerate([0, 0, None]):
            cells = {g: CellGrade(g, p, p, True, "passed") for g, p, _ in graded_cells(source(course))}
            cells["test-naive-relu"] = CellGrade("test-naive-relu", 0.0, 1.0, False, "naive_relu is not right yet",
                                                 exercise=relu.name, mistake=mistake)
            result = Result(f"s{n}", CH02, "k", "t", 9.0, 10.0, cells, [], None, True, "/x")
            store(gb, result)
            write_journal(course, result)
    text = report(course, CH02)
    assert "02-tensor-operations: 3 graded submissions" in text
    assert "  naive_relu (test-naive-relu): 3 of 3 failed" in text
    assert f"       2  {hint}" in text and "       1  (another mistake: none of the known ones)" in text
    assert json.loads((course.autograded("s0", CH02) / "gradbook-result.json").read_text())["cells"]["test-naive-relu"]["mistake"] == 0


# ---------------------------------------------------------------- release


def test_release_refuses_a_written_answer_whose_model_answer_is_not_between_the_markers(tmp_path: Path) -> None:
    from gradbook_grader.course import release

    course = small_course(tmp_path / "course", fake=False)
    nb = source(course)
    cell = nbformat.v4.new_markdown_cell(MODEL)  # the whole cell is the model answer: no markers
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "why-x", "locked": False, "points": 1, "schema_version": 3,
                                 "solution": True}
    nb.cells.append(cell)
    nbformat.write(nb, course.source(CH02))
    with pytest.raises(GraderError, match="written answer why-x: put the model answer between `### BEGIN SOLUTION`"):
        release(course)
    assert not course.notebooks.exists()


@pytest.mark.slow  # runs nbgrader's command line
def test_plain_nbgrader_commands_work_in_a_fresh_course(tmp_path: Path) -> None:
    """No `gradbook-grader release` first: the course's configuration links source/ to solutions/."""
    course = small_course(tmp_path / "course", fake=False)
    out = run(["nbgrader", "generate_assignment", CH02, "--force"], course.root)
    assert out.returncode == 0, out.stdout + out.stderr
    released = nbformat.read(course.root / "release" / CH02 / f"{CH02}.ipynb", as_version=4)
    relu = [c.source for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "naive-relu"]
    assert len(relu) == 1 and "raise NotImplementedError()" in relu[0] and "return" not in relu[0]


def test_the_chapters_ask_for_written_answers_that_students_receive_blank() -> None:
    """The chapters that ask for understanding in words, each a graded answer a person scores."""
    from conftest import ROOT
    from gradbook_grader.course import _written_answer_problems

    asked = {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert _written_answer_problems(nb) == []
        asked.update({(path.stem, c.metadata.nbgrader.grade_id): c for c in nb.cells
                      if c.metadata.get("nbgrader", {}).get("grade") and c.metadata.nbgrader.get("solution")})
    assert sorted(asked) == [("03-perceptron-and-xor", "xor-why"), ("05-softmax-and-classification", "softmax-shift"),
                             ("06-optimizers", "adam-bias-correction"), ("09-sequences", "clipping-why"),
                             ("10-attention", "why-positions"), ("10-attention", "why-scale")]
    for (chapter, gid), cell in asked.items():
        assert cell.cell_type == "markdown" and cell.metadata.nbgrader["points"] > 0 and not cell.metadata.nbgrader["locked"]
        released = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
        given = [c.source for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid]
        assert given == ["YOUR ANSWER HERE"], given


def test_verdicts_without_a_known_mistake_are_grouped_by_what_they_said() -> None:
    """Two students who changed the input in place, checked on different seeds, say the same gist; a wrong sum
    says another; the numbers of a case never split a group."""
    import numpy as np

    from gradbook.checks import collect, judge, load_all, plain

    from gradbook_grader.misconceptions import gist

    def in_place(x):  # noqa: ANN001, ANN202 - a student's answer
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                x[i, j] = max(x[i, j], 0)
        return x

    def halved(x):  # noqa: ANN001, ANN202
        return np.maximum(x, 0) / 2

    relu = load_all()["ch02.naive_relu"]
    said = [gist(judge(relu, plain.loads(plain.dumps(collect(relu, answer, seed=seed, hidden=seed > 0)))).message)
            for answer, seed in ((in_place, 0), (in_place, 7), (halved, 0), (halved, 3))]
    assert said[0] == said[1] and "changed its input array in place" in said[0]
    assert said[2] == said[3] and said[2] != said[0] and not any(ch.isdigit() for ch in said[2])
