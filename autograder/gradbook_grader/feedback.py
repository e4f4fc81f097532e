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
every other page is still written. One submission cannot hold up the others' pages (issue 23):

* a page has a budget (`PageBudget`): cells, text and outputs over it are left out before
  rendering, and the page says what was left out; a page that still takes longer than its
  seconds to render, or comes out larger than its bytes, is replaced by a short page (the summary)
  that says so;
* pages render in parallel on the workers that grade (`workers` local processes, the batch's
  pool, or the Dask cluster of `grade --scheduler`), with a progress bar;
* it resumes like grading: each page carries the key of what it shows (the graded notebook, the
  summary, the source, the budget), and a page whose key is unchanged is not rendered again, so a
  run that was stopped continues where it was.

The report escapes whatever a student controls, so nothing they wrote drives the instructor's
terminal.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import re
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from gradbook_grader.course import Course, GraderError
from gradbook_grader.files import write_atomic
from gradbook_grader.grades import CellScore, Graded, as_graded, read
from gradbook_grader.journal import Result
from gradbook_grader.late import describe, extension_text
from gradbook_grader.nbcells import HIDDEN_MARKER, hidden_lines, is_test_cell, strip_hidden_tests
from gradbook_grader.pagebudget import PageBudget, left_out_html, within
from gradbook_grader.sanitize import safe_notebook
from gradbook_grader.text import printable, scrub
from gradbook_grader.types import is_host_event

if TYPE_CHECKING:
    import nbformat
    from nbconvert import HTMLExporter

    from gradbook_grader.cluster import DaskEngine

TAG = re.compile(r"<[^>]*>")
PAGE_VERSION = "gradbook-feedback-v1"  # part of every page's key: a new renderer renders every page again
_KEY = re.compile(rb"<!-- gradbook-feedback ([0-9a-f]{64}) -->")


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
    rows, reasons, comments, notes = _summary_lists(entry, e)
    parts = [
        f"<h1>Feedback: {e(entry.assignment)}</h1>",
        f"<p>Student: <code>{e(entry.student)}</code> &nbsp; Score: <b>{entry.score:g} / {entry.max_score:g}</b></p>",
        f"<p>{e(_lateness(entry))}</p>" if entry.seconds_late > 0 or entry.extension else "",
        f"<p><b>Error:</b> {e(entry.error)}</p>" if entry.error else "",
        f"<table><thead><tr><th>exercise</th><th>points</th><th>passed</th></tr></thead><tbody>{rows}</tbody></table>",
        f"<h2>Why points were lost</h2><ul>{reasons}</ul>" if reasons else "",
        f"<h2>Comments</h2><ul>{comments}</ul>" if comments else "",
        f"<h2>Notes from the grader</h2><ul>{notes}</ul>" if notes else "",
    ]
    return ('<section class="gradbook-feedback tex2jax_ignore" style="margin: 1em 2em">' + "".join(parts)
            + "</section><hr>")


def _summary_lists(entry: Graded, e: Callable[[str | None], str]) -> tuple[str, str, str, str]:
    """The summary's table rows, and its lists: why points were lost, comments, the grader's notes (escaped by `e`)."""
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
    notes = "".join(f"<li>{e(x)}</li>" for x in (entry.result.events if entry.result else []) if not is_host_event(x))
    return rows, reasons, comments, notes


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
    late = describe(entry.seconds_late) if entry.seconds_late > 0 else "on time"
    extended = extension_text(entry.extension, entry.duedate)
    return f"{when}{late}{penalty}" + (f" ({extended})" if extended else "")


