"""Restore a submission against the instructor's source notebook.

Modelled on nbgrader's OverwriteCells, done simply and defensively:

* the submission is parsed from untrusted bytes (invalid JSON, not a notebook, an old
  nbformat, missing keys) into a v4 notebook, or an explicit error;
* every locked or graded cell (by ``metadata.nbgrader.grade_id``) is taken from the
  source: its source text, metadata and points. A deleted one is re-inserted where the
  source has it; edits, deletions, changed points, changed flags and reordering are
  reported as tamper events. An edit is of the code: a locked cell whose comments alone
  differ is the cell as a translated release gives it (`gradbook_grader.translate` translates
  comments, in any language) and is not reported; it is restored from the source all the same;
* solution cells keep the student's text (matched by grade_id), with the source's
  metadata; a missing one becomes the stub the student was given, placed before the student's
  own cells in its place (an answer written again in a new cell there is the one graded);
* the student's own cells (no nbgrader metadata) are kept, after the graded cell they
  followed. nbgrader cells are put back in the source's order.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_notebook

from gradbook_grader.answers import parse
from gradbook_grader.comments import without_comments
from gradbook_grader.nbcells import (
    BEGIN_SOLUTION,
    grade_id,
    is_graded,
    is_solution,
    is_test_cell,
    nbgrader_meta,
    points,
    strip_hidden_tests,
    stub_solution,
)

MAX_SUBMISSION_BYTES = 50_000_000
# What an instructor can do for an honest notebook over the limit: its outputs (figures, printed data) are most of it,
# and the grader runs it afresh, never reading them.
TOO_LARGE = (". Its outputs are not graded (the grader runs the notebook again): clear them "
             "(`jupyter nbconvert --clear-output --inplace <notebook>`) and grade it again")

class SubmissionError(ValueError):
    """The submission cannot be graded at all (not JSON, not a notebook, too large, ...)."""


@dataclass
class Restored:
    notebook: NotebookNode
    events: list[str] = field(default_factory=list)
    tamper: list[str] = field(default_factory=list)  # locked cells edited, deleted, re-pointed: also in events


def parse_submission(submission: Path | str | bytes | NotebookNode | dict) -> NotebookNode:
    """Untrusted bytes (or a path, or a notebook) to a v4 notebook; `SubmissionError` if impossible."""
    if isinstance(submission, (Path, str)) and not (isinstance(submission, str) and submission.lstrip().startswith("{")):
        submission = _read(Path(submission))
    data = _json(submission)
    _check_version(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing/duplicate ids and the like: repaired below
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as error:  # nbformat raises many kinds on odd input
        raise SubmissionError(f"the submission is not a readable notebook: {str(error)[:200]}") from None
    nb["cells"] = [_plain_source(cell) for cell in nb.get("cells", [])
                   if isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw")]
    return nb


def _too_large(size: int) -> SubmissionError:
    return SubmissionError(f"the submission is {size:,} bytes, more than the {MAX_SUBMISSION_BYTES:,} allowed{TOO_LARGE}")


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            raise _too_large(path.stat().st_size)
        return path.read_bytes()
    except OSError as error:
        raise SubmissionError(f"cannot read the submission: {error}") from None


def _json(submission: str | bytes | NotebookNode | dict) -> Any:
    if isinstance(submission, dict):  # a NotebookNode too
        return json.loads(json.dumps(submission))  # a private copy, plain types
    raw = submission.encode("utf-8") if isinstance(submission, str) else bytes(submission)
    if len(raw) > MAX_SUBMISSION_BYTES:
        raise _too_large(len(raw))
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise SubmissionError(f"the submission is not valid notebook JSON: {str(error)[:200]}") from None


def _check_version(data: Any) -> None:
    """A notebook nbformat can read as v4 (one without a version but with cells is taken as 4.4), or SubmissionError."""
    if not isinstance(data, dict):
        raise SubmissionError("the submission is not a notebook (the JSON is not an object)")
    if not isinstance(data.get("nbformat"), int):
        if not isinstance(data.get("cells"), list):
            raise SubmissionError("the submission is not a notebook (no nbformat version and no cells)")
        data["nbformat"], data["nbformat_minor"] = 4, 4
    major = data["nbformat"]
    if major < 4 and (major != 3 or not isinstance(data.get("worksheets"), list)):
        raise SubmissionError(f"the submission uses nbformat {major}, which cannot be read")
    if major >= 4 and not isinstance(data.get("cells"), list):
        raise SubmissionError("the submission is not a notebook (no list of cells)")


def _plain_source(cell: NotebookNode) -> NotebookNode:
    """A cell whose source is one string and whose metadata is a dict, whatever the submission held."""
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    cell["source"] = src if isinstance(src, str) else ""
    if not isinstance(cell.get("metadata"), dict):
        cell["metadata"] = NotebookNode()
    return cell


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _code(text: str, cell_type: str) -> str:
    """What a locked cell's check compares: a code cell's syntax tree (what it does: not its comments, which a
    translated release changes, nor blank lines or spaces, which an editor that ignores the cell's lock lets a student
    add), or its text without its comments' words where it is no Python; a Markdown cell's whole text."""
    if cell_type != "code":
        return _norm(text)
    try:
        return ast.dump(parse(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError, SystemError):
        return _norm(without_comments(text))


def _source_cell(cell: NotebookNode) -> NotebookNode:
    """A fresh copy of a source cell, without outputs."""
    fresh = nbformat.from_dict(json.loads(json.dumps(cell)))
    if fresh.cell_type == "code":
        fresh.outputs = []
        fresh.execution_count = None
    fresh.pop("id", None)
    return fresh


@dataclass
class _Segments:
    """The submission in segments: leading free cells, then per nbgrader cell the free cells after it."""

    leading: list[NotebookNode] = field(default_factory=list)
    found: dict[str, NotebookNode] = field(default_factory=dict)  # grade_id -> the student's first copy
    after: dict[str, list[NotebookNode]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # grade_ids as the submission has them

    @classmethod
    def of(cls, submission: NotebookNode, source: NotebookNode, events: list[str], tamper: list[str]) -> "_Segments":
        segments = cls()
        current = segments.leading
        known = {gid for gid in map(grade_id, source.cells) if gid}
        solutions = {gid for gid in known if any(grade_id(c) == gid and is_solution(c) for c in source.cells)}
        for cell in submission.cells:
            gid = segments.graded_id(cell, known, solutions, events, tamper)
            if gid is None:
                current.append(cell)
                continue
            segments.found[gid] = cell
            segments.order.append(gid)
            current = segments.after.setdefault(gid, [])
        return segments

    def moved(self, source_ids: list[str | None]) -> bool:
        """Are the graded cells in another order than the source's?"""
        return self.order != [gid for gid in source_ids if gid and gid in self.found]

    def graded_id(self, cell: NotebookNode, known: set[str], solutions: set[str], events: list[str],
                  tamper: list[str]) -> str | None:
        """The cell's grade_id if it is one the source has, seen first here; else it is a free cell (its
        nbgrader metadata goes). A second copy of a solution cell is what copying and pasting it in Jupyter makes
        (its metadata goes with it): the student's own cell, not tampering; a second copy of a locked cell is."""
        gid = grade_id(cell)
        if gid is not None and gid not in known:
            tamper.append(f"cell with unknown grade_id {gid!r}: kept as an ungraded cell")
        elif gid is not None and gid in self.found and gid in solutions:
            events.append(f"solution cell {gid} appears more than once (a copy and paste keeps its metadata): the "
                          "first copy is the solution cell, the others are the student's own cells and run where "
                          "they stand")
        elif gid is not None and gid in self.found:
            tamper.append(f"cell {gid} appears more than once: the first copy stands in its place (restored from "
                          "source), the others are kept as ungraded cells")
        elif gid is not None:
            return gid
        if nbgrader_meta(cell) or gid is not None:
            cell.metadata.pop("nbgrader", None)
        return None


