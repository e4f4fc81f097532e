"""Verdicts, computed OUTSIDE the sandbox; and the manifest of questions they answer.

The manifest is read from the instructor's source: per graded test cell, the checks it makes
(`questions.read_test_cell`) and its points. A cell earns its points iff every one of its
checks was answered and `gradbook.checks.judge` passes the answers against the reference.
Answers are untrusted plain data: anything odd is a failed check with a reason, never an
exception.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from nbformat import NotebookNode

from gradbook.i18n import _, current, using
from gradbook_grader.nbcells import grade_id, is_graded, is_solution, is_test_cell, points
from gradbook_grader.questions import Question, TestCellError, read_test_cell
from gradbook_grader.types import Limits, Manifest

VALIDATION_SEED = 20_240_601


@dataclass
class Answer:
    """What came back for one question of one cell."""

    gid: str
    question: Question
    seed: int
    results: list[dict] | None = None  # plain results, one per case asked
    problem: str | None = None  # why there are none: the process stopped, the reply was unreadable
    tampered: bool = False


@dataclass
class CellJudgement:
    passed: bool
    message: str
    lines: list[str] = field(default_factory=list)  # one "✔ ..." line per passed check
    tampered: list[str] = field(default_factory=list)


def source_digest(source_nb: NotebookNode) -> str:
    parts = [
        json.dumps([c.get("cell_type"), c.get("source"), c.get("metadata", {}).get("nbgrader")], sort_keys=True)
        for c in source_nb.cells
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def judge_cell(expected: list[Question], answers: list[Answer], registry: dict[str, Any],
               language: str | None = "en") -> CellJudgement:
    """All-or-nothing verdict for one graded test cell, from the answers to its questions, in `language`."""
    with using(language):
        return _judge_cell(expected, answers, registry)


def _judge_cell(expected: list[Question], answers: list[Answer], registry: dict[str, Any]) -> CellJudgement:
    from gradbook.checks.core import judge

    if not expected:
        return CellJudgement(False, _("this test cell makes no checks, so it cannot be graded"))
    tampered: list[str] = []
    lines: list[str] = []
    for question in expected:
        exercise = registry.get(question.exercise)
        label = (exercise.title if exercise is not None else question.exercise) + (_(" (hidden tests)") if question.hidden else "")
        if exercise is None:
            return CellJudgement(False, _("{label}: the grader does not know this check").format(label=label), lines, tampered)
        answer = next((a for a in answers if a.question == question), None)
        if answer is None or answer.results is None:
            why = answer.problem if answer is not None else "it was not asked"
            if answer is not None and answer.tampered:
                tampered.append(f"{label}: {why}")
            return CellJudgement(False, _("{label} could not be checked: {why}").format(label=label, why=why), lines, tampered)
        observation = {"exercise": exercise.name, "seed": answer.seed, "hidden": question.hidden, "results": answer.results}
        try:
            verdict = judge(exercise, observation, current())
        except Exception as error:  # noqa: BLE001 - a crafted answer must not crash the grader
            tampered.append(f"{label}: the answer could not be judged ({type(error).__name__})")
            said = _("{label}: the answer could not be judged ({error})").format(label=label, error=type(error).__name__)
            return CellJudgement(False, said, lines, tampered)
        if not verdict.passed:
            return CellJudgement(False, verdict.message, lines, tampered)
        lines.append(f"\u2714 {label}: {verdict.message}")
    return CellJudgement(True, "\n".join(lines), lines, tampered)


def static_manifest(source_nb: NotebookNode) -> Manifest:
    """Questions and points of every graded cell, read from the source without running anything."""
    manifest = Manifest(source_digest=source_digest(source_nb))
    for cell in source_nb.cells:
        gid = grade_id(cell)
        if not gid or not is_graded(cell):
            continue
        manifest.points[gid] = points(cell)
        if not is_test_cell(cell):
            continue
        try:
            manifest.expected[gid] = read_test_cell(cell.source)
        except TestCellError as error:
            manifest.expected[gid] = []
            manifest.problems.append(f"test cell {gid}: {error}. It would score 0 for everyone.")
    return manifest


def build_manifest(source_nb: NotebookNode, limits: Limits = Limits(), **run_options: Any) -> Manifest:
    """The static manifest, validated: the instructor's solution, graded like a submission, must score full marks."""
    from gradbook_grader.execute import grade_submission

    manifest = static_manifest(source_nb)
    grade = grade_submission(source_nb, source_nb, manifest, limits=limits, seed=VALIDATION_SEED, **run_options)
    if grade.error:
        manifest.problems.append(f"the solution could not be graded: {grade.error}")
    for gid, cell in grade.cells.items():
        if cell.message != "graded by hand" and not cell.passed and manifest.expected.get(gid):
            manifest.problems.append(f"the solution fails its own test cell {gid}: {cell.message[:300]}")
    manifest.problems.extend(
        f"solution run: {e}" for e in grade.events if not e.startswith(("output truncated", "no control group"))
    )
    return manifest


def manual_cell(cell: NotebookNode) -> bool:
    """A graded answer cell (solution + grade): nbgrader leaves it to a person."""
    return is_graded(cell) and is_solution(cell)