def render(entry: Graded | Result, graded: "nbformat.NotebookNode | None", source: "nbformat.NotebookNode",
           exporter: "HTMLExporter | None" = None, budget: PageBudget | None = None) -> str:
    """The feedback page; GraderError if it would reveal a hidden test the student did not write.

    `exporter`: nbconvert's, reused across pages (building one reads every template again).
    `budget`: what was left out of the notebook to fit it is said at the head of the page; the
    time and size limits are `render_within`'s.
    """
    from nbconvert import HTMLExporter

    exporter = exporter or HTMLExporter(template_name="lab")
    raw, left_out = within(graded if graded is not None else {}, budget or PageBudget())
    nb = safe_notebook(raw, source)
    for cell in nb.cells:
        cell.source = strip_hidden_tests(cell.source)
    body, _ = exporter.from_notebook_node(nb)
    main = body.find("<main>")
    at = main + len("<main>") if main >= 0 else body.find(">", body.find("<body")) + 1
    body = body[:at] + summary_html(entry) + left_out_html(left_out) + body[at:]  # the grader's own, escaped
    return _checked(body, nb, source)


def _checked(body: str, nb: "nbformat.NotebookNode", source: "nbformat.NotebookNode") -> str:
    """`body`, unless it shows a hidden test line of the source that the student did not write themselves."""
    own = [c.source for c in nb.cells if not is_test_cell(c)]  # the student's own cells (shown as text: unescaped)
    theirs = "\n".join(own + [html.unescape(text) for text in own])
    text = visible_text(body)
    leaked = [line for line in hidden_lines(source) if line in text and line not in theirs]
    marker = HIDDEN_MARKER
    if leaked or (marker in text and marker not in theirs):
        raise GraderError(
            f"the feedback would reveal hidden tests ({printable(leaked[0]) if leaked else marker!r}): "
            "not written. The graded notebook still contains them: regrade it with --force."
        )
    return body


def short_page(entry: Graded | Result, source: "nbformat.NotebookNode", why: str) -> str:
    """The page that stands in for one over its budget: the summary (every point and reason), and why."""
    note = (f'<section class="gradbook-feedback" style="margin: 1em 2em"><h2>Your notebook is not shown</h2>'
            f"<p>{html.escape(why)}. Your points and the reasons for them are above; your instructor has the "
            "graded notebook.</p></section>")
    body = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Feedback</title></head><body><main>'
            f"{summary_html(entry)}{note}</main></body></html>\n")
    import nbformat

    return _checked(body, nbformat.v4.new_notebook(), source)


class PageTooSlow(BaseException):
    """Rendering one page took longer than its budget (a BaseException: no library's `except Exception` keeps
    rendering after it)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise `PageTooSlow` in this code after `seconds` (the main thread of a process: a worker of the
    local pool, or a run without one). Elsewhere (a Dask worker's thread) the page's size budget,
    applied before rendering, is what bounds its time, and the time is checked when it ends."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        began = time.monotonic()
        yield
        if time.monotonic() - began > seconds:
            raise PageTooSlow
        return

    def expired(signum: int, frame: Any) -> None:
        raise PageTooSlow

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # and again every second, should code swallow it
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """A rendered page (plain data, from a worker), or why it was refused."""

    page: str | None
    refused: str | None = None
    seconds: float = 0.0
    short: bool = False  # the stand-in page of one over its budget


def render_within(entry: Graded | Result, graded_json: bytes, source: "nbformat.NotebookNode",
                  exporter: "HTMLExporter", budget: PageBudget, key: str) -> Outcome:
    """One page under its budget (`render`), keyed; a page over its time or size is the short page."""
    began = time.monotonic()
    try:
        graded = _parse(graded_json)
        try:
            with _time_limit(budget.seconds):
                page = render(entry, graded, source, exporter, budget)
            size = len(page.encode("utf-8", "replace"))
            if size > budget.max_bytes:
                why = f"This page would be {size:,} bytes, more than the {budget.max_bytes:,} a feedback page may be"
                page, short = short_page(entry, source, why), True
            else:
                short = False
        except (PageTooSlow, MemoryError, RecursionError) as exc:
            why = (f"Your notebook took longer than the {budget.seconds:g} s a feedback page may take to render"
                   if isinstance(exc, PageTooSlow) else
                   f"Your notebook could not be rendered ({type(exc).__name__}: it is too large or too deeply nested "
                   "for a feedback page)")
            page, short = short_page(entry, source, f"{why}, so this short page stands in for it"), True
    except GraderError as exc:
        return Outcome(None, str(exc), time.monotonic() - began)
    return Outcome(_with_key(page, key), None, time.monotonic() - began, short)


def _parse(graded_json: bytes) -> Any:
    """The stored graded notebook, as plain JSON (untrusted shapes are `within`'s and `safe_notebook`'s)."""
    if not graded_json:
        return None
    try:
        return json.loads(graded_json.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


def _with_key(page: str, key: str) -> str:
    """The page with its key in a comment after the doctype (read back by `_page_key`)."""
    first, nl, rest = page.partition("\n")
    mark = f"<!-- gradbook-feedback {key} -->"
    return f"{first}\n{mark}\n{rest}" if first.lower().startswith("<!doctype") else f"{mark}\n{page}"


def _page_key(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    found = _KEY.search(head)
    return found.group(1).decode() if found else None


def page_key(entry: Graded, graded_json: bytes, source_json: str, budget: PageBudget) -> str:
    """Equal keys, equal pages: the renderer, the graded notebook, the summary (grades, a person's scores,
    comments, lateness), the source and the budget."""
    h = hashlib.sha256(PAGE_VERSION.encode() + b"\0")
    for part in (hashlib.sha256(graded_json).hexdigest(), summary_html(entry),
                 hashlib.sha256(source_json.encode()).hexdigest(), json.dumps(asdict(budget), sort_keys=True)):
        h.update(part.encode("utf-8", "replace") + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------- rendering on workers

_WORKER: dict[str, Any] = {}


def _init_worker(sources: dict[str, str], budget: PageBudget) -> None:
    """Once per worker process: the sources parsed and nbconvert's exporter built (it reads its templates)."""
    import nbformat
    from nbconvert import HTMLExporter

    _WORKER.update(sources={a: nbformat.reads(text, as_version=4) for a, text in sources.items()},
                   exporter=HTMLExporter(template_name="lab"), budget=budget)


