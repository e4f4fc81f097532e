"""Feedback HTML per graded submission, and the instructor's text report; both read nbgrader's gradebook.

The HTML is nbconvert's rendering of the graded notebook made safe by `sanitize` (restored
cells, trusted check verdicts, the student's own text shown as text, hidden tests already
stripped by the grader), headed by a summary from the gradebook (`grades`): points per
exercise (a person's scores and comments from the formgrader included), the late penalty, the
reason for every lost point, and what the sandbox noticed. As a second guard, any hidden-test
region still present is removed and the page is refused if a hidden test line of the source
would appear in it (unless the student wrote that line in their own cells: it is theirs, not a
leak). The page is written as nbgrader's generate_feedback writes it,
feedback/<student>/<assignment>/<assignment>.html, beside the submission's timestamp.txt and
submission_secret.txt, so `nbgrader release_feedback` and the student's `fetch_feedback`
deliver it.

Each submission is its own page: one that cannot be rendered is recorded with its reason and
every other page is still written. The report escapes whatever a student controls, so nothing
they wrote drives the instructor's terminal.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from gradbook_grader.course import Course, GraderError
from gradbook_grader.files import write_atomic
from gradbook_grader.grades import CellScore, Graded, as_graded, read
from gradbook_grader.journal import Result
from gradbook_grader.late import describe
from gradbook_grader.nbcells import HIDDEN_MARKER, hidden_lines, is_test_cell, strip_hidden_tests
from gradbook_grader.sanitize import safe_notebook
from gradbook_grader.text import printable, scrub

if TYPE_CHECKING:
    import nbformat
    from nbconvert import HTMLExporter

TAG = re.compile(r"<[^>]*>")


def visible_text(page: str) -> str:
    """What a reader of the HTML sees: tags (syntax highlighting splits code into spans) removed."""
    return html.unescape(TAG.sub("", page))


def summary_html(entry: Graded | Result) -> str:
    """The head of the page: score (late penalty included), points per exercise, why points were lost,
    a person's comments, grader notes (all escaped).

    tex2jax_ignore: MathJax leaves the student-controlled text alone.
    """
    def e(text: str | None) -> str:
        return html.escape(scrub(text or ""))

    entry = as_graded([entry])[0]
    rows = "".join(
        f"<tr><td><code>{e(c.grade_id)}</code></td><td>{_cell_points(c)}</td><td>{_mark(c)}</td></tr>"
        for c in entry.cells.values()
    )
    lost = [c for c in entry.cells.values() if c.points < c.max_points and not _awaited(c)]
    reasons = "".join(
        f"<li><code>{e(c.grade_id)}</code> ({_points(c.max_points - c.points)} lost):<pre>{e(_why(c))}</pre></li>"
        for c in lost
    )
    comments = "".join(f"<li><code>{e(c.grade_id)}</code>: <pre>{e(c.comment)}</pre></li>"
                       for c in entry.cells.values() if c.comment and c not in lost)
    notes = "".join(f"<li>{e(x)}</li>" for x in (entry.result.events if entry.result else []))
    parts = [
        f"<h1>Feedback: {e(entry.assignment)}</h1>",
        f"<p>Student: <code>{e(entry.student)}</code> &nbsp; Score: <b>{entry.score:g} / {entry.max_score:g}</b></p>",
        f"<p>{e(_lateness(entry))}</p>" if entry.seconds_late > 0 else "",
        f"<p><b>Error:</b> {e(entry.error)}</p>" if entry.error else "",
        f"<table><thead><tr><th>exercise</th><th>points</th><th>passed</th></tr></thead><tbody>{rows}</tbody></table>",
        f"<h2>Why points were lost</h2><ul>{reasons}</ul>" if reasons else "",
        f"<h2>Comments</h2><ul>{comments}</ul>" if comments else "",
        f"<h2>Notes from the grader</h2><ul>{notes}</ul>" if notes else "",
    ]
    return ('<section class="gradbook-feedback tex2jax_ignore" style="margin: 1em 2em">' + "".join(parts)
            + "</section><hr>")


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def _awaited(cell: CellScore) -> bool:
    """A written answer no person has scored yet."""
    return cell.written and cell.manual is None and cell.auto is None


def _cell_points(cell: CellScore) -> str:
    return "to be graded" if _awaited(cell) else f"{cell.points:g} / {cell.max_points:g}"


def _mark(cell: CellScore) -> str:
    if cell.written:
        return "written answer"
    return "&#10004;" if cell.points >= cell.max_points else "&#10008;"


def _why(cell: CellScore) -> str:
    """Why a cell lost points: a person's comment and the automatic verdict, each if there is one."""
    return "\n\n".join(t for t in (cell.comment, cell.verdict if not cell.written else "") if t) or "no reason given"


def _lateness(entry: Graded) -> str:
    when = f"submitted {entry.timestamp:%Y-%m-%d %H:%M:%S} UTC, " if entry.timestamp else ""
    penalty = f": late penalty {entry.penalty:g} (score {entry.raw_score:g} - {entry.penalty:g})" if entry.penalty else ""
    return f"{when}{describe(entry.seconds_late)}{penalty}"


