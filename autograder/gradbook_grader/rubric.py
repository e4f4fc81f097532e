"""A rubric per written-answer question: reusable comments with points, kept in the course.

`rubrics/<assignment>.json` beside the gradebook (in the course directory, so it travels with the
course, whichever database `--db` names) maps each question's grade id to its items. An item's
points add up: the page makes the score of the items a grader picks their sum, clamped to [0, the
question's points] ("Correct: 2", "Names the overflow: +1", "Claims the result changes: -1"). An applied item
becomes one line of nbgrader's comment (`line`), so the comment stays the one record of which items
an answer got: `split` reads them back, and an edited item changes no comment already written.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from gradbook_grader.course import Course, GraderError
from gradbook_grader.files import write_atomic
from gradbook_grader.text import scrub

MAX_ITEMS = 40
MAX_TEXT = 500
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass
class Item:
    id: str
    text: str
    points: float


def path(course: Course, assignment: str) -> Path:
    return course.root / "rubrics" / f"{assignment}.json"


def load(course: Course, assignment: str) -> dict[str, list[Item]]:
    """Every question's items (none yet: {}); a file that is not a rubric is an error that names it."""
    where = path(course, assignment)
    if not where.exists():
        return {}
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
        return {str(q): clean(items) for q, items in data.items()}
    except (OSError, ValueError, AttributeError, TypeError) as error:
        raise GraderError(f"{where} is not a rubric ({error}): fix or delete it (it holds only the reusable comments; "
                          "the grades are in the gradebook)") from error


def save(course: Course, assignment: str, question: str, items: Sequence[Item]) -> None:
    """Replace one question's items (the others are kept)."""
    rubrics = load(course, assignment)
    rubrics[question] = list(items)
    write_atomic(path(course, assignment), json.dumps({q: [asdict(i) for i in v] for q, v in sorted(rubrics.items())},
                                                      indent=1, ensure_ascii=False) + "\n")


def clean(items: Any) -> list[Item]:
    """Items from JSON (a file, or the page): checked, each with a unique id; ValueError says what is wrong."""
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise ValueError(f"a rubric is a list of at most {MAX_ITEMS} items")
    out: list[Item] = []
    for raw in items:
        if not isinstance(raw, dict):
            raise ValueError("a rubric item is {\"text\": ..., \"points\": ...}")
        text = " ".join(scrub(str(raw.get("text", ""))).split())[:MAX_TEXT]
        points = raw.get("points", 0)
        if not text or isinstance(points, bool) or not isinstance(points, (int, float)) or points != points \
                or abs(points) > 1e6:
            raise ValueError(f"rubric item {text[:40]!r}: it needs a text and a number of points")
        ident = str(raw.get("id") or "")
        if not _ID.match(ident) or ident in {i.id for i in out}:
            ident = secrets.token_hex(4)
        out.append(Item(ident, text, float(points)))
    return out


def line(item: Item) -> str:
    """The comment line of an applied item: its text and its points."""
    return f"{item.text} ({item.points:+g})"


def compose(items: Sequence[Item], free: str) -> str:
    """nbgrader's comment for these items and the grader's own words."""
    return "\n".join([*(line(i) for i in items), *([free.strip()] if free.strip() else [])])


def split(comment: str, items: Sequence[Item]) -> tuple[list[str], str]:
    """The ids of the items a comment holds, and the rest of it (the grader's own words)."""
    by_line = {line(i): i.id for i in items}
    found, rest = [], []
    for text in (comment or "").splitlines():
        if text in by_line and by_line[text] not in found:
            found.append(by_line[text])
        else:
            rest.append(text)
    return found, "\n".join(rest).strip()
