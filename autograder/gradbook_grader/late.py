"""Late submissions, as nbgrader assesses them: its due dates and the course's LateSubmissionPlugin.

A submission's lateness is nbgrader's own (`SubmittedAssignment.total_seconds_late`: its
timestamp past the assignment's due date, plus any extension, all in the gradebook). The
penalty comes from the plugin the course configures for nbgrader's AssignLatePenalties
(`c.LateSubmissionPlugin.penalty_method = "zero"`, or `c.AssignLatePenalties.plugin_class`
naming a plugin of the course's own), called as nbgrader calls it, with the notebook's score,
and clipped to [0, score] as nbgrader clips it.

nbgrader computes the penalty once, when it autogrades. Here it is computed again whenever
grades are stored or read (`grade`, `report`, `feedback`, `export`), so a score a person gives
in the formgrader after grading is penalised like the automatic ones: under "zero", a late
submission stays at 0 whatever is added by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gradbook_grader.course import Course, GraderError, nbgrader_config

if TYPE_CHECKING:
    from nbgrader.api import SubmittedAssignment
    from nbgrader.plugins import BasePlugin


def plugin(course: Course) -> "BasePlugin":
    """The late-submission plugin the course's nbgrader configuration names (nbgrader's default: no penalty)."""
    from nbgrader.preprocessors import AssignLatePenalties

    try:
        assigner = AssignLatePenalties(config=nbgrader_config(course))
        assigner.init_plugin()
    except Exception as exc:  # a misspelt plugin class, a bad penalty_method
        raise GraderError(
            f"the late-submission plugin in {course.root / 'nbgrader_config.py'} cannot be used: "
            f"{type(exc).__name__}: {exc}. Fix c.AssignLatePenalties.plugin_class or "
            "c.LateSubmissionPlugin.penalty_method (\"none\" or \"zero\")."
        ) from exc
    return assigner.plugin_inst


def apply(late: "BasePlugin", submission: "SubmittedAssignment") -> None:
    """Set the late penalty of every notebook of `submission` from its current score (nbgrader's rule).

    The caller commits; nbgrader's computed scores must be current (commit before calling).
    """
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


def describe(seconds: float) -> str:
    """`seconds` late, for people: "2 days 3:04:05 late"."""
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return (f"{days} day{'s' if days != 1 else ''} {clock}" if days else clock) + " late"
