"""Student-controlled text made safe for where the grader puts it: files, terminals, CSV cells.

Everything a submission can name or print (its folder name, outputs, exception text, metadata)
reaches the grader as arbitrary Unicode: lone surrogates (which UTF-8 cannot encode), NUL,
terminal escape sequences, bidirectional overrides. `scrub` makes text encodable for files and
the gradebook; `printable` makes it inert on a terminal; `csv_cell` inert in a spreadsheet.
"""

from __future__ import annotations

import unicodedata

# Unicode categories that do something other than show a glyph: controls (ESC, CSI, BEL, CR),
# format characters (bidirectional overrides, zero-width), surrogates, private use, line and
# paragraph separators.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet evaluates a cell starting with these


def scrub(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so it can be written as UTF-8."""
    if text.isascii():
        return text
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, newlines: bool = False) -> str:
    """`text` for a terminal: every control or invisible character shown as an escape (``\\x1b``).

    Tabs stay; newlines stay only when `newlines` (a multi-line message), else they are escaped
    too, so one field can never start a line of its own (and pretend to be another row).
    """
    keep = "\t\n" if newlines else "\t"
    return "".join(
        c if c in keep or unicodedata.category(c) not in _INVISIBLE else _escape(c) for c in text
    )


def csv_cell(text: str) -> str:
    """`text` for a CSV cell: printable, and never read as a formula (OWASP: prefix a quote)."""
    text = printable(text, newlines=True)
    return "'" + text if text.startswith(_FORMULA) else text
