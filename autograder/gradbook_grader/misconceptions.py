"""The misconception report: per exercise, how many submissions made each known mistake.

Every exercise lists the plausible mistakes students make (`Mistake`: a wrong implementation and
the hint that names it), and a failing check names the one the answer reproduces on every case.
The batch reads that from each failing test cell's verdict, outside the sandbox (`diagnose`,
stored on the cell in the journal); this module counts, over the graded submissions of the
gradebook, how many made each mistake, so the next lecture can address the commonest.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from gradbook_grader.course import Course
from gradbook_grader.grades import Graded, read
from gradbook_grader.text import printable


def diagnose(message: str, exercises: Sequence[str]) -> tuple[str | None, int | None]:
    """(the exercise a failing test cell's verdict is about, the index of the known mistake it names)."""
    from gradbook.checks import load_all
    from gradbook.checks.core import known_mistake

    registry = load_all()
    candidates = [registry[name] for name in dict.fromkeys(exercises) if name in registry]
    # A verdict begins with its exercise's title; the longest title that begins it (dense, dense_backward).
    about = max((e for e in candidates if message.startswith(e.title)), key=lambda e: len(e.title), default=None)
    if about is None:
        return (candidates[0].name if len(candidates) == 1 else None), None
    return about.name, known_mistake(about, message)


@dataclass
class Tally:
    """One exercise of one assignment, over the graded submissions."""

    assignment: str
    grade_id: str
    exercise: str  # "chNN.what"
    title: str
    hints: list[str]  # the exercise's known mistakes, in order
    graded: int = 0  # submissions whose cell was judged
    failed: int = 0
    mistakes: Counter = field(default_factory=Counter)  # mistake index -> submissions that made it
    not_attempted: int = 0  # still the stub
    other: int = 0  # failed, but not with a known mistake
    said: Counter = field(default_factory=Counter)  # of those: the gist of what their verdicts said -> submissions

    def commonest(self) -> list[tuple[int, int]]:
        """(index, count) of every known mistake, the commonest first (ties: in the exercise's order); mistakes
        that share a hint are one (the first: verdicts name it)."""
        first = [i for i, hint in enumerate(self.hints) if hint not in self.hints[:i]]
        return sorted(((i, self.mistakes[i]) for i in first), key=lambda ic: (-ic[1], ic[0]))


def tally(course: Course, entries: Sequence[Graded]) -> list[Tally]:
    """Count, per test cell (one exercise), the known mistakes of the graded submissions among `entries`."""
    import nbformat

    from gradbook.checks import load_all
    from gradbook.checks.drivers import NOT_IMPLEMENTED
    from gradbook.i18n import LANGUAGES, _, using

    from gradbook_grader.verdict import static_manifest

    stub = []  # "not implemented yet", in every language a verdict may be in
    for language in LANGUAGES:
        with using(language):
            stub.append(_(NOT_IMPLEMENTED))

    registry = load_all()
    tallies: dict[tuple[str, str], Tally] = {}
    for assignment in sorted({e.assignment for e in entries}):
        try:
            manifest = static_manifest(nbformat.read(course.source(assignment), as_version=4))
        except Exception:  # an assignment whose source is gone: nothing to count it against
            continue
        for gid, questions in manifest.expected.items():
            names = [q.exercise for q in questions if q.exercise in registry]
            if names:
                exercise = registry[names[0]]
                tallies[(assignment, gid)] = Tally(assignment, gid, exercise.name, exercise.title,
                                                   [m.hint for m in exercise.mistakes])
    for entry in entries:
        if entry.result is None or entry.error:  # not judged: nothing to learn from it
            continue
        for gid, cell in entry.cells.items():
            counted = tallies.get((entry.assignment, gid))
            if counted is None or cell.written:
                continue
            counted.graded += 1
            if cell.passed:
                continue
            counted.failed += 1
            if cell.mistake is not None and cell.exercise == counted.exercise:
                counted.mistakes[cell.mistake] += 1
            elif any(text in cell.verdict for text in stub):
                counted.not_attempted += 1
            else:
                counted.other += 1
                counted.said[gist(cell.verdict)] += 1
    return list(tallies.values())


def gist(verdict: str) -> str:
    """What a verdict without a known mistake said, as one short line that the same mistake of other students
    shares: its first sentence after the title line, the numbers (which differ per case) as N."""
    lines = [line.strip() for line in verdict.splitlines() if line.strip()]
    said = lines[1] if len(lines) > 1 and lines[0].endswith((":", "：")) else lines[0] if lines else ""
    first = re.split(r"(?<=[.?!。？！])\s|(?<=[。？！])", said, maxsplit=1)[0].rstrip(".。")
    return printable(re.sub(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", "N", first))[:160]


def report(course: Course, assignment: str | None = None) -> str:
    """The misconception report of the gradebook's graded submissions (of one assignment)."""
    entries = read(course, assignment).graded
    tallies = tally(course, entries)
    if not tallies:
        return "nothing graded yet: run `gradbook-grader grade` first"
    out: list[str] = []
    for name in sorted({t.assignment for t in tallies}):
        mine = [t for t in tallies if t.assignment == name]
        judged = sum(1 for e in entries if e.assignment == name and e.result is not None and not e.error)
        out.append(f"{name}: {judged} graded submission{'s' if judged != 1 else ''}")
        for t in mine:
            out.append(f"  {t.title} ({t.grade_id}): {t.failed} of {t.graded} failed")
            made = [(index, count) for index, count in t.commonest() if count]
            for index, count in made:
                out.append(f"    {count:4d}  {printable(t.hints[index])}")
            if len(t.commonest()) > len(made):
                unmade = len(t.commonest()) - len(made)
                out.append(f"       0  {'each of ' if unmade > 1 else ''}the {'other ' if made else ''}{unmade} known "
                           f"mistake{'s' if unmade > 1 else ''}")
            if t.other:
                out.append(f"    {t.other:4d}  (another mistake: none of the known ones); their verdicts said:")
                for text, count in t.said.most_common(3):
                    out.append(f"          {count:4d}  {text}")
                if len(t.said) > 3:
                    out.append(f"          {sum(t.said.values()) - sum(c for _, c in t.said.most_common(3)):4d}  (other things)")
            if t.not_attempted:
                out.append(f"    {t.not_attempted:4d}  (not attempted)")
        top = sorted(((c, t, i) for t in mine for i, c in t.mistakes.items() if c), key=lambda x: (-x[0], x[1].grade_id))
        if top:
            out.append("  commonest: " + "; ".join(f"{t.title}: {printable(t.hints[i])} ({c})" for c, t, i in top[:3]))
        out.append("")
    return "\n".join(out).rstrip()
