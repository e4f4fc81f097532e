"""Every notebook nbgrader would execute under the course's configuration: the instructor's own, or the sandbox.

nbgrader runs notebooks with its `Execute` preprocessor, in a kernel with the rights of whoever
started the command: `nbgrader validate` (and the Validate button of the instructor's JupyterLab,
whose handler builds nbgrader's `Validator` with the course's nbgrader_config.py),
`nbgrader autograde` and `generate_solution`. For the instructor's own notebooks (the course's
source/ and release/, the repository's solutions/ and notebooks/, and my-work/, where `workbook.py
lab` keeps its user's own copies) that is fine. For anything
else it would run a student's code with the instructor's rights: before the kernel starts (a
submission's folder can itself hold modules the kernel would import), `guard` makes `Execute`

* grade a notebook of the course's submitted/<student>/<assignment>/ (or autograded/...) in the
  sandbox (`execute.grade_submission`, the hidden checks judged outside) and hand nbgrader back the
  graded notebook, so validate reports which test cells fail, as it would have;
* refuse anything else (a submission copied elsewhere, a notebook of unknown origin) with a
  message that says how to check it safely.

nbgrader's `Validator` builds `Execute` from a fixed list, not from configuration, so there is no
configuration option to replace it: nbgrader_config.py calls `guard(c)`, which wraps
`Execute.preprocess` once per process and is inert for any configuration that does not name a
course (`c.GradbookCourse.root`). The repository's root has an nbgrader_config.py that loads the
course's, so `nbgrader validate autograder/submitted/...` from there is guarded too. A student
validating their own notebook in their own JupyterLab (the student edition has no course
configuration; in this repository, my-work/) runs it unsandboxed, as is fine: their code, their server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MARK = "_gradbook_guarded"


class RefusedExecution(RuntimeError):
    """nbgrader was about to run a notebook that is not the instructor's with the instructor's rights."""


def guard(config: Any) -> None:
    """Route nbgrader's `Execute` through `checked` in this process (see the module); `config` is the
    nbgrader_config.py's `c`, given the course's root."""
    from nbgrader.preprocessors import Execute

    config.GradbookCourse.root = str(config.CourseDirectory.root)
    if getattr(Execute.preprocess, MARK, False):
        return
    original = Execute.preprocess

    def preprocess(self: Any, nb: Any, resources: Any = None, *args: Any, **kwargs: Any) -> Any:
        root = self.config.get("GradbookCourse", {}).get("root")
        if not root:  # another course's configuration: nbgrader's behaviour
            return original(self, nb, resources, *args, **kwargs)
        where = Path(os.path.realpath(((resources or {}).get("metadata") or {}).get("path") or os.getcwd()))
        verdict = checked(Path(root), where)
        if verdict is None:
            return original(self, nb, resources, *args, **kwargs)
        return sandboxed(Path(root), verdict, nb), resources

    setattr(preprocess, MARK, True)
    Execute.preprocess = preprocess


def checked(root: Path, where: Path) -> tuple[str, str] | None:
    """None if a notebook in `where` is the instructor's own; (student, assignment) if it is a submission of
    the course to grade in the sandbox; `RefusedExecution` otherwise."""
    from gradbook_grader.course import find_course

    course = find_course(root)
    # The instructor's own notebooks, and the repository's my-work/ (`workbook.py lab`: the user's own copies).
    own = [course.root / "source", course.root / "release", course.solutions, course.notebooks,
           course.solutions.parent / "my-work"]
    if any(where.is_relative_to(Path(os.path.realpath(p))) for p in own):
        return None
    for step in ("submitted", "autograded"):
        base = Path(os.path.realpath(course.root / step))
        if where.is_relative_to(base) and len(where.relative_to(base).parts) == 2:
            student, assignment = where.relative_to(base).parts
            if assignment in course.assignments:
                return student, assignment
    raise RefusedExecution(
        f"nbgrader would run the notebook in {where} with your rights, and it is not one of the course's own "
        f"(source/, release/, solutions/, notebooks/) nor a submission in {course.root / 'submitted'}/<student>/"
        "<assignment>/. Check it in the sandbox: put it in submitted/<student>/<assignment>/ and run "
        "`gradbook-grader grade submitted --student <student>` (or `nbgrader validate` there).")


def sandboxed(root: Path, submission: tuple[str, str], nb: Any) -> Any:
    """`nb`, a submission of the course, graded in the sandbox: the graded notebook (restored, run, each
    test cell's verdict as its output, a failing one as an error), which is what validate reads."""
    import nbformat

    from gradbook_grader.manifests import load_manifest
    from gradbook_grader.course import find_course
    from gradbook_grader.execute import grade_submission
    from gradbook_grader.sandbox import require_sandbox
    from gradbook_grader.types import Limits

    student, assignment = submission
    course = find_course(root)
    require_sandbox()  # no sandbox, no run: SandboxUnavailable says what to install
    limits = Limits()
    source = nbformat.read(course.source(assignment), as_version=4)
    graded = grade_submission(nbformat.writes(nb).encode(), source, load_manifest(course, assignment, limits),
                              limits=limits)
    if graded.error:
        raise RefusedExecution(f"{student}'s {assignment} could not be run in the sandbox: {graded.error}")
    return graded.notebook
