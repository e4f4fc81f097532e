"""When a submission arrived, as the instructor's side observed it; the student's timestamp.txt is only a claim.

nbgrader's `submit` runs as the student and writes `timestamp.txt` into the exchange: it says
whatever the student's process wants it to say (a date in 2020, year 1, nothing). So lateness is
dated from what the student cannot set:

* At collect (`collect.ObservedCollect`, nbgrader's own collect with the course's config), the
  submission's arrival in the exchange: the latest *ctime* of its inbound folder and of every entry
  in it, read by the instructor's process. A file's owner can set its mtime (`os.utime`), never its
  ctime: the kernel sets ctime to "now" on every change (write, rename, link, chmod, utime). The
  latest ctime is when the folder last reached its present state, so content put or changed there
  after the due date shows as after the due date. It is written, with a digest of every file
  copied, to the course's receipt `collected/<student>/<assignment>.json`, which no student can write.
* At grading, a submission whose notebook matches its receipt is dated by the receipt; its claim is
  compared with it and flagged, with both times, when they differ by more than
  `c.Lateness.claim_slack_seconds`. A claim that is missing or unreadable is flagged too.
* A submission without a matching receipt (copied into submitted/ by hand, collected by a plain
  nbgrader, changed since) has no observed arrival. `c.Lateness.unobserved` says what then:
  "late" (the default) dates it by when it reached submitted/ (the latest ctime there: the time the
  instructor's side can vouch for), with a note; "flag" dates it by the student's claim and flags
  it for a person. Never silently on time.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from traitlets import Enum, Float
from traitlets.config import Configurable

from gradbook_grader.course import Course, nbgrader_config
from gradbook_grader.files import MAX_DEPTH, MAX_ENTRIES, Refused, kind, open_dir, write_atomic
from gradbook_grader.submissions import TIMESTAMP_FORMAT, Loaded, Submission
from gradbook_grader.text import printable

if TYPE_CHECKING:
    from traitlets.config import Config

ARRIVAL_NOTE = "arrival not observed"  # how a note on an unobserved submission's date begins
RECEIPTS = "collected"  # below the course root: written by the instructor's collect only
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Lateness(Configurable):
    """How lateness is dated (nbgrader_config.py: `c.Lateness.<option>`)."""

    claim_slack_seconds = Float(
        600.0, help="How far the student's timestamp.txt may differ from the observed arrival before the "
                    "submission is flagged with both times (clock skew, the seconds submit takes).").tag(config=True)
    unobserved = Enum(
        ["late", "flag"], "late",
        help='A submission whose arrival was not observed at collect: "late" dates it by when it reached '
             'submitted/ (the latest time the instructor\'s side can vouch for); "flag" dates it by the '
             "student's claim and flags it for a person.").tag(config=True)


def rules(course: Course | None = None, config: "Config | None" = None) -> Lateness:
    """The course's lateness options (nbgrader_config.py)."""
    return Lateness(config=config if config is not None else nbgrader_config(course) if course else None)


@dataclass
class Observed:
    """A folder as the instructor's process saw it: its latest ctime, owners, file digests, and problems."""

    latest: datetime  # naive UTC
    owners: set[int] = field(default_factory=set)
    digests: dict[str, str] = field(default_factory=dict)  # relative path -> sha256 of each regular file
    problems: list[str] = field(default_factory=list)  # entries that are not plain files or folders


def observe(folder: Path, digests: bool = False) -> Observed:
    """Walk `folder` without following anything; its entries' latest ctime (and owners, and digests).

    Raises `Refused` when the folder itself cannot be opened as a folder (a link, missing)."""
    seen = Observed(datetime.min)
    budget = [MAX_ENTRIES]

    def note(info: os.stat_result) -> None:
        seen.owners.add(info.st_uid)
        when = datetime.fromtimestamp(info.st_ctime, timezone.utc).replace(tzinfo=None)
        seen.latest = max(seen.latest, when)

    def walk(fd: int, label: str, depth: int) -> None:
        note(os.fstat(fd))
        with os.scandir(fd) as entries:
            names = sorted(e.name for e in entries)
        for name in names:
            budget[0] -= 1
            if budget[0] < 0 or depth > MAX_DEPTH:
                seen.problems.append(f"{printable(label)}: more than {MAX_ENTRIES:,} entries or {MAX_DEPTH} levels")
                return
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            note(info)
            if stat.S_ISDIR(info.st_mode):
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                try:
                    walk(child, f"{label}{name}/", depth + 1)
                finally:
                    os.close(child)
            elif not stat.S_ISREG(info.st_mode):
                seen.problems.append(f"{printable(label + name)} is {kind(info.st_mode)}")
            elif digests:
                seen.digests[label + name] = _digest(fd, name)

    try:
        with open_dir(folder.parent, (folder.name,)) as fd:
            walk(fd, "", 0)
    except OSError as exc:
        raise Refused(f"{printable(str(folder))} cannot be read ({exc.strerror or exc})") from None
    return seen


