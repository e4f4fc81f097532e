"""Lateness from what the instructor's side observed, through nbgrader's real exchange (issue 23).

Students submit with nbgrader's own `ExchangeSubmit`; the instructor runs `nbgrader collect` with the
course's nbgrader_config.py (`collect.ObservedCollect`). Each student is a real account of this
machine (the submission folders are chowned to it, as the student's own process would own them):

* daemon submits on time; bin submits late, then rewrites its timestamp.txt to 2020 and sets every
  mtime to 2020 (`os.utime`, as the owner may); sys, sync and lp submit on time with a garbled, a
  year-0001 and a deleted timestamp.txt;
* man submits on time; games plants a later folder under man's name;
* mail's notebook is put into submitted/ by hand, claiming 2020 (no collect saw it arrive).

Before this, bin was on time with full marks, the broken timestamps counted as on time unflagged,
and collect only warned about games's folder and collected it as man's submission.
"""

from __future__ import annotations

import os
import pwd
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from conftest import require
from fake_grading import CH02, honest, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader.batch import grade_assignment
from gradbook_grader.course import Course
from gradbook_grader.feedback import report_text
from gradbook_grader.gradebook import open_gradebook
from gradbook_grader.grades import read
from lifecycle_helpers import configure, nbgrader_app, run, set_due

ROLES = {"honest": "daemon", "forger": "bin", "garbled": "sys", "year1": "sync", "deleted": "lp",
         "victim": "man", "planter": "games", "unobserved": "mail"}
FORGED = "2020-01-02 03:04:05.000000 UTC"


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def uid(name: str) -> int:
    return pwd.getpwnam(name).pw_uid


def chown_tree(path: Path, owner: int) -> None:
    for here, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(here, name), owner, owner)
    os.lchown(path, owner, owner)


