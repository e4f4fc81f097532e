"""Shared data types of the grader: limits, per-cell and per-submission grades, the manifest.

Kept free of heavy imports (no nbgrader, no IPython) so the sandboxed runner and the
batch layer can both import it cheaply.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import nbformat


# An event about the grading host, not the submission: every grade made on a host without control groups carries
# it (the instructor's report says it once, at the top). A student's feedback leaves it out: nothing the student
# wrote caused it, and nothing they can do changes it.
NO_CONTROL_GROUP = "no control group for this sandbox"


def no_control_group(why: str) -> str:
    return f"{NO_CONTROL_GROUP} ({why}): memory and CPU are capped per process only"


def is_host_event(event: str) -> bool:
    return event.startswith(NO_CONTROL_GROUP)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission."""

    cell_timeout: float = 60.0  # wall seconds per cell, and per question asked
    # Wall seconds per submission: the one deadline of all its cells, questions and restarts together
    # (each wait is bounded by what is left of it). Generous, because it is wall time on a busy machine;
    # what makes a stalling submission cheap is `stall_seconds` and the strict protocol (process.py).
    total_timeout: float = 600.0
    # A runner that neither replies nor uses CPU for this long is stalled: the wait ends then, not at
    # the cell limit (0: never). Honest code that computes slowly keeps using CPU and is never cut short.
    stall_seconds: float = 10.0
    memory_mb: int = 2048  # address space of each process, and memory of the whole sandbox where a control group can be made
    cpu_seconds: int = 600
    max_processes: int = 64
    max_output_bytes: int = 1_000_000  # per submission, stdout/stderr/display combined
    max_file_mb: int = 200  # largest file written / scratch size
    threads: int = 1  # BLAS/OpenMP threads in the sandbox; 1 because parallelism comes from the workers
    cpus: float = 1.0  # CPU share of the whole sandbox (its control group), so no submission slows another


@dataclass
class CellGrade:
    grade_id: str
    points: float
    max_points: float
    passed: bool
    message: str  # the teaching verdict, or the reason for lost points
    # Typed, so nothing decides on the message's words; set outside the sandbox (the judge's, checked by the batch):
    manual: bool = False  # a written answer, scored by a person in the formgrader
    exercise: str | None = None  # the check a failing test cell failed ("chNN.what")
    mistake: int | None = None  # index in that exercise's `mistakes` of the known mistake it made
    unfinished: bool = False  # a test cell whose answer is still the released stub (the wire's NOT_IMPLEMENTED)
    unanswered: bool = False  # a written answer still as released: nbgrader's "No response.", 0 points


@dataclass
class SubmissionGrade:
    notebook: nbformat.NotebookNode  # restored + executed, trusted verdicts in the graded test cells
    cells: dict[str, CellGrade]  # by grade_id, every graded cell of the source
    events: list[str]  # sandbox and tamper events, human-readable
    error: str | None  # the submission could not be graded at all (invalid JSON, ...)
    sandboxed: bool
    score: float
    max_score: float
    # Integrity evidence for the instructor (answers that call or copy the library's reference or
    # check code): each line says what and where. It never changes the score; the batch sets
    # nbgrader's "flagged" on the submission and the report lists the evidence.
    integrity: list[str] = field(default_factory=list)
    # Of `events`, those that say how it was graded, not that anything went wrong (its output cut at the
    # limit, no control group on this host): a solution whose run has only these grades cleanly.
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Question:
    """One check of a graded test cell, as the grader asks it of the sandboxed notebook."""

    exercise: str  # the Exercise's stable name, "chNN.what"
    expr: str  # the Python expression, in the student's namespace, that is their answer
    hidden: bool


@dataclass
class Manifest:
    """Per graded test cell (grade_id), the questions it asks; the points of every graded cell.

    Read from the instructor's source by `gradbook_grader.questions.static_manifest` (and validated
    by grading the solution, `build_manifest`); JSON-serialisable so the batch layer can cache it.
    """

    expected: dict[str, list[Question]] = field(default_factory=dict)
    points: dict[str, float] = field(default_factory=dict)  # every graded cell of the source, by grade_id
    source_digest: str = ""  # digest of the source notebook the manifest was built from
    problems: list[str] = field(default_factory=list)  # e.g. "test cell test-x: line 3 is not a check call"

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 2,
                "expected": {k: [asdict(q) for q in v] for k, v in self.expected.items()},
                "points": self.points,
                "source_digest": self.source_digest,
                "problems": self.problems,
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "Manifest":
        data: dict[str, Any] = json.loads(text)
        if data.get("version") != 2:
            raise ValueError("a manifest of an older grader: build it again")
        return cls(
            expected={
                str(k): [Question(str(q["exercise"]), str(q["expr"]), bool(q["hidden"])) for q in v]
                for k, v in data.get("expected", {}).items()
            },
            points={str(k): float(v) for k, v in data.get("points", {}).items()},
            source_digest=str(data.get("source_digest", "")),
            problems=[str(p) for p in data.get("problems", [])],
        )
