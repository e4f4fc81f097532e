"""Verdicts, computed OUTSIDE the sandbox, on the manifest's questions (`questions.static_manifest`).

A cell earns its points iff every one of its
checks was answered and `gradbook.checks.judge` passes the answers against the reference.
Answers are untrusted plain data: anything odd is a failed check with a reason, never an
exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nbformat
from nbformat import NotebookNode

from gradbook.checks.drivers import NOT_IMPLEMENTED
from gradbook.i18n import _, current, using
from gradbook_grader.nbcells import is_graded, is_solution
from gradbook_grader.questions import Question

FAIL = "\u2718"

@dataclass
class Answer:
    """What came back for one question of one cell."""

    gid: str
    question: Question
    seed: int
    results: list[dict] | None = None  # plain results, one per case asked
    problem: str | None = None  # why there are none: the process stopped, the reply was unreadable
    tampered: bool = False
    frameworks: list[str] = field(default_factory=list)  # framework functions the answer called while asked (`watch`)
    replaced: list[str] = field(default_factory=list)  # the grader's recorders the answer replaced while asked


@dataclass
class CellJudgement:
    passed: bool
    message: str
    lines: list[str] = field(default_factory=list)  # one "✔ ..." line per passed check
    tampered: list[str] = field(default_factory=list)
    exercise: str | None = None  # the check that failed ("chNN.what"), when one did
    mistake: int | None = None  # the known mistake its verdict named (`Verdict.mistake`)
    unfinished: bool = False  # the failing answer is still the released stub (`NOT_IMPLEMENTED` on the wire)


def judge_cell(expected: list[Question], answers: list[Answer], registry: dict[str, Any],
               language: str | None = "en") -> CellJudgement:
    """All-or-nothing verdict for one graded test cell, from the answers to its questions, in `language`."""
    with using(language):
        return _judge_cell(expected, answers, registry)


def _judge_cell(expected: list[Question], answers: list[Answer], registry: dict[str, Any]) -> CellJudgement:
    if not expected:
        return CellJudgement(False, _("this test cell makes no checks, so it cannot be graded"))
    tampered: list[str] = []
    lines: list[str] = []
    for question in expected:
        failed = _judge_question(question, next((a for a in answers if a.question == question), None), registry,
                                 lines, tampered)
        if failed is not None:
            return failed
    return CellJudgement(True, "\n".join(lines), lines, tampered)


def _judge_question(question: Question, answer: Answer | None, registry: dict[str, Any], lines: list[str],
                    tampered: list[str]) -> CellJudgement | None:
    """The cell's failing judgement if this check fails; else its "✔" line goes to `lines`."""
    from gradbook.checks.core import judge

    exercise = registry.get(question.exercise)
    label = (exercise.title if exercise is not None else question.exercise) + (_(" (hidden tests)") if question.hidden else "")
    if exercise is None:
        return CellJudgement(False, _("{label}: the grader does not know this check").format(label=label), lines, tampered)
    if answer is None or answer.results is None:
        why = answer.problem if answer is not None else "it was not asked"
        if answer is not None and answer.tampered:
            tampered.append(f"{label}: {why}")
        said = _("{label} could not be checked: {why}").format(label=label, why=why)
        return CellJudgement(False, said, lines, tampered, exercise.name)
    observation = {"exercise": exercise.name, "seed": answer.seed, "hidden": question.hidden, "results": answer.results}
    try:
        verdict = judge(exercise, observation, current())
    except Exception as error:  # noqa: BLE001 - a crafted answer must not crash the grader
        tampered.append(f"{label}: the answer could not be judged ({type(error).__name__})")
        said = _("{label}: the answer could not be judged ({error})").format(label=label, error=type(error).__name__)
        return CellJudgement(False, said, lines, tampered, exercise.name)
    if not verdict.passed:
        stub = any(isinstance(r, dict) and r.get("error") == NOT_IMPLEMENTED for r in answer.results)
        return CellJudgement(False, verdict.message, lines, tampered, exercise.name, verdict.mistake, unfinished=stub)
    lines.append(f"\u2714 {label}: {verdict.message}")
    return None


def manual_cell(cell: NotebookNode) -> bool:
    """A graded answer cell (solution + grade): nbgrader leaves it to a person."""
    return is_graded(cell) and is_solution(cell)


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + " ... [shortened]"


def verdict_outputs(passed: bool, message: str) -> list[NotebookNode]:
    if passed:
        return [nbformat.v4.new_output("stream", name="stdout", text=message.rstrip("\n") + "\n")]
    lines = message.splitlines() or [message]
    return [nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                   traceback=[f"{FAIL} AssertionError: {lines[0]}", *lines[1:]])]
