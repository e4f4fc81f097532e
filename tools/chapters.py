"""The README's table of chapters, written from the registry (`gradbook.checks.registry.CHAPTERS`).

    python tools/chapters.py          rewrite the table in README.md (between its two markers)

A chapter is added by its line in the registry; this keeps the README's list the same
(tests/test_new_chapter.py fails while it differs).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gradbook.checks.registry import chapters

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- chapters: written by tools/chapters.py from gradbook.checks.registry -->"
END = "<!-- /chapters -->"


def table() -> str:
    """The table, markers included."""
    rows = [f"| {c.number} | {c.title} | {c.builds} |" for c in chapters()]
    return "\n".join([START, "| ch | chapter | you build |", "|----|---------|-----------|", *rows, END])


def rewritten(text: str) -> str:
    """`text` (the README) with its table replaced; ValueError if it has no markers."""
    if START not in text or END not in text:
        raise ValueError(f"README.md has no chapter table between {START!r} and {END!r}")
    before, rest = text.split(START, 1)
    return before + table() + rest.split(END, 1)[1]


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = rewritten(text)
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"rewrote the chapter table of {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