def _digest(fd: int, name: str) -> str:
    h = hashlib.sha256()
    file = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    with os.fdopen(file, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Receipt:
    """What the instructor's collect observed of one submission (collected/<student>/<assignment>.json)."""

    student: str
    assignment: str
    arrived: str  # TIMESTAMP_FORMAT: the latest ctime of the inbound folder, entries included
    collected: str  # TIMESTAMP_FORMAT: when collect copied it
    inbound: str  # the exchange folder's name
    digests: dict[str, str]  # file -> sha256, as copied

    @property
    def arrived_at(self) -> datetime:
        return datetime.strptime(self.arrived, TIMESTAMP_FORMAT)


def receipt_path(course_root: Path, student: str, assignment: str) -> Path:
    return course_root / RECEIPTS / student / f"{assignment}.json"


def write_receipt(course_root: Path, receipt: Receipt) -> None:
    write_atomic(receipt_path(course_root, receipt.student, receipt.assignment), json.dumps(asdict(receipt), indent=1))


def read_receipt(course_root: Path, student: str, assignment: str) -> Receipt | None:
    try:
        data = json.loads(receipt_path(course_root, student, assignment).read_text(encoding="utf-8"))
        return Receipt(**data)
    except (OSError, ValueError, TypeError):
        return None


def stamp(when: datetime) -> str:
    return when.strftime(TIMESTAMP_FORMAT)


def date(course: Course, submission: Submission, loaded: Loaded, rule: Lateness) -> None:
    """Set `loaded.timestamp` to the time lateness is dated from (see the module), keep the student's
    timestamp.txt as `loaded.claimed`, and add to `loaded.lateness` what a person should look at."""
    claim = loaded.timestamp
    loaded.claimed = claim
    if loaded.data is None:  # not graded: nothing to date
        return
    shown = f"timestamp.txt says {claim}" if claim else "timestamp.txt is missing or unreadable"
    receipt = read_receipt(course.root, submission.student, submission.assignment)
    digest = hashlib.sha256(loaded.data).hexdigest()
    if receipt is not None and digest in receipt.digests.values():
        loaded.timestamp = receipt.arrived
        if claim is None:
            loaded.lateness.append(f"{shown}; dated by its arrival in the exchange, {receipt.arrived}")
        else:
            gap = (datetime.strptime(claim, TIMESTAMP_FORMAT) - receipt.arrived_at).total_seconds()
            if abs(gap) > rule.claim_slack_seconds:
                loaded.lateness.append(f"{shown} but it reached the exchange at {receipt.arrived} "
                                       f"({abs(gap):,.0f} s {'earlier' if gap > 0 else 'later'}); dated by its arrival")
        return
    why = ("its notebook is not the one collect received" if receipt is not None
           else "no collect receipt: it did not come through this course's `nbgrader collect`")
    if rule.unobserved == "flag":
        if claim is None:
            loaded.timestamp = _vouched(submission)
        loaded.lateness.append(f"{ARRIVAL_NOTE}: {why}; {shown}, dated by "
                               f"{'that claim' if claim else 'when it reached submitted/'} ({loaded.timestamp})")
    else:
        loaded.timestamp = _vouched(submission)
        if claim is None or _apart(claim, loaded.timestamp) > rule.claim_slack_seconds:  # else the claim holds
            loaded.dating.append(f"{ARRIVAL_NOTE} ({why}): dated by when it reached submitted/ (the "
                                f"timestamp); {shown} (c.Lateness.unobserved = \"late\")")


def _apart(one: str, other: str) -> float:
    return abs((datetime.strptime(one, TIMESTAMP_FORMAT) - datetime.strptime(other, TIMESTAMP_FORMAT)).total_seconds())


def _vouched(submission: Submission) -> str:
    """When the submission reached the instructor's folder: the latest ctime of its files there (now, the
    latest time there is, if that cannot be read)."""
    root = submission.root or submission.path.parent
    try:
        if submission.parts:
            return stamp(observe(root.joinpath(*submission.parts)).latest)
        ctime = os.stat(submission.path, follow_symlinks=False).st_ctime
        return stamp(datetime.fromtimestamp(ctime, timezone.utc).replace(tzinfo=None))
    except (OSError, Refused):
        return stamp(datetime.now(timezone.utc).replace(tzinfo=None))
