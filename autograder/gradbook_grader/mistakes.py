"""At release, every known mistake of every exercise an assignment checks is rejected by those checks.

A `Mistake` is a plausible wrong answer with the hint that names it: the misconception report counts it,
and a student who makes it reads its hint. One that the checks accept would pass students who made it,
so `release` refuses it. The mistakes are the instructor's own code, run here (no sandbox: no student's
code is involved), through the same `collect` and `judge` as a student's answer, on the visible cases and
on the hidden ones (seed `PREVIEW_SEED`, as in the instructor's notebook).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _as_student(exercise: Any, wrong: Any) -> Any:
    """The mistake in the form a student hands it in (a value exercise is handed its value)."""
    if not exercise.value:
        return wrong
    value = exercise.answer(wrong, exercise.make_cases(0, False)[0])
    return lambda *args, **kwargs: value


def unrejected(exercise: Any) -> list[str]:
    """What is wrong with the exercise's mistakes: each one its checks pass, or reject without its hint."""
    import warnings

    import numpy as np

    from gradbook.checks import collect, judge
    from gradbook.checks.core import PREVIEW_SEED, VISIBLE_SEED
    from gradbook.i18n import using

    problems = []
    for mistake in exercise.mistakes:
        for hidden, seed in ((False, VISIBLE_SEED), (True, PREVIEW_SEED)):
            checks = "hidden" if hidden else "visible"
            with using("en"), warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")  # a deliberately unstable mistake warns
                verdict = judge(exercise, collect(exercise, _as_student(exercise, mistake.wrong), seed, hidden))
            if verdict.passed:
                problems.append(f"{exercise.name}: the mistake {mistake.wrong.__name__} ({mistake.hint[:80]!r}) "
                                f"passes the {checks} checks; make a case that tells it apart, or remove it")
                break
            if mistake.hint not in verdict.message:
                problems.append(f"{exercise.name}: the mistake {mistake.wrong.__name__} fails the {checks} checks "
                                f"without its hint ({mistake.hint[:80]!r}); they say: {verdict.message[:200]!r}")
                break
    return problems


def exercises_of(source: Path) -> list[str]:
    """The exercises an assignment's test cells check (read from its source notebook, nothing run)."""
    import nbformat

    from gradbook_grader.questions import static_manifest

    manifest = static_manifest(nbformat.read(source, as_version=4))
    return sorted({q.exercise for questions in manifest.expected.values() for q in questions})


def mistake_problems(sources: dict[str, Path]) -> list[str]:
    """For each assignment (name: source notebook), each exercise's mistake its checks do not reject with its hint."""
    from gradbook.checks import load_all

    registry = load_all()
    return [f"{name}: {problem}" for name, source in sources.items() for exercise in exercises_of(source)
            if exercise in registry for problem in unrejected(registry[exercise])]
