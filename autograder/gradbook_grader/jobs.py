"""A batch's units of work: one `Job` per submission to grade, its key, what a worker needs; the report.

Shared by the batch (`batch`, which makes the jobs), the executors that run them (`executors`'s local
pool, `cluster`'s Dask cluster) and the one writer (`writer`), so none of them imports another's
private parts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Callable

from gradbook_grader.files import Refused
from gradbook_grader.journal import Result
from gradbook_grader.submissions import Loaded, Submission, read_notebook
from gradbook_grader.types import Limits, Manifest, SubmissionGrade


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def submission_key(submission_bytes: bytes | None, source_digest: str, manifest: Manifest, limits: Limits,
                   refused: str | None = None, timestamp: str | None = None) -> str:
    """Equal keys, equal grades: the submission (or why it was refused), its timestamp, the source, the manifest."""
    h = hashlib.sha256(b"gradbook-grade-v2\0")
    if submission_bytes is None:
        h.update(b"refused\0" + (refused or "missing").encode("utf-8", "replace"))
    else:
        h.update(sha256(submission_bytes).encode())
    h.update(b"\0" + (timestamp or "").encode())
    h.update(source_digest.encode())
    h.update(manifest.to_json().encode())
    h.update(json.dumps(asdict(limits), sort_keys=True).encode())
    return h.hexdigest()


@dataclass
class Job:
    """One submission to grade: what it is, its key, and what the writer needs besides its grade."""

    submission: Submission
    key: str
    loaded: Loaded = field(default_factory=lambda: Loaded(None))  # its timestamp, secret and notes; `data` is not kept
    digest: str = ""  # sha256 of the bytes that were keyed
    changed: bool = True  # not the submission the journal last stored (a person's scores need a look again)
    # The hidden checks' seed, HMAC(course secret, key) (`secret.hidden_seed`): computed where the
    # secret is; workers get only this number. None: grade_submission draws one at random.
    seed: int | None = None

    def payload(self) -> bytes:
        """The submission's bytes, read again now (no batch holds every notebook in memory), as keyed."""
        data = read_notebook(self.submission)
        if sha256(data) != self.digest:
            raise Refused("the submission changed while the batch was running; grade again")
        return data

    def grading(self) -> tuple[bytes, int | None]:
        """What a grading worker gets: the submission's bytes, as keyed, and its hidden seed."""
        return self.payload(), self.seed


@dataclass(frozen=True)
class Work:
    """What every worker of one assignment's batch needs, once: plain data, so it travels to any executor."""

    source_json: str  # the instructor's source notebook (solutions, hidden tests): stays in the grader process
    manifest_json: str
    limits: Limits
    grade: Callable[..., SubmissionGrade] | None = None  # replaces execute.grade_submission (tests; module-level)


@dataclass
class BatchReport:
    assignment: str
    results: list[Result] = field(default_factory=list)
    graded: int = 0  # graded in this run
    reused: int = 0  # taken from the journal (already graded, unchanged)
    skipped: list[str] = field(default_factory=list)  # entries of the folder that are no submission at all
    seconds: float = 0.0

    @property
    def errors(self) -> list[Result]:
        return [r for r in self.results if r.error]
