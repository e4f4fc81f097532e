"""Late submissions, as nbgrader assesses them: its due dates, extensions and the course's LateSubmissionPlugin.

A submission's lateness is nbgrader's own (`SubmittedAssignment.total_seconds_late`: its
timestamp past the assignment's due date plus the student's extension, all in the gradebook);
the timestamp is the submission's observed arrival (`arrival`), not the student's timestamp.txt.
The penalty comes from the plugin the course configures for nbgrader's AssignLatePenalties
(`c.LateSubmissionPlugin.penalty_method = "zero"`, or `c.AssignLatePenalties.plugin_class`
naming a plugin of the course's own, kept in the course's plugins/ folder, which
nbgrader_config.py puts on sys.path), called as nbgrader calls it, with the notebook's score,
and clipped to [0, score] as nbgrader clips it.

Extensions (`gradbook-grader extend`) are kept in the course's own record, extensions.json, and
set on the gradebook's submission wherever a penalty is computed: an extension granted before
the student submits, or before grading, applies as soon as there is a submission (nbgrader's
`Gradebook.grant_extension` needs the submission's row first).

nbgrader computes the penalty once, when it autogrades. Here it is computed again whenever
grades are stored or read (`grade`, `report`, `feedback`, `export`), so a score a person gives
in the formgrader after grading is penalised like the automatic ones: under "zero", a late
submission stays at 0 whatever is added by hand.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gradbook_grader.course import Course, GraderError, nbgrader_config
from gradbook_grader.files import write_atomic
from gradbook_grader.submissions import student_id_problem

if TYPE_CHECKING:
    from nbgrader.api import SubmittedAssignment
    from nbgrader.plugins import BasePlugin


EXTENSIONS = "extensions.json"  # in the course root: {assignment: {student: hours}}


@dataclass
class Policy:
    """The course's late-submission plugin and its extensions, as every penalty is computed."""

    plugin: "BasePlugin"
    extensions: dict[str, dict[str, float]] = field(default_factory=dict)


def read_extensions(course: Course) -> dict[str, dict[str, float]]:
    path = course.root / EXTENSIONS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise GraderError(f"{path} cannot be read ({exc}): fix or delete it, then grant the extensions again "
                          "with `gradbook-grader extend`.") from exc
    return {str(a): {str(s): float(h) for s, h in students.items()} for a, students in data.items()}


def extend(course: Course, student: str, assignment: str, hours: float) -> str:
    """Give `student` `hours` more on `assignment` (0 takes an extension back), before or after grading;
    what was done, for people."""
    from gradbook_grader.gradebook import open_gradebook

    _check_extension(course, student, assignment, hours)
    extensions = read_extensions(course)
    if hours:
        extensions.setdefault(assignment, {})[student] = hours
    else:
        extensions.get(assignment, {}).pop(student, None)
    write_atomic(course.root / EXTENSIONS, json.dumps({a: s for a, s in sorted(extensions.items()) if s}, indent=1,
                                                      sort_keys=True))
    policy = Policy(plugin(course).plugin, extensions)
    with open_gradebook(course) as gb:
        found = [s for a in gb.assignments if a.name == assignment for s in a.submissions if s.student_id == student]
        for submission in found:  # graded already: its penalty now, not at the next read
            submission.extension = timedelta(hours=hours) if hours else None
            apply(policy, submission)
        gb.db.commit()
        due = next((a.duedate for a in gb.assignments if a.name == assignment), None)
    what = f"{student} has {hours:g} hours more on {assignment}" if hours else f"{student}'s extension on {assignment} is gone"
    return what + (f" (due {due + timedelta(hours=hours)} UTC)" if due else " (the assignment has no due date yet)")


def _check_extension(course: Course, student: str, assignment: str, hours: float) -> None:
    """GraderError, saying what is wrong, for an unknown assignment, a name no student can have, odd hours."""
    course.source(assignment)  # an unknown assignment says so
    why = student_id_problem(student)
    if why:
        raise GraderError(f"{student!r} cannot be a student id: {why}.")
    if not math.isfinite(hours) or hours < 0:
        raise GraderError(f"--hours must be a number of hours, 0 or more (got {hours}).")


def plugin(course: Course) -> Policy:
    """The late-submission plugin the course's nbgrader configuration names (nbgrader's default: no penalty),
    with the course's extensions."""
    from nbgrader.preprocessors import AssignLatePenalties

    try:
        assigner = AssignLatePenalties(config=nbgrader_config(course))
        assigner.init_plugin()
    except Exception as exc:  # a misspelt plugin class, a bad penalty_method
        raise GraderError(
            f"the late-submission plugin in {course.root / 'nbgrader_config.py'} cannot be used: "
            f"{type(exc).__name__}: {exc}. Fix c.AssignLatePenalties.plugin_class or "
            "c.LateSubmissionPlugin.penalty_method (\"none\" or \"zero\"); a plugin of the course's own goes in "
            f"{course.root / 'plugins'}/ (docs/lifecycle.md)."
        ) from exc
    return Policy(assigner.plugin_inst, read_extensions(course))


def apply(policy: Policy, submission: "SubmittedAssignment") -> None:
    """Set the student's extension and the late penalty of every notebook of `submission` from its current
    score (nbgrader's rule).

    The caller commits; nbgrader's computed scores must be current (commit before calling).
    """
    hours = policy.extensions.get(submission.assignment.name, {}).get(submission.student_id)
    if hours is not None:  # else the gradebook's own (nbgrader's grant_extension) stands
        submission.extension = timedelta(hours=hours)
    late = policy.plugin
    seconds = submission.total_seconds_late
    for notebook in submission.notebooks:
        penalty: Any = None
        if seconds > 0:
            try:
                penalty = float(late.late_submission_penalty(submission.student.id, notebook.score, seconds) or 0.0)
            except Exception as exc:  # the course's own plugin: its failure is the course's, said as such
                raise GraderError(
                    f"the late-submission plugin {type(late).__name__} failed for {submission.student.id} "
                    f"({type(exc).__name__}: {exc}): fix it in nbgrader_config.py and run the command again."
                ) from exc
        notebook.late_submission_penalty = None if penalty is None else min(max(penalty, 0.0), notebook.score)


def extension_text(seconds: float, duedate: "datetime | None") -> str:
    """A student's extension, for people: "extended by 48 h, due 2026-11-22 12:00:00 UTC" ("" without one)."""
    if seconds <= 0:
        return ""
    return f"extended by {seconds / 3600:g} h" + (f", due {duedate:%Y-%m-%d %H:%M:%S} UTC" if duedate else "")


def describe(seconds: float) -> str:
    """`seconds` late, for people: "2 days 3:04:05 late"."""
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return (f"{days} day{'s' if days != 1 else ''} {clock}" if days else clock) + " late"
