"""Feedback HTML per graded submission, and the instructor's text report.

The HTML is nbconvert's rendering of the graded notebook made safe by `sanitize` (restored
cells, trusted check verdicts, the student's own text shown as text, hidden tests already
stripped by the grader), headed by a summary: points per exercise, the reason for every lost
point, and what the sandbox noticed. As a second guard, any hidden-test region still present
is removed and the page is refused if a hidden test line of the source would appear in it
(unless the student wrote that line in their own cells: it is theirs, not a leak).

Each submission is its own page: one that cannot be rendered is recorded with its reason and
every other page is still written. The report escapes whatever a student controls, so nothing
they wrote drives the instructor's terminal.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gradbook_grader.course import Course, GraderError
from gradbook_grader.files import write_atomic
from gradbook_grader.journal import Result, journal
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


def summary_html(result: Result) -> str:
    """The head of the page: score, points per exercise, why points were lost, grader notes (all escaped).

    tex2jax_ignore: MathJax leaves the student-controlled text alone.
    """
    def e(text: str | None) -> str:
        return html.escape(scrub(text or ""))

    rows = "".join(
        f"<tr><td><code>{e(c.grade_id)}</code></td><td>{c.points:g} / {c.max_points:g}</td>"
        f"<td>{'&#10004;' if c.passed else '&#10008;'}</td></tr>"
        for c in result.cells.values()
    )
    lost = [c for c in result.cells.values() if c.points < c.max_points]
    reasons = "".join(
        f"<li><code>{e(c.grade_id)}</code> ({_points(c.max_points - c.points)} lost):<pre>{e(c.message)}</pre></li>"
        for c in lost
    )
    notes = "".join(f"<li>{e(x)}</li>" for x in result.events)
    parts = [
        f"<h1>Feedback: {e(result.assignment)}</h1>",
        f"<p>Student: <code>{e(result.student)}</code> &nbsp; Score: <b>{result.score:g} / {result.max_score:g}</b></p>",
        f"<p><b>Error:</b> {e(result.error)}</p>" if result.error else "",
        f"<table><thead><tr><th>exercise</th><th>points</th><th>passed</th></tr></thead><tbody>{rows}</tbody></table>",
        f"<h2>Why points were lost</h2><ul>{reasons}</ul>" if reasons else "",
        f"<h2>Notes from the grader</h2><ul>{notes}</ul>" if notes else "",
    ]
    return ('<section class="gradbook-feedback tex2jax_ignore" style="margin: 1em 2em">' + "".join(parts)
            + "</section><hr>")


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def render(result: Result, graded: "nbformat.NotebookNode | None", source: "nbformat.NotebookNode",
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
    body = body[:at] + summary_html(result) + body[at:]  # the grader's own, trusted, escaped HTML
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
    """Feedback HTML for every journalled result: feedback/<student>/<assignment>/<assignment>.html.

    A page that cannot be rendered is recorded in `failed` (and an older page of it removed, so
    no stale feedback goes out); the others are written regardless.
    """
    import nbformat
    from nbconvert import HTMLExporter

    run = FeedbackRun()
    exporter = HTMLExporter(template_name="lab")
    sources: dict[str, nbformat.NotebookNode] = {}
    for result in journal(course, assignment):
        if student is not None and result.student != student:
            continue
        target = course.feedback_dir(result.student, result.assignment) / f"{result.assignment}.html"
        try:
            if result.assignment not in sources:
                sources[result.assignment] = nbformat.read(course.source(result.assignment), as_version=4)
            write_atomic(target, render(result, _graded(course, result), sources[result.assignment], exporter))
            run.written.append(target)
        except Exception as exc:  # this page only; the batch goes on
            run.failed[(result.student, result.assignment)] = (
                str(exc) if isinstance(exc, GraderError) else f"{type(exc).__name__}: {exc}")
            target.unlink(missing_ok=True)
    return run


def write_feedback(course: Course, assignment: str | None = None, student: str | None = None) -> list[Path]:
    """The pages written by `run_feedback` (which also says which could not be)."""
    return run_feedback(course, assignment, student).written


def _graded(course: Course, result: Result) -> "nbformat.NotebookNode | None":
    """The graded notebook of a result, or None (a lost one still gets its summary)."""
    import json

    import nbformat

    if not result.notebook:
        return None
    try:
        text = (course.autograded(result.student, result.assignment) / result.notebook).read_text(encoding="utf-8")
        return nbformat.from_dict(json.loads(text))
    except (OSError, ValueError, RecursionError):
        return None


def report_text(results: list[Result]) -> str:
    """Per submission: points per exercise, the reason for each lost point, events, flags, notes.

    Everything a student controls is passed through `printable`: escape sequences, carriage
    returns and bidirectional overrides show as escapes, never act on the terminal.
    """
    one = printable
    out = []
    for r in results:
        head = f"{one(r.student)} / {one(r.assignment)}: {r.score:g} / {r.max_score:g}"
        if not r.sandboxed and not r.error:
            head += "  [NOT SANDBOXED]"
        if r.evidence:
            head += "  [FLAGGED]"
        out.append(head)
        if r.error:
            out.append(f"  error: {one(r.error)}")
        for c in r.cells.values():
            out.append(f"  {one(c.grade_id)}: {c.points:g} / {c.max_points:g}")
            if c.points < c.max_points and c.message and c.message != r.error:
                out.extend(f"      {one(line)}" for line in c.message.strip().splitlines())
        out.extend(f"  event: {one(e)}" for e in r.events)
        out.extend(f"  integrity: {one(line)}" for line in r.integrity)
        out.extend(f"  note: {one(n)}" for n in r.notes)
    return "\n".join(out)