def restore(submission: NotebookNode, source: NotebookNode) -> Restored:
    """Rebuild the notebook to grade: the source's locked/graded cells, the student's answers and own cells."""
    events: list[str] = []
    tamper: list[str] = []
    source_ids = [grade_id(c) for c in source.cells]
    segments = _Segments.of(submission, source, events, tamper)
    if segments.moved(source_ids):
        events.append("graded cells were moved: the source's order is restored")
    nb = new_notebook(metadata=json.loads(json.dumps(source.get("metadata", {}))))
    nb.cells = _cells(source, segments, events, tamper)
    assign_ids(nb)
    return Restored(nb, events + tamper, tamper)


def _cells(source: NotebookNode, segments: _Segments, events: list[str], tamper: list[str]) -> list[NotebookNode]:
    """The source's graded cells, restored, in its order, and the student's own cells where they were."""
    known_text = {c.source for c in source.cells if c.cell_type != "code"}
    cells: list[NotebookNode] = []
    own = [_own_cell(c, known_text) for c in segments.leading]  # the student's cells before the next graded cell
    for src in source.cells:
        gid = grade_id(src)
        if gid is None:
            continue  # the source's plain cells reach the student as plain cells; theirs are in the segments
        sub = segments.found.get(gid)
        cell = (_solution_cell if is_solution(src) else _locked_cell)(gid, src, sub, events, tamper)
        if cell.cell_type != "code" and cell.source not in known_text:
            cell.source = defuse_html(cell.source)  # a written answer: the student's text
        # A solution cell that is missing was most often deleted and written again in a new cell in its place
        # (nbgrader's metadata does not follow pasted text): its stub goes before the student's cells there, so
        # the answer they wrote is the one defined when the checks ask.
        cells += [cell, *own] if sub is None and is_solution(src) else [*own, cell]
        own = [_own_cell(c, known_text) for c in segments.after.get(gid, [])]
    return cells + own


