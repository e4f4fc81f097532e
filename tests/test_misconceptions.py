"""The misconception report counts what each student got wrong once, where it went wrong (issue 26, item 6).

Synthetic graded classes, stored as the batch stores them (nbgrader's gradebook and the grader's journal)
with each student's graded notebook, so the report reads exactly what it reads after a real batch:

* a broken `softmax` makes `softmax_ce_grad` (whose code calls it) fail: counted as "fails because softmax
  fails", not as a second mistake; a `softmax_ce_grad` that does not call it fails on its own;
* a student who wrote `softmax` and `loss_and_grads` but not `softmax_ce_grad` attempted those two;
* an untouched submission is counted apart, not as failing every exercise;
* breaking chapter 2's loops-only rule is listed in its own section, never as a commonest mistake.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from fake_grading import CH02, ROOT, small_course
from gradbook.checks import load_all
from gradbook.checks.ch02.public import LOOPS_ONLY
from gradbook.checks.drivers import NOT_IMPLEMENTED
from gradbook_grader.course import Course
from gradbook_grader.gradebook import graded_cells, open_gradebook, register_assignment, store
from gradbook_grader.journal import Result, write_journal
from gradbook_grader.misconceptions import answer_cells, dependencies, report
from gradbook_grader.types import CellGrade

CH05 = "05-softmax-and-classification"
FUNCTIONS = {"softmax": "test-softmax", "log_softmax": "test-log-softmax",
             "categorical_crossentropy": "test-categorical-crossentropy", "softmax_ce_grad": "test-softmax-ce-grad",
             "multilabel_predict": "test-multilabel-predict", "output_activations": "test-output-activations",
             "loss_and_grads": "test-loss-and-grads"}


def student_notebook(course: Course, assignment: str, written: set[str], own: dict[str, str]) -> nbformat.NotebookNode:
    """A student's notebook: as released (notebooks/), with the model answer in the cells of the functions
    in `written` (or the student's own code, `own`: function -> cell); the others as students received them."""
    src = nbformat.read(course.source(assignment), as_version=4)
    nb = nbformat.read(ROOT / "notebooks" / f"{assignment}.ipynb", as_version=4)
    cells = answer_cells(src, {f"ch{assignment[:2]}.{n}": n for n in written})
    model = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in src.cells}
    theirs = {cells[f"ch{assignment[:2]}.{n}"]: code for n, code in own.items()}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in cells.values():
            cell.source = theirs.get(gid, model[gid])
    return nb


def grade(gb: object, course: Course, assignment: str, student: str, failed: dict[str, tuple[str, int | None]],
          written: set[str] | None = None, own: dict[str, str] | None = None, stubs: frozenset[str] = frozenset()) -> None:
    """Store a graded submission: the cells in `failed` (grade id: (verdict, known mistake)) lost their points;
    those in `stubs` because their answer was still the released stub (the judge's typed `unfinished`)."""
    src = nbformat.read(course.source(assignment), as_version=4)
    registry = load_all()
    exercise = {g: e for g, e in (("test-" + n.replace("_", "-"), f"ch{assignment[:2]}.{n}") for n in
                                  [e.split(".")[1] for e in registry if e.startswith(f"ch{assignment[:2]}.")])}
    cells = {}
    for gid, points, _ in graded_cells(src):
        verdict, mistake = failed.get(gid, ("passed", None))
        ok = gid not in failed
        cells[gid] = CellGrade(gid, points if ok else 0.0, points, ok, verdict,
                               exercise=None if ok else exercise.get(gid), mistake=mistake, unfinished=gid in stubs)
    result = Result(student, assignment, f"k-{student}", "t", sum(c.points for c in cells.values()),
                    sum(c.max_points for c in cells.values()), cells, [], None, True, "/x")
    store(gb, result)
    write_journal(course, result)
    if written is not None:
        nbformat.write(student_notebook(course, assignment, written, own or {}),
                       course.autograded(student, assignment) / f"{assignment}.ipynb")


def section(text: str, heading: str) -> str:
    """An exercise's lines of the report: from its heading to the next line indented as little."""
    return re.split(r"\n  (?=\S)", text.split(heading, 1)[1])[0]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """One course (one gradebook) for every class here: chapters 2 and 5."""
    return small_course(tmp_path_factory.mktemp("misconceptions") / "course", (CH02, CH05))


@pytest.fixture(scope="module")
def ch05(course: Course) -> Course:
    softmax = load_all()["ch05.softmax"]
    overflow = next(i for i, m in enumerate(softmax.mistakes) if "max" in m.hint.lower())
    stub = f"softmax_ce_grad: {NOT_IMPLEMENTED}"
    everything = set(FUNCTIONS)
    with open_gradebook(course) as gb:
        register_assignment(gb, CH05, nbformat.read(course.source(CH05), as_version=4))
        grade(gb, course, CH05, "ann", {}, everything)
        for student in ("bob", "cy"):  # softmax overflows; softmax_ce_grad, which calls it, fails with it
            grade(gb, course, CH05, student, {"test-softmax": ("softmax is not right yet: overflow", overflow),
                                              "test-softmax-ce-grad": ("softmax_ce_grad is not right yet: nan", None)},
                  everything)
        # dee wrote softmax and loss_and_grads, not softmax_ce_grad: loss_and_grads reaches its stub
        grade(gb, course, CH05, "dee", {"test-softmax-ce-grad": (stub, None), "test-loss-and-grads": (
            f"loss_and_grads: {NOT_IMPLEMENTED}", None)}, everything - {"softmax_ce_grad"})
        grade(gb, course, CH05, "eve", {gid: (f"{name}: {NOT_IMPLEMENTED}", None) for name, gid in FUNCTIONS.items()},
              set())
        # fay's softmax overflows too, but her softmax_ce_grad does not use it: its failure is its own
        grade(gb, course, CH05, "fay", {"test-softmax": ("softmax is not right yet: overflow", overflow),
                                        "test-softmax-ce-grad": ("softmax_ce_grad is not right yet: sign", None)},
              everything, {"softmax_ce_grad": "def softmax_ce_grad(logits, y_true):\n    return y_true - logits\n"})
    return course


