"""The comments of a code cell, found by Python's tokenizer: what a translation may change in code.

A comment is a ``#`` token; its *text* is what follows the ``#`` marks and the blank after them,
without trailing blanks (``#  the last batch  `` -> ``the last batch``). Replacing a text keeps
the cell's code, indentation, line breaks and the comment's own ``#`` prefix byte for byte, so a
cell whose comments are translated runs exactly as the source does.

IPython lines (``%magic``, ``!shell``) are not Python: the tokenizer does not see them and their
comments are left alone. A cell the tokenizer cannot read (an unfinished string in a student's
text) has no comments here: nothing in it is changed, and `without_comments` returns it as is.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Mapping

from gradbook_grader.nbcells import REGION_DELIMITER

_IPYTHON_LINE = re.compile(r"^[ \t]*[%!].*$", re.M)
_PREFIX = re.compile(r"^(#+[ \t]*)(.*?)[ \t]*$")


@dataclass(frozen=True)
class Comment:
    line: int  # 0-based
    start: int  # column of the first '#'
    end: int  # column after the comment
    prefix: str  # the '#' marks and the blank after them
    text: str  # what a translator translates ("" for a bare '#')
    region: str | None  # "SOLUTION" or "HIDDEN TESTS" when inside such a region, else None
    marker: bool  # an nbgrader region delimiter


def comments(source: str) -> list[Comment]:
    """Every comment of `source`, in order; [] when the tokenizer cannot read it."""
    python = _IPYTHON_LINE.sub("", source)  # same lines, same columns elsewhere
    found: list[Comment] = []
    region: str | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(python).readline):
            if token.type != tokenize.COMMENT:
                continue
            (row, col), (_, end) = token.start, token.end
            match = _PREFIX.match(token.string)
            prefix, text = (match.group(1), match.group(2)) if match else ("#", token.string[1:])
            delimiter = REGION_DELIMITER.match(token.string)  # a marker, never text
            if delimiter and delimiter.group(1) == "END":
                found.append(Comment(row - 1, col, end, prefix, text, region, True))
                region = None
                continue
            if delimiter:
                region = delimiter.group(2)
            found.append(Comment(row - 1, col, end, prefix, text, region, bool(delimiter)))
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return []
    return found


def _lines(source: str) -> list[str]:
    """The lines as the tokenizer reads them (split at "\\n" only: not at the other breaks str.splitlines knows)."""
    return io.StringIO(source).readlines()


def texts(source: str) -> list[str]:
    """The texts a student's copy of the cell shows and a translator translates, in order, once each:
    not nbgrader's delimiters, not what is inside a solution or hidden-test region (the release drops
    those), not a bare '#'."""
    seen: dict[str, None] = {}
    for comment in comments(source):
        if comment.text and not comment.marker and comment.region is None:
            seen.setdefault(comment.text, None)
    return list(seen)


def replace(source: str, translations: Mapping[str, str]) -> str:
    """`source` with each comment whose text is in `translations` rewritten to its translation.

    Only the comment's text changes: the code before it, its '#' prefix and every other line are kept.
    A translation is one line (a line break in it would make the rest of it code)."""
    lines = _lines(source)
    for comment in reversed(comments(source)):
        new = translations.get(comment.text) if comment.text and not comment.marker else None
        if new is None:
            continue
        if "\n" in new or "\r" in new:
            raise ValueError(f"the translation of the comment {comment.text!r} has a line break: {new!r}")
        line = lines[comment.line]
        lines[comment.line] = line[: comment.start] + comment.prefix + new.strip() + line[comment.end:]
    return "".join(lines)


def without_comments(source: str) -> str:
    """`source` with every comment's text removed (its '#' kept, so a comment-only line stays a line):
    two cells whose code is the same and whose comments differ (a translated release) give the same result."""
    lines = _lines(source)
    for comment in reversed(comments(source)):
        line = lines[comment.line]
        lines[comment.line] = line[: comment.start] + "#" + line[comment.end:]
    return "".join(lines)


__all__ = ["Comment", "comments", "replace", "texts", "without_comments"]
