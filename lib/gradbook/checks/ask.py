"""The student's side of grading: answer the grader's questions, and nothing more.

When a submission is graded, its notebook runs in a sandbox whose `gradbook.checks` holds
no reference answers, no mistakes and no case generators (see the grader's sandbox view).
After the notebook has run, the grader, outside, builds each check's cases from a seed the
sandbox never sees and sends their inputs, as plain data, one question at a time. Here the
student's function is called on them through the exercise's driver and the plain outputs go
back. Judging happens outside: nothing in this process decides a grade.
"""

from __future__ import annotations

import copy
from typing import Any

from gradbook.checks.diagnose import describe_exception
from gradbook.checks.drivers import NOT_IMPLEMENTED, UNFINISHED, Unfinished
from gradbook.checks.plain import Plain, digest, to_plain


def answer(driver: Any, student: Any, cases: list[Any]) -> list[dict[str, Plain]]:
    """Run the student's answer on every case through `driver`; plain outputs, errors and input digests.

    Each call gets its own copy of the case, so an answer that changes its inputs in place
    cannot change what the next case or the message shows; the digest of the inputs after
    the call shows that it did.
    """
    results: list[dict[str, Plain]] = []
    for case in cases:
        given = copy.deepcopy(case)
        error: str | None = None
        out: Plain = None
        try:
            out = to_plain(driver(student, given))
        except NotImplementedError:
            error = NOT_IMPLEMENTED
        except Unfinished as unfinished:
            error = UNFINISHED + str(unfinished)
        except (Exception, SystemExit) as exc:  # the student's bug (or exit), reported as data: the runner lives on
            error = describe_exception(exc)
        results.append({"out": out, "error": error, "inputs": digest((given.args, given.kwargs))})
        if error == NOT_IMPLEMENTED:
            break  # every other case would say the same
    return results


class GradedOutside:
    """What a chapter's check is inside the grading sandbox: a name, no answer.

    A student's own cell may call ``check.relu(relu)`` while being graded; it says that the
    grader checks from outside, and returns nothing (there is nothing here to check with).
    """

    def __init__(self, name: str, title: str) -> None:
        self.name = name
        self.title = title

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        from gradbook.i18n import _

        print(_("{title}: checked by the grader after the notebook has run").format(title=self.title))

    def __repr__(self) -> str:
        return f"<check {self.name}, run by the grader>"
