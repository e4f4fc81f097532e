"""The course hub's set-up, without starting it: the roster, the browser's language, the exchange's modes, the
checkout closed and reopened, and the message where the machine cannot host a hub (tests/test_course_hub.py
starts one)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

hub = pytest.importorskip("gradbook_grader.hub")
from gradbook_grader.course import GraderError  # noqa: E402
from gradbook_grader.hub_checkout import close_checkout, reopen_checkout  # noqa: E402


def roster(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "class.csv"
    path.write_text(text)
    return path


def test_a_roster_is_read_with_roles_languages_and_passwords(tmp_path: Path) -> None:
    people = hub.read_roster(roster(tmp_path, "name,role,password,language\nada,instructor,s3cret,\n"
                                              "bo,TA,,en\nli,student,,zh\n"))
    assert [(p.name, p.role, p.language) for p in people] == [("ada", "instructor", ""), ("bo", "ta", "en"),
                                                              ("li", "student", "zh_CN")]
    assert people[0].password == "s3cret"
    assert len(people[1].password) >= 12 and people[1].password != people[2].password  # random, each its own


@pytest.mark.parametrize("text, said", [
    ("name,role\nRoot!,student\nada,instructor\n", "'Root!' is not an account name"),
    ("name,role\nada,instructor\nbo,professor\n", "bo's role 'professor' is none of instructor, ta, student"),
    ("name,role,password,language\nada,instructor,,fr\n", "ada's language 'fr' is none of en (English), zh (简体中文)"),
    ("name,role\nada,instructor\nada,student\n", "ada is on the roster twice"),
    ("name,role\nbo,student\n", "the roster has no instructor"),
])
def test_a_bad_roster_is_refused_saying_what_is_wrong(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(GraderError, match="was not used") as error:
        hub.read_roster(roster(tmp_path, text))
    assert said in str(error.value)


def test_the_demo_roster_is_an_instructor_a_ta_and_two_students() -> None:
    people = hub.demo_roster()
    assert sorted(p.role for p in people) == ["instructor", "student", "student", "ta"]
    assert all(hub.NAME.match(p.name) and len(p.password) >= 12 for p in people)
    assert "zh_CN" in {p.language for p in people}


def test_the_browser_language_decides_when_the_roster_does_not() -> None:
    from gradbook_grader.hubspawner import browser_language

    assert browser_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert browser_language("en-US,en;q=0.9,zh-CN;q=0.8") == "en"
    assert browser_language("en;q=0.5,zh-TW;q=0.9") == "zh_CN"  # by weight, not by order
    assert browser_language("") == "en"


def test_the_exchange_gives_each_step_what_it_needs_and_no_more(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the exchange's folders are made root's: needs root")
    exchange = hub.prepare_exchange(tmp_path, "course")
    modes = {p.relative_to(exchange).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in exchange.rglob("*")}
    assert modes == {"course": 0o755, "course/outbound": 0o755, "course/inbound": 0o1733, "course/feedback": 0o711}


def test_the_checkout_is_closed_to_others_and_reopened(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for name in ("solutions", "lib", ".venv", ".git"):
        (repo / name).mkdir(parents=True)
        os.chmod(repo / name, 0o755)
    (repo / "README.md").write_text("x")
    os.chmod(repo, 0o755)
    before = close_checkout(repo, tmp_path / "modes.json")
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [repo, *repo.iterdir()]}
    assert mode["repo"] == 0o751 and mode[".venv"] == 0o755
    assert all(mode[n] & 0o007 == 0 for n in ("solutions", "lib", ".git", "README.md"))
    reopen_checkout(before)
    assert all(stat.S_IMODE(p.stat().st_mode) in (0o755, 0o644) for p in [repo, *repo.iterdir()])


def test_not_as_root_the_hub_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    why = hub.why_not_here()
    assert why is not None and "run it as root" in why and "docs/course-hub.md" in why


def test_the_hub_releases_again_only_when_what_the_release_reads_changed(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from gradbook_grader import hub_release
    from gradbook_grader.course import Course

    repo, root = tmp_path / "repo", tmp_path / "hub"
    course = Course(root=repo / "autograder", solutions=repo / "solutions", notebooks=repo / "notebooks")
    for path, text in {"solutions/00-a.ipynb": "{}", "lib/gradbook/checks/ch00/answers.py": "A = 1\n",
                       "autograder/nbgrader_config.py": "c = 1\n", "workbook.py": "w\n"}.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    (root / "state").mkdir(parents=True)
    releases = []

    def release_course(course: Course, target: Path) -> None:  # what the real release leaves behind
        releases.append(target)
        for name in course.assignments:
            for product in (course.notebooks / f"{name}.ipynb", course.manifest_path(name)):
                product.parent.mkdir(parents=True, exist_ok=True)
                product.write_text("{}")
        (target / ".git").mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(hub_release, "release_course", release_course)

    def started() -> bool:
        return hub_release.release_if_changed(course, root).released

    assert started() and len(releases) == 1  # the first start releases
    assert not started()  # a second start, nothing changed: no release
    (repo / "solutions" / "00-a.ipynb").write_text('{"cells": []}')  # a changed solution
    assert started() and not started()
    (repo / "lib" / "gradbook" / "checks" / "ch00" / "answers.py").write_text("A = 2\n")  # a changed answer
    assert started()
    (repo / "solutions" / "i18n").mkdir()
    (repo / "solutions" / "i18n" / "00-a.po").write_text("msgid")  # a new translation
    assert started()
    (repo / "lib" / "gradbook" / "__pycache__").mkdir()
    (repo / "lib" / "gradbook" / "__pycache__" / "x.pyc").write_bytes(b"\0")  # a cache is not a source
    (repo / "autograder" / "gradebook.db").write_bytes(b"grades")  # nor is what grading writes
    assert not started()
    course.manifest_path("00-a").unlink()  # a product of the last release gone
    assert started()
    (repo / "solutions" / "00-a.ipynb").rename(repo / "solutions" / "00-b.ipynb")  # a renamed chapter
    assert started() and len(releases) == 6


def test_a_python_other_accounts_cannot_reach_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from gradbook_grader.hub_grader import runtime_problem

    closed = tmp_path / "home"
    (closed / ".pyenv").mkdir(parents=True)
    os.chmod(closed, 0o700)
    monkeypatch.setattr(sys, "base_prefix", str(closed / ".pyenv"))
    said = runtime_problem()
    assert said is not None and str(closed / ".pyenv") in said, said
    named = Path(said.split(" is inside ")[1].split(", which")[0])  # the folder to open, above the Python
    assert named in [closed, *closed.parents] and not named.stat().st_mode & 0o001, said
    monkeypatch.setattr(sys, "base_prefix", "/usr")  # a system Python: every folder above it open to all
    assert runtime_problem() is None


def test_the_hub_opens_the_way_to_its_python_for_passing_only_and_puts_it_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stat
    import sys

    from gradbook_grader.hub_checkout import open_path_to_python, reopen_recorded
    from gradbook_grader.hub_grader import runtime_problem

    home = tmp_path / "home"
    (home / ".pyenv").mkdir(parents=True)
    os.chmod(home, 0o700)
    monkeypatch.setattr(sys, "base_prefix", str(home / ".pyenv"))
    above = [p for p in tmp_path.parents if not p.stat().st_mode & 0o001]  # e.g. pytest's own 0700 folders
    state = tmp_path / "state"
    state.mkdir()
    opened = open_path_to_python(state / "python-modes.json")
    assert str(home) in opened and runtime_problem() is None
    assert stat.S_IMODE(home.stat().st_mode) == 0o701  # pass through, list nothing
    reopen_recorded(state)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and runtime_problem() is not None
    assert all(not p.stat().st_mode & 0o001 for p in above)  # every folder it opened, closed again


def test_removing_a_hub_account_removes_its_own_group_though_the_grader_is_in_it(tmp_path: Path) -> None:
    import grp
    import secrets
    import subprocess

    if hub.why_not_here():
        pytest.skip(hub.why_not_here())
    person = hub.Person(f"gbt{secrets.token_hex(3)}", "student", secrets.token_urlsafe(9))
    try:
        account = hub.ensure_account(person, tmp_path, "course")
        assert grp.getgrgid(account.pw_gid).gr_name == person.name  # a group of their own
        subprocess.run(["usermod", "--append", "--groups", person.name, "nobody"], check=True)  # as the grader is
        hub.remove_accounts([person])
        with pytest.raises(KeyError):
            grp.getgrnam(person.name)
    finally:
        subprocess.run(["userdel", "--remove", person.name], capture_output=True)
        subprocess.run(["groupdel", person.name], capture_output=True)