def _render_in_worker(entry: Graded, graded_json: bytes, key: str) -> Outcome:
    outcome = render_within(entry, graded_json, _WORKER["sources"][entry.assignment], _WORKER["exporter"],
                            _WORKER["budget"], key)
    if outcome.short:  # rendering may have been cut short anywhere in nbconvert: the next page gets a fresh one
        from nbconvert import HTMLExporter

        _WORKER["exporter"] = HTMLExporter(template_name="lab")
    return outcome


def _render_on_dask(sources: dict[str, str], budget: PageBudget, entry: Graded, graded_json: bytes, key: str) -> Outcome:
    """A Dask task: the worker keeps the parsed sources and the exporter for the next page."""
    digest = hashlib.sha256(json.dumps([sources, asdict(budget)], sort_keys=True).encode()).hexdigest()
    if _WORKER.get("digest") != digest:
        _init_worker(sources, budget)
        _WORKER["digest"] = digest
    return _render_in_worker(entry, graded_json, key)


@dataclass
class _Page:
    entry: Graded
    target: Path
    key: str
    graded_json: bytes

    def args(self) -> tuple:
        return (self.entry, self.graded_json, self.key)


@dataclass
class FeedbackRun:
    written: list[Path] = field(default_factory=list)  # written in this run, or already there unchanged
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, assignment) -> why
    reused: int = 0  # pages already written for the same grade (not rendered again)
    short: list[Path] = field(default_factory=list)  # pages over their budget, replaced by the short page
    seconds: dict[Path, float] = field(default_factory=dict)  # rendering time of each page rendered


