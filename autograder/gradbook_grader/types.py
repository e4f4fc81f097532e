"""Shared data types of the grader: limits, per-cell and per-submission grades, the manifest.

Kept free of heavy imports (no nbgrader, no IPython) so the sandboxed runner and the
batch layer can both import it cheaply.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import nbformat


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission."""

    cell_timeout: float = 60.0  # wall seconds per cell
    total_timeout: float = 600.0  # wall seconds per submission
    memory_mb: int = 2048  # address space cap of the student's process
    cpu_seconds: int = 600
    max_processes: int = 64
    max_output_bytes: int = 1_000_000  # per submission, stdout/stderr/display combined
    max_file_mb: int = 200  # largest file written / scratch size
    threads: int = 1  # BLAS/OpenMP threads in the sandbox; 1 because parallelism comes from the workers


@dataclass
class CellGrade:
    grade_id: str
    points: float
    max_points: float
    passed: bool
    message: str  # the teaching verdict, or the reason for lost points


@dataclass
class SubmissionGrade:
    notebook: nbformat.NotebookNode  # restored + executed, trusted verdicts in the graded test cells
    cells: dict[str, CellGrade]  # by grade_id, every graded cell of the source
    events: list[str]  # sandbox and tamper events, human-readable
    error: str | None  # the submission could not be graded at all (invalid JSON, ...)
    sandboxed: bool
    score: float
    max_score: float


@dataclass(frozen=True)
class Expectation:
    """One check that the solution's run of a test cell recorded."""

    exercise: str
    hidden: bool


@dataclass
class Manifest:
    """What the instructor's solution produced: per graded test cell (grade_id), the checks it recorded.

    Built once per assignment by `gradbook_grader.verdict.build_manifest`; JSON-serialisable so
    the batch layer can cache it.
    """

    expected: dict[str, list[Expectation]] = field(default_factory=dict)
    points: dict[str, float] = field(default_factory=dict)  # every graded cell of the source, by grade_id
    source_digest: str = ""  # digest of the source notebook the manifest was built from
    problems: list[str] = field(default_factory=list)  # e.g. "test cell test-x recorded no checks"

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "expected": {k: [asdict(e) for e in v] for k, v in self.expected.items()},
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
        return cls(
            expected={
                str(k): [Expectation(str(e["exercise"]), bool(e["hidden"])) for e in v]
                for k, v in data.get("expected", {}).items()
            },
            points={str(k): float(v) for k, v in data.get("points", {}).items()},
            source_digest=str(data.get("source_digest", "")),
            problems=[str(p) for p in data.get("problems", [])],
        )
