"""The READMEs' table of chapters, written from the registry (`gradbook.checks.registry.CHAPTERS`).

    python tools/chapters.py          rewrite the table (between its two markers) in README.md and in the
                                      student edition's README (autograder/gradbook_grader/student_edition/)

A chapter is added by its line in the registry; this keeps both READMEs' lists the same: the instructor's and
the one students receive (tests/test_new_chapter.py fails while either differs).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gradbook.checks.registry import chapters

ROOT = Path(__file__).resolve().parents[1]
READMES = (ROOT / "README.md", ROOT / "autograder" / "gradbook_grader" / "student_edition" / "README.md")
START = "<!-- chapters: written by tools/chapters.py from gradbook.checks.registry -->"
END = "<!-- /chapters -->"


def table() -> str:
    """The table, markers included."""
    rows = [f"| {c.number} | {c.title} | {c.builds} |" for c in chapters()]
    return "\n".join([START, "| ch | chapter | you build |", "|----|---------|-----------|", *rows, END])


def rewritten(text: str) -> str:
    """`text` (a README) with its table replaced; ValueError if it has no markers."""
    if START not in text or END not in text:
        raise ValueError(f"the README has no chapter table between {START!r} and {END!r}")
    before, rest = text.split(START, 1)
    return before + table() + rest.split(END, 1)[1]


def main() -> int:
    for readme in READMES:
        text = readme.read_text(encoding="utf-8")
        new = rewritten(text)
        if new != text:
            readme.write_text(new, encoding="utf-8")
            print(f"rewrote the chapter table of {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