def test_the_dependencies_are_read_from_the_model_solutions() -> None:
    src = nbformat.read(ROOT / "solutions" / f"{CH05}.ipynb", as_version=4)
    uses = dependencies(src, {f"ch05.{n}": n for n in FUNCTIONS})
    assert uses["ch05.softmax_ce_grad"] == ["ch05.softmax"]
    assert uses["ch05.loss_and_grads"] == ["ch05.categorical_crossentropy", "ch05.softmax_ce_grad"]
    assert uses["ch05.softmax"] == []


def test_a_knock_on_failure_is_counted_upstream(ch05: Course) -> None:
    text = report(ch05, CH05)
    softmax = load_all()["ch05.softmax"]
    hint = next(m.hint for m in softmax.mistakes if "max" in m.hint.lower())
    assert "  softmax (test-softmax): 3 of 5 failed" in text and f"       3  {hint}" in text, text
    grad = section(text, "softmax_ce_grad (test-softmax-ce-grad)")
    assert ": 4 of 5 failed" in grad
    assert "       2  fails because softmax fails (counted there, not as a mistake of its own)" in grad
    # fay's own softmax_ce_grad does not call softmax: hers is a mistake of its own
    assert "       1  (another mistake: none of the known ones)" in grad
    assert f"commonest: softmax: {hint} (3)" in text and "softmax_ce_grad:" not in text.split("commonest:")[1]


def test_partial_attempts_are_per_function_and_untouched_submissions_apart(ch05: Course) -> None:
    text = report(ch05, CH05)
    assert text.startswith(f"{CH05}: 6 graded submissions, 1 untouched (none of its functions written: not counted below)")
    grad = section(text, "softmax_ce_grad (test-softmax-ce-grad)")
    assert "       1  (not attempted)" in grad  # dee's stub
    loss = section(text, "loss_and_grads (test-loss-and-grads)")
    assert ": 1 of 5 failed" in loss and "fails because softmax_ce_grad fails" in loss and "not attempted" not in loss
    assert "  log_softmax (test-log-softmax): 0 of 5 failed" in text, "eve's untouched notebook fails nothing here"


def test_rule_violations_have_their_own_section(course: Course) -> None:
    relu = load_all()["ch02.naive_relu"]
    rule = next(i for i, m in enumerate(relu.mistakes) if m.hint == LOOPS_ONLY)
    wrong = next(i for i, m in enumerate(relu.mistakes) if m.hint != LOOPS_ONLY)
    with open_gradebook(course) as gb:
        register_assignment(gb, CH02, nbformat.read(course.source(CH02), as_version=4))
        for student, mistake in (("s1", rule), ("s2", rule), ("s3", wrong)):
            grade(gb, course, CH02, student, {"test-naive-relu": ("naive_relu is not right yet", mistake)})
    text = report(course, CH02)
    assert "  naive_relu (test-naive-relu): 3 of 3 failed" in text
    assert f"       1  {relu.mistakes[wrong].hint}" in text and "       2  (broke the chapter's rule: below)" in text
    section = text.split("  the chapter's rule broken (not a wrong result; see the hint):\n")[1]
    assert section.startswith(f"       2  naive_relu: {LOOPS_ONLY}")
    assert "commonest: " in text and LOOPS_ONLY not in text.split("commonest: ")[1]


def test_without_a_notebook_an_untouched_submission_is_known_by_the_judges_flag_not_by_words(tmp_path: Path) -> None:
    """No graded notebook to read (deleted, another machine's journal): what was attempted comes from the
    judge's typed `unfinished`. A student whose own error message says "not implemented yet" attempted it."""
    stub_text = f"naive_relu: {NOT_IMPLEMENTED}"
    course = small_course(tmp_path / "course", (CH02,))  # its own class: the module's counts stay theirs
    with open_gradebook(course) as gb:
        register_assignment(gb, CH02, nbformat.read(course.source(CH02), as_version=4))
        gids = [gid for gid, _, _ in graded_cells(nbformat.read(course.source(CH02), as_version=4))]
        grade(gb, course, CH02, "stub1", {g: (stub_text, None) for g in gids}, stubs=frozenset(gids))
        # their own code raised NotImplementedError("not implemented yet") after real work: an attempt
        grade(gb, course, CH02, "mimic", {"test-naive-relu": (stub_text, None)})
    text = report(course, CH02)
    assert ", 1 untouched (none of its functions written" in text.splitlines()[0], text
    relu = section(text, "naive_relu (test-naive-relu)")
    assert "(not attempted)" not in relu and "(another mistake: none of the known ones)" in relu, relu
