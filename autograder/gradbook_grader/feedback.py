"""Feedback HTML per graded submission, and the instructor's text report.

The HTML is nbconvert's rendering of the graded notebook (restored cells, trusted check
verdicts, hidden tests already stripped by the grader), headed by a summary: points per
exercise, the reason for every lost point, and what the sandbox noticed. As a second
guard, any hidden-test region still present is removed and the page is refused if a
hidden test line of the source would appear in it.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

from gradbook_grader.batch import Result, _write_atomic, journal
from gradbook_grader.course import Course, GraderError

if TYPE_CHECKING:
    import nbformat

HIDDEN = re.compile(r"[ \t]*#+[ \t]*BEGIN HIDDEN TESTS.*?#+[ \t]*END HIDDEN TESTS[^\n]*\n?", re.S)
HIDDEN_BLOCK = re.compile(r"#+[ \t]*BEGIN HIDDEN TESTS[^\n]*\n(.*?)#+[ \t]*END HIDDEN TESTS", re.S)
TAG = re.compile(r"<[^>]*>")


def visible_text(page: str) -> str:
    """What a reader of the HTML sees: tags (syntax highlighting splits code into spans) removed."""
    return html.unescape(TAG.sub("", page))


def hidden_lines(source: "nbformat.NotebookNode") -> set[str]:
    """The non-blank lines of every hidden-test region of the source notebook."""
    lines = set()
    for cell in source.cells:
        for block in HIDDEN_BLOCK.findall(cell.source):
            lines.update(line.strip() for line in block.splitlines() if line.strip())
    return lines


def summary_html(result: Result) -> str:
    """The head of the page: score, points per exercise, why points were lost, grader notes (all escaped)."""
    e = html.escape
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
    return '<section class="gradbook-feedback" style="margin: 1em 2em">' + "".join(parts) + "</section><hr>"


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def _defused(cell: "nbformat.NotebookNode", trusted_markdown: set[str]) -> "nbformat.NotebookNode":
    """A cell safe to render: no hidden tests, and nothing the student wrote runs in a reader's browser.

    The instructor's markdown renders as is; the student's is shown as escaped text, and
    rich outputs are reduced to plain text and images (nbconvert's own sanitizer would also
    mangle the instructor's headings).
    """
    cell.source = HIDDEN.sub("", cell.source)
    if cell.cell_type == "raw" or (cell.cell_type == "markdown" and cell.source not in trusted_markdown):
        # As text: escaped, so neither HTML nor a javascript: link in markdown survives.
        cell.cell_type, cell.source = "markdown", f'<pre style="white-space: pre-wrap">{html.escape(cell.source)}</pre>'
        cell.pop("attachments", None)
    for output in cell.get("outputs", []):
        data = output.get("data")
        if isinstance(data, dict):
            text = data.get("text/plain") or data.get("text/markdown") or data.get("text/latex") or ""
            output["data"] = {k: v for k, v in data.items() if k in ("image/png", "image/jpeg")}
            if text or not output["data"]:
                output["data"]["text/plain"] = text
    return cell


def render(result: Result, graded: "nbformat.NotebookNode | None", source: "nbformat.NotebookNode") -> str:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook(metadata=graded.metadata if graded is not None else {})
    trusted = {c.source for c in source.cells if c.cell_type == "markdown"}
    for cell in graded.cells if graded is not None else []:
        nb.cells.append(_defused(nbformat.from_dict(cell), trusted))
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    main = body.find("<main>")
    at = main + len("<main>") if main >= 0 else body.find(">", body.find("<body")) + 1
    body = body[:at] + summary_html(result) + body[at:]  # the grader's own, trusted, escaped HTML
    text = visible_text(body)
    leaked = [line for line in hidden_lines(source) if line in text]
    if "HIDDEN TESTS" in text or leaked:
        raise GraderError(
            f"feedback for {result.student}/{result.assignment} would reveal hidden tests ({leaked[:1]}); "
            "not written. The graded notebook still contains them: regrade with --force."
        )
    return body


def write_feedback(course: Course, assignment: str | None = None, student: str | None = None) -> list[Path]:
    """Feedback HTML for every journalled result: feedback/<student>/<assignment>/<assignment>.html."""
    import nbformat

    written = []
    sources: dict[str, nbformat.NotebookNode] = {}
    for result in journal(course, assignment):
        if student is not None and result.student != student:
            continue
        if result.assignment not in sources:
            sources[result.assignment] = nbformat.read(course.source(result.assignment), as_version=4)
        graded = None
        if result.notebook:
            path = course.autograded(result.student, result.assignment) / result.notebook
            try:
                graded = nbformat.read(path, as_version=4)
            except Exception:  # a lost graded notebook still gets its summary
                graded = None
        target = course.feedback_dir(result.student, result.assignment) / f"{result.assignment}.html"
        _write_atomic(target, render(result, graded, sources[result.assignment]))
        written.append(target)
    return written


def report_text(results: list[Result]) -> str:
    """Per submission: points per exercise, the reason for each lost point, sandbox/tamper events."""
    out = []
    for r in results:
        head = f"{r.student} / {r.assignment}: {r.score:g} / {r.max_score:g}"
        if not r.sandboxed and not r.error:
            head += "  [NOT SANDBOXED]"
        out.append(head)
        if r.error:
            out.append(f"  error: {r.error}")
        for c in r.cells.values():
            out.append(f"  {c.grade_id}: {c.points:g} / {c.max_points:g}")
            if c.points < c.max_points and c.message and c.message != r.error:
                out.extend(f"      {line}" for line in c.message.strip().splitlines())
        out.extend(f"  event: {e}" for e in r.events)
    return "\n".join(out)
