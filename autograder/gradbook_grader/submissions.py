"""Finding submissions and reading them: every one found is accounted for, none is followed.

Layouts: nbgrader's `submitted/<student>/<assignment>/<notebook>.ipynb` (with its
`timestamp.txt`), or a flat folder of `<student>.ipynb` files for one assignment. Every entry
that stands for a submission becomes a `Submission`; one the grader will not grade carries the
reason in `problem` and still gets its row (journal, report, export). Reading goes through
`files`: nothing is followed, nothing blocks, nothing outside the submission is read.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from gradbook_grader.course import GraderError
from gradbook_grader.files import Refused, lkind, open_dir, read_regular, refusal, scan
from gradbook_grader.text import printable

MAX_ID = 128  # nbgrader's gradebook: Student.id is a String(128)
MAX_TIMESTAMP_BYTES = 256
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
    timestamp: str | None = None  # TIMESTAMP_FORMAT, in UTC
    notes: list[str] = field(default_factory=list)  # what the grader ignored, and why
    transient: bool = False  # the grader failed, not the submission: a rerun tries again


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


def discover(folder: Path, assignment: str | None, known: Sequence[str]) -> tuple[list[Submission], list[str]]:
    """Every submission in `folder` (see the module), and notes on entries that are no submission at all.

    An entry that stands for a submission but cannot be graded (an odd name, a link, a FIFO)
    is a `Submission` with its `problem`; the notes are things like an unknown assignment folder.
    """
    found: list[Submission] = []
    notes: list[str] = []
    odd: list[tuple[str, str]] = []  # (student, why) of entries that are not folders: a row per assignment graded
    try:
        with open_dir(folder) as top:
            with os.scandir(top) as it:
                entries = sorted((e.name, lkind(top, e.name)) for e in it)
            if any(name.endswith(".ipynb") for name, _ in entries):
                return _flat(folder, top, entries, assignment, known)
            for student, what in entries:
                if what in ("a file", None):
                    notes.append(f"{printable(student)}: a file, not a student's folder: ignored")
                elif what != "a folder":
                    odd.append((student, refusal(student, what, top, student)))
                else:
                    odd.extend((student, why) for why in _student(folder, student, assignment, known, found, notes))
    except (OSError, Refused) as exc:
        raise GraderError(f"{printable(str(folder))} is not a folder of submissions ({exc}).") from None
    scope = [assignment] if assignment is not None else sorted({s.assignment for s in found})
    for student, why in odd:
        if not scope:
            notes.append(f"{why} (not graded)")
        for name in scope:
            found.append(Submission(student, name, folder / student / name / f"{name}.ipynb", folder, (student, name),
                                    printable(_id_problem(student) or why)))
    if not found and not notes:
        raise GraderError(
            f"no submissions in {printable(str(folder))}: expected <student>/<assignment>/<assignment>.ipynb "
            "(nbgrader's submitted/ layout) or <student>.ipynb files."
        )
    found.sort(key=lambda s: (s.assignment, s.student))
    return found, notes


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
) -> tuple[list[Submission], list[str]]:
    """A flat folder of `<student>.ipynb` (open as `fd`): one assignment, each notebook a submission."""
    if assignment is None:
        raise GraderError(
            f"{printable(str(folder))} holds notebooks directly (<student>.ipynb), so it is one assignment: "
            f"say which with --assignment (one of: {', '.join(known) or 'none released'})."
        )
    found = []
    for name, what in entries:
        if name.endswith(".ipynb"):
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
    from gradbook_grader.restore import MAX_SUBMISSION_BYTES

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
                return read_regular(fd, name, MAX_SUBMISSION_BYTES, label)
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
        if note:
            loaded.notes.append(note)
    return loaded


def read_timestamp(submission: Submission) -> tuple[str | None, str | None]:
    """nbgrader's timestamp.txt of the submission, normalised to UTC; or None and why it was ignored."""
    root = submission.root or submission.path.parent
    try:
        with open_dir(root, submission.parts) as fd:
            raw = read_regular(fd, "timestamp.txt", MAX_TIMESTAMP_BYTES)
    except FileNotFoundError:
        return None, None
    except (OSError, Refused) as exc:
        return None, f"timestamp.txt ignored: {exc}"
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
