"""The one writer commits many rows per transaction (gradebook.Transaction) and journals a submission only
once its rows are committed: a crash mid-transaction loses nothing a journal entry acknowledged, and the
next run grades again exactly what was not acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from fake_grading import CH02, expected_score, honest, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader.batch import grade_assignment
from gradbook_grader.gradebook import Transaction, open_gradebook
from gradbook_grader.journal import journal

TESTS = Path(__file__).resolve().parent
STUDENTS = 12
WRONG = {"relu": "def naive_relu(x):\n    return x\n"}

# The batch in a process of its own, which dies (os._exit: no cleanup, no commit) while the rows of its
# 7th and 8th submissions are in the open transaction: 5 rows per transaction, never by time.
CRASHING_BATCH = textwrap.dedent('''
    import os, sys
    sys.path.insert(0, {tests!r})
    from fake_grading import CH02, grade_submission
    from gradbook_grader import gradebook
    from gradbook_grader.batch import grade_assignment
    from gradbook_grader.course import Course

    opened = gradebook.Transaction.__init__
    gradebook.Transaction.__init__ = lambda self, gb, size=50, seconds=0.5: opened(self, gb, 5, 3600.0)
    add, rows = gradebook.Transaction.add, [0]

    def crash(self, write, then):
        rows[0] += 1
        if rows[0] == 9:
            os._exit(17)
        add(self, write, then)

    gradebook.Transaction.add = crash
    if __name__ == "__main__":
        course = Course(*map(__import__("pathlib").Path, {paths!r}), {db!r})
        grade_assignment(course, CH02, __import__("pathlib").Path({folder!r}), workers=1, progress=False,
                         grade=grade_submission)
''')


def _stored(course) -> dict[str, float]:  # noqa: ANN001
    gb = open_gradebook(course)
    try:
        return {s.student.id: s.score for s in gb.assignment_submissions(CH02)}
    finally:
        gb.close()


@pytest.mark.slow
def test_a_crash_mid_transaction_loses_nothing_acknowledged_and_the_rest_is_graded_again(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    source = nbformat.read(course.source(CH02), as_version=4)
    folder = tmp_path / "submitted"
    folder.mkdir()
    expected = {}
    for n in range(STUDENTS):
        wrong = WRONG if n % 3 == 0 else {}
        nbformat.write(honest(source, wrong), folder / f"s{n:02d}.ipynb")
        expected[f"s{n:02d}"] = expected_score(source, wrong)
    script = CRASHING_BATCH.format(tests=str(TESTS), paths=[str(course.root), str(course.solutions),
                                   str(course.notebooks)], db=course.gradebook_url, folder=str(folder))
    (tmp_path / "crash.py").write_text(script)
    with open(tmp_path / "crash.log", "wb") as log:  # not a pipe: its orphaned worker would hold it open
        died = subprocess.Popen([sys.executable, str(tmp_path / "crash.py")], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            assert died.wait(timeout=600) == 17, (tmp_path / "crash.log").read_text()[-2000:]
        finally:
            os.killpg(died.pid, signal.SIGKILL)  # the worker it left behind

    acknowledged = {r.student: r.score for r in journal(course, CH02)}
    assert len(acknowledged) == 5  # the first transaction's rows, committed, then journalled
    assert acknowledged == {s: expected[s] for s in acknowledged}
    assert _stored(course) == acknowledged  # the next 3 rows were never committed; nothing journalled is missing

    report = grade_assignment(course, CH02, folder, workers=1, progress=False, grade=fake_grade)
    assert report.reused == 5 and report.graded == STUDENTS - 5
    assert {r.student: r.score for r in report.results} == expected
    assert _stored(course) == expected


def test_a_row_that_fails_rolls_back_alone_and_the_rows_before_it_are_committed(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    gb = open_gradebook(course)
    try:
        outcome: dict[str, Exception | None] = {}
        transaction = Transaction(gb, size=10, seconds=3600.0)
        for name in ("a", "b"):
            transaction.add(lambda name=name: gb.add_student(name), lambda error, name=name: outcome.update({name: error}))
        assert outcome == {}  # not committed yet: not acknowledged
        transaction.add(lambda: gb.add_student("a"), lambda error: outcome.update({"again": error}))  # a duplicate
        transaction.commit()
        assert outcome["a"] is None and outcome["b"] is None and outcome["again"] is not None
        transaction.add(lambda: gb.add_student("c"), lambda error: outcome.update({"c": error}))
        transaction.close()
        assert outcome["c"] is None
        assert sorted(s.id for s in gb.students) == ["a", "b", "c"]
    finally:
        gb.close()


def test_a_regraded_late_submission_is_penalised_on_its_new_score(tmp_path: Path) -> None:
    """Within the writer's transaction nbgrader's commits only flush: the late penalty (`late.apply`) must still
    read the notebook's score as it is now, not as it was loaded before the regrade changed it. The course's
    plugin (docs/lifecycle.md) takes 10 % of the score per day late or part of one: hand-computed below."""
    from datetime import datetime, timedelta

    from gradbook_grader.grades import read
    from lifecycle_helpers import configure, received, set_due, stamp

    course = small_course(tmp_path / "course")
    (course.root / "plugins").mkdir()
    (course.root / "plugins" / "late_penalties.py").write_text(
        (TESTS.parent / "autograder" / "plugins" / "late_penalties.py").read_text())
    configure(course, "c.AssignLatePenalties.plugin_class = 'late_penalties.TenPercentPerDay'")
    due = datetime(2026, 11, 20, 12, 0)
    set_due(course, CH02, due)
    source = nbformat.read(course.source(CH02), as_version=4)
    folder = course.root / "submitted"
    path = folder / "bob" / CH02
    path.mkdir(parents=True)
    for wrong in ({}, WRONG):  # full marks, then a regrade that loses the relu cell's points
        nbformat.write(honest(source, wrong), path / f"{CH02}.ipynb")
        (path / "timestamp.txt").write_bytes(stamp(due + timedelta(hours=30)))  # 2 days begun: 20 %
        received(course, path, "bob", CH02, due + timedelta(hours=30))  # as collect saw this submission arrive
        grade_assignment(course, CH02, folder, workers=1, progress=False, grade=fake_grade)
        (graded,) = read(course, CH02).graded
        score = expected_score(source, wrong)
        assert graded.penalty == pytest.approx(0.2 * score), (wrong, graded.penalty, score)


def test_a_refused_row_costs_no_neighbour_at_any_batch_boundary_or_order(tmp_path: Path) -> None:
    """Where the batch boundaries fall depends on the load (a commit every `size` rows or after 0.5 s); here they
    are forced. A row's last changes stay in the session until something flushes them (nbgrader never flushes
    `late.apply`'s); that flush used to come with the next row's first query, so a change the database refuses only
    when flushed cost the next row, an honest neighbour noted "not stored" and left out. The cases: a refused row
    (refused before it writes, or by the database only when its change is flushed) first, between or after two
    honest rows, committed 2 or 10 rows at a time. Every honest row is stored and acknowledged once, the refused
    one never."""
    course = small_course(tmp_path / "course")
    gb = open_gradebook(course)
    try:
        gb.add_student("taken")
        for case, (order, size, flushed) in enumerate((o, s, f) for o in ("xab", "axb", "abx") for s in (2, 10)
                                                      for f in (False, True)):
            names = {row: f"{case}-{row}" for row in "abx"}
            outcome: dict[str, list[Exception | None]] = {row: [] for row in "abx"}

            def refused(name: str = names["x"], flushed: bool = flushed) -> None:
                if not flushed:
                    raise ValueError("value too long for type character varying(128)")
                gb.add_student(name)
                gb.find_student(name).id = "taken"  # refused when flushed: another student's key

            writes = {"a": lambda n=names["a"]: gb.add_student(n), "b": lambda n=names["b"]: gb.add_student(n),
                      "x": refused}
            transaction = Transaction(gb, size=size, seconds=3600.0)
            for row in order:
                transaction.add(writes[row], outcome[row].append)
            transaction.close()
            assert outcome["a"] == [None] and outcome["b"] == [None], (order, size, flushed, outcome)
            assert len(outcome["x"]) == 1 and outcome["x"][0] is not None, (order, size, flushed, outcome)
            assert {s.id for s in gb.students if s.id.startswith(f"{case}-")} == {names["a"], names["b"]}
    finally:
        gb.close()


def test_rows_waiting_for_their_batch_hold_no_transaction_another_writer_would_wait_for(tmp_path: Path) -> None:
    """While rows wait for their batch (graders are still grading), no gradebook transaction is open: another
    writer of the same gradebook (a TA's formgrader, `gradbook-grader extend`) writes at once, and a reader sees
    every committed row. Before, a waiting row had been written and flushed: SQLite's write lock was held until
    the batch's commit, so the other writer failed with "database is locked"; the batch's rows are then written
    and committed together, each acknowledged once."""
    import sqlite3

    course = small_course(tmp_path / "course")
    gb = open_gradebook(course)
    try:
        outcome: dict[str, list[Exception | None]] = {"a": [], "b": []}
        transaction = Transaction(gb, size=10, seconds=3600.0)
        for name in ("a", "b"):
            transaction.add(lambda name=name: gb.add_student(name), outcome[name].append)
        other = sqlite3.connect(course.gradebook_url.removeprefix("sqlite:///"), timeout=0.2)
        try:  # the other writer: it would wait 0.2 s for a lock, then fail
            other.execute("INSERT INTO student (id) VALUES ('ta')")
            other.commit()
        finally:
            other.close()
        assert outcome == {"a": [], "b": []}  # not committed yet: not acknowledged
        transaction.close()
        assert outcome == {"a": [None], "b": [None]}
        assert sorted(s.id for s in gb.students) == ["a", "b", "ta"]
    finally:
        gb.close()


def test_a_rolled_back_batch_leaves_nothing_in_the_session_for_the_rows_written_again(tmp_path: Path) -> None:
    """nbgrader's own pattern in every row: add_student, then add_submission, whose find_student loads the new
    student again (the first object was dropped). SQLAlchemy's rollback expunges only the objects it still tracks
    as new, so the reloaded one stayed in the session, expired, with no row behind it, for as long as a reference
    cycle kept it alive: when the garbage collector ran decided what a replayed honest row met (CI once noted an
    honest student "not stored (ObjectDeletedError: Instance <Student> has been deleted)" and left her out).
    Here the objects are kept alive on purpose, in every order and batch size: a row written again starts from
    an empty session (only what the database holds), and every honest row is stored once."""
    from nbgrader.api import Student

    course = small_course(tmp_path / "course")
    gb = open_gradebook(course)
    try:
        gb.add_assignment("hw")
        for case, (order, size) in enumerate((o, s) for o in ("xab", "axb", "abx") for s in (2, 10)):
            names = {row: f"{case}-{row}" for row in "abx"}
            outcome: dict[str, list[Exception | None]] = {row: [] for row in "abx"}
            kept: dict[str, list[Student]] = {}  # each row's objects, by attempt
            met: list[Student] = []  # objects of a rolled-back attempt a row found in the session as it began again

            def honest(name: str) -> None:
                met.extend(s for s in kept.get(name, []) if s in gb.db)
                gb.update_or_create_student(name)  # dropped at once, as nbgrader's _store drops it
                kept.setdefault(name, []).append(gb.update_or_create_submission("hw", name).student)  # loaded again

            def refused() -> None:
                raise ValueError("value too long for type character varying(128)")

            writes = {"a": lambda n=names["a"]: honest(n), "b": lambda n=names["b"]: honest(n), "x": refused}
            transaction = Transaction(gb, size=size, seconds=3600.0)
            for row in order:
                transaction.add(writes[row], outcome[row].append)
            transaction.close()
            assert outcome["a"] == [None] and outcome["b"] == [None] and outcome["x"][0] is not None, (order, size)
            assert not met, (order, size, "a row written again met the objects of its rolled-back attempt")
            assert {s.student.id for s in gb.find_assignment("hw").submissions if s.student.id.startswith(f"{case}-")} \
                == {names["a"], names["b"]}
    finally:
        gb.close()