def run_feedback(course: Course, assignment: str | None = None, student: str | None = None, *,
                 workers: int = 1, engine: "DaskEngine | None" = None, budget: PageBudget | None = None,
                 progress: bool = False, force: bool = False) -> FeedbackRun:
    """Feedback HTML for every submission in the gradebook (and every one only the journal holds):
    feedback/<student>/<assignment>/<assignment>.html, with nbgrader's timestamp.txt and
    submission_secret.txt beside it.

    Pages render on `workers` local processes (1: here), or on the Dask cluster of `engine`. A page
    whose key is unchanged is kept (`force`: render every page again). A page that cannot be
    rendered is recorded in `failed` (and an older page of it removed, so no stale feedback goes
    out); the others are written regardless.
    """
    from tqdm import tqdm

    budget = budget or PageBudget()
    run = FeedbackRun()
    sources: dict[str, str] = {}
    pages: list[_Page] = []
    entries = read(course, assignment, student).graded
    bar = tqdm(total=len(entries), desc="feedback", unit="page", disable=not progress)
    for entry in entries:
        target = course.feedback_dir(entry.student, entry.assignment) / f"{entry.assignment}.html"
        try:
            if entry.assignment not in sources:
                sources[entry.assignment] = course.source(entry.assignment).read_text(encoding="utf-8")
            graded_json = _graded_json(course, entry)
            page = _Page(entry, target, page_key(entry, graded_json, sources[entry.assignment], budget), graded_json)
        except Exception as exc:  # this page only; the batch goes on
            _failed(run, entry, target, f"{type(exc).__name__}: {exc}")
            bar.update()
            continue
        if not force and _page_key(target) == page.key:
            _write_side_files(course, run, page)
            run.reused += 1
            bar.update()
            continue
        pages.append(page)

    def done(page: _Page, outcome: Outcome) -> None:
        if outcome.page is None:
            _failed(run, page.entry, page.target, outcome.refused or "not rendered")
        else:
            try:
                write_atomic(page.target, outcome.page)
            except Exception as exc:
                _failed(run, page.entry, page.target, f"the page could not be written ({type(exc).__name__}: {exc})")
            else:
                run.seconds[page.target] = outcome.seconds
                if outcome.short:
                    run.short.append(page.target)
                _write_side_files(course, run, page)
        bar.update()

    def failed(page: _Page, why: str) -> None:
        _failed(run, page.entry, page.target, why)
        bar.update()

    try:
        _render_all(pages, sources, budget, workers, engine, done, failed)
    finally:
        bar.close()
    return run


def _render_all(pages: list[_Page], sources: dict[str, str], budget: PageBudget, workers: int,
                engine: "DaskEngine | None", done: Any, failed: Any) -> None:
    """Every page rendered here, on the batch's local process pool, or on the Dask cluster."""
    if not pages:
        return
    if engine is not None:
        _on_dask(engine, pages, sources, budget, done, failed)
    elif workers > 1 and len(pages) > 1:
        from gradbook_grader.executors import run_pool

        run_pool(pages, (sources, budget), min(workers, len(pages)), _render_in_worker, _init_worker, done, failed,
                 payload=_Page.args, doing="rendering this feedback page")
    else:
        _init_worker(sources, budget)
        for page in pages:
            try:
                outcome = _render_in_worker(*page.args())
            except Exception as exc:  # the renderer's own bug: this page only
                failed(page, f"internal grader error while rendering: {type(exc).__name__}: {exc}")
            else:
                done(page, outcome)


def _on_dask(engine: "DaskEngine", pages: list[_Page], sources: dict[str, str], budget: PageBudget,
             done: Any, failed: Any) -> None:
    """The pages as tasks on the cluster the grades came from, a few per worker thread in flight."""
    from distributed import as_completed

    from gradbook_grader.cluster import IN_FLIGHT_PER_THREAD

    client = engine.client
    shared = client.scatter((sources, budget), broadcast=True)
    waiting = list(reversed(pages))
    running: dict[Any, _Page] = {}
    flow = as_completed()
    while waiting or running:
        room = IN_FLIGHT_PER_THREAD * max(1, sum(client.nthreads().values()))
        while waiting and len(running) < room:
            page = waiting.pop()
            future = client.submit(_render_shared, shared, *page.args(), pure=False)
            running[future] = page
            flow.add(future)
        future = next(flow)
        page = running.pop(future)
        try:
            outcome = future.result()
        except Exception as exc:
            failed(page, f"internal grader error while rendering on the cluster: {type(exc).__name__}: {exc}")
        else:
            done(page, outcome)
        future.release()


def _render_shared(shared: tuple[dict[str, str], PageBudget], entry: Graded, graded_json: bytes, key: str) -> Outcome:
    return _render_on_dask(shared[0], shared[1], entry, graded_json, key)


