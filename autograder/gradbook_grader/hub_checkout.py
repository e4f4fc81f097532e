"""The instructor's checkout, closed to every other account while the course hub runs on its machine.

The checkout holds the answers (solutions/, the library's checks, the tests, git's history) and the course
secret; on a hub, students are accounts of the same machine. Others may only pass through its top folder
(o=x: they list nothing) and everything in it except the environment (.venv/, public packages the hub and the
students' servers run from) loses every permission for others. Nothing of the owner's or group's changes.
`reopen_checkout` puts back the modes recorded in ROOT/state.

The formgrader runs as the course's own unprivileged account (hub_grader.GRADER), not as root: `open_to_grader` gives
that account's group what grading needs and nothing more: reading the code it runs and the course (lib/,
autograder/, solutions/: their top folders only, the files in them are readable already), the course secret
read-only (grading derives the hidden inputs from it), and ownership of what grading writes (the gradebook,
submitted/, autograded/, feedback/...). autograder/ itself becomes group-writable and sticky: the grader makes
its own files there (SQLite's journal) but can replace none of the instructor's (nbgrader_config.py, the code).
Everything else of the checkout (tests/, .git/, the hub's state) stays closed to it. `reopen_checkout` puts the
owners back too; what the grader made while the hub ran stays its own.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

OPEN_TO_ALL = {".venv"}  # the environment: public packages; the editable installs in it point into closed folders


def close_checkout(repo: Path, record: Path | None = None) -> dict[str, int]:
    """Close `repo` to others; the previous modes (path -> mode), also written to `record` if given."""
    before: dict[str, int] = {}
    for path in [repo, *sorted(repo.iterdir())]:
        if path.name in OPEN_TO_ALL or path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        before[str(path)] = mode
        os.chmod(path, 0o711 | (mode & 0o770) if path == repo else mode & ~0o007)
    if record is not None and not record.exists():  # the first closing's modes are the ones to put back
        record.write_text(json.dumps(before, indent=1))
    return before


GRADER_READS = ("lib", "autograder", "solutions")  # the top folders of what the formgrader imports and reads
GRADER_WRITES = ("gradebook.db", "submitted", "autograded", "feedback", "collected", "manifests", "similarity")
SECRET = ".gradbook-secret"


def open_to_grader(repo: Path, course_root: Path, uid: int, gid: int, record: Path) -> None:
    """Give the grader account (uid, gid) what grading needs of the closed checkout; each path's owner, group and
    mode before are written to `record` (the first time only, as close_checkout's)."""
    before: dict[str, list[int]] = {}

    def change(path: Path, owner: int, group: int, mode: int | None = None) -> None:
        st = path.lstat()
        before.setdefault(str(path), [st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)])
        os.lchown(path, owner, group)
        if mode is not None and not path.is_symlink():
            os.chmod(path, mode)

    for name in GRADER_READS:
        path = repo / name
        st = path.stat()
        change(path, st.st_uid, gid, stat.S_IMODE(st.st_mode) | 0o050)
    st = course_root.stat()
    change(course_root, st.st_uid, gid, stat.S_IMODE(st.st_mode) | 0o1070)
    secret = course_root / SECRET
    if secret.exists():
        change(secret, secret.stat().st_uid, gid, 0o640)
    for name in GRADER_WRITES:
        top = course_root / name
        if not top.exists() and "." not in name:
            top.mkdir()
        for path in [top, *(sorted(top.rglob("*")) if top.is_dir() else [])] if top.exists() else []:
            change(path, uid, gid)
    if not record.exists():
        record.write_text(json.dumps(before, indent=1))


def reopen_checkout(before: dict[str, int], owners: dict[str, list[int]] | None = None) -> None:
    """Put back the owners (open_to_grader's record) and then the modes (close_checkout's)."""
    for path, (uid, gid, mode) in (owners or {}).items():
        if os.path.lexists(path):
            os.lchown(path, uid, gid)
            if not os.path.islink(path):
                os.chmod(path, mode)
    for path, mode in before.items():
        if os.path.lexists(path):
            os.chmod(path, mode)


def open_path_to_python(record: Path) -> list[str]:
    """Let every account pass through the folders above this environment's Python that it cannot enter, so
    that students' servers and the formgrader run this very Python, not the system's (pyenv in /root, mode
    0700: see hub_grader.runtime_problem). Pass only (o+x): nothing in them can be listed, and a file's own
    mode still decides who reads it. The modes before go to `record` (the first time only), put back by
    reopen_recorded; the folders opened are returned, for the hub to say so."""
    before: dict[str, int] = {}
    base = Path(sys.base_prefix)
    for folder in [base, *base.parents]:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & 0o001:
            before[str(folder)] = mode
            os.chmod(folder, mode | 0o001)
    if before and not record.exists():
        record.write_text(json.dumps(before, indent=1))
    return sorted(before)


def reopen_recorded(state: Path) -> None:
    """reopen_checkout from the records a hub left in its state folder (if any), and the folders above
    the Python closed again (open_path_to_python's record)."""
    modes, owners = state / "checkout-modes.json", state / "checkout-owners.json"
    reopen_checkout(json.loads(modes.read_text()) if modes.exists() else {},
                    json.loads(owners.read_text()) if owners.exists() else None)
    python = state / "python-modes.json"
    reopen_checkout(json.loads(python.read_text()) if python.exists() else {})

