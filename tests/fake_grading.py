"""A stand-in for the sandboxed execution side, to test the batch layer alone, fast.

`grade_submission` has the real one's signature and contract (`SubmissionGrade` out, never
raising for a bad submission) but runs nothing: a graded test cell `test-X` passes exactly when
the submission's solution cell `X` is the instructor's model answer (the solution with its
markers removed), which the tests can compute independently. Everything else it passes
through untouched, as the worst execution side would: the submitted cells with their outputs,
metadata and attachments become the "graded" notebook. Notebook metadata `fake` asks it to
misbehave: {"raise": text}, {"exit": code} (the worker dies), {"events": [...]},
{"integrity": [...]}, {"unsandboxed": true}, {"error": text}, {"cells": "garbage"}.
Imported by name in the batch's spawned workers (it is a module of tests/, on their sys.path).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat

from gradbook_grader.course import Course
from gradbook_grader.types import CellGrade, Limits, Manifest, SubmissionGrade

ROOT = Path(__file__).resolve().parents[1]
CH02 = "02-tensor-operations"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # 1x1
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def meta(cell: Any) -> dict:
    m = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
    return m if isinstance(m, dict) else {}


def model_answers(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the model answer of every solution cell (markers removed)."""
    return {meta(c)["grade_id"]: _MARKER.sub("", c.source) for c in source.cells if meta(c).get("solution")}


