"""Written answers, question by question: every student's answer to one question, and a person's score
and comment written to nbgrader's own `Grade.manual_score` and `Comment.manual_comment`.

The answers are read from the graded notebooks (`autograded/<student>/<assignment>/`, the ones the
formgrader shows); the scores and comments from nbgrader's gradebook, and written back there as the
formgrader's own API writes them (a manual score clears "needs manual grade"), so the formgrader,
`report`, `feedback` and every export show them. A score is written only to answers that are still
what the grader saw: each answer carries a digest of its text, and one that changed since (a
resubmission graded meanwhile) is left alone and reported, never scored blind.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from gradbook_grader.course import Course, GraderError, released_answers
from gradbook_grader.nbcells import grade_id, is_graded, is_solution
from gradbook_grader.sanitize import shown_text
from gradbook_grader.answer_groups import normalise
from gradbook_grader.text import scrub

if TYPE_CHECKING:
    from nbgrader.api import Comment, Grade, Gradebook

MAX_ANSWER = 20_000  # characters shown of one answer (a pasted essay is cut, and says so)


@dataclass
class Question:
    """A written-answer question: an nbgrader "manually graded answer" (a graded Markdown solution cell)."""

    grade_id: str
    points: float
    prompt: str  # the Markdown cell before it, as the student read it
    model: str  # the model answer (instructor's eyes only)
    template: str  # what the student was given to replace ("YOUR ANSWER HERE")


@dataclass
class Answer:
    student: str
    text: str
    digest: str  # of the text: a score goes only to the answer the grader saw
    blank: bool  # no answer: empty, the released template, or nbgrader's "No response."
    graded: bool  # not in the formgrader's "needs manual grade" queue
    score: float | None  # the person's score, else the automatic one (0 for no response), else None
    comment: str = ""


@dataclass
class Answers:
    question: Question
    answers: list[Answer]
    missing: list[str] = field(default_factory=list)  # in the gradebook, without a graded notebook to read


def questions(course: Course, assignment: str) -> list[Question]:
    """The assignment's written-answer questions, in the notebook's order."""
    import nbformat

    from gradbook_grader.nbcells import SOLUTION_MARKERS, points

    source = nbformat.read(course.source(assignment), as_version=4)
    templates = released_answers(course, source)
    found = []
    for n, cell in enumerate(source.cells):
        gid = grade_id(cell)
        if cell.cell_type == "markdown" and gid and is_graded(cell) and is_solution(cell):
            before = source.cells[n - 1] if n else None
            prompt = before.source if before is not None and before.cell_type == "markdown" and not is_graded(before) else ""
            model = "\n".join(line for line in cell.source.splitlines() if line.strip() not in SOLUTION_MARKERS)
            found.append(Question(gid, points(cell), prompt, model.strip(), templates.get(gid, "")))
    return found


def question(course: Course, assignment: str, gid: str) -> Question:
    found = questions(course, assignment)
    for q in found:
        if q.grade_id == gid:
            return q
    known = ", ".join(q.grade_id for q in found) or "none (it has no manually graded answer cell)"
    raise GraderError(f"{assignment} has no written-answer question {gid!r}; its questions: {known}")


def _rows(gb: "Gradebook", assignment: str, gid: str) -> dict[str, tuple["Grade", "Comment | None"]]:
    """student -> (Grade, Comment) of one question, for every submission in the gradebook (two queries,
    as nbgrader's find_grade and find_comment make them, without the student)."""
    from nbgrader.api import Assignment, Comment, Grade, GradeCell, Notebook, SolutionCell, SubmittedAssignment, \
        SubmittedNotebook

    def query(model: Any, cell: Any, key: Any) -> Any:
        return (gb.db.query(SubmittedAssignment.student_id, model)
                .join(cell, cell.id == key)
                .join(SubmittedNotebook, SubmittedNotebook.id == model.notebook_id)
                .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                .filter(cell.name == gid, Notebook.name == assignment, Assignment.name == assignment))

    comments = dict(query(Comment, SolutionCell, Comment.cell_id).all())
    return {student: (grade, comments.get(student)) for student, grade in query(Grade, GradeCell, Grade.cell_id).all()}


class AnswerReader:
    """Reads a student's answer from their graded notebook, each notebook once until it changes."""

    def __init__(self, course: Course, assignment: str) -> None:
        self.course, self.assignment = course, assignment
        self._cache: dict[Path, tuple[tuple[int, int], dict[str, str]]] = {}

    def texts(self, student: str) -> dict[str, str] | None:
        """grade_id -> the text of each written answer of the student's graded notebook (None: no notebook)."""
        where = self.course.autograded(student, self.assignment) / f"{self.assignment}.ipynb"
        try:
            stat = os.stat(where)
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(where)
        if cached is None or cached[0] != stamp:
            try:  # plain JSON, not nbformat.read: its validation costs more than the page (2,000 notebooks)
                cells = json.loads(where.read_bytes())["cells"]
            except Exception:  # a graded notebook the grader wrote, damaged since: no answer to show
                return None
            texts: dict[str, str] = {}
            for cell in cells if isinstance(cells, list) else []:
                gid = grade_id(cell)
                if gid and is_solution(cell) and gid not in texts:
                    source = cell.get("source", "")
                    text = "".join(source) if isinstance(source, list) else str(source)
                    texts[gid] = shown_text(scrub(text))  # the grader stored it escaped (sanitize.as_text)
            self._cache[where] = cached = (stamp, texts)
        return cached[1]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:20]


def answers(gb: "Gradebook", reader: AnswerReader, q: Question) -> Answers:
    """Every stored submission's answer to `q`, with its score and comment in the gradebook."""
    empty = {"", normalise(q.template)}
    out = Answers(q, [])
    for student, (grade, comment) in sorted(_rows(gb, reader.assignment, q.grade_id).items()):
        texts = reader.texts(student)
        if texts is None:
            out.missing.append(student)
            continue
        text = texts.get(q.grade_id, "")
        # The writer gives a written answer an automatic score only when it is still as released (0, "No response.").
        no_response = grade.auto_score is not None
        shown = text if len(text) <= MAX_ANSWER else text[:MAX_ANSWER] + f"\n[… {len(text) - MAX_ANSWER} more characters]"
        score = grade.manual_score if grade.manual_score is not None else grade.auto_score
        said = (comment.manual_comment or comment.auto_comment or "") if comment is not None else ""
        out.answers.append(Answer(student, shown, digest(text), no_response or normalise(text) in empty,
                                  not grade.needs_manual_grade, score, said))
    return out


@dataclass
class Applied:
    saved: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # changed since the grader saw it (or gone): not scored


def apply(gb: "Gradebook", reader: AnswerReader, q: Question, seen: Mapping[str, str], score: float,
          comment: str) -> Applied:
    """Score and comment every answer in `seen` (student -> the digest of the answer the grader saw) that
    is still that answer, as the formgrader does: manual score, not awaiting a person, manual comment."""
    if not 0 <= score <= q.points:
        raise ValueError(f"a score of {q.grade_id} is between 0 and {q.points:g} (got {score:g})")
    rows = _rows(gb, reader.assignment, q.grade_id)
    done = Applied()
    for student, seen_digest in seen.items():
        texts = reader.texts(student) if student in rows else None
        if texts is None or digest(texts.get(q.grade_id, "")) != seen_digest:
            done.stale.append(student)
            continue
        grade, note = rows[student]
        grade.manual_score = float(score)
        grade.needs_manual_grade = False
        if note is not None:
            note.manual_comment = scrub(comment) or None
        done.saved.append(student)
    gb.db.commit()
    return done