def render(entry: Graded | Result, graded: "nbformat.NotebookNode | None", source: "nbformat.NotebookNode",
           exporter: "HTMLExporter | None" = None) -> str:
    """The feedback page; GraderError if it would reveal a hidden test the student did not write.

    `exporter`: nbconvert's, reused across pages (building one reads every template again).
    """
    from nbconvert import HTMLExporter

    exporter = exporter or HTMLExporter(template_name="lab")
    nb = safe_notebook(graded if graded is not None else {}, source)
    for cell in nb.cells:
        cell.source = strip_hidden_tests(cell.source)
    own = [c.source for c in nb.cells if not is_test_cell(c)]  # the student's own cells (shown as text: unescaped)
    theirs = "\n".join(own + [html.unescape(text) for text in own])
    body, _ = exporter.from_notebook_node(nb)
    main = body.find("<main>")
    at = main + len("<main>") if main >= 0 else body.find(">", body.find("<body")) + 1
    body = body[:at] + summary_html(entry) + body[at:]  # the grader's own, trusted, escaped HTML
    text = visible_text(body)
    leaked = [line for line in hidden_lines(source) if line in text and line not in theirs]
    marker = HIDDEN_MARKER
    if leaked or (marker in text and marker not in theirs):
        raise GraderError(
            f"the feedback would reveal hidden tests ({printable(leaked[0]) if leaked else marker!r}): "
            "not written. The graded notebook still contains them: regrade it with --force."
        )
    return body


@dataclass
class FeedbackRun:
    written: list[Path] = field(default_factory=list)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, assignment) -> why


def run_feedback(course: Course, assignment: str | None = None, student: str | None = None) -> FeedbackRun:
    """Feedback HTML for every submission in the gradebook (and every one only the journal holds):
    feedback/<student>/<assignment>/<assignment>.html, with nbgrader's timestamp.txt and
    submission_secret.txt beside it.

    A page that cannot be rendered is recorded in `failed` (and an older page of it removed, so
    no stale feedback goes out); the others are written regardless.
    """
    import nbformat
    from nbconvert import HTMLExporter

    run = FeedbackRun()
    exporter = HTMLExporter(template_name="lab")
    sources: dict[str, nbformat.NotebookNode] = {}
    for entry in read(course, assignment, student).graded:
        target = course.feedback_dir(entry.student, entry.assignment) / f"{entry.assignment}.html"
        try:
            if entry.assignment not in sources:
                sources[entry.assignment] = nbformat.read(course.source(entry.assignment), as_version=4)
            write_atomic(target, render(entry, _graded(course, entry), sources[entry.assignment], exporter))
            _side_files(course, entry)
            run.written.append(target)
        except Exception as exc:  # this page only; the batch goes on
            run.failed[(entry.student, entry.assignment)] = (
                str(exc) if isinstance(exc, GraderError) else f"{type(exc).__name__}: {exc}")
            target.unlink(missing_ok=True)
    return run


def _side_files(course: Course, entry: Graded) -> None:
    """nbgrader's timestamp.txt and submission_secret.txt from autograded/ (as its generate_feedback copies
    them): `nbgrader release_feedback` names the page the student fetches after the secret."""
    for name in ("timestamp.txt", "submission_secret.txt"):
        target = course.feedback_dir(entry.student, entry.assignment) / name
        try:
            write_atomic(target, (course.autograded(entry.student, entry.assignment) / name).read_bytes())
        except FileNotFoundError:
            target.unlink(missing_ok=True)


def write_feedback(course: Course, assignment: str | None = None, student: str | None = None) -> list[Path]:
    """The pages written by `run_feedback` (which also says which could not be)."""
    return run_feedback(course, assignment, student).written


def _graded(course: Course, entry: Graded) -> "nbformat.NotebookNode | None":
    """The graded notebook of a submission, or None (a lost one still gets its summary)."""
    import json

    import nbformat

    name = entry.result.notebook if entry.result else f"{entry.assignment}.ipynb"
    if not name:
        return None
    try:
        text = (course.autograded(entry.student, entry.assignment) / name).read_text(encoding="utf-8")
        return nbformat.from_dict(json.loads(text))
    except (OSError, ValueError, RecursionError):
        return None


def report_text(entries: Sequence[Graded | Result]) -> str:
    """Per submission: points per exercise (a person's included), the late penalty, the reason for each
    lost point, comments, the cells awaiting a person, events, flags, notes.

    Everything a student controls is passed through `printable`: escape sequences, carriage
    returns and bidirectional overrides show as escapes, never act on the terminal.
    """
    one = printable
    out = []
    for g in as_graded(entries):
        r = g.result
        head = f"{one(g.student)} / {one(g.assignment)}: {g.score:g} / {g.max_score:g}"
        if g.penalty:
            head += f"  (raw {g.raw_score:g}, late penalty {g.penalty:g})"
        if r is not None and not r.sandboxed and not r.error:
            head += "  [NOT SANDBOXED]"
        if g.flagged:
            head += "  [FLAGGED]"
        if g.seconds_late > 0:
            head += f"  [LATE: {describe(g.seconds_late)}]"
        if g.awaiting:
            head += f"  [TO GRADE BY HAND: {', '.join(one(c) for c in g.awaiting)}]"
        if not g.stored:
            head += "  [NOT IN THE GRADEBOOK]"
        out.append(head)
        if g.error:
            out.append(f"  error: {one(g.error)}")
        for c in g.cells.values():
            out.append(f"  {one(c.grade_id)}: {_cell_points(c)}" + (" (by hand)" if c.manual is not None else ""))
            if c.points < c.max_points and c.verdict and c.verdict != g.error and not c.written:
                out.extend(f"      {one(line)}" for line in c.verdict.strip().splitlines())
            if c.comment:
                out.extend(f"      comment: {one(line)}" for line in c.comment.strip().splitlines())
        out.extend(f"  event: {one(e)}" for e in (r.events if r else []))
        out.extend(f"  integrity: {one(line)}" for line in (r.integrity if r else []))
        out.extend(f"  similarity: {one(line)}" for line in g.similarity)
        out.extend(f"  note: {one(n)}" for n in g.all_notes)
    return "\n".join(out)