def _failed(run: FeedbackRun, entry: Graded, target: Path, why: str) -> None:
    run.failed[(entry.student, entry.assignment)] = why
    target.unlink(missing_ok=True)


def _write_side_files(course: Course, run: FeedbackRun, page: _Page) -> None:
    try:
        _side_files(course, page.entry)
    except Exception as exc:
        _failed(run, page.entry, page.target, f"nbgrader's timestamp.txt and submission_secret.txt could not be "
                                              f"written beside the page ({type(exc).__name__}: {exc})")
    else:
        run.written.append(page.target)


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


def _graded_json(course: Course, entry: Graded) -> bytes:
    """The stored graded notebook's bytes, or b"" (a lost one still gets its summary)."""
    name = entry.result.notebook if entry.result else f"{entry.assignment}.ipynb"
    if not name:
        return b""
    try:
        return (course.autograded(entry.student, entry.assignment) / name).read_bytes()
    except OSError:
        return b""


def report_text(entries: Sequence[Graded | Result]) -> str:
    """Per submission: points per exercise (a person's included), the late penalty, the reason for each
    lost point, comments, the cells awaiting a person, events, flags, notes.

    Everything a student controls is passed through `printable`: escape sequences, carriage
    returns and bidirectional overrides show as escapes, never act on the terminal.
    """
    graded = as_graded(entries)
    # How the host graded (no control groups): said once, not on every submission.
    host = sorted({e for g in graded if g.result for e in g.result.events if is_host_event(e)})
    out = [f"grading host: {printable(e)}" for e in host]
    for g in graded:
        out.append(_report_head(g))
        out += _report_body(g)
    return "\n".join(out)


def _report_head(g: Graded) -> str:
    """A submission's line: its score and what to know about it at a glance."""
    r, one = g.result, printable
    marks = [
        (g.penalty, f"  (raw {g.raw_score:g}, late penalty {g.penalty:g})"),
        (r is not None and not r.sandboxed and not r.error, "  [NOT SANDBOXED]"),
        (g.flagged, "  [FLAGGED]"),
        (g.seconds_late > 0, lambda: f"  [LATE: {describe(g.seconds_late)}]"),
        (g.extension, lambda: f"  [{extension_text(g.extension, g.duedate).upper()}]"),
        (g.awaiting, lambda: f"  [TO GRADE BY HAND: {', '.join(one(c) for c in g.awaiting)}]"),
        (not g.stored, "  [NOT IN THE GRADEBOOK]"),
    ]
    head = f"{one(g.student)} / {one(g.assignment)}: {g.score:g} / {g.max_score:g}"
    return head + "".join(mark() if callable(mark) else mark for shown, mark in marks if shown)


def _cell_report(c: Any, error: str | None) -> list[str]:
    """A cell's points, why it lost points (unless that is the submission's error), a person's comment."""
    one = printable
    out = [f"  {one(c.grade_id)}: {_cell_points(c)}" + (" (by hand)" if c.manual is not None else "")]
    if c.points < c.max_points and c.verdict and c.verdict != error and not c.written:
        out.extend(f"      {one(line)}" for line in c.verdict.strip().splitlines())
    if c.comment:
        out.extend(f"      comment: {one(line)}" for line in c.comment.strip().splitlines())
    return out


def _report_body(g: Graded) -> list[str]:
    """A submission's cells (the reasons for lost points, comments), events, evidence and notes."""
    r, one = g.result, printable
    out = [f"  error: {one(g.error)}"] if g.error else []
    for c in g.cells.values():
        out += _cell_report(c, g.error)
    out.extend(f"  event: {one(e)}" for e in (r.events if r else []) if not is_host_event(e))
    out.extend(f"  integrity: {one(line)}" for line in (r.integrity if r else []))
    out.extend(f"  lateness: {one(line)}" for line in (r.lateness if r else []))
    out.extend(f"  similarity: {one(line)}" for line in g.similarity)
    out.extend(f"  note: {one(n)}" for n in g.all_notes)
    return out