def honest(source: nbformat.NotebookNode, wrong: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """What a student who solved everything submits (hidden tests gone), except the answers in `wrong`."""
    nb = nbformat.from_dict(json.loads(json.dumps(source)))
    answers = model_answers(source)
    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if meta(cell).get("solution"):
            cell.source = (wrong or {}).get(gid, answers[gid])
        elif meta(cell).get("grade"):
            cell.source = _HIDDEN.sub("", cell.source)
    return nb


def expected_score(source: nbformat.NotebookNode, wrong: dict[str, str]) -> float:
    """What the fake gives `honest(source, wrong)`: every test cell's points, but those of the wrong answers."""
    return sum(float(meta(c).get("points", 0)) for c in source.cells
               if meta(c).get("grade") and not meta(c).get("solution")
               and meta(c)["grade_id"].removeprefix("test-") not in wrong)


def hostile_graded(src: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A notebook carrying every kind of active content a student can put in one; each payload
    sets `window.__pwned` (to its own number) if it runs."""
    nb = honest(src)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": {"model_name": "HTMLModel",
                              "state": {"value": "<img src=x onerror=window.__pwned=10>"}}}}}
    nb.metadata["title"] = "</title><script>window.__pwned=11</script>"
    md = nbformat.v4.new_markdown_cell("<script>window.__pwned=5</script><img src=x onerror=window.__pwned=6> "
                                       "[click](javascript:window.__pwned=7) <a href=' javascript:x'>y</a>\n\n"
                                       "<iframe srcdoc='<script>parent.__pwned=12</script>'></iframe> $\\href{javascript:x}{y}$",
                                       attachments={"a.svg": {"image/svg+xml": "<svg onload=window.__pwned=13/>"}})
    md.metadata["tags"] = ['"><img src=x onerror=window.__pwned=9>']
    raw = nbformat.v4.new_raw_cell("<script>window.__pwned=8</script>", metadata={"raw_mimetype": "text/html"})
    code = nbformat.v4.new_code_cell("show()")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<script>window.__pwned=1</script>",
                                                     "text/plain": "<HTML object>"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload='window.__pwned=3'/>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "window.__pwned=4"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": "<img src=x onerror=window.__pwned=2>"}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG}, metadata={"image/png": {"width": '1" onload="window.__pwned=14'}}),
        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=3),
        nbformat.v4.new_output("error", ename="<b>E</b>", evalue="<script>window.__pwned=15</script>", traceback=["\x1b[31m<i>t</i>"]),
    ]
    nb.cells[1:1] = [md, raw, code]
    return nb


def small_course(tmp: Path, assignments: tuple[str, ...] = (CH02,), fake: bool = True) -> Course:
    """A course of a few chapters, its own SQLite gradebook in the course (as the formgrader expects),
    no release. `fake`: with a cached manifest of their points, so no sandbox is needed, ready for
    `grade=grade_submission`; else the real manifest is built on first grading."""
    from gradbook_grader.manifests import save_manifest

    (tmp / "autograder").mkdir(parents=True)
    (tmp / "solutions").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
    for name in assignments:
        shutil.copy(ROOT / "solutions" / f"{name}.ipynb", tmp / "solutions")
    course = Course(tmp / "autograder", tmp / "solutions", tmp / "notebooks", f"sqlite:///{tmp / 'autograder' / 'gradebook.db'}")
    for name in assignments if fake else ():
        source = nbformat.read(course.source(name), as_version=4)
        points = {meta(c)["grade_id"]: float(meta(c).get("points", 0)) for c in source.cells if meta(c).get("grade")}
        save_manifest(course, name, Manifest(points=points))
    return course


def grade_submission(
    submission: Any, source_nb: nbformat.NotebookNode, manifest: Manifest, *, limits: Limits = Limits(),
    seed: int | None = None, **_: Any,
) -> SubmissionGrade:
    try:
        data = json.loads(bytes(submission).decode("utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise ValueError("not a notebook")
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        return _failed(manifest, f"the submission is not a notebook: {str(exc)[:100]}")
    fake = data.get("metadata", {}).get("fake", {}) if isinstance(data.get("metadata"), dict) else {}
    fake = fake if isinstance(fake, dict) else {}
    if "raise" in fake:
        raise RuntimeError(fake["raise"])
    if "exit" in fake:
        os._exit(int(fake["exit"]))
    if "error" in fake:  # as the real one: an error means nothing was graded
        return _failed(manifest, str(fake["error"]))
    answers = model_answers(source_nb)
    theirs = {meta(c).get("grade_id"): _joined(c.get("source")) for c in data["cells"] if isinstance(c, dict)}
    cells: dict[str, Any] = {}
    for cell in source_nb.cells:
        gid, points = meta(cell).get("grade_id"), float(meta(cell).get("points", 0))
        if not meta(cell).get("grade"):
            continue
        if meta(cell).get("solution"):  # a written answer: the real one leaves it to a person
            cells[gid] = CellGrade(gid, 0.0, points, False, "graded by hand")
            continue
        answer = gid.removeprefix("test-")
        passed = answer in answers and theirs.get(answer) == answers[answer]
        cells[gid] = CellGrade(gid, points if passed else 0.0, points, passed, "all checks passed" if passed
                               else f"{answer} is not the model answer")
    if fake.get("cells") == "garbage":
        cells = {gid: {"points": float("nan"), "message": b"\xff"} for gid in cells}
    nb = nbformat.from_dict(data)  # everything the student sent, unsanitised: the batch must cope
    return SubmissionGrade(
        notebook=nb, cells=cells, events=list(fake.get("events", [])), error=None,
        sandboxed=not fake.get("unsandboxed"), score=sum(c.points for c in cells.values() if isinstance(c, CellGrade)),
        max_score=sum(manifest.points.values()), integrity=list(fake.get("integrity", [])),
    )


def _joined(source: Any) -> Any:
    """A cell source as one string (nbformat writes multi-line sources as a list of lines)."""
    return "".join(source) if isinstance(source, list) and all(isinstance(s, str) for s in source) else source


def _failed(manifest: Manifest, error: str) -> SubmissionGrade:
    cells = {g: CellGrade(g, 0.0, p, False, f"not graded: {error}") for g, p in manifest.points.items()}
    return SubmissionGrade(nbformat.v4.new_notebook(), cells, [], error, True, 0.0, sum(manifest.points.values()))
