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

import numpy as np

from gradbook.checks.diagnose import describe_exception
from gradbook.checks.drivers import NOT_IMPLEMENTED, UNFINISHED, Unfinished
from gradbook.checks.plain import Plain, arrays_in, digest, to_plain


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
        inputs = case if _restored(case, given) else given  # put back as it was, to float rounding: unchanged
        results.append({"out": out, "error": error, "inputs": digest((inputs.args, inputs.kwargs))})
        if error == NOT_IMPLEMENTED:
            break  # every other case would say the same
    return results


# How far a float input may be from what it was, after the call, and still count as put back: a few roundings of its
# largest value (x[i] += eps, then -= 2 * eps, then += eps leaves x[i] an ulp or two off), never a change of a value.
_ROUNDINGS = 64


def _restored(before: Any, after: Any) -> bool:
    """Are the arrays of the case, after the call, the ones before it, up to float rounding (ints and shapes exact)?"""
    olds, news = arrays_in((before.args, before.kwargs)), arrays_in((after.args, after.kwargs))
    if len(olds) != len(news):
        return False
    for old, new in zip(olds, news):
        if old.shape != new.shape or old.dtype != new.dtype:
            return False
        if old.dtype.kind != "f":
            if not np.array_equal(old, new):
                return False
            continue
        tol = _ROUNDINGS * np.finfo(old.dtype).eps
        scale = float(np.max(np.abs(old), initial=0.0)) if old.size else 0.0
        if not np.allclose(new, old, rtol=tol, atol=tol * scale, equal_nan=True):
            return False
    return True


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