def nbgrader_submit(exchange: Path, home: Path, student: str, nb: nbformat.NotebookNode) -> Path:
    """nbgrader's own submit (its ExchangeSubmit, in this process), the folder then owned by `student`."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeSubmit
    from traitlets.config import Config

    (home / CH02).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, home / CH02 / f"{CH02}.ipynb")
    config = Config()
    config.CourseDirectory.course_id, config.CourseDirectory.assignment_id = "gradbook", CH02
    config.CourseDirectory.student_id = student
    config.Exchange.root, config.Exchange.cache, config.Exchange.assignment_dir = str(exchange), str(home / ".c"), str(home)
    before = set((exchange / "gradbook" / "inbound").iterdir())
    ExchangeSubmit(coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config), config=config).start()
    (folder,) = set((exchange / "gradbook" / "inbound").iterdir()) - before
    chown_tree(folder, uid(student))  # what the student's own process would have made
    return folder


@pytest.mark.slow  # nbgrader collect (twice) and grading (stand-in execution side)
def test_lateness_is_what_the_exchange_observed_and_planted_folders_are_refused(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    require(os.geteuid() == 0, "needs root, to give submission folders to other accounts (CI runs as root)")
    course = small_course(tmp_path / "course")
    configure(course, 'c.LateSubmissionPlugin.penalty_method = "zero"')
    exchange = tmp_path / "exchange"
    (exchange / "gradbook" / "outbound" / CH02).mkdir(parents=True)
    (exchange / "gradbook" / "inbound").mkdir()
    src = nbformat.read(course.source(CH02), as_version=4)
    nbformat.write(src, exchange / "gradbook" / "outbound" / CH02 / f"{CH02}.ipynb")  # as release_assignment would
    home = tmp_path / "home"
    folders = {role: nbgrader_submit(exchange, home / role, ROLES[role], honest(src))
               for role in ("honest", "garbled", "year1", "deleted", "victim")}
    (folders["garbled"] / "timestamp.txt").write_text("next tuesday, honest")
    (folders["year1"] / "timestamp.txt").write_text("0001-01-01 00:00:00.000000 UTC")
    (folders["deleted"] / "timestamp.txt").unlink()
    due = now()
    set_due(course, CH02, due)

    late = folders["forger"] = nbgrader_submit(exchange, home / "forger", ROLES["forger"], honest(src))
    (late / "timestamp.txt").write_text(FORGED)  # the forger's own file: it may write it and set its times
    for path in (late, *late.iterdir()):
        os.utime(path, (datetime(2020, 1, 2).timestamp(),) * 2, follow_symlinks=False)
    planted = exchange / "gradbook" / "inbound" / f"man+{CH02}+2030-01-01 00:00:00.000000 UTC+zz"
    shutil.copytree(folders["victim"], planted)
    nbformat.write(honest(src, {"naive-relu": "def naive_relu(x):\n    return x"}), planted / f"{CH02}.ipynb")
    chown_tree(planted, uid(ROLES["planter"]))

    out = run(["nbgrader", "collect", CH02, f"--Exchange.root={exchange}"], course.root)
    said = out.stdout + out.stderr
    assert out.returncode != 0, said
    assert f"{planted.name} refused, not collected" in said and "owned (in part) by games" in said, said
    submitted = course.root / "submitted"
    assert {p.name for p in submitted.iterdir()} == {ROLES[r] for r in folders}
    genuine = (folders["victim"] / f"{CH02}.ipynb").read_bytes()
    assert (submitted / "man" / CH02 / f"{CH02}.ipynb").read_bytes() == genuine, "the victim's own work was collected"

    hand = submitted / ROLES["unobserved"] / CH02  # into submitted/ by hand: no collect saw it arrive
    hand.mkdir(parents=True)
    nbformat.write(honest(src), hand / f"{CH02}.ipynb")
    (hand / "timestamp.txt").write_text(FORGED)

    report = grade_assignment(course, CH02, submitted, workers=1, progress=False, grade=fake_grade)
    results = {r.student: r for r in report.results}
    entries = {g.student: g for g in read(course, CH02).graded}
    role = {r: entries[name] for r, name in ROLES.items() if name in entries}
    assert role["honest"].seconds_late == 0 and role["honest"].score == 10 and not role["honest"].evidence
    assert role["victim"].seconds_late == 0 and role["victim"].score == 10
    forger = role["forger"]
    assert forger.seconds_late > 0 and forger.score == 0 and forger.flagged, "dated by arrival: late, zero"
    assert results["bin"].claimed == FORGED
    (why,) = forger.evidence
    assert f"timestamp.txt says {FORGED} but it reached the exchange at" in why, why
    assert f"  lateness: timestamp.txt says {FORGED}" in report_text([forger]), "the report says why it is flagged"
    for r in ("garbled", "year1", "deleted"):  # on time by their arrival, never silently: flagged for a look
        assert role[r].seconds_late == 0 and role[r].score == 10 and role[r].flagged, r
        assert "timestamp.txt is missing or unreadable; dated by its arrival in the exchange" in role[r].evidence[0]
    hand_graded = role["unobserved"]  # default c.Lateness.unobserved = "late": dated by when it reached submitted/
    assert hand_graded.seconds_late > 0 and hand_graded.score == 0 and not hand_graded.flagged
    assert any("arrival not observed (no collect receipt" in n for n in hand_graded.all_notes)
    with open_gradebook(course) as gb:  # nbgrader's own view agrees
        assert gb.find_submission(CH02, "bin").total_seconds_late > 0
        assert gb.find_submission(CH02, "daemon").total_seconds_late == 0

    # A resubmission after the due date, collected with --update (nbgrader's CollectApp, the course's config),
    # replaces the on-time one and is late.
    again = nbgrader_submit(exchange, home / "honest", ROLES["honest"], honest(src, {"naive-relu": "x = 1"}))
    assert collect_in_process(course, monkeypatch, CH02, "--update", f"--Exchange.root={exchange}") == 1  # games's, again
    assert (submitted / "daemon" / CH02 / f"{CH02}.ipynb").read_bytes() == (again / f"{CH02}.ipynb").read_bytes()
    configure(course, 'c.Lateness.unobserved = "flag"')  # the instructor's other choice: the claim, flagged
    grade_assignment(course, CH02, submitted, workers=1, progress=False, grade=fake_grade, students={"mail", "daemon"})
    assert read(course, CH02, "daemon").graded[0].seconds_late > 0
    flagged = read(course, CH02, "mail").graded[0]
    assert flagged.flagged and flagged.seconds_late == 0 and flagged.score == 10
    assert "arrival not observed: no collect receipt" in flagged.evidence[0] and FORGED in flagged.evidence[0]


def collect_in_process(course: Course, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """`nbgrader collect ARGV` in the course's directory, in this process (nbgrader starts slowly); its exit status."""
    monkeypatch.chdir(course.root)
    return nbgrader_app("CollectApp", *argv)


def test_a_planted_file_in_the_victims_own_folder_refuses_it(tmp_path: Path) -> None:
    """nbgrader makes each inbound folder world-writable: another account swapping a file in is caught."""
    require(os.geteuid() == 0, "needs root, to give submission folders to other accounts (CI runs as root)")
    from gradbook_grader.arrival import observe

    folder = tmp_path / "man+x+t"
    folder.mkdir()
    (folder / "a.ipynb").write_text("{}")
    chown_tree(folder, uid("man"))
    assert observe(folder).owners == {uid("man")}
    (folder / "a.ipynb").unlink()
    (folder / "a.ipynb").write_text("{}")
    os.lchown(folder / "a.ipynb", uid("games"), uid("games"))
    assert observe(folder).owners == {uid("man"), uid("games")}
    (folder / "link").symlink_to("/etc/shadow")
    assert observe(folder).problems == ["link is a symbolic link"]
