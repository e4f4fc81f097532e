"""The course hub's formgrader account: the formgrader runs as `gradbook-grader`, an unprivileged system account,
never as root.

What it may do, and how each is given (the rest of the machine stays closed to it):
* own the course's grading state (the gradebook, submitted/, autograded/, feedback/...) and read the code it
  runs, the course and the course secret (hub_checkout.open_to_grader: the secret read-only, since grading
  derives the hidden inputs from it);
* own the course's folders in the exchange (it releases, collects and releases feedback);
* read each student's submission and give each student their feedback: every student account has a group of
  its own (useradd --user-group), the grader is a member of each, a submission is 0750/0640 in its student's
  group (hub_exchange.PrivateSubmit) and a released feedback file 0640 in it (hub_exchange.PrivateFeedback);
  no student is in another's group, so no student reads another's submission or feedback, even by name;
* grade in bubblewrap's sandbox through unprivileged user namespaces, each sandbox in a control group of its own
  made inside a group the hub delegates to the account (cgroups.delegate).
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from pathlib import Path

from gradbook_grader import cgroups
from gradbook_grader.course import GraderError

GRADER = "gradbook-grader"
MARK = "gradbook hub grader"  # its GECOS field: an account of that name the hub did not make is never used


def ensure_grader(root: Path) -> pwd.struct_passwd:
    """The grader's system account (made if missing: a system account with its own group, no login shell, its
    home ROOT/grader, mode 0700)."""
    home = root / "grader"
    try:
        account = pwd.getpwnam(GRADER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home),
                        "--shell", "/usr/sbin/nologin", "--comment", MARK, GRADER], check=True, capture_output=True)
        account = pwd.getpwnam(GRADER)
    if MARK not in account.pw_gecos:
        raise GraderError(f"the system account {GRADER} exists and was not made by the course hub: the formgrader "
                          "will not run as an account the hub does not know")
    if account.pw_dir != str(home):  # the account outlives a hub: its home is this hub's
        subprocess.run(["usermod", "--home", str(home), GRADER], check=True, capture_output=True)
        account = pwd.getpwnam(GRADER)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, account.pw_uid, account.pw_gid)
    os.chmod(home, 0o700)
    return account


def join_student_groups(students: list[str]) -> None:
    """Make the grader a member of each student's own group (and of no other): it reads their submissions and
    hands them their feedback. A student whose primary group is shared with others is refused."""
    for name in students:
        account = pwd.getpwnam(name)
        group = grp.getgrgid(account.pw_gid)
        if group.gr_name != name or set(group.gr_mem) - {GRADER}:
            raise GraderError(f"{name}'s primary group {group.gr_name} is not theirs alone: the course hub gives "
                              f"each student a group of their own (remove the account; the hub makes it again)")
    if students:
        subprocess.run(["usermod", "--append", "--groups", ",".join(students), GRADER], check=True, capture_output=True)


def own_exchange(course_folder: Path, account: pwd.struct_passwd) -> None:
    """The course's exchange folders are the grader's: nbgrader releases and collects only in folders it owns."""
    for folder in [course_folder, *course_folder.iterdir()]:
        os.chown(folder, account.pw_uid, account.pw_gid)


def delegate_cgroup(root: Path, account: pwd.struct_passwd) -> list[str]:
    """Control groups the grader's formgrader joins and makes its sandboxes' groups in; [] where none can be
    delegated (the sandboxes then run under rlimits only, and each grade's events say so)."""
    dirs, why = cgroups.delegate(f"gradbook-hub-{root.name}", account.pw_uid, account.pw_gid)
    if not dirs:
        print(f"course hub: the formgrader's sandboxes run without control groups ({why})")
    return [str(d) for d in dirs]


def runtime_problem() -> str | None:
    """Why the other accounts (students, the grader) would not run this environment's own Python, or None.

    A virtual environment made from a Python installed under a folder other accounts cannot enter (pyenv in
    /root, mode 0700) still starts for them, but the dynamic loader and Python's start-up then fall back to the
    system's libpython and standard library: another Python, with its own bugs (Python 3.11.2's `re` fails on
    the possessive patterns nbconvert's HTML export uses, so the formgrader's feedback fails)."""
    base = Path(sys.base_prefix)
    closed = [folder for folder in [base, *base.parents] if not folder.stat().st_mode & 0o001]
    if not closed:
        return None
    return (f"this environment's Python ({sys.base_prefix}) is inside {closed[-1]}, which other accounts cannot "
            f"enter (mode {closed[-1].stat().st_mode & 0o777:o}): the students' servers and the formgrader would run "
            "the system's Python instead. Make the environment (.venv) from a Python every account can read "
            "(installed outside a private home), or let others pass through that folder (chmod o+x).")
