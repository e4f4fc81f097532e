"""The grader end to end: release, sandboxed parallel grading into nbgrader's gradebook, feedback,
export, report, resume after a crash, bad submissions, and the CLI from anywhere."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from gradbook_grader.batch import JOURNAL_NAME, BatchReport, Result, grade_assignment, read_journal
from gradbook_grader.course import Course, GraderError, find_course
from gradbook_grader.export import export_csv
from gradbook_grader.feedback import hidden_lines, report_text, visible_text, write_feedback
from gradbook_grader.gradebook import open_gradebook
from gradbook_grader.integrity import ASKED
from gradbook_grader.types import is_host_event

from grader_helpers import CH02, ROOT, answered, scratch_course, student_notebook, submit

pytestmark = pytest.mark.slow

RELU_ABS = '''
def naive_relu(x):
    """relu of a 2-D array, entry by entry, with loops."""
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = abs(x[i, j])
    return z
'''
DOT_NO_SUM = '''
def naive_vector_dot(x, y):
    z = x.copy()
    for i in range(x.shape[0]):
        z[i] = x[i] * y[i]
    return z
'''
HINT_RELU = "this is the absolute value |x|"
HINT_DOT = "this is the element-wise product x * y"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    return scratch_course(tmp_path_factory.mktemp("course"), assignments=None)  # every chapter: each is graded here


@pytest.fixture(scope="module")
def batch(course: Course, tmp_path_factory: pytest.TempPathFactory) -> BatchReport:
    """One class of ch02 submissions, honest and otherwise, graded with two workers."""
    folder = tmp_path_factory.mktemp("submitted")
    honest = answered(course, CH02)
    submit(folder, "honest", CH02, honest)
    submit(folder, "untouched", CH02, student_notebook(course, CH02))
    submit(folder, "partial", CH02, answered(course, CH02, {"naive-relu": RELU_ABS, "naive-vector-dot": DOT_NO_SUM}))
    noisy = answered(course, CH02)
    for cell in noisy.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "naive-add":
            cell.source = "import sys, warnings\n" + cell.source + "\nprint('deprecated, beware', file=sys.stderr)\nwarnings.warn('a warning')"
    submit(folder, "stderr", CH02, noisy)
    submit(folder, "notjson", CH02, b"{ this is not json")
    submit(folder, "nbformat3", CH02, nbformat.writes(nbformat.convert(honest, 3)))
    submit(folder, "nocells", CH02, nbformat.writes(nbformat.v4.new_notebook()))
    tests_deleted = answered(course, CH02)
    tests_deleted.cells = [c for c in tests_deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    submit(folder, "deleted", CH02, tests_deleted)
    tests_edited = answered(course, CH02, {"naive-relu": RELU_ABS})
    for cell in tests_edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "print('all checks passed')"
    submit(folder, "edited", CH02, tests_edited)
    (folder / "missing" / CH02).mkdir(parents=True)  # a submission folder without its notebook
    (folder / "link" / CH02).mkdir(parents=True)
    (folder / "link" / CH02 / f"{CH02}.ipynb").symlink_to("/etc/passwd")  # never followed
    return grade_assignment(course, CH02, folder, workers=2, progress=False)


def by_student(report: BatchReport) -> dict[str, Result]:
    return {r.student: r for r in report.results}


def test_every_submission_gets_a_result(batch: BatchReport) -> None:
    assert sorted(by_student(batch)) == sorted(
        ["honest", "untouched", "partial", "stderr", "notjson", "nbformat3", "nocells", "deleted", "edited", "missing", "link"]
    )
    assert batch.graded == 11 and batch.reused == 0


def test_honest_submission_scores_full_marks_without_warnings(batch: BatchReport) -> None:
    honest = by_student(batch)["honest"]
    assert honest.error is None
    assert honest.max_score == 10 and honest.score == honest.max_score
    assert all(c.passed for c in honest.cells.values())
    # Only what says how this host grades (no control group where the suite runs without root) may be there.
    assert [e for e in honest.events if not is_host_event(e)] == [], "an honest submission must raise no warnings"


def test_untouched_student_notebook_scores_zero(batch: BatchReport) -> None:
    untouched = by_student(batch)["untouched"]
    assert untouched.score == 0 and untouched.max_score == 10
    assert all("not implemented" in c.message for c in untouched.cells.values())
    assert all(c.unfinished for c in untouched.cells.values())  # typed by the judge, for the misconception report
    partial = by_student(batch)["partial"]  # wrong answers, written: not the stub
    assert not any(c.unfinished for c in partial.cells.values()) and not partial.cells["test-naive-relu"].passed


def test_plausible_wrong_answers_get_partial_credit_and_hints(batch: BatchReport) -> None:
    partial = by_student(batch)["partial"]
    assert partial.score == partial.max_score - 2
    assert not partial.cells["test-naive-relu"].passed and HINT_RELU in partial.cells["test-naive-relu"].message
    assert not partial.cells["test-naive-vector-dot"].passed and HINT_DOT in partial.cells["test-naive-vector-dot"].message
    assert partial.cells["test-naive-matrix-dot"].points == 2


def test_correct_answer_writing_to_stderr_scores_full_marks(batch: BatchReport) -> None:
    noisy = by_student(batch)["stderr"]
    assert noisy.error is None and noisy.score == noisy.max_score


def test_unusable_submissions_get_an_explicit_error(batch: BatchReport) -> None:
    results = by_student(batch)
    for student in ("notjson", "missing", "link"):
        assert results[student].error, f"{student} must record why it could not be graded"
        assert results[student].score == 0 and results[student].max_score == 10
        assert set(results[student].cells) == set(results["honest"].cells)
    assert "JSON" in results["notjson"].error or "json" in results["notjson"].error
    assert "missing" in results["missing"].error
    assert "symbolic link" in results["link"].error


def test_old_format_and_empty_notebooks_are_graded_or_explained(batch: BatchReport) -> None:
    results = by_student(batch)
    old_format = results["nbformat3"]  # the honest answers, saved as nbformat 3: read, upgraded and graded alike
    assert old_format.error is None and old_format.score == old_format.max_score == 10, old_format.error
    nocells = results["nocells"]  # an empty notebook: graded as the source's cells, none answered, and said so
    assert nocells.error is None and nocells.score == 0 and set(nocells.cells) == set(results["honest"].cells)
    assert all(not c.passed and "not implemented yet" in c.message for c in nocells.cells.values())
    for test_id in nocells.cells:
        assert f"cell {test_id} was deleted: restored from source" in nocells.events, nocells.events
        assert any(e.startswith(f"solution cell {test_id.removeprefix('test-')} is missing: the stub the student was "
                                "given stands in its place") for e in nocells.events), nocells.events


def test_deleted_or_edited_tests_are_restored_and_reported(batch: BatchReport) -> None:
    results = by_student(batch)
    assert results["deleted"].score == 10, "the restored tests pass on the correct solutions"
    assert results["deleted"].events, "deleting test cells is a tamper event"
    edited = results["edited"]
    assert edited.score == 9 and not edited.cells["test-naive-relu"].passed, "edited tests are replaced by the source's"
    assert edited.events


def test_grades_of_both_workers_are_all_in_nbgraders_gradebook(batch: BatchReport, course: Course) -> None:
    with open_gradebook(course) as gb:
        stored = {s.student_id: s for s in gb.find_assignment(CH02).submissions}
        assert sorted(stored) == sorted(by_student(batch))
        for student, result in by_student(batch).items():
            assert stored[student].score == pytest.approx(result.score), student
            grades = {g.name: g.score for nb in stored[student].notebooks for g in nb.grades}
            assert grades == {name: cell.points for name, cell in result.cells.items()}


def test_graded_notebooks_and_journal_are_written(batch: BatchReport, course: Course) -> None:
    for result in batch.results:
        assert read_journal(course, result.student, CH02) == result
    graded = nbformat.read(course.autograded("honest", CH02) / f"{CH02}.ipynb", as_version=4)
    assert any(c.get("outputs") for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade"))


def test_feedback_shows_hints_and_never_hidden_tests(batch: BatchReport, course: Course) -> None:
    paths = write_feedback(course, CH02)
    assert len(paths) == len(batch.results)
    hidden = hidden_lines(nbformat.read(course.source(CH02), as_version=4))
    assert hidden, "ch02 has hidden tests, so this test can see them leak"
    for path in paths:
        text = visible_text(path.read_text())
        assert "HIDDEN TESTS" not in text
        assert not [line for line in hidden if line in text], path
    partial = visible_text((course.feedback_dir("partial", CH02) / f"{CH02}.html").read_text())
    assert HINT_RELU in partial and HINT_DOT in partial


def test_misconception_report_counts_the_known_mistakes_made(batch: BatchReport, course: Course) -> None:
    from gradbook.checks import load_all

    from gradbook_grader.misconceptions import report

    hints = {name: [m.hint for m in load_all()[name].mistakes] for name in ("ch02.naive_relu", "ch02.naive_vector_dot")}
    relu = next(h for h in hints["ch02.naive_relu"] if HINT_RELU in h)
    dot = next(h for h in hints["ch02.naive_vector_dot"] if HINT_DOT in h)
    text = report(course, CH02)
    # RELU_ABS: partial and edited (its edited tests are restored); DOT_NO_SUM: partial. Untouched tried nothing.
    assert f"       2  {relu}" in text and f"       1  {dot}" in text, text
    # Nothing written (the released notebook, and a notebook without cells, graded as not answered): apart.
    untouched = {"untouched", "nocells"}
    judged = [r for r in batch.results if not r.error and r.student not in untouched]
    failed = [r for r in judged if not r.cells["test-naive-relu"].passed]
    assert f"{CH02}: {len(judged) + 2} graded submissions, 2 untouched (none of its functions written" in text, text
    assert f"naive_relu (test-naive-relu): {len(failed)} of {len(judged)} failed" in text and "(not attempted)" not in text


def test_report_lists_lost_points_and_events(batch: BatchReport) -> None:
    text = report_text(batch.results)
    assert "partial / 02-tensor-operations: 8 / 10" in text
    assert HINT_RELU in text
    assert any(f"event: {e}" in text for e in by_student(batch)["edited"].events)


def test_csv_export(batch: BatchReport, course: Course, tmp_path: Path) -> None:
    target = tmp_path / "grades.csv"
    assert export_csv(course, target, assignments=[CH02]) >= len(batch.results)  # and other tests' students, missing
    rows = {r["student_id"]: r for r in csv.DictReader(target.open()) if r["student_id"] in by_student(batch)}
    assert len(rows) == len(batch.results)
    assert list(next(csv.reader(target.open())))[:4] == ["assignment", "duedate", "timestamp", "student_id"]  # nbgrader's
    assert rows["partial"]["score"] == "8" and rows["partial"]["max_score"] == "10"
    assert rows["honest"]["score"] == "10" and rows["honest"]["error"] == "" and rows["honest"]["status"] == "submitted"
    assert rows["notjson"]["error"]
    export_csv(course, target, "cells", [CH02])
    cells = {(r["student_id"], r["cell"]): r for r in csv.DictReader(target.open())}
    assert cells[("partial", "test-naive-relu")]["score"] == "0" and cells[("partial", "test-naive-matrix-dot")]["score"] == "2"
    assert HINT_RELU in cells[("partial", "test-naive-relu")]["mistake"]


def test_unchanged_submissions_are_not_regraded_and_force_regrades(batch: BatchReport, course: Course, tmp_path: Path) -> None:
    folder = tmp_path / "again"
    submit(folder, "honest", CH02, answered(course, CH02))
    again = grade_assignment(course, CH02, folder, workers=1, progress=False)
    assert (again.graded, again.reused) == (0, 1)
    assert again.results[0].graded_at == by_student(batch)["honest"].graded_at
    forced = grade_assignment(course, CH02, folder, workers=1, progress=False, force=True)
    assert forced.graded == 1 and forced.results[0].graded_at > by_student(batch)["honest"].graded_at


def test_resume_after_a_crash_skips_what_was_graded(tmp_path: Path) -> None:
    course = scratch_course(tmp_path / "resume")
    folder = tmp_path / "flat"
    folder.mkdir()
    for n in range(4):
        nbformat.write(answered(course, CH02), folder / f"s{n}.ipynb")
    script = (
        "import sys; from pathlib import Path; from gradbook_grader.batch import grade_assignment; "
        "from gradbook_grader.course import Course; "
        "c = Course(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]); "
        f"grade_assignment(c, {CH02!r}, Path(sys.argv[5]), workers=1, progress=False)"
    )
    args = [str(course.root), str(course.solutions), str(course.notebooks), course.db_url, str(folder)]
    child = subprocess.Popen([sys.executable, "-c", script, *args], start_new_session=True)
    journals = lambda: sorted(course.root.glob(f"autograded/*/{CH02}/{JOURNAL_NAME}"))  # noqa: E731
    try:
        while len(journals()) < 2 and child.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the crash: the batch and its worker, mid-run
        child.wait()
    done = {p.parent.parent.name: json.loads(p.read_text())["graded_at"] for p in journals()}
    assert 2 <= len(done) < 4, "the crash must come after some, before all submissions"

    report = grade_assignment(course, CH02, folder, workers=1, progress=False)
    assert report.reused == len(done) and report.graded == 4 - len(done)
    results = by_student(report)
    for student, graded_at in done.items():
        assert results[student].graded_at == graded_at, f"{student} was graded again after the crash"
    assert all(r.score == 10 for r in report.results)
    with open_gradebook(course) as gb:
        assert sorted(s.student_id for s in gb.find_assignment(CH02).submissions) == ["s0", "s1", "s2", "s3"]


def test_cli_works_from_another_directory_without_the_venv_on_path(course: Course, tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    nbformat.write(answered(course, CH02, {"naive-relu": RELU_ABS}), folder / "cli-student.ipynb")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # no venv: nbgrader's `alembic` must be found anyway
    cli = [str(Path(sys.executable).parent / "gradbook-grader")]
    common = ["--course", str(course.root), "--db", f"sqlite:///{tmp_path / 'fresh.db'}"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    graded = run("grade", str(folder), "--assignment", CH02, "--no-progress", *common)
    assert graded.returncode == 0, graded.stderr
    assert "1 submissions (1 graded" in graded.stdout
    exported = run("export", "--csv", "out.csv", *common)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert [(r["student_id"], r["score"]) for r in rows] == [("cli-student", "9")]
    report = run("report", "--student", "cli-student", *common)
    assert report.returncode == 0 and HINT_RELU in report.stdout
    flat_without_assignment = run("grade", str(folder), *common)
    assert flat_without_assignment.returncode == 1 and "--assignment" in flat_without_assignment.stderr
    bad_db = run("export", "--csv", "x.csv", "--course", str(course.root), "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert bad_db.returncode == 1 and "cannot open the gradebook" in bad_db.stderr


@pytest.mark.parametrize("assignment", sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb")))
def test_each_solution_scores_full_marks_and_each_untouched_notebook_zero(
    assignment: str, course: Course, tmp_path: Path
) -> None:
    folder = tmp_path / "submitted"
    submit(folder, "solution", assignment, nbformat.read(course.source(assignment), as_version=4))
    submit(folder, "student", assignment, answered(course, assignment))
    submit(folder, "untouched", assignment, student_notebook(course, assignment))
    results = by_student(grade_assignment(course, assignment, folder, workers=2, progress=False))
    assert results["solution"].max_score > 0
    # Written answers are a person's to score: every point but theirs is the checks'.
    source = nbformat.read(course.source(assignment), as_version=4)
    written = sum(float(c.metadata.nbgrader.get("points", 0)) for c in source.cells
                  if c.metadata.get("nbgrader", {}).get("grade") and c.metadata.nbgrader.get("solution"))
    for student in ("solution", "student"):
        assert results[student].error is None and results[student].score == results[student].max_score - written, (
            student, {c.grade_id: c.message for c in results[student].cells.values() if not c.passed and not c.manual})
        assert all(c.manual and c.message == "to be graded by hand" for c in results[student].cells.values() if not c.passed)
    assert results["untouched"].score == 0
    assert all(c.message == "No response." for c in results["untouched"].cells.values() if c.manual)
    # No answer of a solution calls a framework while it is asked, however reached (the sandbox's `watch`): its demo
    # and comparison cells may, and chapters 9-10's train the library's torch path, outside the answers.
    for student in ("solution", "student"):
        assert not [line for line in results[student].integrity if ASKED in line], (student, results[student].integrity)
    # No cell of the solution's graded notebook fails for want of a withheld answer: a demo cell that uses the
    # library's copy of one of the chapter's answers says in one line that it is not run while grading.
    graded = nbformat.read(course.autograded("solution", assignment) / f"{assignment}.ipynb", as_version=4)
    failed = [(c.source[:80], o.ename, o.evalue[:300]) for c in graded.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error" and o.ename == "Withheld"]
    assert not failed, failed
    not_run = [c for c in graded.cells if c.cell_type == "code" and "Not run while grading" in str(c.get("outputs"))]
    assert all(not c.metadata.get("nbgrader", {}).get("grade") for c in not_run)
    if assignment == "10-attention":  # its Keras cells train the library's attention (softmax_backward withheld)
        assert not_run, "chapter 10's library cells should say they are not run while grading"


def test_course_comes_from_configuration_not_from_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADBOOK_COURSE", raising=False)
    monkeypatch.chdir(ROOT / "solutions")  # a parent holds autograder/
    assert find_course().root == ROOT / "autograder"
    monkeypatch.setenv("GRADBOOK_COURSE", str(ROOT))
    monkeypatch.chdir(tmp_path)
    assert find_course().root == ROOT / "autograder"
    monkeypatch.delenv("GRADBOOK_COURSE")
    with pytest.raises(GraderError, match="--course PATH"):  # tmp_path is no course, whatever the install
        find_course()
