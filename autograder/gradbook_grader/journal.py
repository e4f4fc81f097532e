"""The grader's journal: one `Result` per submission found, in autograded/<student>/<assignment>/.

The entry is written last, atomically, once everything else of the submission is done: it
means "done" and lets a rerun skip what is unchanged: it is the batch's resume log. The grades
themselves are nbgrader's gradebook's (`grades` reads them for report, feedback and export);
the journal adds only what nbgrader has no place for: why a submission was not graded, each
test cell's verdict and the known mistake it names, sandbox events, integrity evidence, notes,
and the submissions no gradebook can hold. Every submission found gets an entry, the ungraded
ones with their reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from gradbook_grader.course import Course
from gradbook_grader.files import write_atomic
from gradbook_grader.types import CellGrade

JOURNAL_NAME = "gradbook-result.json"
JOURNAL_VERSION = 3  # 2: integrity evidence, notes, in_gradebook; 3: typed `unanswered`, `dating`; older: regraded


@dataclass
class Result:
    """One submission, as journalled and reported."""

    student: str
    assignment: str
    key: str  # hash of submission + source + manifest: equal key, same grade
    graded_at: str
    score: float
    max_score: float
    cells: dict[str, CellGrade]
    events: list[str]  # what the sandbox and the restore noticed (tampering, limits hit)
    error: str | None  # why the submission was not graded (then every cell scores 0)
    sandboxed: bool
    submission: str
    timestamp: str | None = None
    notebook: str | None = None  # the graded notebook, relative to the journal's directory
    transient: bool = False  # the grader failed, not the submission: a rerun tries again
    integrity: list[str] = field(default_factory=list)  # evidence of copied or called reference code
    notes: list[str] = field(default_factory=list)  # what the batch ignored or could not do, and why
    in_gradebook: bool = True  # False: nbgrader's gradebook cannot hold this row (e.g. the name)
    digest: str = ""  # sha256 of the submitted notebook that was graded ("" when none was read)
    claimed: str | None = None  # the student's timestamp.txt (a claim); `timestamp` is the date lateness uses
    lateness: list[str] = field(default_factory=list)  # why that date needs a person's look (`arrival`)
    dating: list[str] = field(default_factory=list)  # how `arrival` dated it (informational, redone on reuse)

    @property
    def shown_notes(self) -> list[str]:
        """What the instructor is told beside the grade: the batch's notes, then how it was dated."""
        return self.notes + self.dating

    @property
    def evidence(self) -> list[str]:
        """Why the instructor should look at this submission (nbgrader's "flagged"); the score stays."""
        lines = [f"integrity: {line}" for line in self.integrity] + [f"lateness: {line}" for line in self.lateness]
        if self.error is None and not self.sandboxed:
            lines.append("graded WITHOUT a sandbox: the student's code ran with the grader's rights")
        return lines  # events alone (a moved cell, a timeout, truncated output) are not a reason to look

    def to_json(self) -> str:
        # ASCII JSON: any character (a lone surrogate included) round-trips as an escape.
        return json.dumps({"version": JOURNAL_VERSION, **asdict(self)}, indent=1)  # cells stay in notebook order

    @classmethod
    def from_json(cls, text: str) -> "Result":
        data = json.loads(text)
        if data.pop("version", None) != JOURNAL_VERSION:
            raise ValueError("journal entry from another version of the grader")
        data["cells"] = {k: CellGrade(**v) for k, v in data["cells"].items()}
        return cls(**data)


def write_journal(course: Course, result: Result) -> None:
    write_atomic(course.autograded(result.student, result.assignment) / JOURNAL_NAME, result.to_json())


def read_journal(course: Course, student: str, assignment: str) -> Result | None:
    try:
        return Result.from_json((course.autograded(student, assignment) / JOURNAL_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def journal(course: Course, assignment: str | None = None) -> list[Result]:
    """Every journalled result in the course (optionally of one assignment), by student."""
    results = []
    for path in sorted((course.root / "autograded").glob(f"*/{assignment or '*'}/{JOURNAL_NAME}")):
        result = read_journal(course, path.parent.parent.name, path.parent.name)
        if result is not None:
            results.append(result)
    return results
