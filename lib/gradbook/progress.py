"""Where a student stands: each chapter's exercises, ✔ / ✘ / not started, from their own last checks.

    python -m gradbook.progress [my-work]      # in a terminal (--lang zh: in Chinese)
    from gradbook.progress import show_progress; show_progress()   # in a notebook (chapter 0 and 8 have it)

Every check a student runs in their own kernel records its outcome here (`record`, called by
`Exercise.__call__`): a small JSON file, `.gradbook-progress.json`, in the kernel's working directory,
which is the folder of the notebook (`my-work/` for `workbook.py lab`); `$GRADBOOK_PROGRESS` names
another file. It never leaves the machine, and nothing grades from it: the grader runs no check in the
student's process and judges from the answers alone.

The page reads the chapters themselves (the released notebooks in that folder): a graded test cell is
an exercise, its points are nbgrader's (`metadata.nbgrader.points`), and the checks it calls are the
names after ``check.`` in it. An exercise is ✔ when every check it calls passed when last run, ✘ when
one of them failed, and not started when none has run; a written answer is graded by a person.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from gradbook.i18n import _, known_languages, ngettext, using

FILE = ".gradbook-progress.json"
ENV = "GRADBOOK_PROGRESS"
PASSED, FAILED, NOT_STARTED, WRITTEN = "passed", "failed", "not started", "written"
MARKS = {PASSED: "\u2714", FAILED: "\u2718", NOT_STARTED: "\u2013", WRITTEN: "\u270e"}
_CHECKS_IMPORT = re.compile(r"from\s+gradbook\.checks\s+import\s+(ch\d+)(?:\s+as\s+(\w+))?")
_HEADING = re.compile(r"^#\s+(.+)$", re.MULTILINE)


# ---------------------------------------------------------------- recording (the student's kernel)


def progress_file(folder: Path | None = None) -> Path:
    """Where outcomes are recorded: $GRADBOOK_PROGRESS, else `.gradbook-progress.json` in `folder` (the cwd)."""
    named = os.environ.get(ENV, "").strip()
    return Path(named) if named else (folder or Path.cwd()) / FILE


def load(path: Path) -> dict[str, dict[str, Any]]:
    """The recorded outcomes, by exercise name (``chNN.what``); empty when there is no readable record."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    checks = data.get("checks") if isinstance(data, dict) else None
    return {k: v for k, v in checks.items() if isinstance(v, dict)} if isinstance(checks, dict) else {}


def record(exercise: str, status: str, path: Path | None = None) -> None:
    """Remember how check `exercise` just ended: PASSED, FAILED, or NOT_STARTED (the answer is still the
    stub). Never fails: a read-only folder (a shared drive) only means the page will not know of this run."""
    if status not in (PASSED, FAILED, NOT_STARTED):
        raise ValueError(f"unknown status {status!r}: one of {PASSED!r}, {FAILED!r}, {NOT_STARTED!r}")
    path = path or progress_file()
    try:
        checks = load(path)
        checks[exercise] = {"status": status, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        handle, tmp = tempfile.mkstemp(prefix=".gradbook-progress-", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "checks": checks}, out, indent=1, sort_keys=True)
        os.replace(tmp, path)  # another kernel reading it sees the old record or the new, never half
    except OSError:
        return


# ---------------------------------------------------------------- the page


@dataclass
class Item:
    """One graded cell: an automatic exercise (its checks) or a written answer."""

    grade_id: str
    points: float
    checks: list[str] = field(default_factory=list)  # exercise names; empty for a written answer
    status: str = NOT_STARTED


@dataclass
class Chapter:
    file: str
    title: str
    items: list[Item]

    def points(self, status: str | None = None, written: bool = False) -> float:
        return sum(i.points for i in self.items
                   if (i.status == WRITTEN) == written and (status is None or i.status == status))


def cell_checks(source: str) -> list[str]:
    """The exercise names a test cell checks: ``from gradbook.checks import ch03 as check`` then
    ``check.dense(dense)`` is ``ch03.dense``."""
    names = []
    for match in _CHECKS_IMPORT.finditer(source):
        module, alias = match.group(1), match.group(2) or match.group(1)
        names += [f"{module}.{name}" for name in re.findall(rf"\b{re.escape(alias)}\.(\w+)\s*\(", source)]
    return list(dict.fromkeys(names))


def _status(checks: list[str], outcomes: dict[str, dict[str, Any]]) -> str:
    seen = [outcomes.get(name, {}).get("status", NOT_STARTED) for name in checks]
    if FAILED in seen:
        return FAILED
    return PASSED if all(status == PASSED for status in seen) else NOT_STARTED


