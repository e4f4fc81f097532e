"""The misconception report: per exercise, how many submissions made each known mistake.

Every exercise lists the plausible mistakes students make (`Mistake`: a wrong implementation and
the hint that names it), and a failing check names the one the answer reproduces on every case.
The judge gives it (`Verdict.mistake`), outside the sandbox, and the batch stores it on the
failing cell in the journal, typed (`CellGrade.exercise`, `CellGrade.mistake`); this module counts, over the graded submissions of the
gradebook, how many made each mistake, so the next lecture can address the commonest.

What a failure is counted as, in this order:

* **untouched submission**: the student wrote none of the assignment's functions. Counted apart,
  not as a failure of every exercise.
* **not attempted**: the solution cell that holds this exercise's answer is as students received it.
  Per function, read from the student's graded notebook (`autograded/`): a student who wrote two of
  three functions attempted those two, even when they fail because the third (which they call) is
  a stub.
* **fails because X fails**: the student's answer to the exercise (its solution cell in their
  notebook; without a notebook, the model solution's in the instructor's source) uses another
  exercise's answer X (`dependencies`), and the student's X failed too. A broken `softmax`
  makes `softmax_ce_grad` fail; that is softmax's mistake, not a second one.
* **the chapter's rule broken**: the known mistake is a break of the chapter's rule (chapter 2's
  loops only; `core.breaks_rule`). Listed in their own section, never among the commonest mistakes.
* a known mistake; else another failure, grouped by what the verdicts said.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from gradbook_grader.course import Course
from gradbook_grader.grades import Graded, read
from gradbook_grader.text import printable

if TYPE_CHECKING:
    import nbformat


def _names(code: str, mode: str = "exec") -> tuple[set[str], set[str]]:
    """(the names a piece of code defines at its top level, every name it uses); empty if it is not Python."""
    try:
        tree = ast.parse(re.sub(r"^\s*[%!].*$", "", code, flags=re.M), mode=mode)
    except (SyntaxError, ValueError):
        return set(), set()
    body = tree.body if isinstance(tree, ast.Module) else []
    defined = {n.name for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for n in body if isinstance(n, (ast.Assign, ast.AnnAssign))
                for target in (n.targets if isinstance(n, ast.Assign) else [n.target]) for t in ast.walk(target)
                if isinstance(t, ast.Name)}
    return defined, {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def answer_cells(source: "nbformat.NotebookNode", answers: dict[str, str]) -> dict[str, str]:
    """Per exercise (name: the expression that is the student's answer), the grade id of the solution cell that
    defines its answer in the instructor's source (the last one, as the notebook runs)."""
    from gradbook_grader.nbcells import grade_id, is_solution

    cells: dict[str, str] = {}
    for cell in source.cells:
        if cell.cell_type == "code" and is_solution(cell) and grade_id(cell):
            defined, _ = _names(cell.source)
            for exercise, expr in answers.items():
                if defined & _names(expr, "eval")[1]:
                    cells[exercise] = str(grade_id(cell))
    return cells


def dependencies(source: "nbformat.NotebookNode", answers: dict[str, str]) -> dict[str, list[str]]:
    """Per exercise, the other exercises whose answers its model solution (its solution cell) uses."""
    from gradbook_grader.nbcells import grade_id

    code = {grade_id(c): c.source for c in source.cells if c.cell_type == "code"}
    cells = answer_cells(source, answers)
    uses = {}
    for exercise, gid in cells.items():
        _, used = _names(code[gid])
        uses[exercise] = sorted(other for other, expr in answers.items()
                                if cells.get(other) not in (None, gid) and _names(expr, "eval")[1] & used)
    return uses


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def written(notebooks: Sequence["nbformat.NotebookNode"], released: dict[str, str], cells: dict[str, str]) -> dict[str, bool] | None:
    """Per exercise, whether the student changed its solution cell from the released one (`released`: grade id ->
    the students' text, `cells`: exercise -> grade id); None without a notebook to read."""
    from gradbook_grader.nbcells import grade_id

    if not notebooks:
        return None
    theirs = {grade_id(c): c.source for nb in notebooks for c in nb.cells if grade_id(c)}
    return {exercise: gid in theirs and not _same(theirs[gid], released.get(gid, "")) for exercise, gid in cells.items()}


@dataclass
class Tally:
    """One exercise of one assignment, over the graded submissions."""

    assignment: str
    grade_id: str
    exercise: str  # "chNN.what"
    title: str
    hints: list[str]  # the exercise's known mistakes, in order
    rule: list[bool] = field(default_factory=list)  # per known mistake: is it a break of the chapter's rule?
    graded: int = 0  # submissions whose cell was judged (untouched submissions aside)
    failed: int = 0
    mistakes: Counter = field(default_factory=Counter)  # mistake index -> submissions that made it
    broke_rule: Counter = field(default_factory=Counter)  # rule-breaking mistake index -> submissions
    because: Counter = field(default_factory=Counter)  # upstream titles ("softmax") -> submissions failing for them
    not_attempted: int = 0  # its own function still the stub
    other: int = 0  # failed, but not with a known mistake
    said: Counter = field(default_factory=Counter)  # of those: the gist of what their verdicts said -> submissions

    def commonest(self) -> list[tuple[int, int]]:
        """(index, count) of every known mistake that is not a rule, the commonest first (ties: in the exercise's
        order); mistakes that share a hint are one (the first: verdicts name it)."""
        first = [i for i, hint in enumerate(self.hints) if hint not in self.hints[:i] and not self.rule[i]]
        return sorted(((i, self.mistakes[i]) for i in first), key=lambda ic: (-ic[1], ic[0]))


@dataclass
class Assignment:
    """What the report needs of one assignment's source: each test cell's exercise and its answer's name, and
    which exercises' model solutions call which."""

    tallies: dict[str, Tally]  # grade id -> its tally
    cells: dict[str, str]  # exercise -> the grade id of the solution cell that holds its answer
    released: dict[str, str]  # solution cell's grade id -> what students received in it
    uses: dict[str, list[str]]  # exercise -> the exercises its model solution uses
    answers: dict[str, str] = field(default_factory=dict)  # exercise -> the expression that is the student's answer
    untouched: int = 0


def _assignment(course: Course, name: str, registry: dict) -> Assignment | None:
    import copy

    import nbformat
    from nbgrader.preprocessors import ClearSolutions

    from gradbook.checks.core import breaks_rule

    from gradbook_grader.course import nbgrader_config
    from gradbook_grader.nbcells import grade_id
    from gradbook_grader.questions import static_manifest

    try:
        source = nbformat.read(course.source(name), as_version=4)
    except Exception:  # an assignment whose source is gone: nothing to count it against
        return None
    tallies, answers = {}, {}
    for gid, questions in static_manifest(source).expected.items():
        known = [q for q in questions if q.exercise in registry]
        if known:
            exercise = registry[known[0].exercise]
            answers[exercise.name] = known[0].expr
            tallies[gid] = Tally(name, gid, exercise.name, exercise.title, [m.hint for m in exercise.mistakes],
                                 [breaks_rule(exercise, i) for i in range(len(exercise.mistakes))])
    cleared, _ = ClearSolutions(config=nbgrader_config(course)).preprocess(copy.deepcopy(source), {})
    released = {str(grade_id(c)): c.source for c in cleared.cells if grade_id(c)}
    return Assignment(tallies, answer_cells(source, answers), released, dependencies(source, answers), answers)


def _submitted(course: Course, entry: Graded) -> list["nbformat.NotebookNode"]:
    """The student's graded notebook(s) (nbgrader's autograded/ layout); none if there is nothing to read."""
    import nbformat

    folder = course.autograded(entry.student, entry.assignment)
    notebooks = []
    for path in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        try:
            notebooks.append(nbformat.read(path, as_version=4))
        except Exception:  # a notebook that cannot be read tells nothing about what was written
            continue
    return notebooks


def tally(course: Course, entries: Sequence[Graded]) -> list[Assignment]:
    """Count, per test cell (one exercise), what the graded submissions among `entries` got wrong (the module)."""
    from gradbook.checks import load_all

    registry = load_all()
    assignments = {name: a for name in sorted({e.assignment for e in entries})
                   if (a := _assignment(course, name, registry)) is not None}
    for entry in entries:
        known = assignments.get(entry.assignment)
        if entry.result is not None and not entry.error and known is not None:  # else not judged: nothing to learn
            _count(course, known, entry)
    return list(assignments.values())


def _count(course: Course, known: Assignment, entry: Graded) -> None:
    """One judged submission's cells, counted into `known`'s tallies."""
    cells = {gid: c for gid, c in entry.cells.items() if gid in known.tallies and not c.written}
    notebooks = _submitted(course, entry)
    mine = _attempted(known, cells, written(notebooks, known.released, known.cells))
    # What the student's own answers use, where their notebook says (else what the model solutions use).
    uses = {**known.uses, **dependencies(notebooks[0], known.answers)} if notebooks else known.uses
    if cells and not any(mine.get(known.tallies[g].exercise, True) for g in cells):
        known.untouched += 1
        return
    failing = {known.tallies[g].exercise for g, c in cells.items() if not c.passed}
    titles = {t.exercise: t.title for t in known.tallies.values()}
    for gid, cell in cells.items():
        counted = known.tallies[gid]
        counted.graded += 1
        if not cell.passed:
            upstream = [titles[u] for u in uses.get(counted.exercise, []) if u in failing]
            _count_failure(counted, cell, mine.get(counted.exercise, True), upstream)


def _attempted(known: Assignment, cells: dict[str, Any], mine: dict[str, bool] | None) -> dict[str, bool]:
    """Per exercise, whether the student wrote its answer: their notebook says; without one, the judge's typed
    `unfinished` (an answer still the released stub)."""
    if mine is not None:
        return mine
    return {known.tallies[g].exercise: c.passed or not c.unfinished for g, c in cells.items()}


def _count_failure(counted: Tally, cell: Any, attempted: bool, upstream: list[str]) -> None:
    """A failing cell, counted as the first that holds: not attempted, fails because an upstream answer
    fails, breaks the chapter's rule, a known mistake, another failure (by what its verdict said)."""
    counted.failed += 1
    known_mistake = cell.mistake is not None and cell.exercise == counted.exercise
    if not attempted:
        counted.not_attempted += 1
    elif upstream:
        counted.because[" and ".join(upstream)] += 1
    elif known_mistake and counted.rule[cell.mistake]:
        counted.broke_rule[cell.mistake] += 1
    elif known_mistake:
        counted.mistakes[cell.mistake] += 1
    else:
        counted.other += 1
        counted.said[gist(cell.verdict)] += 1


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
    assignments = [a for a in tally(course, entries) if a.tallies]
    if not assignments:
        return "nothing graded yet: run `gradbook-grader grade` first"
    out: list[str] = []
    for known in assignments:
        out += _assignment_lines(known, entries)
    return "\n".join(out).rstrip()


def _assignment_lines(known: Assignment, entries: Sequence[Graded]) -> list[str]:
    mine = list(known.tallies.values())
    name = mine[0].assignment
    judged = sum(1 for e in entries if e.assignment == name and e.result is not None and not e.error)
    untouched = (f", {known.untouched} untouched (none of its functions written: not counted below)"
                 if known.untouched else "")
    out = [f"{name}: {judged} graded submission{'s' if judged != 1 else ''}{untouched}"]
    for t in mine:
        out += _exercise_lines(t)
    return [*out, *_rule_and_commonest_lines(mine), ""]


def _rule_and_commonest_lines(mine: list[Tally]) -> list[str]:
    """The rule breaks of an assignment, apart; then its three commonest known mistakes."""
    out = []
    rules = [(c, t, i) for t in mine for i, c in t.broke_rule.items() if c]
    if rules:
        out.append("  the chapter's rule broken (not a wrong result; see the hint):")
        out += [f"    {c:4d}  {t.title}: {printable(t.hints[i])}" for c, t, i in sorted(rules, key=lambda x: -x[0])]
    top = sorted(((c, t, i) for t in mine for i, c in t.mistakes.items() if c), key=lambda x: (-x[0], x[1].grade_id))
    if top:
        out.append("  commonest: " + "; ".join(f"{t.title}: {printable(t.hints[i])} ({c})" for c, t, i in top[:3]))
    return out


def _exercise_lines(t: Tally) -> list[str]:
    out = [f"  {t.title} ({t.grade_id}): {t.failed} of {t.graded} failed"]
    made = [(index, count) for index, count in t.commonest() if count]
    out += [f"    {count:4d}  {printable(t.hints[index])}" for index, count in made]
    if len(t.commonest()) > len(made):
        unmade = len(t.commonest()) - len(made)
        out.append(f"       0  {'each of ' if unmade > 1 else ''}the {'other ' if made else ''}{unmade} known "
                   f"mistake{'s' if unmade > 1 else ''}")
    if sum(t.broke_rule.values()):
        out.append(f"    {sum(t.broke_rule.values()):4d}  (broke the chapter's rule: below)")
    for upstream, count in t.because.most_common():
        out.append(f"    {count:4d}  fails because {upstream} fails (counted there, not as a mistake of its own)")
    if t.other:
        out.append(f"    {t.other:4d}  (another mistake: none of the known ones); their verdicts said:")
        out += [f"          {count:4d}  {text}" for text, count in t.said.most_common(3)]
        if len(t.said) > 3:
            out.append(f"          {sum(t.said.values()) - sum(c for _, c in t.said.most_common(3)):4d}  (other things)")
    if t.not_attempted:
        out.append(f"    {t.not_attempted:4d}  (not attempted)")
    return out
