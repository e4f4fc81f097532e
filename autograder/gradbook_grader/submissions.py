"""Finding submissions and reading them: every one found is accounted for, none is followed.

Layouts: nbgrader's `submitted/<student>/<assignment>/<notebook>.ipynb` (with its
`timestamp.txt` and `submission_secret.txt`), or a flat folder of `<student>.ipynb` files for
one assignment. Named below `submitted/`, one student's folder (`submitted/bob`) or one
submission (`submitted/bob/<assignment>`) is read as that student's part of the layout, never
as a class whose students are named like assignments. Every entry
that stands for a submission becomes a `Submission`; one the grader will not grade carries the
reason in `problem` and still gets its row (journal, report, export). Reading goes through
`files`: nothing is followed, nothing blocks, nothing outside the submission is read.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Collection, Sequence

from gradbook_grader.course import GraderError
from gradbook_grader.files import Refused, lkind, open_dir, read_regular, refusal, scan
from gradbook_grader.text import printable

MAX_ID = 128  # nbgrader's gradebook: Student.id is a String(128)
MAX_TIMESTAMP_BYTES = 256
MAX_SECRET_BYTES = 1024
_SECRET = re.compile(r"[0-9A-Za-z]{1,256}")  # nbgrader writes secrets.token_hex(64)
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # as nbgrader writes it
_ID_PUNCTUATION = set(" _.@+-")


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    path: Path  # the submitted notebook, for messages (it may be missing, a link, anything)
    root: Path | None = None  # the folder the instructor named; None: the notebook's own folder
    parts: tuple[str, ...] = ()  # the submission's own folder below root: (student, assignment), or () when flat
    problem: str | None = None  # known before reading: why this one is not graded

    @property
    def notebook(self) -> str:
        return self.path.name


@dataclass
class Loaded:
    """What reading a submission gave: its bytes, or why there are none."""

    data: bytes | None
    problem: str | None = None
    timestamp: str | None = None  # TIMESTAMP_FORMAT, in UTC: timestamp.txt as read; after `arrival.date`, the date used
    notes: list[str] = field(default_factory=list)  # what the grader ignored, and why
    transient: bool = False  # the grader failed, not the submission: a rerun tries again
    secret: str | None = None  # nbgrader's submission_secret.txt: names the feedback the student fetches
    claimed: str | None = None  # the student's timestamp.txt once `arrival.date` has dated the submission
    lateness: list[str] = field(default_factory=list)  # why its date needs a person's look (`arrival`)
    dating: list[str] = field(default_factory=list)  # how `arrival` dated it, for the instructor's information


def student_id_problem(name: str) -> str | None:
    """Why `name` cannot be a student id in nbgrader's gradebook and formgrader, or None.

    Letters and digits of any script, combining marks, space inside and `_.@+-` are fine. The
    formgrader puts ids unescaped into its pages and URLs, so nothing that means something in
    HTML or a URL (`<>&"'/?#%`...), no control character; nbgrader strips surrounding white
    space (so " ann" would be a different student's row); ids are at most 128 characters.
    """
    if any("\udc80" <= c <= "\udcff" for c in name):
        return "the folder name is not valid UTF-8"
    if len(name) > MAX_ID:
        return f"the name is {len(name)} characters long; nbgrader's gradebook allows at most {MAX_ID}"
    if name != name.strip():
        return "the name begins or ends with white space, which nbgrader strips (it would name another student)"
    bad = sorted({c for c in name if not (c.isalnum() or c in _ID_PUNCTUATION or unicodedata.category(c).startswith("M"))})
    if bad:
        shown = " ".join(repr(c) if c.isprintable() else printable(c) for c in bad[:8])
        return f"the name contains {shown}: a student id holds letters, digits, spaces and _.@+- only"
    return None


def _id_problem(student: str) -> str | None:
    why = student_id_problem(student)
    return f"{why}. Rename it to the student's id and grade again." if why else None


def locate(folder: Path, known: Sequence[str]) -> tuple[Path, str | None, str | None]:
    """Where the layout the instructor named begins: (the folder of all students, the student, the assignment).

    `submitted/bob/<assignment>` (a known assignment's folder holding its notebook or nbgrader's
    timestamp.txt) is bob's submission of it; `submitted/bob` (only known assignments' folders
    in it) is bob's folder; anything else is a folder of students, or a flat folder.
    """
    folder = Path(os.path.abspath(folder))
    try:
        with open_dir(folder) as fd:
            with os.scandir(fd) as it:
                entries = {e.name: lkind(fd, e.name) for e in it}
    except (OSError, Refused) as exc:
        raise GraderError(f"{printable(str(folder))} is not a folder of submissions ({exc}).") from None
    if folder.name in known and (entries.get(f"{folder.name}.ipynb") or entries.get("timestamp.txt")):
        return folder.parent.parent, folder.parent.name, folder.name
    folders = [name for name, what in entries.items() if what == "a folder"]
    if folders and all(name in known for name in folders) and not any(n.endswith(".ipynb") for n in entries):
        return folder.parent, folder.name, None
    return folder, None, None


def discover(folder: Path, assignment: str | None, known: Sequence[str],
             students: Collection[str] | None = None) -> tuple[list[Submission], list[str]]:
    """Every submission in `folder` (see the module; only `students`' if given), and notes on entries that
    are no submission at all.

    An entry that stands for a submission but cannot be graded (an odd name, a link, a FIFO)
    is a `Submission` with its `problem`; the notes are things like an unknown assignment folder.
    """
    root, student, implied = locate(folder, known)
    if implied is not None and assignment not in (None, implied):
        raise GraderError(f"{printable(str(folder))} is {printable(student or '')}'s submission of {implied}, "
                          f"not of {assignment}: drop --assignment or name the folder of {assignment}.")
    if student is not None:
        if students is not None and student not in students:
            raise GraderError(f"{printable(str(folder))} holds {printable(student)}'s work, not "
                              f"{', '.join(printable(s) for s in sorted(students))}'s.")
        students = {student}
    found, notes = _discover(root, implied or assignment, known, students)
    if students is not None:
        missing = sorted(set(students) - {s.student for s in found})
        if missing:
            raise GraderError(f"no submission of {', '.join(printable(s) for s in missing)} in {printable(str(root))}"
                              + (f" for {assignment}" if assignment else "") + ".")
    return found, notes


def _discover(folder: Path, assignment: str | None, known: Sequence[str],
              students: Collection[str] | None) -> tuple[list[Submission], list[str]]:
    found: list[Submission] = []
    notes: list[str] = []
    odd: list[tuple[str, str]] = []  # (student, why) of entries that are not folders: a row per assignment graded
    try:
        with open_dir(folder) as top:
            with os.scandir(top) as it:
                entries = sorted((e.name, lkind(top, e.name)) for e in it)
            if any(name.endswith(".ipynb") for name, _ in entries):
                return _flat(folder, top, entries, assignment, known, students)
            for student, what in entries:
                if students is None or student in students:
                    odd.extend(_entry(folder, top, student, what, assignment, known, found, notes))
    except (OSError, Refused) as exc:
        raise GraderError(f"{printable(str(folder))} is not a folder of submissions ({exc}).") from None
    _odd_rows(folder, assignment, odd, found, notes)
    if not found and not notes and students is None:
        raise GraderError(
            f"no submissions in {printable(str(folder))}: expected <student>/<assignment>/<assignment>.ipynb "
            "(nbgrader's submitted/ layout) or <student>.ipynb files."
        )
    found.sort(key=lambda s: (s.assignment, s.student))
    return found, notes


def _entry(folder: Path, top: int, student: str, what: str | None, assignment: str | None, known: Sequence[str],
           found: list[Submission], notes: list[str]) -> list[tuple[str, str]]:
    """One entry of the nested layout: a student's folder read into `found`; (student, why) of what is refused."""
    if what in ("a file", None):
        notes.append(f"{printable(student)}: a file, not a student's folder: ignored")
        return []
    if what != "a folder":
        return [(student, refusal(student, what, top, student))]
    return [(student, why) for why in _student(folder, student, assignment, known, found, notes)]


def _odd_rows(folder: Path, assignment: str | None, odd: list[tuple[str, str]], found: list[Submission],
              notes: list[str]) -> None:
    """An entry that is no readable folder still gets a row (its reason) per assignment graded."""
    scope = [assignment] if assignment is not None else sorted({s.assignment for s in found})
    for student, why in odd:
        if not scope:
            notes.append(f"{why} (not graded)")
        for name in scope:
            found.append(Submission(student, name, folder / student / name / f"{name}.ipynb", folder, (student, name),
                                    printable(_id_problem(student) or why)))


def _student(folder: Path, student: str, assignment: str | None, known: Sequence[str],
             found: list[Submission], notes: list[str]) -> list[str]:
    """Add the submissions in one student's folder to `found`; [why] if the folder cannot be listed."""
    try:
        with open_dir(folder, (student,)) as fd:
            with os.scandir(fd) as it:
                inside = sorted((e.name, lkind(fd, e.name)) for e in it)
            for name, kind in inside:
                if assignment is not None and name != assignment:
                    continue
                if name not in known:
                    if kind == "a folder":
                        notes.append(f"{printable(student)}/{printable(name)}/: no assignment {printable(name)!r} in solutions/")
                    continue
                problem = _id_problem(student) or (None if kind == "a folder" else _not_plain(f"{student}/{name}", kind, fd, name))
                found.append(Submission(student, name, folder / student / name / f"{name}.ipynb", folder, (student, name),
                                        printable(problem) if problem else None))
    except (OSError, Refused) as exc:
        return [f"{printable(student)}/ cannot be read ({exc})"]
    return []


def _flat(
    folder: Path, fd: int, entries: list[tuple[str, str | None]], assignment: str | None, known: Sequence[str],
    students: Collection[str] | None,
) -> tuple[list[Submission], list[str]]:
    """A flat folder of `<student>.ipynb` (open as `fd`): one assignment, each notebook a submission."""
    named = sorted(name for name, _ in entries if name[: -len(".ipynb")] in known)
    if named:
        raise GraderError(
            f"{printable(str(folder))} holds {printable(named[0])}, a notebook named like an assignment, not like a "
            "student: it looks like one student's submission folder. Grade nbgrader's submitted/ folder "
            "(with --student to grade one student), or name each notebook <student>.ipynb."
        )
    if assignment is None:
        raise GraderError(
            f"{printable(str(folder))} holds notebooks directly (<student>.ipynb), so it is one assignment: "
            f"say which with --assignment (one of: {', '.join(known) or 'none released'})."
        )
    found = []
    for name, what in entries:
        if name.endswith(".ipynb") and (students is None or name[: -len(".ipynb")] in students):
            student = name[: -len(".ipynb")]
            problem = _id_problem(student) or (None if what == "a file" else _not_plain(name, what, fd, name))
            found.append(Submission(student, assignment, folder / name, folder, (), printable(problem) if problem else None))
    notes = [f"{printable(n)}: not a notebook: ignored" for n, _ in entries if not n.endswith(".ipynb")]
    return found, notes


def _not_plain(label: str, what: str | None, fd: int | None = None, name: str = "") -> str:
    """Why the entry `label` (`name` in folder `fd`), which is `what`, is no submission the grader reads."""
    if what in ("a file", "a folder"):
        return f"{label} is {what}, where the grader expects {'a notebook' if what == 'a folder' else 'a folder'}"
    return refusal(label, what or "missing", fd, name)


def _pick_notebook(fd: int, assignment: str) -> str:
    """The notebook of a submission folder: `<assignment>.ipynb`, else the only notebook there is."""
    expected = f"{assignment}.ipynb"
    if lkind(fd, expected) is not None:
        return expected
    with os.scandir(fd) as it:
        others = sorted(e.name for e in it if e.name.endswith(".ipynb"))
    if len(others) == 1:  # a renamed notebook is still the student's work
        return others[0]
    if others:
        raise Refused(f"there is no {expected} and {len(others)} other notebooks: the grader cannot tell which to grade")
    raise Refused(f"the submitted notebook is missing (no {expected})")


def read_notebook(submission: Submission) -> bytes:
    """The submission's notebook bytes.

    Raises `Refused` with the reason it cannot be graded. Nothing is followed, nothing
    blocks, and for nbgrader's layout the whole submission folder must be plain files and folders.
    """
    from gradbook_grader.restore import MAX_SUBMISSION_BYTES, TOO_LARGE

    root = submission.root or submission.path.parent
    try:
        with open_dir(root, submission.parts) as fd:
            if submission.parts:
                scan(fd, f"{'/'.join(submission.parts)}/")
                name = _pick_notebook(fd, submission.assignment)
            else:
                name = submission.notebook
            label = "/".join((*submission.parts, name))
            try:
                return read_regular(fd, name, MAX_SUBMISSION_BYTES, label, too_large=TOO_LARGE)
            except FileNotFoundError:
                raise Refused(f"the submitted notebook is missing ({printable(label)})") from None
    except OSError as exc:
        raise Refused(f"the submission cannot be read ({exc.strerror or exc}): {printable(str(submission.path))}") from None


def load(submission: Submission) -> Loaded:
    """Read a submission for grading: its notebook and timestamp, or why it is not graded."""
    if submission.problem:
        return Loaded(None, submission.problem)
    try:
        loaded = Loaded(read_notebook(submission))
    except Refused as refused:
        return Loaded(None, f"not graded: {refused}")
    except Exception as exc:  # the grader's own bug: this submission's error, the batch goes on
        why = f"internal grader error reading the submission: {type(exc).__name__}: {printable(str(exc))[:300]}"
        return Loaded(None, why, transient=True)
    if submission.parts:
        loaded.timestamp, note = read_timestamp(submission)
        loaded.secret, secret_note = read_secret(submission)
        loaded.notes += [n for n in (note, secret_note) if n]
    return loaded


def _side_file(submission: Submission, name: str, cap: int) -> tuple[bytes | None, str | None]:
    """One of nbgrader's files beside the submitted notebook: its bytes, or None and why it was ignored."""
    root = submission.root or submission.path.parent
    try:
        with open_dir(root, submission.parts) as fd:
            return read_regular(fd, name, cap), None
    except FileNotFoundError:
        return None, None
    except (OSError, Refused) as exc:
        return None, f"{name} ignored: {exc}"


def read_secret(submission: Submission) -> tuple[str | None, str | None]:
    """nbgrader's submission_secret.txt of the submission, or None and why it was ignored."""
    raw, why = _side_file(submission, "submission_secret.txt", MAX_SECRET_BYTES)
    text = raw.decode("ascii", "replace").strip() if raw is not None else None
    if text is not None and not _SECRET.fullmatch(text):
        text, why = None, "submission_secret.txt ignored: it is not nbgrader's hex secret"
    return text, f"{why} (the student cannot fetch feedback)" if why else None


def read_timestamp(submission: Submission) -> tuple[str | None, str | None]:
    """nbgrader's timestamp.txt of the submission, normalised to UTC; or None and why it was ignored."""
    raw, why = _side_file(submission, "timestamp.txt", MAX_TIMESTAMP_BYTES)
    if raw is None:
        return None, why
    try:
        return parse_timestamp(raw.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"timestamp.txt ignored: {printable(str(exc))[:200]}"


def parse_timestamp(text: str) -> str:
    """An nbgrader timestamp (ISO 8601, optionally ending in "UTC" or "Z") as TIMESTAMP_FORMAT in UTC.

    ValueError, saying why, for anything else: no date, a date out of range (nbgrader's own
    parser overflows on year 1 with an offset), or one that cannot be a submission time.
    """
    text = text.strip()
    if text.endswith(" UTC") or text.endswith("Z"):
        text = text[: -4 if text.endswith(" UTC") else -1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a date and time ({exc})") from None
    if not 1970 <= when.year <= 2999:
        raise ValueError(f"{when.year} cannot be the year of a submission")
    return when.strftime(TIMESTAMP_FORMAT)
