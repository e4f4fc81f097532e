"""nbgrader's cell conventions, in one place: the metadata that makes a cell graded, locked or a
solution, and the delimiters of solution and hidden-test regions (as nbgrader's ClearSolutions and
ClearHiddenTests read them). Every other module asks this one."""

from __future__ import annotations

import re
from typing import Any

from nbformat import NotebookNode

HIDDEN_MARKER = "HIDDEN TESTS"  # in both of nbgrader's hidden-test delimiters
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")  # as an author writes them
BEGIN_SOLUTION = re.compile(r"^[ \t]*#+[ \t]*BEGIN SOLUTION.*$", re.M)
_SOLUTION_REGION = re.compile(
    r"^([ \t]*)#+[ \t]*BEGIN SOLUTION[^\n]*\n.*?^[ \t]*#+[ \t]*END SOLUTION[^\n]*(\n|$)", re.M | re.S
)
_SOLUTION_BODY = re.compile(r"^[ \t]*#+[ \t]*BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*#+[ \t]*END SOLUTION", re.M | re.S)
_HIDDEN_REGION = re.compile(
    r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS[^\n]*\n.*?^[ \t]*#+[ \t]*END HIDDEN TESTS[^\n]*(\n|$)", re.M | re.S
)
_HIDDEN_BEGIN = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS.*$", re.M)
# One comment that is a region's delimiter: group 1 BEGIN or END, group 2 SOLUTION or HIDDEN TESTS.
REGION_DELIMITER = re.compile(r"^#+[ \t]*(BEGIN|END)[ \t]+(SOLUTION|" + HIDDEN_MARKER + r")\b")


def nbgrader_meta(cell: Any) -> dict:
    try:
        meta = cell.get("metadata", {}).get("nbgrader", {})
    except AttributeError:
        return {}
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: Any) -> str | None:
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def is_solution(cell: Any) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_graded(cell: Any) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_test_cell(cell: Any) -> bool:
    """A graded, locked code cell that the autograder scores (not a manually graded answer)."""
    return cell.get("cell_type") == "code" and is_graded(cell) and not is_solution(cell)


def points(cell: Any) -> float:
    try:
        return float(nbgrader_meta(cell).get("points", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def strip_hidden_tests(source: str) -> str:
    """Remove ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions (as nbgrader's ClearHiddenTests)."""
    stripped = _HIDDEN_REGION.sub("", source)
    # an unterminated region: drop everything after its start, never leak it
    match = _HIDDEN_BEGIN.search(stripped)
    if match:
        stripped = stripped[: match.start()]
    return stripped.rstrip("\n")


def stub_solution(source: str, language: str = "python") -> str:
    """The student version of a solution cell: each solution region becomes a NotImplementedError."""

    def replace(match: re.Match) -> str:
        indent = match.group(1)
        return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()\n"

    stubbed = _SOLUTION_REGION.sub(replace, source)
    if BEGIN_SOLUTION.search(stubbed):  # unterminated region: never leak the rest of the solution
        stubbed = stubbed[: BEGIN_SOLUTION.search(stubbed).start()] + "# YOUR CODE HERE\nraise NotImplementedError()"
    return stubbed.rstrip("\n")


def hidden_tests(source: str) -> list[str]:
    """The text of each hidden-test region of a cell (an unterminated one runs to the end)."""
    return _regions(source, _HIDDEN_REGION, _HIDDEN_BEGIN, inner=False)


def solution_bodies(source: str) -> list[str]:
    """The text inside each solution region of a cell (an unterminated one runs to the end): the answers."""
    return _regions(source, _SOLUTION_BODY, BEGIN_SOLUTION, inner=True)


def _regions(source: str, region: re.Pattern[str], begin: re.Pattern[str], *, inner: bool) -> list[str]:
    """Each `region` of the cell, delimiters included (`inner`: only what is between them, the pattern's group 1),
    and after the last one, an unterminated region from its `begin` to the end."""
    found = [m.group(1 if inner else 0) for m in region.finditer(source)]
    rest = region.sub("", source)
    match = begin.search(rest)
    if match:
        found.append(rest[match.end() if inner else match.start():])
    return found


def hidden_lines(nb: NotebookNode) -> list[str]:
    """The lines of every hidden-test region (stripped, longest first): what must never leave the grader."""
    lines = {"BEGIN HIDDEN TESTS", "END HIDDEN TESTS"}
    for cell in nb.cells:
        for block in hidden_tests(cell.get("source", "")):
            lines.update(line.strip() for line in block.splitlines() if len(line.strip()) >= 6)
    return sorted(lines, key=len, reverse=True)