def read_chapter(path: Path, outcomes: dict[str, dict[str, Any]]) -> Chapter | None:
    """A released chapter's graded cells with their status, or None when `path` is no chapter."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if isinstance(c, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    items, title = [], path.stem
    for cell in cells:
        source = "".join(cell.get("source", "")) if isinstance(cell.get("source"), list) else str(cell.get("source", ""))
        if title == path.stem and cell.get("cell_type") == "markdown" and (heading := _HEADING.search(source)):
            title = heading.group(1).strip()
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if not meta.get("grade"):
            continue
        points = float(meta.get("points") or 0)
        if meta.get("solution"):  # a graded solution cell is an answer a person grades
            items.append(Item(str(meta.get("grade_id")), points, status=WRITTEN))
        elif checks := cell_checks(source):
            items.append(Item(str(meta.get("grade_id")), points, checks, _status(checks, outcomes)))
    return Chapter(path.name, title, items) if items else None


def chapters(folder: Path, outcomes: dict[str, dict[str, Any]] | None = None) -> list[Chapter]:
    """Every chapter in `folder`, in order, with the outcomes recorded there (or those given)."""
    outcomes = load(progress_file(folder)) if outcomes is None else outcomes
    found = (read_chapter(path, outcomes) for path in sorted(folder.glob("[0-9]*.ipynb")))
    return [chapter for chapter in found if chapter is not None]


def _exercise_name(item: Item) -> str:
    return ", ".join(name.split(".", 1)[1] for name in item.checks) or item.grade_id


def next_step(found: list[Chapter]) -> str:
    """What to do next: the first exercise that does not pass yet, or where to go after the course."""
    for chapter in found:
        for item in chapter.items:
            if item.status in (FAILED, NOT_STARTED):
                message = _("Next: {chapter}, exercise `{exercise}`: its check fails.") if item.status == FAILED else \
                    _("Next: {chapter}, exercise `{exercise}`: not started yet.")
                return message.format(chapter=chapter.title, exercise=_exercise_name(item))
    if not found:
        return _("No chapters here: run this in the folder with your notebooks (my-work/).")
    return _("Every check passes. Where to go next: the end of the last chapter lists what to read and build after "
             "this course.")


def _status_label(status: str) -> str:
    return {PASSED: _("passes"), FAILED: _("fails"), NOT_STARTED: _("not started"),
            WRITTEN: _("written answer, graded by a person")}[status]


def _number(points: float) -> str:
    return f"{points:g}"


def _points(points: float) -> str:
    return ngettext("{points} point", "{points} points", 1 if points == 1 else 2).format(points=_number(points))


def summary_line(chapter: Chapter) -> str:
    auto = chapter.points()
    line = _("{passed} of {total} points from checks that pass").format(
        passed=_number(chapter.points(PASSED)), total=_number(auto))
    written = chapter.points(written=True)
    if written:
        line += _("; {points} points for written answers, graded by a person").format(points=_number(written))
    return line


def as_text(found: list[Chapter]) -> str:
    lines = [_("Your progress (from the checks you ran last)"), ""]
    for chapter in found:
        lines.append(f"{chapter.title} — {summary_line(chapter)}")
        for item in chapter.items:
            lines.append(f"  {MARKS[item.status]} {_exercise_name(item):<28} {_points(item.points):<10} "
                         f"{_status_label(item.status)}")
    lines += ["", next_step(found)]
    return "\n".join(lines)


def as_html(found: list[Chapter]) -> str:
    colours = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_STARTED: "#6e7781", WRITTEN: "#6e7781"}
    left = ' style="text-align:left"'  # JupyterLab right-aligns the cells of an output's tables
    rows = []
    for chapter in found:
        rows.append(f'<tr><th colspan="4" style="text-align:left;padding-top:.6em">{html.escape(chapter.title)}'
                    f'<br><span style="font-weight:normal">{html.escape(summary_line(chapter))}</span></th></tr>')
        for item in chapter.items:
            rows.append(f'<tr><td style="color:{colours[item.status]};font-weight:bold">{MARKS[item.status]}</td>'
                        f"<td{left}><code>{html.escape(_exercise_name(item))}</code></td>"
                        f"<td{left}>{html.escape(_points(item.points))}</td>"
                        f"<td{left}>{html.escape(_status_label(item.status))}</td></tr>")
    next_line = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(next_step(found)))
    return (f'<div class="gb-progress"><h3>{html.escape(_("Your progress (from the checks you ran last)"))}</h3>'
            f'<table>{"".join(rows)}</table><p><b>{next_line}</b></p></div>')


def show_progress(folder: str | Path = ".") -> None:
    """In a notebook: the progress page of the chapters in `folder` (the notebook's own, by default)."""
    from IPython.display import HTML, display

    display(HTML(as_html(chapters(Path(folder)))))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradbook.progress",
                                     description="Each chapter's exercises: which checks pass, and the points.")
    parser.add_argument("folder", nargs="?", default=None,
                        help="the folder with your notebooks (default: my-work/ if it is here, else this folder)")
    parser.add_argument("--lang", default=None, help=f"one of {known_languages()} (default: $GRADBOOK_LANG)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    folder = Path(args.folder) if args.folder else Path("my-work") if Path("my-work").is_dir() else Path(".")
    with using(args.lang):
        if not folder.is_dir():
            print(_("no folder {folder}: give the folder with your notebooks").format(folder=folder), file=sys.stderr)
            return 2
        print(as_text(chapters(folder)))
    return 0


__all__ = ["Chapter", "Item", "as_html", "as_text", "cell_checks", "chapters", "load", "main", "next_step",
           "progress_file", "record", "show_progress"]

if __name__ == "__main__":
    sys.exit(main())