def _own_cell(cell: NotebookNode, known_text: set[str]) -> NotebookNode:
    """A cell of the student's own: plain, its Markdown defused unless it is the source's very text."""
    fresh = _plain_cell(cell)
    if fresh.get("cell_type") != "code" and fresh.get("source") not in known_text:
        fresh["source"] = defuse_html(fresh.get("source", ""))
    return fresh


def _solution_cell(gid: str, src: NotebookNode, sub: NotebookNode | None, events: list[str],
                   tamper: list[str]) -> NotebookNode:
    """The source's cell with the student's answer in it (the stub they were given, if they deleted it)."""
    cell = _source_cell(src)
    if sub is None:
        cell.source = stub_solution(src.source)
        events.append(f"solution cell {gid} is missing: the stub the student was given stands in its place (an "
                      "answer written again in a new cell there still counts)")
        return cell
    if sub.get("cell_type") != src.cell_type:
        events.append(f"solution cell {gid} changed type: the source's type is restored")
    cell.source = sub.get("source", "")
    _report_meta_changes(gid, src, sub, tamper)
    return cell


def _locked_cell(gid: str, src: NotebookNode, sub: NotebookNode | None, events: list[str],
                 tamper: list[str]) -> NotebookNode:
    """The source's cell; what the student changed in its code (not its comments' words) is tampering."""
    if sub is None:
        tamper.append(f"cell {gid} was deleted: restored from source")
        return _source_cell(src)
    student_view = strip_hidden_tests(src.source) if is_test_cell(src) else src.source
    theirs = _code(sub.get("source", ""), src.cell_type)
    given = (_code(student_view, src.cell_type), _code(src.source, src.cell_type))
    if theirs not in given or sub.get("cell_type") != src.cell_type:
        tamper.append(f"cell {gid} was edited: restored from source")
    _report_meta_changes(gid, src, sub, tamper)
    return _source_cell(src)


_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def assign_ids(nb: NotebookNode) -> None:
    """Give every cell a valid, unique id (nbformat 4.5)."""
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        cid = cell.get("id")
        if not isinstance(cid, str) or not _ID.match(cid) or cid in seen:
            cid = f"cell-{i}"
            while cid in seen:
                cid += "x"
        cell["id"] = cid
        seen.add(cid)


def defuse_html(text: str) -> str:
    """The student's own Markdown/raw text, with raw HTML shown as text, not run, in feedback
    an instructor opens (no <script>, no onerror=...). Markdown renders ``&lt;`` as ``<``."""
    return text.replace("<", "&lt;")


def _report_meta_changes(gid: str, src: NotebookNode, sub: NotebookNode, tamper: list[str]) -> None:
    theirs = nbgrader_meta(sub)
    ours = nbgrader_meta(src)
    if is_graded(src) and points(sub) != points(src):
        tamper.append(f"points of cell {gid} changed ({points(src):g} -> {theirs.get('points')!r}): restored from source")
    for flag in ("grade", "solution", "locked"):
        if bool(theirs.get(flag)) != bool(ours.get(flag)):
            tamper.append(f"nbgrader flag {flag!r} of cell {gid} changed: restored from source")


def _plain_cell(cell: NotebookNode) -> NotebookNode:
    fresh = nbformat.from_dict(json.loads(json.dumps(cell)))
    fresh.pop("id", None)
    fresh.get("metadata", {}).pop("nbgrader", None)
    if fresh.get("cell_type") == "code":
        fresh["outputs"] = []
        fresh["execution_count"] = None
    fresh.pop("attachments", None) if fresh.get("cell_type") == "code" else None
    return fresh


def graded_cells(source: NotebookNode) -> dict[str, NotebookNode]:
    """Every graded cell of the source, by grade_id."""
    return {grade_id(c): c for c in source.cells if grade_id(c) and is_graded(c)}


def student_version(source: NotebookNode) -> NotebookNode:
    """The release version of a source notebook (solutions stubbed, hidden tests removed); for tests."""
    nb = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if is_solution(cell):
            cell.source = stub_solution(cell.source)
        if is_test_cell(cell):
            cell.source = strip_hidden_tests(cell.source)
    return nb
