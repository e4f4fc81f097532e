"""nbgrader's autograde (the formgrader's "Autograde" button, `nbgrader autograde`) through the sandbox.

nbgrader's own Autograde converter executes students' notebooks with the instructor's rights.
The course's nbgrader_config.py sets `c.Autograde.exporter_class` to `SandboxedAutograde`:
nbgrader builds its exporter after it has found the submissions and before it touches
autograded/ or the gradebook, so here the submissions it found are graded by
`batch.grade_assignment` (restored, run in the sandbox, judged outside, stored in the same
gradebook, late penalties applied, flagged on evidence) and taken off nbgrader's list: nbgrader
itself then converts, and runs, nothing. A grading that cannot run (no working sandbox, say) or
a submission that could not be graded fails the autograde with the grader's own message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbconvert.exporters import Exporter


class SandboxedAutograde(Exporter):
    """Not an exporter: the moment nbgrader's autograde makes one, the submissions are graded safely."""

    file_extension = ".ipynb"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from nbgrader.converters import Autograde
        from nbgrader.converters.base import NbGraderException

        converter = self.parent
        if not isinstance(converter, Autograde):
            raise NbGraderException("SandboxedAutograde only replaces nbgrader's Autograde (c.Autograde.exporter_class)")
        found, converter.assignments = dict(converter.assignments), {}  # nbgrader converts nothing itself
        problems = grade(converter.coursedir, list(found), force=bool(converter.force), log=converter.log)
        if problems:
            raise NbGraderException("gradbook-grader could not grade everything (nothing ran unsandboxed):\n"
                                    + "\n".join(problems))


def grade(coursedir: Any, folders: list[str], *, force: bool, log: Any) -> list[str]:
    """Grade the submission folders nbgrader found (submitted/<student>/<assignment>); the problems, if any."""
    from gradbook_grader.batch import grade_assignment
    from gradbook_grader.course import GraderError, find_course
    from gradbook_grader.text import printable

    course = find_course(Path(coursedir.root), coursedir.db_url)
    submitted = Path(coursedir.root) / coursedir.submitted_directory
    wanted: dict[str, set[str]] = {}
    for folder in folders:
        student, assignment = Path(folder).relative_to(submitted).parts[-2:]
        wanted.setdefault(assignment, set()).add(student)
    problems = []
    for assignment, students in sorted(wanted.items()):
        try:
            report = grade_assignment(course, assignment, submitted, students=students, force=force, progress=False)
        except GraderError as error:
            problems.append(f"{assignment}: {error}")
            continue
        for result in report.results:
            log.info("gradbook-grader: %s / %s: %g / %g", printable(result.student), assignment, result.score,
                     result.max_score)
        problems += [f"{printable(r.student)} / {assignment}: {printable(r.error or '')}" for r in report.errors]
    return problems
